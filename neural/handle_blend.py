"""The exact handle condition: a thin blend toward one-hot weights on each handle.

A skinning field is ``w(x) = (1 - beta(x)) u(x) + beta(x) e_k(x)`` where ``u`` is the kernel
field (on the probability simplex), ``k(x)`` the handle nearest to x and ``beta`` in [0, 1]
a bump that equals 1 on that handle. Hence w = e_k on handle k (the Lagrange property),
and w stays on the simplex everywhere. With ``a`` the squared distance to the nearest
handle and ``b`` to the second nearest::

    beta = f(4 r^2) f(a / rho^2),   r = a / (a + b),   f(t) = (1 - t)^3 on [0, 1), 0 beyond

The second factor confines the blend to a tube of radius ``rho``; the first vanishes where
the two nearest handles are nearly equidistant (r >= 1/2), so at most one handle blends at
any point — two bones meeting at a joint each keep weight 1 on their own segment. The
energy is minimised on ``u`` with ``u = e_k`` imposed at handle samples, so ``u`` is already
close to ``e_k`` in the tube and the blend only makes the Lagrange property exact.
"""

from __future__ import annotations

from typing import Callable, Optional, Tuple

import numpy as np
import torch

_PAIR_CHUNK = 2_000_000  # (point, segment) pairs per block
_TIE = 1e-200  # added to the squared distance to segments: breaks exact ties only


