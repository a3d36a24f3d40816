"""Skinning deformers: linear blend skinning and dual quaternion skinning.

Both take rest positions ``V (n, 3)``, weights ``W (n, H)`` (columns in the rig's handle
order) and one affine transform per handle ``T (H, 4, 4)`` or ``(H, 3, 4)`` — e.g. from
:func:`fieldrig.geometry.pose.pose_transforms`. Weights are used as given (libigl's
convention); rows are expected to sum to 1.

float32 ``V`` and ``W`` are computed in float32 (the GUI's fast path); anything else in
float64.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from fieldrig.core.errors import InputError
from fieldrig.geometry.rotations import matrix_to_quaternion, nearest_rotation

_BLOCK = 8192  # vertices per block of element-wise work


def linear_blend_skinning(V: np.ndarray, W: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Linear blend skinning: ``v' = Σ_j W[v, j] · T_j [v; 1]``.

    For deforming the same mesh many times (an interactive preview), :class:`Skinner`
    precomputes a sparse operator and is several times faster.

    Parameters
    ----------
    V : (n, 3) float
        Rest positions.
    W : (n, H) float
        Skinning weights.
    T : (H, 4, 4) or (H, 3, 4) float
        Affine transform of each handle (rest → posed).

    Returns
    -------
    (n, 3) float
        Deformed positions.
    """
    V, W, A = _checked(V, W, T)
    # blend the 3×4 matrices per vertex in one BLAS product, laid out (4, 3, n) so that
    # applying them is four row operations (the (n, 12) layout is 2× slower here)
    M = (A.transpose(0, 2, 1).reshape(len(A), 12).T @ W.T).reshape(4, 3, len(V))
    Vt = V.T
    return (M[0] * Vt[0] + M[1] * Vt[1] + M[2] * Vt[2] + M[3]).T


def dual_quaternion_skinning(V: np.ndarray, W: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Dual quaternion skinning (Kavan et al. 2007): blends rigid motions without the
    volume loss ("candy wrapper") of linear blending.

    Each transform is reduced to its rigid part (the nearest rotation of its 3×3 block,
    plus its translation): **scale and shear are ignored**. Quaternion signs are aligned,
    per vertex, to the handle with the largest weight (antipodality), the blend is
    normalised, and vertices whose weights are all zero stay at rest.

    Parameters
    ----------
    V : (n, 3) float
        Rest positions.
    W : (n, H) float
        Skinning weights (non-negative).
    T : (H, 4, 4) or (H, 3, 4) float
        Rigid transform of each handle (rest → posed).

    Returns
    -------
    (n, 3) float
        Deformed positions.
    """
    V, W, A = _checked(V, W, T)
    Q = _dual_quaternions(A, W.dtype)
    B = Q.T @ (W * _hemisphere_signs(Q)[np.argmax(W, axis=1)]).T
    return _in_blocks(len(V), 3, V.dtype, lambda rows: _apply_dual_quaternions(V[rows], B[:, rows]))


class Skinner:
    """Deforms one mesh with fixed weights many times: the interactive preview's path.

    Precomputes a sparse operator so that each :meth:`lbs` call is one sparse product,
    and :meth:`dqs` one sparse product plus a cache-blocked apply. It pays off when each
    vertex has few influences (skinning weights are mostly local; ``max_influences``
    enforces it): 100k vertices × 20 handles with 4 influences each take ~9 ms (LBS) and
    ~30 ms (DQS, float32) here against ~15-40 ms and ~90 ms for the one-shot functions;
    with dense weights the one-shot LBS is faster. Figures: ``bench/bench_deform.py``.

    Parameters
    ----------
    V : (n, 3) float
        Rest positions.
    W : (n, H) float
        Skinning weights.
    max_influences : int, optional
        Keep only each vertex's largest weights, renormalised (as game engines and glTF
        do; 4 or 8 are usual). None keeps every non-zero weight (exact).
    """

    def __init__(self, V: np.ndarray, W: np.ndarray, max_influences: Optional[int] = None):
        from scipy.sparse import csr_matrix

        H = np.asarray(W).shape[1] if np.ndim(W) == 2 else 0
        V, W, _ = _checked(V, W, np.tile(np.eye(4), (H, 1, 1)))
        n = len(V)
        if max_influences is not None:
            from fieldrig.geometry.gltf import prune_weights

            cols, vals = prune_weights(W, max_influences)
            Ws = csr_matrix(
                (vals.reshape(-1), (np.repeat(np.arange(n), cols.shape[1]), cols.reshape(-1))), shape=(n, H)
            )
            pivot = cols[:, 0]  # largest first
        else:
            Ws = csr_matrix(W)
            pivot = np.argmax(W, axis=1)
        Ws.eliminate_zeros()
        Ws = Ws.astype(W.dtype)
        self.V, self.weights, self.n_handles = V, Ws, H
        self._rows = np.repeat(np.arange(n), np.diff(Ws.indptr))
        self._pivot = pivot[self._rows]
        # Q[v, 4j + l] = W[v, j] · [v; 1]_l, so that LBS is Q @ A_stack with A_stack[4j + l, k] = T_j[k, l]
        Vh = np.hstack([V, np.ones((n, 1), V.dtype)])
        data = (Ws.data[:, None] * Vh[self._rows]).reshape(-1)
        cols = (4 * Ws.indices[:, None] + np.arange(4)).reshape(-1)
        self._Q = csr_matrix((data, cols, 4 * Ws.indptr), shape=(n, 4 * H))

    def lbs(self, T: np.ndarray) -> np.ndarray:
        """Linear blend skinning with transforms ``T`` (H, 4, 4) or (H, 3, 4) → (n, 3)."""
        A = self._transforms(T)
        return self._Q @ A.transpose(0, 2, 1).reshape(4 * self.n_handles, 3)

    def dqs(self, T: np.ndarray) -> np.ndarray:
        """Dual quaternion skinning (see :func:`dual_quaternion_skinning`) → (n, 3)."""
        from scipy.sparse import csr_matrix

        Q = _dual_quaternions(self._transforms(T), self.V.dtype)
        W = self.weights
        signed = csr_matrix((W.data * _hemisphere_signs(Q)[self._pivot, W.indices], W.indices, W.indptr), shape=W.shape)
        B = signed @ Q
        return _in_blocks(len(self.V), 3, self.V.dtype, lambda rows: _apply_dual_quaternions(self.V[rows], B[rows].T))

    def _transforms(self, T) -> np.ndarray:
        _, _, A = _checked(self.V[:0], np.zeros((0, self.n_handles), self.V.dtype), T)
        return A


def _in_blocks(n: int, width: int, dtype, block) -> np.ndarray:
    """Fill an (n, width) result by calling ``block(rows)`` on row slices small enough for
    the temporaries to stay in cache (3× faster than whole arrays on the long element-wise
    chain of DQS; not worth it around a BLAS product)."""
    out = np.empty((n, width), dtype=dtype)
    for start in range(0, n, _BLOCK):
        rows = slice(start, min(start + _BLOCK, n))
        out[rows] = block(rows)
    return out


def _dual_quaternions(A: np.ndarray, dtype) -> np.ndarray:
    """Unit dual quaternions of the rigid parts of A (H, 3, 4).

    Returns
    -------
    (H, 8) : real part (w, x, y, z), then dual part (w, x, y, z).
    """
    real = matrix_to_quaternion(nearest_rotation(A[:, :, :3].astype(np.float64)))
    t = A[:, :, 3].astype(np.float64)
    w, x, y, z = real.T
    # dual = 1/2 (0, t) ⊗ real
    dual = 0.5 * np.stack(
        [
            -t[:, 0] * x - t[:, 1] * y - t[:, 2] * z,
            t[:, 0] * w + t[:, 1] * z - t[:, 2] * y,
            -t[:, 0] * z + t[:, 1] * w + t[:, 2] * x,
            t[:, 0] * y - t[:, 1] * x + t[:, 2] * w,
        ],
        axis=1,
    )
    return np.hstack([real, dual]).astype(dtype)


def _hemisphere_signs(Q: np.ndarray) -> np.ndarray:
    """(H, H): +1 where two rotations' quaternions lie in the same hemisphere, else -1."""
    return np.where(Q[:, :4] @ Q[:, :4].T < 0, -1.0, 1.0).astype(Q.dtype)


