"""The skinning fit (fieldrig.neural.skinning_training): simplex projection, adaptive particles,
solver agreement, exact constraints with skin-like handles, determinism, units and placement."""

from dataclasses import replace

import numpy as np
import pytest
import torch
import trimesh

from fieldrig.geometry.domain import ShapeDomain
from fieldrig.neural.handle_blend import HandleGeometry
from fieldrig.neural.skinning_training import SKINNING_PRESETS, _place_particles, fit_field, project_to_simplex

CPU = torch.device("cpu")
QUICK = replace(SKINNING_PRESETS["fast"], largest_spacing=0.04)


def test_projection_onto_the_simplex():
    rng = np.random.default_rng(0)
    Y = torch.as_tensor(rng.normal(0, 1, (500, 5)))
    P = project_to_simplex(Y)
    assert P.min() >= 0
    np.testing.assert_allclose(P.sum(1).numpy(), 1.0, atol=1e-12)
    # points of the simplex stay; known cases
    S = torch.as_tensor(rng.dirichlet(np.ones(5), 20))
    np.testing.assert_allclose(project_to_simplex(S).numpy(), S.numpy(), atol=1e-15)
    known = project_to_simplex(torch.tensor([[2.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.6, 0.4, -3.0]]))
    np.testing.assert_allclose(known.numpy(), [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3], [0.6, 0.4, 0]], atol=1e-15)
    # optimal: no point of the simplex is closer (the projection is y - theta, clipped)
    cand = torch.as_tensor(rng.dirichlet(np.ones(5), (2000,)))
    for y, p in zip(Y[:20], P[:20]):
        assert torch.linalg.norm(y - p) <= torch.linalg.norm(y - cand, dim=1).min() + 1e-12
    # permutation equivariant
    perm = torch.tensor([3, 1, 4, 0, 2])
    np.testing.assert_allclose(project_to_simplex(Y[:, perm]).numpy(), P[:, perm].numpy(), atol=1e-15)


def _soup(*meshes):
    V = np.concatenate([m.vertices for m in meshes])
    offsets = np.cumsum([0] + [len(m.vertices) for m in meshes])
    return np.asarray(V), np.concatenate([m.faces + o for m, o in zip(meshes, offsets)])


def test_particles_follow_the_target_spacing():
    V, F = _soup(trimesh.creation.box(extents=[1, 1, 1]))
    domain = ShapeDomain(V, F, seed=0)
    X = domain.sample(40000, np.random.default_rng(0))
    target = np.where(X[:, 0] < 0, 0.05, 0.2)
    particles, spacing = _place_particles(X, target, domain)
    assert np.all(domain.contains(particles))
    left, right = particles[:, 0] < -0.1, particles[:, 0] > 0.1
    assert np.all(spacing[left] <= 0.05 * 2 ** (1 / 6) + 1e-12) and np.all(spacing[right] > 0.15)
    # about one particle per target volume on each side
    assert (
        0.5 < left.sum() / (0.4 / 0.05**3) < 1.5 and 0.5 < right.sum() / (0.4 / 0.2**3) < 2.5
    )  # voxels cut by the box


@pytest.fixture(scope="module")
def body_and_finger():
    """A thick capsule with a thin capsule (radius 1/20 of the body's) on its top, as a soup.

    Handles as a glTF skin gives them: the body joint's two segments (up the body, and
    to the finger's base), the finger's two bones, and a point at the finger's tip."""
    body = trimesh.creation.capsule(height=1.0, radius=0.3, count=[20, 20])
    finger = trimesh.creation.capsule(height=0.45, radius=0.015, count=[10, 10])
    finger.apply_translation([0.1, 0, 0.95])
    V, F = _soup(body, finger)
    starts = np.array([[0, 0, -0.5], [0, 0, -0.5], [0.1, 0, 0.75], [0.1, 0, 0.95]])
    ends = np.array([[0, 0, 0.5], [0.1, 0, 0.75], [0.1, 0, 0.95], [0.1, 0, 1.15]])
    starts = np.vstack([starts, [[0.1, 0, 1.15]]])
    ends = np.vstack([ends, [[0.1, 0, 1.15]]])
    handles = HandleGeometry(starts, ends, [0, 0, 1, 2, 3], 4, isolated_point=[False] * 4 + [True])
    part = np.repeat([0, 1], [len(body.vertices), len(finger.vertices)])
    field = fit_field(V, F, None, handles, list("abcd"), QUICK, CPU, seed=0)
    return V, F, handles, part, field


