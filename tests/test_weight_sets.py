"""Weight sets in a session: rename, duplicate, delete, the A/B pair and its difference, the
animation's playback settings, and all of it through a project file."""

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from fieldrig.core.errors import InputError
from fieldrig.geometry.mesh_io import load_mesh
from fieldrig.geometry.rig import load_rig
from fieldrig.project import load_project, save_project
from fieldrig.session import AnimationState, RigState, Session, WeightSet

ASSETS = Path(__file__).resolve().parents[1] / "assets"


def table(rng, n=6, h=3):
    W = rng.random((n, h))
    return W / W.sum(axis=1, keepdims=True)


@pytest.fixture
def state():
    rng = np.random.default_rng(0)
    sets = (WeightSet("skin", table(rng), "file"), WeightSet("computed", table(rng)), WeightSet("painted", table(rng)))
    return RigState(weight_sets=sets, active=1)


def test_rename_duplicate_delete(state):
    s = state.with_compare("skin", "computed").with_renamed(0, " artist ")
    assert s.set_names == ["artist", "computed", "painted"] and s.compare == ("artist", "computed")
    with pytest.raises(InputError, match="already a weight set 'painted'"):
        s.with_renamed(0, "painted")
    d = s.with_duplicate(1).with_duplicate(1)
    assert d.set_names[-2:] == ["computed copy", "computed copy 2"] and d.active == 4
    assert d.weight_sets[3].weights is s.weight_sets[1].weights and d.weight_sets[3].origin == "computed"
    # deleting keeps the set in use in use; deleting it uses the one before; a pair that named it goes
    assert s.without_set(0).active_set.name == "computed" and s.without_set(0).compare == ()
    assert s.without_set(2).active_set.name == "computed" and s.without_set(2).compare == s.compare
    assert s.without_set(1).active_set.name == "artist"
    only = RigState(weight_sets=(state.weight_sets[0],))
    assert only.without_set(0).weight_sets == () and only.without_set(0).active_set is None
    assert s.without_weights().compare == ()


def test_a_painted_copy_can_be_re_solved_and_keeps_its_paint(state):
    computed = replace(state.weight_sets[1], skinning_field=b"field")
    s = RigState(weight_sets=(state.weight_sets[0], computed), active=1)
    assert "Paint some vertices first" in s.resolve_problem()
    assert "no trained field" in s.with_active(0).resolve_problem()
    W = computed.weights.copy()
    W[2] = [1.0, 0.0, 0.0]
    painted = s.with_edited_weights(W, painted=[2])
    copy = painted.active_set
    assert copy.origin == "painted" and copy.skinning_field == b"field" and painted.resolve_problem() is None
    solved = table(np.random.default_rng(5))
    solved[2] = W[2]
    after = painted.with_resolved(solved, b"refitted")
    assert after.active_set.name == copy.name and after.active_set.skinning_field == b"refitted"
    np.testing.assert_array_equal(after.active_set.painted_vertices, [2])
    np.testing.assert_array_equal(after.weights, solved)
    assert painted.weight_sets[1].weights is computed.weights  # the computed set stays as it was
    assert "joints moved" in painted.marked_stale().resolve_problem()
    with pytest.raises(InputError, match="Paint some vertices"):
        s.with_resolved(solved, b"refitted")


def test_the_ab_pair_swaps_and_measures_its_difference(state):
    assert state.swapped() is state and state.weight_difference() is None  # no pair yet
    s = state.with_compare("painted", "skin")
    assert s.swapped().active_set.name == "painted"  # neither in use: A
    assert s.swapped().swapped().active_set.name == "skin"
    A, B = s.weight_sets[2].weights, s.weight_sets[0].weights
    np.testing.assert_allclose(s.weight_difference(), 0.5 * np.abs(A - B).sum(axis=1))
    assert state.with_compare("skin", "skin").compare == () and state.with_compare(None, "skin").compare == ()
    with pytest.raises(InputError, match="no weight set 'other'"):
        state.with_compare("skin", "other")
    with pytest.raises(InputError, match="compare two"):
        RigState(weight_sets=state.weight_sets, compare=("skin", "gone"))


def test_animation_state_is_checked():
    assert AnimationState().loop and AnimationState().speed == 1.0
    with pytest.raises(InputError, match="speed"):
        AnimationState("walk", 0.0, True, 5.0)
    with pytest.raises(InputError, match="finite"):
        AnimationState("walk", float("inf"))


def test_projects_keep_the_pair_and_the_playback(tmp_path):
    for name in ("finger.obj", "finger.tgf"):
        shutil.copy(ASSETS / name, tmp_path / name)
    mesh, rig = load_mesh(tmp_path / "finger.obj"), load_rig(tmp_path / "finger.tgf")
    rng = np.random.default_rng(1)
    sets = tuple(WeightSet(n, table(rng, len(mesh.V), rig.n_handles)) for n in ("a", "b", "c"))
    session = Session(
        mesh=mesh,
        rig_state=RigState(rig, weight_sets=sets, active=2, compare=("c", "a")),
        animation=AnimationState(None, 0.0, loop=False, speed=0.5),
    )
    save_project(session, tmp_path / "p.fieldrig")
    loaded, warnings = load_project(tmp_path / "p.fieldrig")
    assert warnings == []
    assert loaded.rig_state.compare == ("c", "a") and loaded.rig_state.active_set.name == "c"
    assert loaded.animation == session.animation
    # a pair whose set was dropped (it no longer fits the rig) is dropped too, with a warning
    bad = replace(sets[0], weights=sets[0].weights[:, :2])
    save_project(
        replace(session, rig_state=replace(session.rig_state, weight_sets=(bad,) + sets[1:])), tmp_path / "q.fieldrig"
    )
    loaded, warnings = load_project(tmp_path / "q.fieldrig")
    assert loaded.rig_state.compare == () and any("compared (c, a)" in w for w in warnings)
