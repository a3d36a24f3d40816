"""The regularised least-squares solve of a skinning level: sparse normal matrix, CG or Cholesky.

The rows of ``A`` are the energy's samples and its columns the particles; every sample
sees only the particles within a kernel radius, so ``A`` and the normal matrix
``G = A^T A`` are sparse (about 200 non-zeros per row of G). We minimise

    |A x - c|^2 + eps |x - prior|^2

for all weight columns at once: ``(G + eps I) x = A^T c + eps prior``. Small systems are
factorised densely (Cholesky, float64); larger ones are solved by conjugate gradients
with a Jacobi preconditioner, started from the prior (the coarser level's field), in
O(nnz) memory. A sparse Cholesky factorisation (CHOLMOD) was measured and dropped: the
kernel graph of a compact 3D shape fills in almost completely (20k particles: 45 s).
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from typing import Callable, Optional

import numpy as np
import scipy.sparse as sp
import torch

#: The dense path's memory bound (unknowns); below it the cheaper of the two is chosen.
DENSE_LIMIT = 8000
#: CG iterations assumed when comparing costs (measured: 130-800 on the arm, fingers, characters).
_EXPECTED_ITERATIONS = 500
#: How much faster a dense factorisation runs per flop than CG's sparse products (measured 1.4-9x).
_DENSE_SPEEDUP = 4
_SMALL = 1500  # dense systems below this size are factorised on one thread
_TOLERANCE = 1e-6
_MAX_ITERATIONS = 5000


class NormalMatrix:
    """``G = A^T A`` of a sparse ``A``: a SciPy CSR matrix on the CPU, torch CSR on CUDA.

    Parameters
    ----------
    A : scipy.sparse.csr_matrix
        (rows, n).
    device : torch.device
    """

    def __init__(self, A: sp.csr_matrix, device: torch.device):
        G = (A.T @ A).tocsr()
        G.sum_duplicates()
        self._set(G, device)

    @classmethod
    def from_gram(cls, G: sp.spmatrix, device: torch.device) -> "NormalMatrix":
        """The normal matrix given as ``G`` itself (symmetric, positive semi-definite, (n, n))."""
        matrix = cls.__new__(cls)
        G = sp.csr_matrix(G)
        G.sum_duplicates()
        matrix._set(G, device)
        return matrix

    def _set(self, G: sp.csr_matrix, device: torch.device) -> None:
        self.device = device
        self.n = G.shape[0]
        self.scipy = G
        self.diagonal = torch.as_tensor(G.diagonal(), device=device)
        self.nnz = int(G.nnz)
        if device.type == "cpu":
            self._G = G
        else:
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")
            warnings.filterwarnings("ignore", message="Sparse invariant checks are implicitly disabled")
            self._G = torch.sparse_csr_tensor(
                torch.as_tensor(G.indptr, dtype=torch.int64, device=device),
                torch.as_tensor(G.indices, dtype=torch.int64, device=device),
                torch.as_tensor(G.data, device=device),
                G.shape,
            )

    def __matmul__(self, X: torch.Tensor) -> torch.Tensor:
        if self.device.type == "cpu":
            return torch.from_numpy(self._G @ X.numpy())
        return self._G @ X

    def dense(self) -> torch.Tensor:
        """The matrix as a dense (n, n) tensor."""
        if self.device.type == "cpu":
            return torch.from_numpy(self._G.toarray())
        return self._G.to_dense()


class CoarseCorrection:
    """The coarse-space part of a two-level preconditioner: ``E (E^T (G + eps I) E)^-1 E^T``.

    ``E`` maps the values of a coarser level's particles to this level's particles (the
    coarser field's normalised kernels at the new particles), so the correction solves
    the smooth part of the error exactly, which Jacobi alone reduces slowly.

    Parameters
    ----------
    E : scipy.sparse.csr_matrix
        (n, n_coarse).
    G : NormalMatrix
    eps : float
    """

    def __init__(self, E: sp.csr_matrix, G: NormalMatrix, eps: float):
        E = E.tocsr()
        Gc = torch.as_tensor((E.T @ (G.scipy @ E)).toarray() + eps * (E.T @ E).toarray())
        Gc.diagonal().add_(1e-12 * float(Gc.diagonal().mean()) + 1e-300)
        # the explicit inverse: one small matrix product per iteration (LAPACK's triangular
        # solves took 16 ms per call here for 600 unknowns and four columns)
        self._inverse = torch.cholesky_inverse(torch.linalg.cholesky(Gc)).to(G.device)
        self._E, self._Et = _device_matrix(E, G.device), _device_matrix(E.T.tocsr(), G.device)

    def __call__(self, r: torch.Tensor) -> torch.Tensor:
        return _product(self._E, self._inverse @ _product(self._Et, r))


def _device_matrix(M: sp.csr_matrix, device: torch.device):
    if device.type == "cpu":
        return M
    return torch.sparse_csr_tensor(
        torch.as_tensor(M.indptr, dtype=torch.int64, device=device),
        torch.as_tensor(M.indices, dtype=torch.int64, device=device),
        torch.as_tensor(M.data, device=device),
        M.shape,
    )


def _product(M, X: torch.Tensor) -> torch.Tensor:
    if isinstance(M, torch.Tensor):
        return M @ X
    return torch.from_numpy(np.ascontiguousarray(M @ X.numpy()))


def solve_regularised(
    G: NormalMatrix,
    b: torch.Tensor,
    prior: torch.Tensor,
    eps: float,
    method: str = "auto",
    coarse=None,
    factor_sink: Optional[Callable[["CholeskyFactor"], None]] = None,
) -> torch.Tensor:
    """Minimise ``x^T G x / 2 - b^T x + eps |x - prior|^2 / 2`` column by column.

    Parameters
    ----------
    G : NormalMatrix
        (n, n), positive semi-definite.
    b, prior : (n, H) tensor
    eps : float
        > 0.
    method : {"auto", "dense", "cg"}
        "auto": dense Cholesky when its cost (n^3 / 3 flops, :data:`_DENSE_SPEEDUP`
        times cheaper each) is below that of CG (:data:`_EXPECTED_ITERATIONS` products
        with G, 2 nnz H flops each) and n is below :data:`DENSE_LIMIT`; else CG.
    coarse : CoarseCorrection, optional
        Two-level preconditioning for CG (else Jacobi alone).
    factor_sink : callable, optional
        Receives the :class:`CholeskyFactor` when the dense path factorises, so that a
        caller can keep it for later solves (a refit); by default it is dropped.

    Returns
    -------
    x : (n, H) tensor
    info : dict
        ``method`` ("dense" or "cg") and, for CG, ``iterations``.
    """
    rhs = b + eps * prior
    if method == "dense" or (method == "auto" and prefers_dense(G, b.shape[1])):
        with _threads(G.device, 1 if G.n < _SMALL else None):
            factor = CholeskyFactor(G, eps)
            if factor_sink is not None:
                factor_sink(factor)
            return factor.solve(rhs), {"method": "dense"}
    with _threads(G.device, 1):
        x, iterations = conjugate_gradients(G, rhs, eps, prior, coarse=coarse)
    return x, {"method": "cg", "iterations": iterations}


@contextmanager
def _threads(device: torch.device, count: Optional[int]):
    """Run CPU work with ``count`` BLAS and torch threads (None: unchanged), then restore.

    CG's operations are small (sparse products are single-threaded anyway) and small
    dense factorisations too: waking a thread pool for each costs more than it saves,
    up to 100x on a loaded machine (measured: a 577 x 577 times 577 x 4 product took
    13 ms on two threads, 0.13 ms on one).
    """
    if device.type != "cpu" or count is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        with threadpool_limits(count):
            yield
    finally:
        torch.set_num_threads(before)


def prefers_dense(G: NormalMatrix, columns: int) -> bool:
    """Whether the dense factorisation is expected to be cheaper than CG (and fits)."""
    return G.n < DENSE_LIMIT and G.n**3 / 3 < _DENSE_SPEEDUP * _EXPECTED_ITERATIONS * 2 * G.nnz * columns


class CholeskyFactor:
    """Dense Cholesky factorisation of ``G + eps I`` (in place on the CPU: one n x n buffer),
    for one or many solves.

    eps grows tenfold (up to five times) if the factorisation meets a non-positive pivot.

    Parameters
    ----------
    G : NormalMatrix
    eps : float

    Attributes
    ----------
    eps : float
        The regularisation actually factorised (``eps`` or grown).
    """

    def __init__(self, G: NormalMatrix, eps: float):
        self.device = G.device
        for _ in range(6):
            if G.device.type == "cpu":
                import scipy.linalg

                dense = G.scipy.toarray().T  # symmetric: the transpose is the same matrix, in LAPACK's order
                dense[np.diag_indices(G.n)] += eps
                try:
                    self._factor = scipy.linalg.cho_factor(dense, overwrite_a=True, check_finite=False)
                except np.linalg.LinAlgError:
                    eps *= 10
                    continue
                self.eps = eps
                return
            dense = G.dense()
            dense.diagonal().add_(eps)
            L, info = torch.linalg.cholesky_ex(dense)
            if int(info) == 0:
                self._factor, self.eps = L, eps
                return
            eps *= 10
        raise RuntimeError("the skinning system could not be factorised (normal matrix not positive definite)")

    def solve(self, rhs: torch.Tensor) -> torch.Tensor:
        """``(G + eps I)^-1 rhs`` for (n, k) ``rhs`` on the factor's device."""
        if self.device.type == "cpu":
            import scipy.linalg

            return torch.from_numpy(scipy.linalg.cho_solve(self._factor, rhs.numpy(), check_finite=False))
        return torch.cholesky_solve(rhs, self._factor)


def conjugate_gradients(
    G: NormalMatrix, rhs: torch.Tensor, eps: float, x0: torch.Tensor, tolerance: float = _TOLERANCE, coarse=None
):
    """Preconditioned CG on ``(G + eps I) x = rhs``, every column at once.

    The preconditioner is Jacobi, plus the coarse correction when given (additive
    two-level: ``D^-1 r + C r``).

    Stops when every column's residual is below ``tolerance`` times its right-hand side.

    Returns
    -------
    x : (n, H) tensor
    iterations : int
    """
    inverse = 1.0 / (G.diagonal + eps)[:, None]
    x = x0.clone()
    r = rhs - (G @ x + eps * x)
    z = inverse * r if coarse is None else inverse * r + coarse(r)
    p = z.clone()
    rz = (r * z).sum(0)
    goal = tolerance * torch.linalg.vector_norm(rhs, dim=0)
    for it in range(_MAX_ITERATIONS):
        if bool(torch.all(torch.linalg.vector_norm(r, dim=0) <= goal)):
            return x, it
        q = G @ p + eps * p
        alpha = rz / torch.clamp((p * q).sum(0), min=1e-300)
        x += alpha * p
        r -= alpha * q
        z = inverse * r if coarse is None else inverse * r + coarse(r)
        rz_next = (r * z).sum(0)
        p = z + (rz_next / torch.clamp(rz, min=1e-300)) * p
        rz = rz_next
    return x, _MAX_ITERATIONS
