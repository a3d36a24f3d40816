"""The solid and its samples (fieldrig.geometry.domain, fieldrig.geometry.winding)."""

import igl
import numpy as np
import pytest
import trimesh

from fieldrig.core.errors import InputError
from fieldrig.geometry.domain import ShapeDomain
from fieldrig.geometry.winding import winding_numbers


@pytest.fixture(scope="module")
def sphere():
    mesh = trimesh.creation.icosphere(subdivisions=4, radius=1.0)
    return np.asarray(mesh.vertices), np.asarray(mesh.faces)


def test_winding_number_is_one_inside_and_zero_outside(sphere):
    V, F = sphere
    Q = np.array([[0, 0, 0], [0.5, 0.2, -0.3], [1.5, 0, 0], [0, -3, 0]])
    np.testing.assert_allclose(winding_numbers(V, F, Q), [1, 1, 0, 0], atol=1e-2)
    # an oriented point cloud of the same sphere agrees
    P, face = trimesh.sample.sample_surface_even(trimesh.Trimesh(V, F), 4000, seed=0)
    N = trimesh.Trimesh(V, F).face_normals[face]
    np.testing.assert_allclose(winding_numbers(P, None, Q, N), [1, 1, 0, 0], atol=0.1)


def test_volume_contains_and_uniform_samples(sphere):
    V, F = sphere
    domain = ShapeDomain(V, F, seed=0)
    exact = 4 / 3 * np.pi  # the icosphere is slightly smaller
    assert abs(domain.volume - exact) / exact < 0.02
    X = domain.sample(5000, np.random.default_rng(1))
    assert np.linalg.norm(X, axis=1).max() < 1.0 + domain.band
    # uniform in the ball: |x|^3 is uniform on [0, 1]
    assert abs(np.mean(np.linalg.norm(X, axis=1) ** 3) - 0.5) < 0.02
    assert domain.contains(np.array([[0, 0, 0.9]]))[0] and not domain.contains(np.array([[0, 0, 1.1]]))[0]


def test_weighted_samples_estimate_integrals(sphere):
    V, F = sphere
    domain = ShapeDomain(V, F, seed=0)
    centres = domain.cell_centres
    density = 1.0 + 20.0 * (centres[:, 0] > 0.5)  # ten times more samples in a cap
    X, w = domain.sample_weighted(20000, np.random.default_rng(2), density)
    assert np.isclose(w.sum(), domain.volume)
    assert (X[:, 0] > 0.5).mean() > 0.3  # denser where asked (uniform: 0.16)
    # integral of x^2 over the unit ball: 4 pi / 15
    assert abs((w * X[:, 0] ** 2).sum() - 4 * np.pi / 15) < 0.03


def test_surface_samples_and_weighted_surface_samples(sphere):
    V, F = sphere
    domain = ShapeDomain(V, F, seed=0)
    P, N = domain.sample_surface(3000, np.random.default_rng(3))
    np.testing.assert_allclose(np.linalg.norm(P, axis=1), 1.0, atol=0.01)
    np.testing.assert_allclose(np.linalg.norm(N, axis=1), 1.0)
    assert np.all((P * N).sum(1) > 0.98)  # outward normals
    density = np.where(domain.element_centres[:, 2] > 0, 5.0, 1.0)
    P, N, a = domain.sample_surface(3000, np.random.default_rng(4), density)
    assert np.isclose(a.sum(), domain.area) and (P[:, 2] > 0).mean() > 0.7
    assert abs((a * P[:, 2] ** 2).sum() - 4 * np.pi / 3) < 0.15  # integral of z^2 over the sphere


def test_clearance_is_a_lower_bound_of_the_distance_to_the_surface(sphere):
    V, F = sphere
    domain = ShapeDomain(V, F, seed=0)
    X = domain.sample(3000, np.random.default_rng(5))
    clearance = domain.clearance(X)
    true = np.sqrt(igl.point_mesh_squared_distance(X, V, F)[0])
    assert np.all(clearance <= true) and clearance.max() > 0.3
    assert np.all(domain.clearance(np.array([[5.0, 0, 0]])) == 0)


def test_open_sheet_gets_a_band_and_point_cloud_needs_normals():
    x, y = np.meshgrid(np.linspace(-1, 1, 11), np.linspace(-1, 1, 11))
    V = np.stack([x.ravel(), y.ravel(), np.zeros(x.size)], 1)
    idx = np.arange(121).reshape(11, 11)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel()
    F = np.concatenate([np.stack([a, b, d], 1), np.stack([a, d, c], 1)])
    domain = ShapeDomain(V, F, seed=0)
    assert domain.contains(np.array([[0.2, 0.1, 0.5 * domain.band]]))[0]
    assert not domain.contains(np.array([[0.2, 0.1, 3 * domain.band]]))[0]
    with pytest.raises(InputError, match="normals"):
        ShapeDomain(V, None)
    with pytest.raises(InputError, match="same place"):
        ShapeDomain(np.zeros((4, 3)), np.array([[0, 1, 2]]))