class HandleGeometry:
    """Handles as sets of segments (a point handle or painted vertex is a zero-length one).

    Parameters
    ----------
    starts, ends : (s, 3) float
        Segment end points.
    owner : (s,) int
        Handle (weight column) of each segment.
    n_handles : int
    isolated_point : (s,) bool, optional
        Segments that are a point handle on their own (not a bone, not one vertex of a
        painted region): a single sample has to hold the whole handle condition.
    """

    def __init__(
        self,
        starts: np.ndarray,
        ends: np.ndarray,
        owner: np.ndarray,
        n_handles: int,
        isolated_point: Optional[np.ndarray] = None,
    ):
        self.starts = np.asarray(starts, dtype=np.float64)
        self.ends = np.asarray(ends, dtype=np.float64)
        self.owner = np.asarray(owner, dtype=np.int64)
        self.n_handles = int(n_handles)
        self.isolated_point = (
            np.zeros(len(self.owner), bool) if isolated_point is None else np.asarray(isolated_point, dtype=bool)
        )

    @classmethod
    def from_rig(cls, rig, V: Optional[np.ndarray] = None) -> "HandleGeometry":
        """Segments of a :class:`~fieldrig.geometry.rig.Rig` (several per handle where it has several),
        plus its painted vertices of ``V``."""
        seg = rig.handle_segments()
        starts, ends, owner = [seg[:, 0]], [seg[:, 1]], [rig.segment_handles()]
        isolated = [np.arange(len(seg)) < len(rig.point_handles)]  # point handles come first
        for region in rig.painted:
            if V is None or len(region.vertices) == 0:
                continue
            pts = np.asarray(V)[region.vertices]
            starts.append(pts)
            ends.append(pts)
            owner.append(np.full(len(pts), region.handle))
            isolated.append(np.zeros(len(pts), bool))
        return cls(
            np.concatenate(starts), np.concatenate(ends), np.concatenate(owner), rig.n_handles, np.concatenate(isolated)
        )

    def transformed(self, centre: np.ndarray, scale: float) -> "HandleGeometry":
        """The handles in the frame ``x -> (x - centre) / scale``."""
        c = np.asarray(centre, dtype=np.float64)
        return HandleGeometry(
            (self.starts - c) / scale, (self.ends - c) / scale, self.owner, self.n_handles, self.isolated_point
        )

    def samples(self, step) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Points along every segment, at most ``step`` apart, ends included.

        Parameters
        ----------
        step : float or (s,) float
            Largest distance between samples, for all segments or per segment.

        Returns
        -------
        points : (q, 3) float
        owner : (q,) int
            Handle of each point.
        isolated : (q,) bool
            Samples that are a point handle on their own.
        """
        length = np.linalg.norm(self.ends - self.starts, axis=1)
        step = np.broadcast_to(np.asarray(step, dtype=np.float64), length.shape)
        counts = np.where(length > 0, np.ceil(length / step).astype(np.int64) + 1, 1)
        seg = np.repeat(np.arange(len(length)), counts)
        first = np.repeat(np.cumsum(counts) - counts, counts)
        t = (np.arange(len(seg)) - first) / np.maximum(counts[seg] - 1, 1)
        points = self.starts[seg] + t[:, None] * (self.ends[seg] - self.starts[seg])
        return points, self.owner[seg], self.isolated_point[seg]

    def length_scales(self) -> np.ndarray:
        """A length per handle over which its weight is expected to vary.

        The longest of the handle's segments; for a point handle (or one whose segments
        all have zero length) the distance from it to the nearest other handle's pivot
        (first segment start) that is not at the same place. Handles with no such
        neighbour get infinity.

        Returns
        -------
        (H,) float
        """
        length = np.linalg.norm(self.ends - self.starts, axis=1)
        longest = np.zeros(self.n_handles)
        np.maximum.at(longest, self.owner, length)
        first = np.full(self.n_handles, -1, dtype=np.int64)
        seen = np.zeros(self.n_handles, dtype=bool)
        for i, h in enumerate(self.owner):
            if not seen[h]:
                first[h], seen[h] = i, True
        pivots = self.starts[first[seen]]
        size = np.linalg.norm(pivots.max(axis=0) - pivots.min(axis=0)) if len(pivots) else 0.0
        tiny = 1e-9 * max(size, float(np.abs(self.starts).max(initial=0.0)), 1e-300)
        scale = np.where(longest > tiny, longest, np.inf)
        for h in np.flatnonzero(~(longest > tiny) & seen):
            gaps = np.linalg.norm(pivots - self.starts[first[h]], axis=1)
            gaps = gaps[gaps > tiny]
            if len(gaps):
                scale[h] = gaps.min()
        return scale

    def per_handle(self, X: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Squared distance to every handle and the closest point on it.

        All segments are measured at once; each handle keeps its nearest segment.

        Parameters
        ----------
        X : (m, 3) float tensor

        Returns
        -------
        d2 : (m, H) tensor
        closest : (m, H, 3) tensor
        """
        dev, dt = X.device, X.dtype
        A = torch.as_tensor(self.starts, device=dev, dtype=dt)
        D = torch.as_tensor(self.ends - self.starts, device=dev, dtype=dt)
        L2 = torch.clamp((D * D).sum(-1), min=1e-300)
        owner = torch.as_tensor(self.owner, device=dev)
        S, H = len(self.owner), self.n_handles
        d2 = torch.empty(len(X), H, device=dev, dtype=dt)
        closest = torch.empty(len(X), H, 3, device=dev, dtype=dt)
        chunk = max(1, _PAIR_CHUNK // max(S, 1))
        for lo in range(0, len(X), chunk):
            x = X[lo : lo + chunk]
            t = torch.clamp(((x[:, None, :] - A[None]) * D[None]).sum(-1) / L2[None], 0, 1)
            c = A[None] + t[..., None] * D[None]  # (chunk, S, 3)
            dist = ((x[:, None, :] - c) ** 2).sum(-1)
            if S == H and bool(torch.all(owner == torch.arange(H, device=dev))):
                d2[lo : lo + chunk], closest[lo : lo + chunk] = dist, c
                continue
            # per handle, the segment with the smallest distance
            best = torch.full((len(x), H), float("inf"), device=dev, dtype=dt)
            best.scatter_reduce_(1, owner.expand(len(x), S), dist, reduce="amin")
            hit = dist == best.gather(1, owner.expand(len(x), S))
            # first nearest segment of each handle (ties broken by segment order)
            index = torch.where(hit, torch.arange(S, device=dev).expand(len(x), S), S)
            pick = torch.full((len(x), H), S, device=dev, dtype=torch.int64)
            pick.scatter_reduce_(1, owner.expand(len(x), S), index, reduce="amin")
            pick.clamp_(max=S - 1)  # a handle without segments stays at infinite distance
            rows = torch.arange(len(x), device=dev)[:, None]
            d2[lo : lo + chunk] = best
            closest[lo : lo + chunk] = c[rows, pick]
        return d2, closest

    def nearest(self, X: torch.Tensor):
        """The nearest handle, the closest point on it, and the two smallest squared distances.

        Parameters
        ----------
        X : (m, 3) float tensor

        Returns
        -------
        handle : (m,) long
        closest : (m, 3)
        a : (m,) squared distance to the nearest handle
        b : (m,) squared distance to the second-nearest handle (inf with one handle)

        A point handle wins a tie: a leaf joint's point sits at the end of its parent's
        segment, and keeps weight 1 there.
        """
        d2, closest = self.per_handle(X)
        length = np.zeros(self.n_handles)
        np.maximum.at(length, self.owner, np.linalg.norm(self.ends - self.starts, axis=1))
        extended = torch.as_tensor(length > 0, device=X.device)
        two = torch.topk(torch.where(extended, d2 + _TIE, d2), min(2, self.n_handles), dim=1, largest=False)
        handle = two.indices[:, 0]
        b = two.values[:, 1] if self.n_handles > 1 else torch.full_like(two.values[:, 0], float("inf"))
        return handle, closest[torch.arange(len(X), device=X.device), handle], two.values[:, 0], b


def _falloff(t: torch.Tensor) -> torch.Tensor:
    return torch.clamp(1 - t, min=0.0) ** 3


def handle_blend(
    X: torch.Tensor,
    handles: HandleGeometry,
    rho: float,
    visible: Optional[Callable[[np.ndarray, np.ndarray], np.ndarray]] = None,
):
    """The blend weight ``beta`` toward the nearest handle.

    Parameters
    ----------
    X : (m, 3) float tensor
    handles : HandleGeometry
    rho : float or (H,) float tensor
        Radius of the tube around each handle where beta > 0 (shared or per handle).
    visible : callable, optional
        ``visible(A, B) -> (k,) bool`` for numpy segments; beta is zero where the closest
        point of the handle is hidden behind the surface (no bleeding between parts).

    Returns
    -------
    handle : (m,) long
        The handle each point blends toward.
    beta : (m,) float tensor
    """
    handle, closest, a, b = handles.nearest(X)
    # a + b = 0 only exactly on a joint shared by two handles; r = 0 there.
    r = a / torch.clamp(a + b, min=1e-300)
    if isinstance(rho, torch.Tensor) and rho.ndim:
        rho = rho.to(X.dtype)[handle]
    beta = _falloff(4 * r * r) * _falloff(a / rho**2)
    if visible is not None:
        near = torch.nonzero(beta > 0).flatten().cpu().numpy()
        if len(near):
            hidden = near[~visible(X[near].cpu().numpy(), closest[near].cpu().numpy())]
            beta[torch.as_tensor(hidden, device=X.device)] = 0
    return handle, beta
