"""Refitting a skinning field around painted weights: painted rows exact, simplex, handles,
the far field, the unpainted identity, determinism, both solver paths, a loaded field, errors."""

from dataclasses import replace

import numpy as np
import pytest
import trimesh
from scipy.spatial import cKDTree

import fieldrig
from fieldrig.core.errors import InputError
from fieldrig.geometry.rig import PaintedRegion, Rig
from fieldrig.geometry.weight_edit import BrushStroke
from fieldrig.neural.skinning_training import SKINNING_PRESETS

#: Vertices farther than this from every painted vertex (the capsule is 3 long, the brush
#: radius 0.4) hardly move: their rows change by at most FAR_CHANGE (half the L1 distance),
#: FAR_MEAN on average (measured 0.019 and 0.0010; 0.02 on average beside the stroke).
FAR = 1.0
FAR_CHANGE = 0.025
FAR_MEAN = 0.003


def capsule():
    mesh = trimesh.creation.capsule(height=2.0, radius=0.5, count=[16, 16]).subdivide_to_size(0.2)
    return np.asarray(mesh.vertices), np.asarray(mesh.faces)


def three_bones(extra_handle=False):
    joints = np.array([[0, 0, -1.0], [0, 0, -0.3], [0, 0, 0.3], [0, 0, 1.0]])
    bones = [[0, 1], [1, 2], [2, 3]]
    if extra_handle:  # a fourth bone that does not deform: its column stays zero
        joints = np.vstack([joints, [[0, 0, 1.2]]])
        return Rig.from_arrays(joints, bones=bones + [[3, 4]], deform=[True, True, True, False])
    return Rig.from_arrays(joints, bones=bones)


@pytest.fixture(scope="module", params=["dense", "cg"])
def fitted(request):
    V, F = capsule()
    rig = three_bones()
    preset = replace(SKINNING_PRESETS["fast"], solver=request.param)
    field = fieldrig.fit_skinning_field(V, F, rig, preset=preset, seed=0)
    return V, F, rig, field


def stroke(V, W, joint=2, centre=(0.5, 0.0, -0.2)):
    """A short brush stroke of ``joint`` on the capsule's side, near the middle bone."""
    brush = BrushStroke(W, V, joint, "add", 1.0, radius=0.4, strength=0.8)
    for dz in np.linspace(0.0, 0.3, 4):
        brush.dab(np.asarray(centre) + [0.0, 0.0, dz])
    return brush.painted, brush.weights[brush.painted]


def test_painted_rows_exact_on_the_simplex_handles_kept_far_field_still(fitted):
    V, F, rig, field = fitted
    W = field.evaluate(V)
    ids, rows = stroke(V, W)
    assert len(ids) > 10 and np.abs(rows - W[ids]).max() > 0.2
    new = field.refit(ids, rows)
    W2 = new.evaluate(V)
    np.testing.assert_allclose(W2[ids], rows, atol=1e-6)
    assert W2.min() >= 0.0
    np.testing.assert_allclose(W2.sum(axis=1), 1.0, atol=1e-12)
    for h, (a, b) in enumerate(rig.handle_segments()):
        t = np.linspace(0.1, 0.9, 9)[:, None]
        np.testing.assert_allclose(new.evaluate(a + t * (b - a))[:, h], 1.0, atol=1e-9)
    far = cKDTree(V[ids]).query(V)[0] > FAR
    assert far.sum() > 50
    change = np.abs(W2[far] - W[far]).sum(axis=1) / 2
    assert change.max() < FAR_CHANGE and change.mean() < FAR_MEAN
    # the field is recomputed around the stroke, most beside it
    distance = cKDTree(V[ids]).query(V)[0]
    near = (distance > 0) & (distance < 0.5)
    assert np.abs(W2[near] - W[near]).sum(axis=1).mean() / 2 > 5 * change.mean()
    assert new.info["refit"]["painted"] == len(np.unique(V[ids], axis=0))


def test_no_paint_reproduces_the_field_and_refits_are_deterministic(fitted):
    V, F, rig, field = fitted
    W = field.evaluate(V)
    same = field.refit(np.zeros(0, np.int64), np.zeros((0, rig.n_handles)))
    np.testing.assert_allclose(same.evaluate(V), W, atol=1e-6)
    ids, rows = stroke(V, W)
    a, b = field.refit(ids, rows), field.refit(ids, rows)
    np.testing.assert_array_equal(a.evaluate(V), b.evaluate(V))
    # refitting a refitted field starts from the same fit: the earlier paint is replaced
    # (to the solver's tolerance: CG starts from the refitted solution)
    again = a.refit(ids[:5], rows[:5])
    np.testing.assert_allclose(again.evaluate(V), field.refit(ids[:5], rows[:5]).evaluate(V), atol=1e-4)


