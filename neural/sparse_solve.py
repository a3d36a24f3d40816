"""The regularised least-squares solve of a skinning level: sparse normal matrix, Cholesky or CG.

The rows of ``A`` are the energy's samples and its columns the particles; every sample
sees only the particles within a kernel radius, so ``A`` and the normal matrix
``G = A^T A`` are sparse (about 200 non-zeros per row of G). We minimise

    |A x - c|^2 + eps |x - prior|^2

for all weight columns at once: ``(G + eps I) x = A^T c + eps prior``, by the cheapest of
three solvers for the predicted cost (:func:`choose_method`): a dense Cholesky (small
systems), a sparse Cholesky (CHOLMOD through ``cholespy``: nested-dissection ordering,
supernodal; elongated shapes such as characters fill in little), or conjugate gradients
with a Jacobi (plus coarse-space) preconditioner, started from the prior, in O(nnz)
memory (compact solids with few handles, whose factor fills in). :func:`factorise`
returns a solver that factorises once and solves for any right-hand sides.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from typing import Callable, Optional

import numpy as np
import scipy.sparse as sp
import torch

#: The dense path's memory bound (unknowns).
DENSE_LIMIT = 8000
#: CG iterations assumed when comparing costs (measured: 130-800 on the arm, fingers, characters).
_EXPECTED_ITERATIONS = 500
#: How much faster a dense factorisation runs per flop than CG's sparse products (measured 1.4-9x).
_DENSE_SPEEDUP = 4
#: The same for CHOLMOD's supernodal factorisation (measured against the dissection estimate).
_SPARSE_SPEEDUP = 1
#: Below this many unknowns the dense factorisation is as fast as any (measured: 950 unknowns, 20 ms each).
_SPARSE_FROM = 1500
#: Largest coarse space of CG inverted explicitly (dense); beyond it, a sparse factorisation.
COARSE_DENSE = 4000
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
    the smooth part of the error exactly, which Jacobi alone reduces slowly. A small
    coarse matrix is inverted explicitly (one small product per iteration: LAPACK's
    triangular solves took 16 ms per call here for 600 unknowns and four columns); a
    larger one gets a sparse Cholesky factorisation.

    Parameters
    ----------
    E : scipy.sparse.csr_matrix
        (n, n_coarse).
    G : NormalMatrix
    eps : float
    """

    def __init__(self, E: sp.csr_matrix, G: NormalMatrix, eps: float):
        E = E.tocsr()
        Gc = (E.T @ (G.scipy @ E) + eps * (E.T @ E)).tocsr()
        shift = 1e-12 * float(Gc.diagonal().mean()) + 1e-300
        if Gc.shape[0] <= COARSE_DENSE or not sparse_available():
            dense = torch.as_tensor(Gc.toarray())
            dense.diagonal().add_(shift)
            self._inverse = torch.cholesky_inverse(torch.linalg.cholesky(dense)).to(G.device)
            self._factor = None
        else:
            self._factor = SparseCholesky(Gc, shift, G.device)
        self._E, self._Et = _device_matrix(E, G.device), _device_matrix(E.T.tocsr(), G.device)

    def __call__(self, r: torch.Tensor) -> torch.Tensor:
        coarse = _product(self._Et, r)
        solved = self._inverse @ coarse if self._factor is None else self._factor.solve(coarse)
        return _product(self._E, solved)


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
    points: Optional[np.ndarray] = None,
    reach: Optional[np.ndarray] = None,
    factor_sink: Optional[Callable] = None,
) -> torch.Tensor:
    """Minimise ``x^T G x / 2 - b^T x + eps |x - prior|^2 / 2`` column by column.

    Parameters
    ----------
    G : NormalMatrix
        (n, n), positive semi-definite.
    b, prior : (n, H) tensor
    eps : float
        > 0.
    method : {"auto", "dense", "sparse", "cg"}
        See :func:`choose_method` ("auto").
    coarse : CoarseCorrection, optional
        Two-level preconditioning for CG (else Jacobi alone).
    points, reach : (n, 3) and (n,) float, optional
        The unknowns' positions and coupling reach, for the sparse factorisation's
        predicted cost (see :func:`choose_method`).
    factor_sink : callable, optional
        Receives the :class:`DenseCholesky` or :class:`SparseCholesky` when the solve
        factorises, so that a caller can keep it for later solves (a refit).

    Returns
    -------
    x : (n, H) tensor
    info : dict
        ``method`` ("dense", "sparse" or "cg") and, for CG, ``iterations``.
    """
    if method == "auto":
        method = choose_method(G, b.shape[1], points, reach)
    solver = factorise(G, eps, method, coarse)
    if factor_sink is not None and method != "cg":
        factor_sink(solver)
    return solver.solve(b + eps * prior, x0=prior), dict(solver.info)