def _cross(a, b):
    """Cross products of vectors stored as rows of (3, n) arrays."""
    return np.stack([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


def _apply_dual_quaternions(V: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Normalise blended dual quaternions B (8, n) and apply them to V (n, 3) → (n, 3)."""
    norm = np.sqrt(B[0] ** 2 + B[1] ** 2 + B[2] ** 2 + B[3] ** 2)
    at_rest = norm <= 1e-12
    if np.any(at_rest):  # no weight at all: keep the vertex where it is
        B = B.copy()
        B[:, at_rest] = np.array([1, 0, 0, 0, 0, 0, 0, 0], B.dtype)[:, None]
        norm[at_rest] = 1.0
    B = B / norm  # a copy: the caller's array is left alone
    c0, cv, e0, ev = B[0], B[1:4], B[4], B[5:8]
    Vt = V.T
    out = Vt + 2.0 * _cross(cv, _cross(cv, Vt) + c0 * Vt)
    out += 2.0 * (c0 * ev - e0 * cv + _cross(cv, ev))
    return out.T


def _checked(V, W, T) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate shapes; return V (n,3), W (n,H), A (H,3,4) in a common float dtype."""
    V, W, T = np.asarray(V), np.asarray(W), np.asarray(T)
    dtype = np.float32 if V.dtype == np.float32 and W.dtype == np.float32 else np.float64
    if V.ndim != 2 or V.shape[1] != 3:
        raise InputError("V", f"expected rest positions of shape (n, 3), got {V.shape}")
    if W.ndim != 2 or W.shape[0] != V.shape[0]:
        raise InputError("W", f"expected weights of shape ({V.shape[0]}, H) for {V.shape[0]} vertices, got {W.shape}")
    H = W.shape[1]
    if T.ndim != 3 or T.shape[0] != H or T.shape[1:] not in ((4, 4), (3, 4)):
        raise InputError("T", f"expected ({H}, 4, 4) or ({H}, 3, 4) transforms for {H} weight columns, got {T.shape}")
    if not np.all(np.isfinite(T)):
        raise InputError("T", "transforms contain NaN or infinite values")
    if T.shape[1] == 4 and not np.allclose(T[:, 3], [0.0, 0.0, 0.0, 1.0]):
        raise InputError("T", "the last row of every 4×4 transform must be [0, 0, 0, 1] (affine, not projective)")
    return V.astype(dtype, copy=False), W.astype(dtype, copy=False), T[:, :3, :].astype(dtype)
