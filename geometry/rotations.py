"""Rotations: axis-angle, unit quaternions (w, x, y, z) and 3×3 matrices, batched.

Every function takes leading batch dimensions, e.g. ``R : (..., 3, 3)`` → ``q : (..., 4)``.
Quaternions are stored scalar first, ``q = (w, x, y, z)``; glTF stores ``(x, y, z, w)``,
so reorder before calling.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from fieldrig.core.errors import InputError


def axis_angle_matrix(axis: Sequence[float], degrees: float) -> np.ndarray:
    """Rotation by ``degrees`` about ``axis`` (right-handed), by Rodrigues' formula.

    Parameters
    ----------
    axis : (3,) float
        Rotation axis; it need not be unit length but must not be zero.
    degrees : float
        Angle in degrees.

    Returns
    -------
    (3, 3) float
    """
    a = np.asarray(axis, dtype=np.float64).reshape(-1)
    if a.shape != (3,) or not np.all(np.isfinite(a)):
        raise InputError("axis", f"expected 3 finite numbers, got {np.asarray(axis).tolist()!r}")
    norm = np.linalg.norm(a)
    if norm == 0:
        raise InputError("axis", "the rotation axis must not be the zero vector")
    if not np.isfinite(degrees):
        raise InputError("degrees", f"expected a finite angle, got {degrees!r}")
    x, y, z = a / norm
    t = np.radians(degrees)
    K = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
    return np.eye(3) + np.sin(t) * K + (1.0 - np.cos(t)) * (K @ K)


def quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrices of quaternions; each quaternion is normalised first.

    Parameters
    ----------
    q : (..., 4) float
        ``(w, x, y, z)``, any non-zero length.

    Returns
    -------
    (..., 3, 3) float
    """
    q = np.asarray(q, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    R = np.stack(
        [
            1 - 2 * (y * y + z * z),
            2 * (x * y - w * z),
            2 * (x * z + w * y),
            2 * (x * y + w * z),
            1 - 2 * (x * x + z * z),
            2 * (y * z - w * x),
            2 * (x * z - w * y),
            2 * (y * z + w * x),
            1 - 2 * (x * x + y * y),
        ],
        axis=-1,
    )
    return R.reshape(q.shape[:-1] + (3, 3))


def matrix_to_quaternion(R: np.ndarray) -> np.ndarray:
    """Unit quaternions of rotation matrices (Shepperd's method, stable for every angle).

    Parameters
    ----------
    R : (..., 3, 3) float
        Rotation matrices (orthonormal, determinant +1).

    Returns
    -------
    (..., 4) float
        ``(w, x, y, z)`` with ``w >= 0``.
    """
    R = np.asarray(R, dtype=np.float64)
    m = R.reshape(-1, 3, 3)
    trace = m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2]
    # Four candidate formulas; pick per matrix the one with the largest pivot.
    pivots = np.stack([trace, m[:, 0, 0], m[:, 1, 1], m[:, 2, 2]], axis=1)
    choice = np.argmax(pivots, axis=1)
    q = np.empty((len(m), 4))
    for c in range(4):
        sel = choice == c
        if not np.any(sel):
            continue
        r = m[sel]
        if c == 0:
            s = 2.0 * np.sqrt(1.0 + trace[sel])
            q[sel] = np.stack(
                [0.25 * s, (r[:, 2, 1] - r[:, 1, 2]) / s, (r[:, 0, 2] - r[:, 2, 0]) / s, (r[:, 1, 0] - r[:, 0, 1]) / s],
                axis=1,
            )
        else:
            i = c - 1
            j, k = (i + 1) % 3, (i + 2) % 3
            s = 2.0 * np.sqrt(np.maximum(1.0 + r[:, i, i] - r[:, j, j] - r[:, k, k], 0.0))
            out = np.empty((len(r), 4))
            out[:, 0] = (r[:, k, j] - r[:, j, k]) / s
            out[:, 1 + i] = 0.25 * s
            out[:, 1 + j] = (r[:, j, i] + r[:, i, j]) / s
            out[:, 1 + k] = (r[:, k, i] + r[:, i, k]) / s
            q[sel] = out
    q *= np.where(q[:, :1] < 0, -1.0, 1.0)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return q.reshape(R.shape[:-2] + (4,))


def nearest_rotation(M: np.ndarray) -> np.ndarray:
    """The rotation closest to each 3×3 matrix (polar decomposition by SVD).

    Drops scale and shear: for ``M = R S`` with ``S`` symmetric positive definite this
    returns ``R``.

    Parameters
    ----------
    M : (..., 3, 3) float

    Returns
    -------
    (..., 3, 3) float
        Orthonormal, determinant +1.
    """
    M = np.asarray(M, dtype=np.float64)
    U, _, Vt = np.linalg.svd(M)
    d = np.sign(np.linalg.det(U @ Vt))
    d = np.where(d == 0, 1.0, d)
    U[..., :, 2] *= d[..., None]
    return U @ Vt


def is_rotation(R: np.ndarray, tol: float = 1e-4) -> bool:
    """Whether ``R`` (3, 3) is orthonormal with determinant +1 within ``tol``."""
    R = np.asarray(R, dtype=np.float64)
    return (
        R.shape == (3, 3)
        and bool(np.all(np.isfinite(R)))
        and np.allclose(R @ R.T, np.eye(3), atol=tol)
        and abs(np.linalg.det(R) - 1.0) < tol
    )
