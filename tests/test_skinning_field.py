"""The kernel field (fieldrig.neural.skinning_field): Shepard basis identities and derivatives,
per-particle kernel supports, the normalised frame and the field file."""

import numpy as np
import pytest
import torch
import trimesh

from fieldrig.geometry.visibility import SegmentVisibility
from fieldrig.neural.handle_blend import HandleGeometry
from fieldrig.neural.skinning_field import KernelSupport, SkinningField, shepard_basis


def _cloud(seed=0, n=60):
    rng = np.random.default_rng(seed)
    particles = rng.uniform(-1, 1, (n, 3))
    sigma = rng.uniform(0.4, 0.9, n)  # per-particle widths
    X = rng.uniform(-0.6, 0.6, (40, 3))
    return particles, sigma, X


def _u(X, particles, sigma, values, order):
    """The kernel field u = sum_i phi_i p_i and its derivatives at X (no visibility)."""
    support = KernelSupport(particles, 2 * sigma)
    pairs = support.pairs(X, None, torch.device("cpu"))
    P, s = torch.as_tensor(particles), torch.as_tensor(sigma)
    phi, covered = shepard_basis(torch.as_tensor(X), P, pairs, s, 2 * s, order)
    assert bool(covered.all())
    out = []
    for part in phi:
        if part is None:
            out.append(None)
            continue
        w = torch.as_tensor(values)[pairs.cols]  # (k, H)
        if part.dim() == 2:
            w = w[:, None, :]  # gradients: (k, 3, H)
        acc = torch.zeros((len(X),) + tuple(part.shape[1:]) + (values.shape[1],), dtype=torch.float64)
        out.append(acc.index_add_(0, pairs.rows, part[..., None] * w).numpy())
    return out


def test_shepard_basis_is_a_partition_of_unity_with_zero_derivatives():
    particles, sigma, X = _cloud()
    support = KernelSupport(particles, 2 * sigma)
    pairs = support.pairs(X, None, torch.device("cpu"))
    s = torch.as_tensor(sigma)
    phi, covered = shepard_basis(torch.as_tensor(X), torch.as_tensor(particles), pairs, s, 2 * s, 2)
    m = len(X)
    total = torch.zeros(m, dtype=torch.float64).index_add_(0, pairs.rows, phi[0])
    grad = torch.zeros(m, 3, dtype=torch.float64).index_add_(0, pairs.rows, phi[1])
    lap = torch.zeros(m, dtype=torch.float64).index_add_(0, pairs.rows, phi[2])
    np.testing.assert_allclose(total.numpy(), 1.0, atol=1e-13)
    np.testing.assert_allclose(grad.numpy(), 0.0, atol=1e-10)
    np.testing.assert_allclose(lap.numpy(), 0.0, atol=1e-8)
    assert phi[0].min() >= 0


def test_shepard_field_derivatives_match_finite_differences_with_varying_widths():
    particles, sigma, X = _cloud(seed=3)
    values = np.random.default_rng(4).random((len(particles), 2))
    u, grad, lap = _u(X, particles, sigma, values, 2)
    h = 1e-4
    fd_grad, fd_lap = np.zeros_like(grad), np.zeros_like(lap)
    for d in range(3):
        e = np.zeros(3)
        e[d] = h
        up, um = _u(X + e, particles, sigma, values, 0)[0], _u(X - e, particles, sigma, values, 0)[0]
        fd_grad[:, d] = (up - um) / (2 * h)
        fd_lap += (up - 2 * u + um) / h**2
    np.testing.assert_allclose(grad, fd_grad, atol=1e-6)
    np.testing.assert_allclose(lap, fd_lap, atol=1e-3)
    assert np.abs(lap).max() > 0.1  # a field that actually bends


