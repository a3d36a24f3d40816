"""A level's system solved again with extra rows (fieldrig.neural.level_system): the Woodbury
update of the kept factor, a new factorisation, warm-started CG and the direct solve agree."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from test_sparse_solve import _kernel_system

from fieldrig.neural.level_system import LevelSystem
from fieldrig.neural.sparse_solve import DenseCholesky, NormalMatrix, SparseCholesky, solve_regularised


def _level(method):
    _, A, c, prior, _ = _kernel_system(400, seed=2)
    G = NormalMatrix(A, torch.device("cpu"))
    b, prior = torch.as_tensor(A.T @ c), torch.as_tensor(prior)
    eps = 1e-3 * float(G.diagonal.mean())
    factors = []
    x, _ = solve_regularised(G, b, prior, eps, method, factor_sink=factors.append)
    return A, c, LevelSystem(G, b, prior, eps, x, factors[0] if factors else None)


def _rows(n, k, seen, seed=3):
    """k weighted rows, each seeing 6 of the first ``seen`` particles, and their targets."""
    rng = np.random.default_rng(seed)
    cols = rng.integers(0, seen, size=6 * k)
    R = sp.csr_matrix((rng.random(6 * k) * 30, (np.repeat(np.arange(k), 6), cols)), shape=(k, n))
    return R, rng.random((k, 3))


@pytest.mark.parametrize(
    "method,k,seen",
    [
        ("dense", 20, 400),  # Woodbury, rank k
        ("dense", 120, 50),  # Woodbury, rank 50 through the QR of the rows
        ("dense", 300, 400),  # rank above n / 6: a new factorisation
        ("sparse", 20, 400),  # Woodbury on the sparse factor
        ("sparse", 300, 400),  # a new sparse factorisation
        ("cg", 20, 400),  # warm-started conjugate gradients
    ],
)
def test_every_path_gives_the_direct_solution(method, k, seen):
    A, c, level = _level(method)
    n = level.gram.n
    R, T = _rows(n, k, seen)
    x, info = level.solve_with_rows(R, T)
    eps = level.factor.eps if level.factor is not None else level.eps
    K = (A.T @ A + R.T @ R).toarray() + eps * np.eye(n)
    direct = np.linalg.solve(K, A.T @ c + level.eps * level.prior.numpy() + R.T @ T)
    tolerance = 1e-4 if method == "cg" else 1e-8  # CG stops at a relative residual of 1e-6
    np.testing.assert_allclose(x.numpy(), direct, atol=tolerance * np.abs(direct).max())
    expected = {"cg": "cg"}.get(method, "woodbury" if info["rank"] <= n / 6 else method)
    assert info["method"] == expected
    assert info["rank"] == min(k, len(np.unique(R.indices)))


@pytest.mark.parametrize("method,kind", [("dense", DenseCholesky), ("sparse", SparseCholesky)])
def test_no_rows_give_the_fit_back_and_the_factor_is_reused(method, kind):
    A, c, level = _level(method)
    x, info = level.solve_with_rows(sp.csr_matrix((0, level.gram.n)), np.zeros((0, 3)))
    np.testing.assert_array_equal(x.numpy(), level.solution.numpy())
    assert isinstance(level.factor, kind) and info == {"method": "woodbury", "rank": 0}
    assert level.nbytes > (8 * level.gram.n**2 if method == "dense" else level.gram.scipy.data.nbytes)
