"""Particle spacing from thickness and handles (fieldrig.geometry.sizing)."""

import numpy as np
import pytest
import trimesh

from fieldrig.geometry.domain import ShapeDomain
from fieldrig.geometry.sizing import SizingField, local_thickness
from fieldrig.geometry.visibility import SegmentVisibility


def _soup(*meshes):
    V = np.concatenate([m.vertices for m in meshes])
    offsets = np.cumsum([0] + [len(m.vertices) for m in meshes])
    F = np.concatenate([m.faces + o for m, o in zip(meshes, offsets)])
    return np.asarray(V), np.asarray(F)


@pytest.fixture(scope="module")
def thick_and_thin():
    """A thick capsule (radius 0.3) and, overlapping its top, a thin one (radius 0.03): one soup."""
    thick = trimesh.creation.capsule(height=1.0, radius=0.3, count=[24, 24])
    thin = trimesh.creation.capsule(height=0.6, radius=0.03, count=[12, 12])
    thin.apply_translation([0.1, 0, 0.7])
    V, F = _soup(thick, thin)
    domain = ShapeDomain(V, F, seed=0)
    return V, F, domain, SegmentVisibility(V, F, margin=1e-6)


def test_thickness_of_a_cylinder_is_its_diameter(thick_and_thin):
    V, F, domain, caster = thick_and_thin
    # points on the thin part's side, outside the thick part, normals pointing out
    z = np.linspace(0.85, 0.95, 20)
    P = np.stack([0.1 + 0.03 * np.ones_like(z), 0 * z, z], 1)
    N = np.tile([1.0, 0, 0], (20, 1))
    T, inward = local_thickness(domain, caster, P, N)
    np.testing.assert_allclose(T, 0.06, rtol=0.05)
    np.testing.assert_allclose(inward, -N)
    # on the thick part's side
    P = np.array([[0.3, 0.0, 0.0], [0.0, -0.3, 0.1]])
    T, _ = local_thickness(domain, caster, P, np.array([[1.0, 0, 0], [0, -1.0, 0]]))
    np.testing.assert_allclose(T, 0.6, rtol=0.05)


def test_rays_go_through_walls_inside_a_soup(thick_and_thin):
    V, F, domain, caster = thick_and_thin
    # from the thick part's top, beside the thin part's wall inside it: the thick part's thickness
    P = np.array([[0.1 - 0.05, 0.0, 0.5 + np.sqrt(0.3**2 - 0.05**2)]])
    N = P - [0, 0, 0.5]
    N /= np.linalg.norm(N)
    T, _ = local_thickness(domain, caster, P, N)
    assert T[0] > 0.3


def test_spacing_is_finer_in_the_thin_part_and_grows_at_most_by_the_gradation(thick_and_thin):
    V, F, domain, caster = thick_and_thin
    sizing = SizingField(
        domain,
        caster,
        np.zeros((0, 3)),
        np.zeros((0, 3)),
        np.zeros(0),
        across=3,
        along=4,
        largest=0.1,
        smallest=0.001,
        gradation=0.5,
        samples=8192,
        rng=np.random.default_rng(0),
    )
    thin = sizing(np.array([[0.1, 0, 0.85], [0.1, 0.01, 0.95]]))
    thick = sizing(np.array([[0.0, 0, -0.2], [0.0, 0.1, 0.2]]))
    assert np.all(thin <= 0.06 / 3 * 1.05) and np.all(thick > 0.09)
    X = domain.sample(3000, np.random.default_rng(1))
    h = sizing(X)
    i, j = np.random.default_rng(2).integers(0, len(X), (2, 5000))
    slack = 2 * np.sqrt(3) * domain.cell_size * 0.5  # cell quantisation
    assert np.all(h[i] <= h[j] + 0.5 * np.linalg.norm(X[i] - X[j], axis=1) + slack)


def test_handles_refine_near_short_bones_only(thick_and_thin):
    V, F, domain, caster = thick_and_thin
    starts, ends = np.array([[0.0, 0, -0.4], [0.1, 0, 0.8]]), np.array([[0.0, 0, 0.4], [0.1, 0, 0.85]])
    sizing = SizingField(
        domain,
        None,
        starts,
        ends,
        np.linalg.norm(ends - starts, axis=1),
        across=3,
        along=5,
        largest=0.2,
        smallest=0.001,
        gradation=0.5,
        samples=0,
        rng=np.random.default_rng(0),
    )
    h = sizing(np.array([[0.0, 0, 0.0], [0.1, 0, 0.82], [0.0, 0, -0.75]]))
    assert h[0] == pytest.approx(0.8 / 5, rel=0.1) and h[1] == pytest.approx(0.05 / 5, rel=0.3)
    assert h[2] > h[0]
