"""Generalized winding numbers of triangle meshes, soups and oriented point clouds."""

from __future__ import annotations

from typing import Optional

import numpy as np


def point_areas(P: np.ndarray, k: int = 8) -> np.ndarray:
    """Area each point of a cloud stands for, from the distance to its k-th neighbour.

    Parameters
    ----------
    P : (n, 3) float
    k : int

    Returns
    -------
    (n,) float
        ``pi r_k^2 / k``: a disc of radius ``r_k`` holds about ``k`` points.
    """
    from scipy.spatial import cKDTree

    k = max(1, min(k, len(P) - 1))
    radius = cKDTree(P).query(P, k=k + 1)[0][:, -1]
    return np.pi * radius**2 / k


def winding_numbers(
    V: np.ndarray, F: Optional[np.ndarray], Q: np.ndarray, N: Optional[np.ndarray] = None
) -> np.ndarray:
    """Generalized winding number of the surface at query points (libigl's fast winding number).

    Parameters
    ----------
    V : (n, 3) float
        Mesh vertices, or the points of a cloud.
    F : (m, 3) int or None
        Triangles (any soup works); None for an oriented point cloud.
    Q : (q, 3) float
        Query points.
    N : (n, 3) float, optional
        Point normals; required when ``F`` is None.

    Returns
    -------
    (q,) float
        About 1 inside a closed, outward-oriented surface, 0 outside, fractional near holes.
    """
    import igl

    Q = np.ascontiguousarray(Q, dtype=np.float64)
    if F is not None:
        return igl.fast_winding_number(
            np.ascontiguousarray(V, dtype=np.float64), np.ascontiguousarray(F, dtype=np.int64), Q
        )
    if N is None:
        raise ValueError("winding numbers of a point cloud need its normals")
    V = np.ascontiguousarray(V, dtype=np.float64)
    return igl.fast_winding_number(V, np.ascontiguousarray(N, dtype=np.float64), point_areas(V), Q)
