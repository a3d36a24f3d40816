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

_POINT_CHUNK = 65_536


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

    def samples(self, step: float) -> Tuple[np.ndarray, np.ndarray]:
        """Points along every segment, at most ``step`` apart, ends included.

        Returns
        -------
        points : (q, 3) float
        owner : (q,) int
            Handle of each point.
        isolated : (q,) bool
            Samples that are a point handle on their own.
        """
        length = np.linalg.norm(self.ends - self.starts, axis=1)
        counts = np.where(length > 0, np.ceil(length / step).astype(np.int64) + 1, 1)
        seg = np.repeat(np.arange(len(length)), counts)
        first = np.repeat(np.cumsum(counts) - counts, counts)
        t = (np.arange(len(seg)) - first) / np.maximum(counts[seg] - 1, 1)
        points = self.starts[seg] + t[:, None] * (self.ends[seg] - self.starts[seg])
        return points, self.owner[seg], self.isolated_point[seg]

    def per_handle(self, X: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Squared distance to every handle and the closest point on it.

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
        d2 = torch.empty(len(X), self.n_handles, device=dev, dtype=dt)
        closest = torch.empty(len(X), self.n_handles, 3, device=dev, dtype=dt)
        for h in range(self.n_handles):
            seg = torch.as_tensor(np.flatnonzero(self.owner == h), device=dev)
            for lo in range(0, len(X), _POINT_CHUNK):
                x = X[lo : lo + _POINT_CHUNK]
                t = torch.clamp(((x[:, None, :] - A[seg][None]) * D[seg][None]).sum(-1) / L2[seg][None], 0, 1)
                c = A[seg][None] + t[..., None] * D[seg][None]  # (chunk, s_h, 3)
                dist = ((x[:, None, :] - c) ** 2).sum(-1)
                best = dist.argmin(dim=1)
                rows = torch.arange(len(x), device=dev)
                d2[lo : lo + _POINT_CHUNK, h] = dist[rows, best]
                closest[lo : lo + _POINT_CHUNK, h] = c[rows, best]
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
        """
        d2, closest = self.per_handle(X)
        two = torch.topk(d2, min(2, self.n_handles), dim=1, largest=False)
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
    rho : float
        Radius of the tube around each handle where beta > 0.
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
    beta = _falloff(4 * r * r) * _falloff(a / rho**2)
    if visible is not None:
        near = torch.nonzero(beta > 0).flatten().cpu().numpy()
        if len(near):
            hidden = near[~visible(X[near].cpu().numpy(), closest[near].cpu().numpy())]
            beta[torch.as_tensor(hidden, device=X.device)] = 0
    return handle, beta
