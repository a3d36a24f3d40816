"""Mesh-free biharmonic skinning: constraints by construction, invariances, reference agreement, errors."""

import numpy as np
import pytest
import trimesh

import fieldrig
from fieldrig.geometry.rig import PaintedRegion, Rig
from fieldrig.neural.skinning_training import SKINNING_PRESETS

FAST = "fast"


def capsule(height=2.0, radius=0.5, count=(16, 16), center=(0.0, 0.0, 0.0), edge=0.2):
    """A closed capsule along z, z in [-(height / 2 + radius), height / 2 + radius], edges <= ``edge``."""
    mesh = trimesh.creation.capsule(height=height, radius=radius, count=list(count)).subdivide_to_size(edge)
    return np.asarray(mesh.vertices) + np.asarray(center), np.asarray(mesh.faces)


def two_bone_rig(offset=(0.0, 0.0, 0.0), half=0.9):
    o = np.asarray(offset)
    return Rig.from_arrays(np.array([[0, 0, -half], [0, 0, 0], [0, 0, half]]) + o, bones=[[0, 1], [1, 2]])


def assert_valid(W, n, H):
    assert W.shape == (n, H)
    assert np.all(np.isfinite(W))
    assert W.min() >= 0.0
    np.testing.assert_allclose(W.sum(axis=1), 1.0, atol=1e-5)


def assert_lagrange(field, rig):
    """Weight 1 on each handle's own samples (away from joints shared with another handle)."""
    for h, (a, b) in enumerate(rig.handle_segments()):
        t = np.linspace(0.1, 0.9, 9)[:, None] if np.any(a != b) else np.zeros((1, 1))
        W = field.evaluate(a + t * (b - a))
        np.testing.assert_allclose(W[:, h], 1.0, atol=1e-9)


@pytest.fixture(scope="module")
def closed():
    V, F = capsule()
    rig = two_bone_rig()
    field = fieldrig.fit_skinning_field(V, F, rig, preset=FAST, seed=0)
    return V, F, rig, field


def test_closed_mesh_constraints_and_locality(closed):
    V, F, rig, field = closed
    W = field.evaluate(V)
    assert_valid(W, len(V), 2)
    assert_lagrange(field, rig)
    # Biharmonic weights are monotone along the limb: each bone owns its end of the capsule.
    assert W[V[:, 2] < -0.8, 0].min() > 0.95 and W[V[:, 2] > 0.8, 1].min() > 0.95
    z = V[:, 2]
    order = np.argsort(z)
    smooth = np.convolve(W[order, 0], np.ones(25) / 25, mode="valid")
    assert np.all(np.diff(smooth) < 0.02)


def test_same_seed_same_field_and_save_load_round_trip(closed, tmp_path):
    V, F, rig, field = closed
    again = fieldrig.fit_skinning_field(V, F, rig, preset=FAST, seed=0)
    np.testing.assert_array_equal(again.values, field.values)
    path = tmp_path / "capsule.field"
    field.save(path)
    loaded = fieldrig.SkinningField.load(path)
    np.testing.assert_allclose(loaded.evaluate(V), field.evaluate(V), atol=1e-12)
    assert loaded.handle_names == rig.handle_names


def test_weights_at_other_points_and_lod(closed):
    V, F, rig, field = closed
    finer = trimesh.Trimesh(V, F).subdivide()
    W = field.evaluate(np.asarray(finer.vertices))
    assert_valid(W, len(finer.vertices), 2)
    # a subdivided mesh keeps the original vertices first: their weights do not change
    np.testing.assert_allclose(W[: len(V)], field.evaluate(V), atol=1e-12)


def test_agrees_with_libigl_bbw_on_a_small_closed_mesh(closed):
    V, F, rig, field = closed
    reference = fieldrig.bbw_weights(V, F, rig)
    error = np.abs(field.evaluate(V) - reference)
    assert error.mean() < 0.04, error.mean()
    assert np.percentile(error.max(axis=1), 95) < 0.16


def test_one_handle_gives_all_ones():
    V, F = capsule(edge=0.4)
    rig = Rig.from_arrays(np.array([[0, 0, -0.5], [0, 0, 0.5]]), bones=[[0, 1]])
    W = fieldrig.skinning_weights(V, F, rig, preset=FAST)
    np.testing.assert_allclose(W, 1.0, atol=1e-12)


