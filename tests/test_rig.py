"""Rigs: bone rigs keep libigl's columns, skeleton rigs have one column per joint (a handle of
several segments, or a point), deform flags, files, bad input, and tolerances relative to
the rig's size."""

import json

import numpy as np
import pytest

from fieldrig.core.errors import InputError
from fieldrig.geometry.pose import Pose, pose_transforms
from fieldrig.geometry.rig import Rig, load_rig, rig_from_json, rig_to_json, save_rig
from fieldrig.geometry.rotations import axis_angle_matrix

# A pelvis with two legs and a spine, a twist joint at the spine's position and a toe leaf.
POSITIONS = np.array(
    [[0, 1.0, 0], [-0.2, 0.9, 0], [-0.2, 0.1, 0], [0.2, 0.9, 0], [0.2, 0.1, 0], [0, 1.5, 0], [0, 1.5, 0], [0.2, 0, 0.2]]
)
PARENTS = [-1, 0, 1, 0, 3, 0, 5, 4]
NAMES = ["pelvis", "thigh_l", "shin_l", "thigh_r", "shin_r", "spine", "spine_twist", "toe_r"]


@pytest.fixture
def skeleton():
    return Rig.from_skeleton(POSITIONS, PARENTS, NAMES)


def _segments_of(rig, h):
    return {tuple(np.round(s.ravel(), 9)) for s, o in zip(rig.handle_segments(), rig.segment_handles()) if o == h}


def test_a_skeleton_has_one_column_per_joint_with_its_segments_to_its_children(skeleton):
    rig = skeleton
    assert rig.is_skeleton and rig.handle_names == NAMES and rig.n_handles == len(NAMES)
    # the pelvis has three children at distinct positions: a handle of three segments
    assert _segments_of(rig, 0) == {tuple(np.r_[POSITIONS[0], POSITIONS[c]]) for c in (1, 3, 5)}
    assert _segments_of(rig, 1) == {tuple(np.r_[POSITIONS[1], POSITIONS[2]])}
    # the spine's only child sits at its position: the spine is a point; so are the leaves
    for h in (2, 5, 6, 7):
        assert rig.handle_kind(h) == "point" and _segments_of(rig, h) == {tuple(np.r_[POSITIONS[h], POSITIONS[h]])}
    assert rig.handle_parents().tolist() == PARENTS
    np.testing.assert_array_equal(rig.handle_pivots(), POSITIONS)
    # Posing turns each joint's handle about the joint; children follow.
    T = pose_transforms(rig, Pose().set("pelvis", rotation=axis_angle_matrix([0, 0, 1], 90)))
    np.testing.assert_allclose(T[7, :3, :3] @ POSITIONS[7] + T[7, :3, 3], [1.0, 1.2, 0.2], atol=1e-12)


def test_children_at_one_place_give_one_segment():
    rig = Rig.from_skeleton([[0, 0, 0], [1, 0, 0], [1, 0, 0], [0, 0, 0]], [-1, 0, 0, 0], ["a", "b", "c", "d"])
    assert len(rig.bones) == 1 and rig.bones.tolist() == [[0, 1]]  # b and c coincide; d sits on a
    assert rig.point_handles.tolist() == [1, 2, 3]


def test_bone_rigs_keep_libigl_columns_and_every_rig_survives_json(tmp_path, skeleton):
    (tmp_path / "r.tgf").write_text("1 0 0 0\n2 1 0 0\n3 2 0 0\n4 0 1 0\n#\n1 2\n2 3\n#\n")
    rig = load_rig(tmp_path / "r.tgf")
    assert not rig.is_skeleton and rig.handle_names == ["joint3", "bone0", "bone1"]  # point handles first
    assert rig.handle_parents().tolist() == [-1, -1, 1]
    for original in (rig.with_deform([True, False, True]), skeleton.with_deform(np.arange(8) % 3 != 0)):
        save_rig(original, tmp_path / "r.json")
        back = load_rig(tmp_path / "r.json")
        assert back.is_skeleton == original.is_skeleton and back.handle_names == original.handle_names
        np.testing.assert_array_equal(back.deform, original.deform)
        np.testing.assert_array_equal(back.handle_segments(), original.handle_segments())
        np.testing.assert_array_equal(back.handle_parents(), original.handle_parents())
    data = rig_to_json(rig.with_deform([True, False, True]))
    assert data["bones"][0].get("deform", True) is False and "deform" not in data["bones"][1]


@pytest.mark.parametrize(
    "change, problem",
    [
        (lambda d: d["bones"][1].update(name="upper"), "two handles are named 'upper'"),
        (lambda d: d["joints"][2].update(name="a"), "two joints are named 'a'"),
        (lambda d: d["bones"][0].update(joints=[0, 1.5]), "a joint must be a name or an integer index, got 1.5"),
        (lambda d: d["bones"][0].update(joints=[True, 1]), "integer index, got True"),
        (lambda d: d["bones"][0].update(deform="no"), "'deform' must be true or false"),
        (lambda d: d.update(painted=[{"handle": "upper", "vertices": [1, 2.5]}]), "vertices must be integer"),
        (lambda d: d.update(layout="tree"), "unknown rig layout 'tree'"),
    ],
)
def test_bad_rig_json_names_the_problem(change, problem):
    data = {
        "joints": [{"name": n, "position": p} for n, p in zip("abc", [[0, 0, 0], [1, 0, 0], [2, 0, 0]])],
        "bones": [{"name": "upper", "joints": ["a", "b"]}, {"name": "lower", "joints": ["b", "c"]}],
    }
    change(data)
    with pytest.raises(InputError, match=problem):
        rig_from_json(json.loads(json.dumps(data)), "rig.json")


def test_bad_skeletons():
    with pytest.raises(InputError, match="two joints are named 'a'"):
        Rig.from_skeleton(np.zeros((2, 3)), [-1, 0], ["a", "a"])
    with pytest.raises(InputError, match="cycle"):
        Rig.from_skeleton(np.eye(3), [1, 2, 0], ["a", "b", "c"])
    with pytest.raises(InputError, match="outside -1..1"):
        Rig.from_skeleton(np.eye(3)[:2], [-1, 5], ["a", "b"])
    with pytest.raises(InputError, match="a skin's skeleton"):  # bone edits are for bone rigs
        from fieldrig.gui.rig_edit import add_point_handle

        add_point_handle(Rig.from_skeleton(np.eye(3), [-1, 0, 1], ["a", "b", "c"]), [0, 0, 0])


@pytest.mark.parametrize("scale", [1e-9, 1.0, 1e20])
@pytest.mark.parametrize("shift", [0.0, 100.0])
def test_tolerances_follow_the_rig_size(scale, shift):
    joints = (np.array([[0, 0, 0], [1, 0, 0], [1, 0, 0], [2, 0.5, 0]]) + shift) * scale
    rig = Rig.from_arrays(joints, [[0, 1], [2, 3]])  # short bones at any scale are bones
    assert rig.n_handles == 2
    with pytest.raises(InputError, match="zero length"):
        Rig.from_arrays(joints, [[1, 2]])  # joints 1 and 2 coincide at every scale
    skeleton = Rig.from_skeleton(joints, [-1, 0, 1, 2], list("abcd"))
    # c sits at b's position whatever the units: b is a point, c has the segment to d
    assert skeleton.bones.tolist() == [[0, 1], [2, 3]] and skeleton.point_handles.tolist() == [1, 3]
