"""Closed-form kernel derivatives (fieldrig.neural.field_calculus) against finite differences."""

import numpy as np
import pytest
import torch

from fieldrig.neural.field_calculus import normalised, tapered_gaussian


def _fd_gradient_laplacian(f, X, h=1e-4):
    """Central differences of a scalar function f((k, 3)) -> (k,)."""
    grad = torch.zeros_like(X)
    lap = torch.zeros(len(X), dtype=X.dtype)
    f0 = f(X)
    for d in range(3):
        e = torch.zeros(3, dtype=X.dtype)
        e[d] = h
        fp, fm = f(X + e), f(X - e)
        grad[:, d] = (fp - fm) / (2 * h)
        lap += (fp - 2 * f0 + fm) / h**2
    return grad, lap


@pytest.mark.parametrize("per_pair", [False, True])
def test_tapered_gaussian_derivatives_match_finite_differences(per_pair):
    rng = np.random.default_rng(0)
    k = 200
    sigma = torch.as_tensor(rng.uniform(0.5, 2.0, k)) if per_pair else 1.3
    radius = 2 * sigma
    # points within the support, away from its edge where the kernel is flat anyway
    direction = rng.standard_normal((k, 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    r = rng.uniform(0.05, 0.95, k) * (2 * np.asarray(sigma if per_pair else np.full(k, sigma)))
    diff = torch.as_tensor(direction * r[:, None])
    value, grad, lap = tapered_gaussian(diff, sigma, radius, order=2)
    fd_grad, fd_lap = _fd_gradient_laplacian(lambda D: tapered_gaussian(D, sigma, radius, 0)[0], diff)
    np.testing.assert_allclose(grad.numpy(), fd_grad.numpy(), atol=1e-7)
    np.testing.assert_allclose(lap.numpy(), fd_lap.numpy(), atol=2e-5)
    # the value itself: Gaussian times taper, analytic
    s = (diff**2).sum(-1)
    sig, rad = torch.as_tensor(sigma, dtype=torch.float64), torch.as_tensor(radius, dtype=torch.float64)
    expected = torch.exp(-s / (2 * sig**2)) * (1 - s / rad**2) ** 3
    np.testing.assert_allclose(value.numpy(), expected.numpy(), rtol=1e-12)


def test_tapered_gaussian_vanishes_with_its_derivatives_at_the_radius():
    diff = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 2.0 + 1e-9], [0.0, 3.0, 0.0]], dtype=torch.float64)
    value, grad, lap = tapered_gaussian(diff, 1.0, 2.0, order=2)
    assert torch.all(value.abs() < 1e-20) and torch.all(grad.abs() < 1e-12) and torch.all(lap.abs() < 1e-9)
    inside = torch.tensor([[1.999, 0.0, 0.0]], dtype=torch.float64)
    assert tapered_gaussian(inside, 1.0, 2.0, 0)[0].item() > 0


def test_orders_return_only_what_was_asked():
    diff = torch.tensor([[0.1, 0.2, 0.3]], dtype=torch.float64)
    assert tapered_gaussian(diff, 1.0, 2.0, 0)[1] is None
    v1, g1, l1 = tapered_gaussian(diff, 1.0, 2.0, 1)
    v2, g2, _ = tapered_gaussian(diff, 1.0, 2.0, 2)
    assert l1 is None and torch.equal(v1, v2) and torch.equal(g1, g2)


def test_normalised_is_the_quotient_rule():
    # g(x) = exp(a.x) |x|^2 and total(x) = 2 + sin(x0): derivatives of g / total by differences
    a = torch.tensor([0.3, -0.2, 0.5], dtype=torch.float64)

    def parts(X):
        n2 = (X**2).sum(-1)
        e = torch.exp(X @ a)
        g = (e * n2, e[:, None] * (a * n2[:, None] + 2 * X), e * ((a * a).sum() * n2 + 4 * (X @ a) + 6))
        total = (
            2 + torch.sin(X[:, 0]),
            torch.stack([torch.cos(X[:, 0]), 0 * X[:, 0], 0 * X[:, 0]], 1),
            -torch.sin(X[:, 0]),
        )
        return g, total

    X = torch.as_tensor(np.random.default_rng(2).uniform(-1, 1, (50, 3)))
    g, total = parts(X)
    value, grad, lap = normalised(g, total)
    quotient = lambda Y: parts(Y)[0][0] / parts(Y)[1][0]  # noqa: E731
    fd_grad, fd_lap = _fd_gradient_laplacian(quotient, X)
    np.testing.assert_allclose(value.numpy(), quotient(X).numpy(), rtol=1e-12)
    np.testing.assert_allclose(grad.numpy(), fd_grad.numpy(), atol=1e-7)
    np.testing.assert_allclose(lap.numpy(), fd_lap.numpy(), atol=1e-4)