def factorise(G: NormalMatrix, eps: float, method: str = "auto", coarse=None, columns: int = 1):
    """A solver of ``(G + eps I) x = rhs`` for any right-hand sides, factorised once.

    Parameters
    ----------
    G : NormalMatrix
    eps : float
        > 0; the dense and sparse factorisations raise it tenfold (up to five times)
        where they meet a non-positive pivot.
    method : {"auto", "dense", "sparse", "cg"}
        "auto": :func:`choose_method` without positions.
    coarse : CoarseCorrection, optional
        For CG.
    columns : int
        Right-hand sides expected ("auto" only).

    Returns
    -------
    DenseCholesky, SparseCholesky or ConjugateGradients
        ``.solve(rhs, x0=None) -> x`` for (n, k) tensors; ``.info`` says the method.
    """
    if method == "auto":
        method = choose_method(G, columns)
    if method == "dense":
        return DenseCholesky(G, eps)
    if method == "sparse":
        return SparseCholesky(G, eps)
    if method == "cg":
        return ConjugateGradients(G, eps, coarse)
    raise ValueError(f"unknown solver {method!r} (expected auto, dense, sparse or cg)")


@contextmanager
def cpu_threads(device: torch.device, count: Optional[int]):
    """Run CPU work with ``count`` BLAS and torch threads (None: unchanged), then restore.

    Waking a thread pool for every small operation costs more than it saves, up to 100x
    on a loaded machine (measured: a 577 x 577 times 577 x 4 product took 13 ms on two
    threads, 0.13 ms on one; a whole character fit 33 s on two threads, 8.7 s on one).
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


def choose_method(
    G: NormalMatrix, columns: int, points: Optional[np.ndarray] = None, reach: Optional[np.ndarray] = None
) -> str:
    """The solver with the smallest predicted cost, in flops of one thread.

    * dense Cholesky: ``n^3 / 3`` flops, each :data:`_DENSE_SPEEDUP` times cheaper than a
      sparse product's; only below :data:`DENSE_LIMIT` unknowns (memory ``8 n^2`` bytes);
    * sparse Cholesky: the flops of a geometric nested dissection of the unknowns
      (:func:`dissection_flops`, from ``points`` and ``reach``), each
      :data:`_SPARSE_SPEEDUP` times cheaper than a sparse product's, plus ``4 nnz(L) H``
      for the solves; without positions it is only taken below :data:`DENSE_LIMIT`,
      where its factor is bounded by the dense one;
    * CG: :data:`_EXPECTED_ITERATIONS` products with G, ``2 nnz H`` flops each.

    Returns
    -------
    {"dense", "sparse", "cg"}
    """
    n = G.n
    cg = _EXPECTED_ITERATIONS * 2.0 * G.nnz * columns
    costs = {"cg": cg}
    if n < DENSE_LIMIT:
        costs["dense"] = n**3 / 3 / _DENSE_SPEEDUP + 2.0 * n * n * columns
    if sparse_available() and n >= _SPARSE_FROM:
        if points is not None and reach is not None:
            flops, factor_nnz = dissection_flops(points, reach)
            costs["sparse"] = flops / _SPARSE_SPEEDUP + 4.0 * factor_nnz * columns
        elif n < DENSE_LIMIT:
            costs["sparse"] = costs["dense"] / _DENSE_SPEEDUP
    return min(costs, key=costs.get)


def sparse_available() -> bool:
    """Whether the sparse Cholesky factorisation (cholespy) is installed."""
    try:
        import cholespy  # noqa: F401
    except ImportError:
        return False
    return True


def dissection_flops(points: np.ndarray, reach: np.ndarray, leaf: int = 64):
    """Predicted cost of a sparse Cholesky of a kernel graph: a geometric nested dissection.

    The points are split recursively at the median of their longest extent; the
    separator of a split is the points closer to the plane than their reach (every
    coupling between the two halves passes through it). Each separator of ``s`` points
    whose subdomain borders ``b`` points of its ancestors' separators is a dense frontal
    matrix: ``s^3 / 3 + s^2 b + s b^2`` flops and ``s^2 / 2 + s b`` entries of the factor.
    ``b`` is estimated as the separator of the parent (its points near the subdomain),
    so the figure is an estimate, not a bound; it tells an elongated character (little
    fill) from a compact solid (a dense top separator).

    Parameters
    ----------
    points : (n, 3) float
    reach : (n,) float
        Distance within which a point couples with others (half the largest coupling
        distance, about the kernel radius).
    leaf : int
        Subdomains of at most this many points are eliminated densely.

    Returns
    -------
    flops : float
    factor_nnz : float
    """
    points = np.asarray(points, dtype=np.float64)
    reach = np.broadcast_to(np.asarray(reach, dtype=np.float64), (len(points),))
    flops, nnz = 0.0, 0.0
    stack = [(np.arange(len(points)), 0)]
    while stack:
        index, border = stack.pop()
        m = len(index)
        if m <= leaf:
            flops += m**3 / 3 + m * m * border + m * border**2
            nnz += m * m / 2 + m * border
            continue
        P = points[index]
        axis = int(np.argmax(P.max(axis=0) - P.min(axis=0)))
        split = float(np.median(P[:, axis]))
        offset = P[:, axis] - split
        cut = np.abs(offset) < reach[index]
        s = int(cut.sum())
        flops += s**3 / 3 + s * s * border + s * border**2
        nnz += s * s / 2 + s * border
        for half in (offset < 0, offset >= 0):
            part = index[half & ~cut]
            if len(part) == m - s and len(part) == m:  # no progress: eliminate densely
                flops += m**3 / 3
                nnz += m * m / 2
                continue
            if len(part):
                stack.append((part, s + border // 2))
    return flops, nnz


class DenseCholesky:
    """Dense Cholesky of ``G + eps I`` (float64; in place on the CPU: one n x n buffer).

    Parameters
    ----------
    G : NormalMatrix
    eps : float

    Attributes
    ----------
    eps : float
        The regularisation factorised (``eps``, or grown where a pivot was not positive).
    nbytes : int
        Memory of the factor.
    """

    info = {"method": "dense"}

    def __init__(self, G: NormalMatrix, eps: float):
        self.device = G.device
        self.nbytes = 8 * G.n**2
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

    def solve(self, rhs: torch.Tensor, x0: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``(G + eps I)^-1 rhs`` for an (n, k) tensor (``x0`` is ignored)."""
        if self.device.type == "cpu":
            import scipy.linalg

            return torch.from_numpy(scipy.linalg.cho_solve(self._factor, rhs.numpy(), check_finite=False))
        return torch.cholesky_solve(rhs, self._factor)