def test_mirror_symmetric_shape_and_handles_give_mirrored_weights():
    V, F = capsule()
    V = V[:, [2, 1, 0]]  # capsule along x, symmetric under x -> -x
    rig = Rig.from_arrays(
        np.array([[-0.9, 0, 0], [-0.1, 0, 0], [0.1, 0, 0], [0.9, 0, 0]]), bones=[[0, 1], [3, 2]]
    )  # mirrored bones
    field = fieldrig.fit_skinning_field(V, F, rig, preset=FAST, seed=3)
    W = field.evaluate(V)
    W_mirror = field.evaluate(V * np.array([-1.0, 1.0, 1.0]))
    # Monte Carlo samples are not symmetric: agreement up to sampling noise
    assert np.abs(W - W_mirror[:, ::-1]).mean() < 0.045
    assert np.abs(W - W_mirror[:, ::-1]).max() < 0.35
    # without swapping the mirrored handles the comparison fails: the test can tell
    assert np.abs(W - W_mirror).mean() > 0.3


def test_lbs_with_one_rigid_transform_moves_the_mesh_rigidly(closed):
    V, F, rig, field = closed
    W = field.evaluate(V)
    angle = np.deg2rad(40)
    R = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = R, [0.3, -1.0, 2.0]
    moved = fieldrig.linear_blend_skinning(V, W, np.stack([T, T]))
    np.testing.assert_allclose(moved, V @ R.T + T[:3, 3], atol=1e-9)


def test_visibility_stops_bleeding_between_parallel_capsules():
    # Two capsules side by side, 0.06 apart: closer than the kernel width.
    VA, FA = capsule(radius=0.3, count=(16, 16), center=(-0.33, 0, 0))
    VB, FB = capsule(radius=0.3, count=(16, 16), center=(0.33, 0, 0))
    V = np.vstack([VA, VB])
    F = np.vstack([FA, FB + len(VA)])
    rig = Rig.from_arrays(
        np.array([[-0.33, 0, -0.9], [-0.33, 0, 0.9], [0.33, 0, 0.9], [0.33, 0, -0.9]]), bones=[[0, 1], [2, 3]]
    )
    field = fieldrig.fit_skinning_field(V, F, rig, preset=FAST)
    assert field.kernel_widths.min() > 0.06  # every kernel is wider than the gap
    W = field.evaluate(V)
    assert_valid(W, len(V), 2)
    assert W[: len(VA), 1].max() < 0.02 and W[len(VA) :, 0].max() < 0.02
    # the same fit without visibility bleeds across the gap: the test can fail
    blind = fieldrig.fit_skinning_field(V, F, rig, preset=_preset(visibility=False))
    Wb = blind.evaluate(V)
    assert max(Wb[: len(VA), 1].max(), Wb[len(VA) :, 0].max()) > 0.1


def _preset(**changes):
    from dataclasses import replace

    return replace(SKINNING_PRESETS[FAST], **changes)


@pytest.mark.parametrize("kind", ["holes", "soup", "sheet", "point_cloud"])
def test_constraints_hold_on_broken_inputs(kind):
    rng = np.random.default_rng(1)
    V, F = capsule()
    rig = two_bone_rig()
    N = None
    if kind == "holes":
        F = F[rng.random(len(F)) > 0.2]
    elif kind == "soup":
        V, F = V[F].reshape(-1, 3), np.arange(3 * len(F)).reshape(-1, 3)
    elif kind == "sheet":
        x, y = np.meshgrid(np.linspace(-1, 1, 21), np.linspace(-0.5, 0.5, 11))
        V = np.stack([x.ravel(), y.ravel(), np.zeros(x.size)], axis=1)
        F = _grid_faces(21, 11)
        rig = Rig.from_arrays(np.array([[-0.8, 0, 0], [0, 0, 0], [0.8, 0, 0]]), bones=[[0, 1], [1, 2]])
    elif kind == "point_cloud":
        mesh = trimesh.Trimesh(*capsule())
        V, face = trimesh.sample.sample_surface(mesh, 1500, seed=1)
        N, F = mesh.face_normals[face], None
    field = fieldrig.fit_skinning_field(V, F, rig, N=N, preset=FAST)
    W = field.evaluate(V)
    assert_valid(W, len(V), rig.n_handles)
    assert_lagrange(field, rig)
    # every vertex is weighted by the bone nearest to it more than by the other, at the ends
    ends = np.abs(V[:, 0] if kind == "sheet" else V[:, 2]) > 0.75
    near = (V[:, 0] if kind == "sheet" else V[:, 2])[ends] > 0
    assert np.all(W[ends][np.arange(ends.sum()), near.astype(int)] > 0.8)