def test_kernel_support_finds_exactly_the_pairs_within_each_particles_radius():
    rng = np.random.default_rng(5)
    particles = rng.uniform(0, 1, (300, 3))
    radius = np.where(particles[:, 0] < 0.5, 0.05, 0.2) * rng.uniform(0.8, 1.25, 300)
    X = rng.uniform(0, 1, (500, 3))
    pairs = KernelSupport(particles, radius).pairs(X, None, torch.device("cpu"))
    found = set(zip(pairs.rows.tolist(), pairs.cols.tolist()))
    dist = np.linalg.norm(X[:, None] - particles[None], axis=2)
    expected = set(zip(*np.nonzero(dist < radius[None])))
    assert found == expected and len(found) > 1000
    assert np.all(np.diff(pairs.rows.numpy()) >= 0)  # sorted by point


def test_pairs_through_a_wall_are_dropped_and_clearance_skips_no_hidden_pair():
    # a closed box: points inside and particles inside and outside
    box = trimesh.creation.box(extents=[1, 1, 1])
    V, F = np.asarray(box.vertices), np.asarray(box.faces)
    vis = SegmentVisibility(V, F, margin=1e-6)
    particles = np.array([[0.0, 0.0, 0.0], [0.45, 0.0, 0.0], [0.6, 0.0, 0.0]])
    X = np.array([[0.4, 0.0, 0.0], [0.0, 0.1, 0.0]])
    support = KernelSupport(particles, np.full(3, 0.7))
    pairs = support.pairs(X, vis, torch.device("cpu"))
    found = set(zip(pairs.rows.tolist(), pairs.cols.tolist()))
    assert (0, 2) not in found and (1, 2) not in found  # outside the box: hidden
    assert {(0, 0), (0, 1), (1, 0), (1, 1)} <= found
    # a clearance bound (distance to the box's faces, exact here) gives the same pairs
    clearance = lambda P: np.clip(0.5 - np.abs(P).max(axis=1), 0, None)  # noqa: E731
    again = support.pairs(X, vis, torch.device("cpu"), clearance)
    assert set(zip(again.rows.tolist(), again.cols.tolist())) == found


def _tiny_field(centre=(0.0, 0.0, 0.0), scale=1.0):
    particles = np.array([[-0.3, 0, 0], [0.3, 0, 0], [0, 0.3, 0]])
    values = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    handles = HandleGeometry(np.array([[-0.3, 0, 0], [0.3, 0, 0]]), np.array([[-0.3, 0, 0], [0.3, 0, 0]]), [0, 1], 2)
    V = np.array([[-1.0, -1, -1], [1, 1, 1]])
    return SkinningField(
        particles, values, 0.3, 0.6, [0.02, 0.03], handles, ["a", "b"], V, None, 0.0, np.asarray(centre), scale
    )


def test_field_maps_query_points_into_its_frame():
    field = _tiny_field()
    moved = _tiny_field(centre=(5.0, -2.0, 1.0), scale=1e-3)
    X = np.random.default_rng(6).uniform(-0.5, 0.5, (30, 3))
    np.testing.assert_allclose(moved.evaluate(X * 1e-3 + [5.0, -2.0, 1.0]), field.evaluate(X), atol=1e-12)
    np.testing.assert_allclose(moved.kernel_widths, 0.3e-3)


def test_field_file_round_trip_keeps_frame_widths_and_blend(tmp_path):
    field = _tiny_field(centre=(1.0, 2.0, 3.0), scale=10.0)
    field.save(tmp_path / "f.field")
    loaded = SkinningField.load(tmp_path / "f.field")
    X = np.random.default_rng(7).uniform(-4, 6, (40, 3))
    np.testing.assert_allclose(loaded.evaluate(X), field.evaluate(X), atol=1e-14)
    np.testing.assert_array_equal(loaded.rho, field.rho)
    assert loaded.scale == 10.0 and np.array_equal(loaded.centre, field.centre)


def test_field_evaluate_rejects_bad_points():
    from fieldrig.core.errors import InputError

    with pytest.raises(InputError, match="points"):
        _tiny_field().evaluate(np.zeros((3, 2)))
    with pytest.raises(InputError, match="NaN"):
        _tiny_field().evaluate(np.full((1, 3), np.nan))
