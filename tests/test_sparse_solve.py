"""The regularised least-squares solve (fieldrig.neural.sparse_solve): sparse normal matrix,
CG with and without the coarse correction (inverted densely or factorised sparse), dense and
sparse Cholesky — one answer; the predicted costs pick the sparse factorisation for an
elongated shape and CG for a compact one with few columns."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from scipy.spatial import cKDTree

import fieldrig.neural.sparse_solve as sparse_solve
from fieldrig.neural.sparse_solve import CoarseCorrection, NormalMatrix, factorise, solve_regularised


def _kernel_system(n=900, seed=0):
    """A kernel-like least-squares system: samples see the particles within a radius."""
    rng = np.random.default_rng(seed)
    P = rng.random((n, 3))
    X = rng.random((8 * n, 3))
    h = n ** (-1 / 3)
    near = cKDTree(X).sparse_distance_matrix(cKDTree(P), 2 * h, output_type="coo_matrix")
    A = sp.csr_matrix((np.exp(-(near.data**2) / h**2) * rng.normal(1, 0.3, near.nnz), (near.row, near.col)), near.shape)
    c = rng.normal(size=(A.shape[0], 3))
    prior = rng.dirichlet(np.ones(3), n)
    return P, A, c, prior, h


def test_normal_matrix_is_a_transpose_a():
    _, A, _, _, _ = _kernel_system(200)
    G = NormalMatrix(A, torch.device("cpu"))
    np.testing.assert_allclose(G.dense().numpy(), (A.T @ A).toarray(), atol=1e-12)
    x = torch.as_tensor(np.random.default_rng(1).normal(size=(200, 2)))
    np.testing.assert_allclose((G @ x).numpy(), A.T @ (A @ x.numpy()), atol=1e-10)
    np.testing.assert_allclose(G.diagonal.numpy(), (A.T @ A).diagonal())


@pytest.mark.parametrize("coarse", [False, "dense", "sparse"])
def test_sparse_and_dense_solves_agree(coarse, monkeypatch):
    P, A, c, prior, h = _kernel_system()
    G = NormalMatrix(A, torch.device("cpu"))
    b = torch.as_tensor(A.T @ c)
    prior = torch.as_tensor(prior)
    eps = 1e-4 * float(G.diagonal.mean())
    dense, info = solve_regularised(G, b, prior, eps, "dense")
    assert info["method"] == "dense"
    correction = None
    if coarse:
        # coarse space: normalised Gaussians of 1/8 of the particles
        Pc = P[::8]
        d = np.linalg.norm(P[:, None] - Pc[None], axis=2)
        E = np.exp(-(d**2) / (2 * (2 * h) ** 2)) * (d < 4 * h)
        E = sp.csr_matrix(E / E.sum(1, keepdims=True))
        if coarse == "sparse":
            monkeypatch.setattr(sparse_solve, "COARSE_DENSE", 10)
        correction = CoarseCorrection(E, G, eps)
        assert (correction._factor is None) == (coarse == "dense")
    cg, info = solve_regularised(G, b, prior, eps, "cg", correction)
    assert info["method"] == "cg" and info["iterations"] > 0
    np.testing.assert_allclose(cg.numpy(), dense.numpy(), atol=1e-5 * float(dense.abs().max()))
    sparse, info = solve_regularised(G, b, prior, eps, "sparse")
    assert info["method"] == "sparse"
    np.testing.assert_allclose(sparse.numpy(), dense.numpy(), atol=1e-9 * float(dense.abs().max()))
    # one factorisation, any right-hand sides
    solver = factorise(G, eps, "sparse")
    rhs = torch.as_tensor(np.random.default_rng(2).normal(size=(G.n, 5)))
    np.testing.assert_allclose((G @ solver.solve(rhs) + eps * solver.solve(rhs)).numpy(), rhs.numpy(), atol=1e-8)
    # the regularised normal equations hold
    residual = G @ dense + eps * dense - (b + eps * prior)
    assert float(residual.abs().max()) < 1e-8 * float(b.abs().max())


def test_constants_pass_through_when_every_row_is_satisfied_by_them():
    # rows that vanish on constants (like a Laplacian) and unit-sum priors: unit-sum solution
    rng = np.random.default_rng(3)
    n = 300
    i, j = rng.integers(0, n, 900), rng.integers(0, n, 900)
    w = rng.uniform(0.5, 2.0, 900)
    D = sp.csr_matrix((np.concatenate([w, -w]), (np.tile(np.arange(900), 2), np.concatenate([i, j]))), (900, n))
    G = NormalMatrix(D, torch.device("cpu"))  # differences: every row vanishes on constants
    prior = torch.as_tensor(rng.dirichlet(np.ones(4), n))
    b = torch.zeros(n, 4, dtype=torch.float64)
    for method in ("dense", "sparse", "cg"):
        x, _ = solve_regularised(G, b, prior, 1e-3 * float(G.diagonal.mean()) + 1e-6, method)
        np.testing.assert_allclose(x.sum(1).numpy(), 1.0, atol=1e-5)


def test_predicted_costs_tell_an_elongated_shape_from_a_compact_one():
    # the same number of unknowns and neighbours: a rod fills in little, a cube a lot
    rng = np.random.default_rng(4)
    rod = rng.random((8000, 3)) * [20, 1, 1]
    cube = rng.random((8000, 3)) * 20 ** (1 / 3)
    flops = [sparse_solve.dissection_flops(P, 0.35)[0] for P in (rod, cube)]
    assert flops[1] > 5 * flops[0]
    P, A, _, _, h = _kernel_system(2000)
    G = NormalMatrix(A, torch.device("cpu"))
    assert sparse_solve.choose_method(G, 50, P * [8, 1, 1], np.full(len(P), 2 * h)) == "sparse"