class SparseCholesky:
    """Sparse Cholesky (CHOLMOD through cholespy) of ``M + eps I``, on the CPU.

    Memory is that of the factor, O(nnz(L)); the right-hand sides of a CUDA run go to
    the CPU and the solution back.

    Parameters
    ----------
    M : NormalMatrix or scipy.sparse matrix
        (n, n), symmetric positive semi-definite.
    eps : float
    device : torch.device, optional
        Where solutions go (default: the NormalMatrix's, else the CPU).

    Attributes
    ----------
    eps : float
        The regularisation factorised (``eps``, or grown where a pivot was not positive).
    """

    info = {"method": "sparse"}

    def __init__(self, M, eps: float, device: Optional[torch.device] = None):
        import cholespy

        if isinstance(M, NormalMatrix):
            device = M.device if device is None else device
            M = M.scipy
        self.device = torch.device("cpu") if device is None else device
        M = M.tocoo()
        diagonal = M.row == M.col
        missing = np.setdiff1d(np.arange(M.shape[0]), M.row[diagonal])
        rows = np.concatenate([M.row, missing]).astype(np.int32)
        cols = np.concatenate([M.col, missing]).astype(np.int32)
        base = np.concatenate([M.data, np.zeros(len(missing))])
        on_diagonal = np.concatenate([diagonal, np.ones(len(missing), dtype=bool)])
        for _ in range(6):
            try:
                self._solver = cholespy.CholeskySolverD(
                    M.shape[0], rows, cols, base + eps * on_diagonal, cholespy.MatrixType.COO
                )
            except (RuntimeError, ValueError):
                eps *= 10
                continue
            self.eps = eps
            return
        raise RuntimeError("the skinning system could not be factorised (normal matrix not positive definite)")

    def solve(self, rhs: torch.Tensor, x0: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``(G + eps I)^-1 rhs`` for an (n, k) tensor (``x0`` is ignored)."""
        b = np.ascontiguousarray(rhs.detach().cpu().numpy(), dtype=np.float64)
        x = np.zeros(b.shape)
        self._solver.solve(b, x)
        return torch.as_tensor(x, device=self.device)


class ConjugateGradients:
    """Preconditioned CG on ``(G + eps I) x = rhs`` (nothing to factorise: each solve iterates).

    Parameters
    ----------
    G : NormalMatrix
    eps : float
    coarse : CoarseCorrection, optional
    """

    def __init__(self, G: NormalMatrix, eps: float, coarse=None):
        self.G, self.eps, self.coarse = G, eps, coarse
        self.info = {"method": "cg", "iterations": 0}

    def solve(self, rhs: torch.Tensor, x0: Optional[torch.Tensor] = None) -> torch.Tensor:
        """CG from ``x0`` (zero when None), on one thread; ``info["iterations"]`` is updated."""
        x0 = torch.zeros_like(rhs) if x0 is None else x0
        with cpu_threads(self.G.device, 1):
            x, self.info["iterations"] = conjugate_gradients(self.G, rhs, self.eps, x0, coarse=self.coarse)
        return x


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
