"""Painted values made exact: a thin blend toward each painted point's weight row.

A refitted field (:mod:`fieldrig.neural.skinning_refit`) holds painted rows ``r_v`` at
points ``p_v`` as heavy rows of its least-squares system, so the kernel field ``u`` is
already close to them; as the handle blend does for handles
(:mod:`fieldrig.neural.handle_blend`), a bump makes the values exact::

    u~(x) = (1 - gamma(x)) u(x) + gamma(x) r_v,   gamma(x) = f(|x - p_v|^2 / rho_v^2),

``v`` the painted point nearest to ``x`` and ``f(t) = (1 - t)^3`` on [0, 1), 0 beyond. Each
radius ``rho_v`` is at most half the distance to the nearest other painted point, so the
bumps do not overlap and ``v`` is the only point whose bump holds ``x``: ``u~(p_v) = r_v``
exactly, and ``u~`` is a convex mixture of simplex rows, on the simplex everywhere. The
handle blend is applied on top (``w = (1 - beta) u~ + beta e_k``), so handles keep
weight 1; a refit does not paint where ``beta > 0``.
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np
import torch
from scipy.spatial import cKDTree


class PaintBlend:
    """Painted points, their weight rows and the radius of their bumps (normalised frame).

    Parameters
    ----------
    points : (P, 3) float
        Distinct points.
    rows : (P, H) float
        Weight rows on the simplex.
    radius : (P,) float
        Bump radii, each at most half the distance to the nearest other point.
    """

    def __init__(self, points: np.ndarray, rows: np.ndarray, radius: np.ndarray):
        self.points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        self.rows = np.asarray(rows, dtype=np.float64)
        self.radius = np.asarray(radius, dtype=np.float64).reshape(-1)
        self._tree = cKDTree(self.points)

    @classmethod
    def around(cls, points: np.ndarray, rows: np.ndarray, reach: np.ndarray) -> "PaintBlend":
        """Bumps of radius ``reach`` (P,), shrunk to half the distance to the nearest other point."""
        points = np.asarray(points, dtype=np.float64)
        radius = np.asarray(reach, dtype=np.float64).copy()
        if len(points) > 1:
            gap = cKDTree(points).query(points, k=2)[0][:, 1]
            radius = np.minimum(radius, 0.5 * gap)
        return cls(points, rows, radius)

    def apply(
        self, X: np.ndarray, u: torch.Tensor, visible: Optional[Callable[[np.ndarray, np.ndarray], np.ndarray]] = None
    ) -> torch.Tensor:
        """``u~`` at points ``X`` (m, 3) from the kernel field ``u`` (m, H) there.

        ``visible(A, B) -> (k,) bool`` hides a bump behind the surface (no bleeding across a
        gap between parts).
        """
        if not len(self.points):
            return u
        distance, nearest = self._tree.query(X, distance_upper_bound=float(self.radius.max()))
        inside = np.flatnonzero(np.isfinite(distance))
        inside = inside[distance[inside] < self.radius[nearest[inside]]]
        if visible is not None and len(inside):
            apart = inside[distance[inside] > 0]
            hidden = apart[~visible(X[apart], self.points[nearest[apart]])]
            inside = np.setdiff1d(inside, hidden)
        if not len(inside):
            return u
        t = (distance[inside] / self.radius[nearest[inside]]) ** 2
        gamma = torch.as_tensor((1 - t) ** 3, device=u.device, dtype=u.dtype)[:, None]
        rows = torch.as_tensor(self.rows[nearest[inside]], device=u.device, dtype=u.dtype)
        index = torch.as_tensor(inside, device=u.device)
        out = u.clone()
        out[index] = (1 - gamma) * u[index] + gamma * rows
        return out
