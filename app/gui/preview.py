"""The pose preview's skinning: exact LBS / DQS of one mesh with fixed weights, many times a
second, in float32.

Two layouts, chosen by how many weights are non-zero (dense unless fewer than
:data:`DENSE_FRACTION`: the BLAS product costs the same for any sparsity and wins until
then — 100k vertices, 20 bones, 4.4 influences per vertex: 8.8 ms per frame dense against
11.9 ms sparse):

- sparse weights (many handles, few influences each): the weights as a CSR matrix
  times the stacked 3×4 handle matrices, ``M = W @ A`` (n, 12), then
  ``v' = M_x x + M_y y + M_z z + M_t``. Twelve contiguous columns per non-zero make the
  sparse product about twice as fast here as the (n, 4H) operator of
  :class:`fieldrig.geometry.deform.Skinner` with three columns, and the per-vertex
  application is one ``einsum`` with the homogeneous rest positions;
- dense weights: the transposed layout, ``M = A^T @ W^T`` (12, n) with ``W^T`` stored
  contiguous, one BLAS product on one BLAS thread, then an ``einsum`` over rows. The product
  is small; a second BLAS thread only waits for a core that training and drawing are
  using (on this 2-core machine under load: 37 ms per frame with two threads, 14 ms
  with one).

DQS uses :class:`~fieldrig.geometry.deform.Skinner` (sparse) or
:func:`~fieldrig.geometry.deform.dual_quaternion_skinning` (dense). Building a preview
can take longer than a frame, so the app builds it in the compute process, with the weights.
``bench/pose_preview.py`` times it inside the viewer.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.sparse import csr_matrix

from fieldrig.geometry.deform import Skinner, dual_quaternion_skinning

#: Above this fraction of non-zero weights the dense layout is used (measured crossover).
DENSE_FRACTION = 0.1


@lru_cache(maxsize=1)
def _blas():
    """The process's BLAS thread pools (found once)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


class PreviewSkinning:
    """Exact float32 LBS and DQS of a fixed mesh and weights.

    Parameters
    ----------
    V : (n, 3) float
        Rest positions.
    W : (n, H) float
        Weights.
    """

    def __init__(self, V: np.ndarray, W: np.ndarray):
        self.V = np.ascontiguousarray(V, dtype=np.float32)
        self._Vh = np.hstack([self.V, np.ones((len(self.V), 1), np.float32)])
        W = np.asarray(W, dtype=np.float32)
        if W.ndim != 2 or W.shape[0] != len(self.V):
            raise ValueError(f"weights must be ({len(self.V)}, H), got {W.shape}")
        self.dense = np.count_nonzero(W) > DENSE_FRACTION * W.size
        if self.dense:
            self.W = np.ascontiguousarray(W)
            self._Wt = np.ascontiguousarray(W.T)
            self._VhT = np.ascontiguousarray(self._Vh.T)
            self._skinner = None
        else:
            self.W = csr_matrix(W)
            self.W.eliminate_zeros()
            self._skinner = Skinner(self.V, W)

    def lbs(self, T: np.ndarray) -> np.ndarray:
        """Linear blend skinning with transforms ``T`` (H, 4, 4) → (n, 3) float32 (possibly a
        transposed view)."""
        T = np.asarray(T, dtype=np.float32)
        if T.shape[0] != self.W.shape[1]:
            raise ValueError(f"expected {self.W.shape[1]} transforms, got {T.shape[0]}")
        # A[j, 3c + r] = T_j[r, c]: per vertex, M.reshape(4, 3) is the blended [R | t] transposed
        A = np.ascontiguousarray(T[:, :3, :].transpose(0, 2, 1).reshape(len(T), 12))
        if self.dense:
            with _blas().limit(limits=1, user_api="blas"):
                M = (np.ascontiguousarray(A.T) @ self._Wt).reshape(4, 3, -1)
            return np.einsum("ijn,in->jn", M, self._VhT).T  # rows stay contiguous: 2× faster than "ijn,ni->nj"
        M = (self.W @ A).reshape(-1, 4, 3)
        return np.einsum("nij,ni->nj", M, self._Vh)

    def dqs(self, T: np.ndarray) -> np.ndarray:
        """Dual quaternion skinning with transforms ``T`` (H, 4, 4) → (n, 3) float32."""
        if self.dense:
            with _blas().limit(limits=1, user_api="blas"):
                return dual_quaternion_skinning(self.V, self.W, T)
        return self._skinner.dqs(np.asarray(T, dtype=np.float32))
