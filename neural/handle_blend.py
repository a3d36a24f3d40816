"""The exact handle condition: a smooth blend toward one-hot weights next to each handle.

A skinning field is ``w(x) = (1 - beta(x)) u(x) + beta(x) e_k(x)`` where ``u`` is the kernel
field (on the probability simplex), ``k(x)`` the handle nearest to x and ``beta`` in [0, 1]
a bump that equals 1 on that handle. Hence w = e_k on handle k (the Lagrange property),
and w stays on the simplex everywhere. With ``a`` the squared distance to the nearest
handle and ``b`` to the second nearest::

    beta = f(4 r^2) g(a / rho^2),   r = a / (a + b),   f(u) = g(u) = (1 - u)^3 on [0, 1)

``g`` confines the blend to a tube of radius ``rho``; ``f`` vanishes where the two nearest
handles are nearly equidistant (r >= 1/2), so at most one handle blends at any point and
the blend is C2 — two bones meeting at a joint each keep weight 1 on their own segment.
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np
import torch

from fieldrig.neural.field_calculus import Calc, compose, product, quotient, scale, smoothstep_bump

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
    """

    def __init__(self, starts: np.ndarray, ends: np.ndarray, owner: np.ndarray, n_handles: int):
        self.starts = np.asarray(starts, dtype=np.float64)
        self.ends = np.asarray(ends, dtype=np.float64)
        self.owner = np.asarray(owner, dtype=np.int64)
        self.n_handles = int(n_handles)

    @classmethod
    def from_rig(cls, rig, V: Optional[np.ndarray] = None) -> "HandleGeometry":
        """Segments of a :class:`~fieldrig.geometry.rig.Rig`, plus its painted vertices of ``V``."""
        seg = rig.handle_segments()
        starts, ends, owner = [seg[:, 0]], [seg[:, 1]], [np.arange(len(seg))]
        for region in rig.painted:
            if V is None or len(region.vertices) == 0:
                continue
            pts = np.asarray(V)[region.vertices]
            starts.append(pts)
            ends.append(pts)
            owner.append(np.full(len(pts), region.handle))
        return cls(np.concatenate(starts), np.concatenate(ends), np.concatenate(owner), rig.n_handles)

    def nearest(self, X: torch.Tensor):
        """Squared distance to the nearest and second-nearest handle, with derivatives.

        Parameters
        ----------
        X : (m, 3) float tensor

        Returns
        -------
        handle : (m,) long — the nearest handle
        closest : (m, 3) — the closest point on it
        a : Calc — squared distance to it (value, gradient, Laplacian)
        b : Calc — squared distance to the second-nearest handle (or None with one handle)
        """
        dev, dt = X.device, X.dtype
        A = torch.as_tensor(self.starts, device=dev, dtype=dt)
        D = torch.as_tensor(self.ends - self.starts, device=dev, dtype=dt)
        owner = torch.as_tensor(self.owner, device=dev)
        L2 = (D * D).sum(-1)
        outs = []
        for lo in range(0, len(X), _POINT_CHUNK):
            x = X[lo:lo + _POINT_CHUNK]
            rel = x[:, None, :] - A[None]                                   # (c, s, 3)
            t = (rel * D[None]).sum(-1) / torch.clamp(L2, min=1e-300)[None]
            interior = (t > 0) & (t < 1) & (L2[None] > 0)
            t = torch.clamp(t, 0, 1)
            closest = A[None] + t[..., None] * D[None]
            diff = x[:, None, :] - closest
            d2 = (diff * diff).sum(-1)                                       # (c, s)
            lap = torch.where(interior, 4.0, 6.0).to(dt)                    # 3D point: 6, line: 4
            # per handle: the nearest of its segments
            per_handle = torch.full((len(x), self.n_handles), float("inf"), device=dev, dtype=dt)
            per_handle.scatter_reduce_(1, owner.expand(len(x), -1), d2, reduce="amin")
            order = torch.argsort(per_handle, dim=1)
            k1 = order[:, 0]
            seg1 = _argmin_where(d2, owner[None] == k1[:, None])
            rows = torch.arange(len(x), device=dev)
            a = (d2[rows, seg1], 2 * diff[rows, seg1], lap[rows, seg1])
            if self.n_handles > 1:
                k2 = order[:, 1]
                seg2 = _argmin_where(d2, owner[None] == k2[:, None])
                b = (d2[rows, seg2], 2 * diff[rows, seg2], lap[rows, seg2])
            else:
                b = None
            outs.append((k1, closest[rows, seg1], a, b))
        handle = torch.cat([o[0] for o in outs])
        closest = torch.cat([o[1] for o in outs])
        a = tuple(torch.cat([o[2][i] for o in outs]) for i in range(3))
        b = None if outs[0][3] is None else tuple(torch.cat([o[3][i] for o in outs]) for i in range(3))
        return handle, closest, a, b


def _argmin_where(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return torch.where(mask, values, torch.full_like(values, float("inf"))).argmin(dim=1)


def handle_blend(X: torch.Tensor, handles: HandleGeometry, rho: float,
                 visible: Optional[Callable[[np.ndarray, np.ndarray], np.ndarray]] = None):
    """The blend ``beta`` toward the nearest handle, with gradient and Laplacian.

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
    beta : Calc
        (m,), (m, 3), (m,).
    """
    handle, closest, a, b = handles.nearest(X)
    g = smoothstep_bump(scale(a, 1.0 / rho ** 2))
    if b is None:
        beta = g
    else:
        # a + b = 0 only exactly on a joint shared by two handles; r = 0 there.
        total = (torch.clamp(a[0] + b[0], min=1e-300), a[1] + b[1], a[2] + b[2])
        r = quotient(a, total)
        f = smoothstep_bump(scale(product(r, r), 4.0))
        beta = product(f, g)
    if visible is not None:
        near = torch.nonzero(beta[0] > 0).flatten().cpu().numpy()
        if len(near):
            x = X.detach().cpu().numpy()
            c = closest.detach().cpu().numpy()
            hidden = torch.as_tensor(near[~visible(x[near], c[near])], device=X.device)
            if len(hidden):
                beta = tuple(t.clone() for t in beta)
                for t in beta:
                    t[hidden] = 0
    return handle, beta