def test_points_and_rows_to_normalise(fitted):
    V, F, rig, field = fitted
    ids, rows = stroke(V, field.evaluate(V))
    by_points = field.refit(V[ids], 3.0 * rows)  # rows are scaled to sum to one
    np.testing.assert_allclose(by_points.evaluate(V[ids]), rows, atol=1e-6)


def test_a_loaded_field_replays_its_fit(fitted, tmp_path):
    V, F, rig, field = fitted
    ids, rows = stroke(V, field.evaluate(V))
    live = field.refit(ids, rows)
    field.save(tmp_path / "a.field")
    loaded = fieldrig.RigField.load(tmp_path / "a.field")
    assert loaded.field.solver_state is None
    replayed = loaded.refit(ids, rows)
    np.testing.assert_allclose(replayed.evaluate(V), live.evaluate(V), atol=1e-6)
    assert loaded.field.solver_state is not None  # rebuilt once, kept for the next refit
    # a refitted field keeps its painted rows through save and load
    live.save(tmp_path / "b.field")
    np.testing.assert_allclose(fieldrig.RigField.load(tmp_path / "b.field").evaluate(V[ids]), rows, atol=1e-6)


def test_non_deforming_columns_and_bad_arguments():
    V, F = capsule()
    field = fieldrig.fit_skinning_field(V, F, three_bones(extra_handle=True), preset="fast")
    assert list(field.columns) == [0, 1, 2]
    W = field.evaluate(V)
    ids, rows = stroke(V, W)
    new = field.refit(ids, rows)
    np.testing.assert_allclose(new.evaluate(V[ids]), rows, atol=1e-6)
    assert np.all(new.evaluate(V)[:, 3] == 0)
    bad_column = rows.copy()
    bad_column[:, 3] = 0.5

    def problem(vertices, weights):
        with pytest.raises(InputError) as caught:
            field.refit(vertices, weights)
        return caught.value.source, caught.value.problem

    assert problem(ids, bad_column)[0] == "weights"
    assert problem(ids, rows[:, :3])[0] == "weights"  # wrong number of columns
    assert problem(ids, rows[:-1])[0] == "weights"  # one row short
    nan = rows.copy()
    nan[0, 0] = np.nan
    assert problem(ids, nan) == ("weights", "weights contain NaN or infinite values")
    negative = rows.copy()
    negative[1, 0] = -0.1
    assert problem(ids, negative)[0] == "weights"
    assert "positive sum" in problem(ids, np.zeros_like(rows))[1]
    assert problem(ids + len(V), rows)[0] == "vertices"
    assert problem(ids.astype(float), rows)[0] == "vertices"
    assert problem(np.full((len(ids), 3), np.inf), rows)[0] == "vertices"


def test_the_rigs_painted_regions_stay_handles():
    V, F = capsule()
    top = np.flatnonzero(V[:, 2] > 1.2)
    joints = np.array([[0, 0, -1.0], [0, 0, -0.3], [0, 0, 0.3], [0, 0, 1.0]])
    rig = Rig.from_arrays(joints, bones=[[0, 1], [1, 2], [2, 3]], painted=[PaintedRegion(0, top)])
    field = fieldrig.fit_skinning_field(V, F, rig, preset="fast")
    W = field.evaluate(V)
    np.testing.assert_allclose(W[top, 0], 1.0, atol=1e-9)
    ids, rows = stroke(V, W, joint=1, centre=(0.45, 0.0, 1.0))  # over the region and beside it
    held = np.isin(ids, top)
    assert held.any() and (~held).any()
    new = field.refit(ids, rows)
    W2 = new.evaluate(V)
    np.testing.assert_allclose(W2[top, 0], 1.0, atol=1e-9)  # the region keeps weight 1
    np.testing.assert_allclose(W2[ids[~held]], rows[~held], atol=1e-6)
    assert new.info["refit"]["held_by_handles"] == held.sum()
    assert any("handle holds them" in warning for warning in new.warnings)


def test_a_point_cloud_field_refits_too():
    V, _ = capsule()
    field = fieldrig.fit_skinning_field(V, None, three_bones(), preset="fast")
    W = field.evaluate(V)
    ids, rows = stroke(V, W)
    W2 = field.refit(ids, rows).evaluate(V)
    np.testing.assert_allclose(W2[ids], rows, atol=1e-6)
    assert W2.min() >= 0.0 and np.abs(W2.sum(axis=1) - 1).max() < 1e-12