def test_a_thin_part_beside_a_thick_one_gets_particles_and_its_own_weights(body_and_finger):
    V, F, handles, part, field = body_and_finger
    P = field.particles * field.scale + field.centre
    inside = (np.linalg.norm(P[:, :2] - [0.1, 0], axis=1) < 0.015) & (P[:, 2] > 0.85)
    assert inside.sum() >= 30  # several across and along the finger
    W = field.evaluate(V)
    out = (part == 1) & (V[:, 2] > 0.9)  # finger vertices well outside the body
    assert W[out][:, 1:].sum(1).min() > 0.95  # the finger's own handles
    tip = (part == 1) & (V[:, 2] > 1.15)
    assert W[tip, 3].min() > 0.9


def test_constraints_are_exact_with_multi_segment_handles_and_a_leaf_point(body_and_finger):
    V, F, handles, part, field = body_and_finger
    X = np.random.default_rng(1).uniform(V.min(0), V.max(0), (3000, 3))
    far = np.array([[100.0, 0, 0], [0, -50.0, 3.0], [1e4, 1e4, 1e4]])  # see no particle: nearest kernels
    W = field.evaluate(np.vstack([V, X, far]))
    assert W.min() >= 0
    np.testing.assert_allclose(W.sum(1), 1.0, atol=1e-12)
    for h, (a, b) in enumerate(zip(handles.starts, handles.ends)):
        owner = handles.owner[h]
        t = np.linspace(0.1, 0.9, 9)[:, None] if np.any(a != b) else np.zeros((1, 1))
        np.testing.assert_allclose(field.evaluate(a + t * (b - a))[:, owner], 1.0, atol=1e-12)


def test_same_seed_same_field_other_seed_other_samples(body_and_finger):
    V, F, handles, part, field = body_and_finger
    again = fit_field(V, F, None, handles, list("abcd"), QUICK, CPU, seed=0)
    np.testing.assert_array_equal(again.values, field.values)
    np.testing.assert_array_equal(again.particles, field.particles)
    other = fit_field(V, F, None, handles, list("abcd"), QUICK, CPU, seed=1)
    assert len(other.particles) != len(field.particles) or not np.array_equal(other.particles, field.particles)


def _limb():
    mesh = trimesh.creation.capsule(height=1.6, radius=0.25, count=[16, 16])
    V, F = np.asarray(mesh.vertices), np.asarray(mesh.faces)
    starts, ends = np.array([[0, 0, -0.8], [0, 0, 0.0]]), np.array([[0, 0, 0.0], [0, 0, 0.8]])
    return V, F, starts, ends


def test_cg_sparse_and_dense_solves_give_the_same_weights():
    V, F, starts, ends = _limb()
    handles = HandleGeometry(starts, ends, [0, 1], 2)
    dense = fit_field(V, F, None, handles, ["a", "b"], replace(QUICK, solver="dense"), CPU, seed=0)
    cg = fit_field(V, F, None, handles, ["a", "b"], replace(QUICK, solver="cg"), CPU, seed=0)
    assert cg.info["levels"][-1]["solver"]["method"] == "cg"
    np.testing.assert_allclose(cg.evaluate(V), dense.evaluate(V), atol=1e-4)
    sparse = fit_field(V, F, None, handles, ["a", "b"], replace(QUICK, solver="sparse"), CPU, seed=0)
    assert sparse.info["levels"][-1]["solver"]["method"] == "sparse"
    np.testing.assert_allclose(sparse.evaluate(V), dense.evaluate(V), atol=1e-9)


@pytest.mark.parametrize("scale, shift", [(1e-6, 0.0), (0.01, 0.0), (100.0, 0.0), (1e6, 0.0), (1.0, 100.0)])
def test_units_and_placement_do_not_matter(scale, shift):
    V, F, starts, ends = _limb()
    names = ["a", "b"]
    base = fit_field(V, F, None, HandleGeometry(starts, ends, [0, 1], 2), names, QUICK, CPU, seed=0).evaluate(V)
    moved = HandleGeometry(starts * scale + shift, ends * scale + shift, [0, 1], 2)
    W = fit_field(V * scale + shift, F, None, moved, names, QUICK, CPU, seed=0).evaluate(V * scale + shift)
    assert np.abs(W - base).mean() < 1e-4
