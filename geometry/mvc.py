"""Mean value coordinates in closed form, for polygons (2D) and triangle-mesh cages (3D).

2D: Hormann & Floater, "Mean value coordinates for arbitrary planar polygons" (2006) —
valid for non-convex polygons (where the coordinates can turn negative).
3D: Ju, Schaefer & Warren, "Mean value coordinates for closed triangular meshes" (2005),
in the numerically robust form of their pseudo-code.

Points on the cage boundary get the exact boundary values (one-hot at a vertex, linear
on an edge / face). ``igl.mvc`` is not used: it is 2D-only and flagged broken in its own
header.
"""

from __future__ import annotations

import numpy as np

from fieldrig.geometry.cage import BOUNDARY_TOLERANCE, Cage, as_cage

#: (point, cell) pairs per chunk: small enough for the temporaries to stay in cache (spot's
#: 2,930 vertices in a 76-face cage: 0.09 s against 0.14 s in chunks of 4,096 points).
_CHUNK_CELLS = 8192


def mean_value_coordinates(cage, points) -> np.ndarray:
    """Mean value coordinates of a cage at points inside it.

    Parameters
    ----------
    cage : Cage, path, (n, 2) array or (V, F) tuple
        See :func:`fieldrig.geometry.cage.as_cage`.
    points : (k, d) float
        Query points inside the cage or on its boundary.

    Returns
    -------
    (k, n) float
        Sum to one and reproduce the points (``Φ @ V == points``); may be negative inside
        non-convex cages.

    Raises
    ------
    InputError
        Invalid cage or points outside it.
    """
    cage = as_cage(cage)
    P = cage.check_inside(points)
    out = np.empty((len(P), cage.n_vertices))
    dist, cells, weights = cage.boundary_projection(P)
    on_boundary = dist <= BOUNDARY_TOLERANCE * cage.diameter
    out[on_boundary] = cage.boundary_values(cells[on_boundary], weights[on_boundary])
    inside = np.flatnonzero(~on_boundary)
    kernel = _mvc_2d if cage.dim == 2 else _mvc_3d
    chunk = max(16, _CHUNK_CELLS // len(cage.F))
    for start in range(0, len(inside), chunk):
        idx = inside[start : start + chunk]
        w = kernel(cage, P[idx])
        out[idx] = w / w.sum(axis=1, keepdims=True)
    return out


def _mvc_2d(cage: Cage, P: np.ndarray) -> np.ndarray:
    """Unnormalised 2D weights at points off the boundary, (k, n)."""
    loop = cage.loop
    S = cage.V[loop][None, :, :] - P[:, None, :]  # s_i = v_i - x, loop order
    S1 = np.roll(S, -1, axis=1)  # s_{i+1}
    r = np.linalg.norm(S, axis=2)
    r1 = np.roll(r, -1, axis=1)
    A = 0.5 * (S[..., 0] * S1[..., 1] - S[..., 1] * S1[..., 0])
    D = np.sum(S * S1, axis=2)
    # tan(alpha_i / 2) for the angle at x spanned by edge (i, i+1), in its stable form
    with np.errstate(divide="ignore", invalid="ignore"):
        tan_half = np.where(D > 0, 2.0 * A / (r * r1 + D), (r * r1 - D) / (2.0 * A))
    w_loop = (np.roll(tan_half, 1, axis=1) + tan_half) / r
    w = np.empty_like(w_loop)
    w[:, loop] = w_loop
    return w


def _mvc_3d(cage: Cage, P: np.ndarray) -> np.ndarray:
    """Unnormalised 3D weights at points off the boundary, (k, n)."""
    eps = 1e-12
    diff = cage.V[None, :, :] - P[:, None, :]  # (k, n, 3)
    d = np.linalg.norm(diff, axis=2)
    U = diff / d[..., None]
    F = cage.F
    u = U[:, F]  # (k, m, 3 corners, 3)
    dF = d[:, F]  # (k, m, 3)
    # corner i is opposite the edge (i+1, i-1); l_i = |u_{i+1} - u_{i-1}|
    nxt, prv = [1, 2, 0], [2, 0, 1]
    lengths = np.linalg.norm(u[:, :, nxt] - u[:, :, prv], axis=3)
    theta = 2.0 * np.arcsin(np.clip(lengths / 2.0, 0.0, 1.0))
    h = theta.sum(axis=2) / 2.0
    sin_t = np.sin(theta)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = 2.0 * np.sin(h)[..., None] * np.sin(h[..., None] - theta) / (sin_t[..., nxt] * sin_t[..., prv]) - 1.0
        sign = np.sign(np.einsum("...i,...i", u[..., 0, :], np.cross(u[..., 1, :], u[..., 2, :])))[..., None]
        s = sign * np.sqrt(np.clip(1.0 - c * c, 0.0, None))
        w = (theta - c[..., nxt] * theta[..., prv] - c[..., prv] * theta[..., nxt]) / (
            dF * sin_t[..., nxt] * s[..., prv]
        )
    # a face in the plane of the point (but not containing it, which is a boundary point)
    # contributes nothing
    skip = np.any(np.abs(s) <= eps, axis=2) | ~np.all(np.isfinite(w), axis=2)
    w[skip] = 0.0
    out = np.zeros((len(P), cage.n_vertices))
    for corner in range(3):
        np.add.at(out, (slice(None), F[:, corner]), w[:, :, corner])
    return out