def _grid_faces(nx, ny):
    idx = np.arange(nx * ny).reshape(ny, nx)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel()
    return np.concatenate([np.stack([a, b, d], 1), np.stack([a, d, c], 1)])


def test_point_handles_and_painted_regions():
    V, F = capsule(count=(16, 16))
    top = np.flatnonzero(V[:, 2] > 0.9)
    rig = Rig.from_arrays(np.array([[0, 0, -0.7], [0, 0, 0.0]]), bones=None, painted=[PaintedRegion(1, top)])
    field = fieldrig.fit_skinning_field(V, F, rig, preset=FAST)
    W = field.evaluate(V)
    assert_valid(W, len(V), 2)
    assert_lagrange(field, rig)
    np.testing.assert_allclose(W[top, 1], 1.0, atol=1e-9)


def test_progress_reports_and_cancel(closed):
    V, F, rig, _ = closed
    events = []
    fieldrig.fit_skinning_field(V, F, rig, preset=FAST, progress=events.append)
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any("level 2/2" in e.stage for e in events)

    def cancel_at_level_two(event):
        return "level 2" not in event.stage

    with pytest.raises(fieldrig.Cancelled):
        fieldrig.fit_skinning_field(V, F, rig, preset=FAST, progress=cancel_at_level_two)


def test_tgf_rig_gives_one_column_per_bone(tmp_path):
    V, F = capsule(count=(12, 12))
    (tmp_path / "rig.tgf").write_text("1 0 0 -0.9\n2 0 0 0\n3 0 0 0.9\n4 0.1 0 0.5\n#\n1 2\n2 3\n#\n")
    W = fieldrig.skinning_weights(V, F, tmp_path / "rig.tgf", preset=FAST)
    # joint 4 is on no bone: a point handle, first in libigl's column order
    assert W.shape == (len(V), 3)
    assert_valid(W, len(V), 3)


def _error(func):
    with pytest.raises(fieldrig.InputError) as info:
        func()
    return str(info.value)


def test_bad_inputs_give_clear_errors(tmp_path):
    V, F = capsule(count=(8, 8))
    rig = two_bone_rig()
    bad = V.copy()
    bad[3] = np.nan
    assert "NaN" in _error(lambda: fieldrig.skinning_weights(bad, F, rig))
    assert "no faces" in _error(lambda: fieldrig.skinning_weights(V, np.zeros((0, 3), int), rig))
    flat = F.copy()
    flat[:, 2] = flat[:, 1]
    assert "face" in _error(lambda: fieldrig.skinning_weights(V, flat, rig))
    assert "zero length" in _error(lambda: Rig.from_arrays(np.zeros((2, 3)), bones=[[0, 1]]))
    far = Rig.from_arrays(np.array([[0, 0, 0], [0, 0, 0.5], [10, 10, 10]]), bones=[[0, 1]])
    message = _error(lambda: fieldrig.skinning_weights(V, F, far, strict=True))
    assert "outside the shape" in message and "joint2" in message
    empty = tmp_path / "empty.tgf"
    empty.write_text("")
    assert "empty" in _error(lambda: fieldrig.skinning_weights(V, F, empty)) and "empty.tgf" in _error(
        lambda: fieldrig.skinning_weights(V, F, empty)
    )
    (tmp_path / "nohandles.json").write_text('{"joints": [], "bones": []}')
    assert "no handles" in _error(lambda: fieldrig.skinning_weights(V, F, tmp_path / "nohandles.json"))
    assert "preset" in _error(lambda: fieldrig.skinning_weights(V, F, rig, preset="turbo"))


def test_arm_against_libigl_reference(shared_data):
    mesh = fieldrig.load_mesh(shared_data / "arm.obj")
    reference = fieldrig.read_dmat(shared_data / "arm-weights.dmat")
    W = fieldrig.skinning_weights(mesh.V, mesh.F, shared_data / "arm.tgf", preset=FAST)
    error = np.abs(W - reference)
    assert error.mean() < 0.02 and np.percentile(error.max(axis=1), 95) < 0.15


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_field_matches_cpu_field(closed):
    V, F, rig, field = closed
    gpu = fieldrig.fit_skinning_field(V, F, rig, preset=FAST, seed=0, device="cuda")
    assert gpu.info["device"].startswith("cuda")
    np.testing.assert_allclose(gpu.evaluate(V), field.evaluate(V), atol=1e-5)
