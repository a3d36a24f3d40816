"""A skinning level's least-squares system, kept after the fit, solved again with extra rows.

A level minimises ``|A x - c|^2 + eps |x - prior|^2`` over its particle values
(:mod:`fieldrig.neural.sparse_solve`), i.e. ``(G + eps I) x = b + eps prior``. A refit
adds weighted rows ``R x = T`` (``R``: (k, n) sparse, ``T``: (k, H)) — painted values —
and solves::

    (G + R^T R + eps I) x = b + eps prior + R^T T

without assembling anything again. ``R^T R`` has rank ``r <= min(k, |S|)``, ``S`` the
particles the rows see; we write it ``L^T L`` with ``L = R`` (k <= |S|) or the triangle
of a QR factorisation of ``R``'s columns S (k > |S|), and ``R^T T = L^T T~``. Then:

- when the fit factorised ``F = G + eps I`` (dense or sparse Cholesky), the Woodbury identity reuses
  that factor: with ``Z = F^-1 L^T`` (r solves) and ``y = x_0 + Z T~`` (``x_0 = F^-1 (b +
  eps prior)``, the fit's solution), ``x = y - Z (I + L Z)^-1 L y`` — exact, 2 n^2 r flops
  instead of a new factorisation; past ``r > n / 6`` one new factorisation (of the same
  kind) is cheaper and is made;
- otherwise (the CG path) conjugate gradients start from the last solution; only columns
  whose residual exceeds the fit's tolerance iterate, so a stroke that changes a few joints
  costs a few columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple, Union

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import torch

from fieldrig.neural.sparse_solve import (
    _TOLERANCE,
    DenseCholesky,
    NormalMatrix,
    SparseCholesky,
    conjugate_gradients,
    cpu_threads,
    factorise,
)

#: Past this rank (as a fraction of the unknowns) a new factorisation beats the Woodbury update.
_WOODBURY_SHARE = 1 / 6


@dataclass
class LevelSystem:
    """The last level's regularised system of a fit, as kept for refits.

    Attributes
    ----------
    gram : NormalMatrix
        ``G``, (n, n).
    b, prior : (n, H) tensor
        Right-hand side of the energy rows and the prior (the coarser level's field).
    eps : float
        Weight of the prior.
    solution : (n, H) tensor
        The fit's solution before the projection onto the simplex.
    factor : DenseCholesky or SparseCholesky or None
        The factorisation of ``G + eps I`` when the fit made one (not for CG);
        ``solution`` then solves the factorised matrix exactly.
    start : (n, H) tensor or None
        Where conjugate gradients start (the last refit's solution; None: ``solution``).
    """

    gram: NormalMatrix
    b: torch.Tensor
    prior: torch.Tensor
    eps: float
    solution: torch.Tensor
    factor: Optional[Union[DenseCholesky, SparseCholesky]] = None
    start: Optional[torch.Tensor] = None

    @property
    def nbytes(self) -> int:
        """Memory the system holds, in bytes (a dense factor included; CHOLMOD's sparse
        factor, which cholespy does not report, is not)."""
        G = self.gram.scipy
        total = G.data.nbytes + G.indices.nbytes + G.indptr.nbytes
        total += sum(t.element_size() * t.nelement() for t in (self.b, self.prior, self.solution))
        return total + getattr(self.factor, "nbytes", 0)

    def solve_with_rows(self, R: sp.csr_matrix, T: np.ndarray) -> Tuple[torch.Tensor, dict]:
        """The level's system with the rows ``R x = T`` added (see the module docstring).

        Parameters
        ----------
        R : (k, n) sparse
            Weighted rows (k may be 0).
        T : (k, H) float
            Their weighted targets.

        Returns
        -------
        x : (n, H) tensor
            The solution before any projection.
        info : dict
            ``method`` ("woodbury", "dense", "sparse" or "cg"), ``rank``, and ``iterations`` for CG.
        """
        dev, dt = self.solution.device, self.solution.dtype
        R = sp.csr_matrix(R)
        rank = min(R.shape[0], len(np.unique(R.indices)))
        if self.factor is not None and rank <= _WOODBURY_SHARE * self.gram.n:
            if rank == 0:
                return self.solution.clone(), {"method": "woodbury", "rank": 0}
            with cpu_threads(dev, 1):  # small dense work: a thread pool costs more than it saves
                L, T_reduced = _reduced_rows(R, np.asarray(T, dtype=np.float64))
            Lt = torch.as_tensor(L.T.toarray(), device=dev, dtype=dt)
            Z = self.factor.solve(Lt)  # (n, r)
            y = self.solution + Z @ torch.as_tensor(T_reduced, device=dev, dtype=dt)
            with cpu_threads(dev, 1):
                capacitance = torch.eye(rank, device=dev, dtype=dt) + Lt.T @ Z
                correction = torch.linalg.solve(capacitance, Lt.T @ y)
            return y - Z @ correction, {"method": "woodbury", "rank": rank}
        extra = (R.T @ R).tocsr()
        rhs = self.b + self.eps * self.prior + torch.as_tensor(R.T @ np.asarray(T), device=dev, dtype=dt)
        gram = NormalMatrix.from_gram(self.gram.scipy + extra, self.gram.device)
        if self.factor is not None:
            # the matrix the fit factorised (its eps, grown or not), with the rows added
            method = self.factor.info["method"]
            return factorise(gram, self.factor.eps, method).solve(rhs), {"method": method, "rank": rank}
        x = (self.solution if self.start is None else self.start).clone()
        residual = rhs - (gram @ x + self.eps * x)
        active = torch.nonzero(
            torch.linalg.vector_norm(residual, dim=0) > _TOLERANCE * torch.linalg.vector_norm(rhs, dim=0)
        ).flatten()
        iterations = 0
        if len(active):
            with cpu_threads(dev, 1):  # as the fit's CG: small operations
                x[:, active], iterations = conjugate_gradients(gram, rhs[:, active], self.eps, x[:, active])
        return x, {"method": "cg", "rank": rank, "iterations": iterations, "columns": int(len(active))}


def _reduced_rows(R: sp.csr_matrix, T: np.ndarray) -> Tuple[sp.csr_matrix, np.ndarray]:
    """``L, T~`` with ``R^T R = L^T L`` and ``R^T T = L^T T~``, L of at most min(k, |S|) rows.

    Parameters
    ----------
    R : (k, n) sparse
    T : (k, H) float

    Returns
    -------
    L : (r, n) sparse
    T_reduced : (r, H) float
    """
    seen = np.unique(R.indices)
    if R.shape[0] <= len(seen):
        return R, T
    Q, upper = scipy.linalg.qr(R[:, seen].toarray(), mode="economic")
    rows, cols = np.nonzero(upper)
    L = sp.csr_matrix((upper[rows, cols], (rows, seen[cols])), shape=(len(seen), R.shape[1]))
    return L, Q.T @ T
