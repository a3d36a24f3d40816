"""Pose / pose_transforms: forward kinematics, JSON format, errors."""

import json

import numpy as np
import pytest

from fieldrig.core.errors import InputError
from fieldrig.geometry.pose import Pose, axis_angle_matrix, pose_transforms
from fieldrig.geometry.rig import Rig
from fieldrig.geometry.rotations import matrix_to_quaternion


@pytest.fixture
def chain():
    """An arm along x: upper (0→1), fore (1→2), hand (2→3), and a point handle at 'tip'."""
    joints = np.array([[0.0, 0, 0], [1, 0, 0], [2, 0, 0], [2.5, 0, 0], [0, 1, 0]])
    return Rig.from_arrays(
        joints,
        bones=[[0, 1], [1, 2], [2, 3]],
        point_handles=[4],
        bone_names=["upper", "fore", "hand"],
        joint_names=["s", "e", "w", "f", "tip"],
    )


def _apply(T, p):
    return T[:3, :3] @ p + T[:3, 3]


def test_rest_pose_is_identity(chain):
    np.testing.assert_array_equal(pose_transforms(chain, Pose.identity()), np.tile(np.eye(4), (4, 1, 1)))
    np.testing.assert_array_equal(pose_transforms(chain), np.tile(np.eye(4), (4, 1, 1)))


def test_rotating_a_parent_moves_the_child_pivot(chain):
    pose = Pose().set("upper", rotation=axis_angle_matrix([0, 0, 1], 90))
    T = pose_transforms(chain, pose)
    col = {n: i for i, n in enumerate(chain.handle_names)}
    # the bone rotates about its own start joint, which stays put
    np.testing.assert_allclose(_apply(T[col["upper"]], chain.joints[0]), [0, 0, 0], atol=1e-12)
    # the elbow (child's pivot) swings to +y, the child follows rigidly
    np.testing.assert_allclose(_apply(T[col["fore"]], chain.joints[1]), [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(_apply(T[col["hand"]], chain.joints[3]), [0, 2.5, 0], atol=1e-12)
    np.testing.assert_allclose(T[col["tip"]], np.eye(4))  # point handles are roots


def test_child_rotation_composes_with_parent(chain):
    pose = (
        Pose()
        .set("upper", rotation=axis_angle_matrix([0, 0, 1], 90))
        .set("fore", rotation=axis_angle_matrix([0, 0, 1], 90))
    )
    T = pose_transforms(chain, pose)
    fore = chain.handle_names.index("fore")
    np.testing.assert_allclose(_apply(T[fore], chain.joints[1]), [0, 1, 0], atol=1e-12)  # elbow
    np.testing.assert_allclose(_apply(T[fore], chain.joints[2]), [-1, 1, 0], atol=1e-12)  # wrist: 180° total


def test_translations_of_roots_and_point_handles(chain):
    pose = (
        Pose()
        .set("upper", translation=[0, 0, 2])
        .set("tip", rotation=axis_angle_matrix([1, 0, 0], 45), translation=[1, 0, 0])
    )
    T = pose_transforms(chain, pose)
    for h in (1, 2, 3):  # every bone follows the root translation
        np.testing.assert_allclose(T[h][:3, 3], [0, 0, 2])
        np.testing.assert_allclose(T[h][:3, :3], np.eye(3), atol=1e-15)
    np.testing.assert_allclose(_apply(T[0], chain.joints[4]), chain.joints[4] + [1, 0, 0], atol=1e-12)


def test_json_round_trip_and_rotation_spellings(tmp_path, chain):
    pose = Pose().set("fore", rotation=axis_angle_matrix([1, 1, 0], 33), translation=[0.1, 0.2, 0.3])
    pose.set("tip", rotation=axis_angle_matrix([0, 0, 1], -20))
    path = tmp_path / "pose.json"
    pose.save(path)
    back = Pose.load(path)
    assert back.handles == ["fore", "tip"]
    np.testing.assert_allclose(pose_transforms(chain, back), pose_transforms(chain, pose), atol=1e-14)
    assert json.loads(path.read_text())["format"] == "fieldrig.pose"

    R = axis_angle_matrix([0, 1, 1], 70)
    q = matrix_to_quaternion(R)
    spellings = [{"rotation": R.tolist()}, {"axis_angle_deg": [0, 1, 1, 70]}, {"quaternion": (-q).tolist()}]
    for entry in spellings:
        parsed = Pose.from_json({"handles": {"hand": entry}})
        np.testing.assert_allclose(parsed.rotations["hand"], R, atol=1e-12)


def test_arrays_round_trip(chain):
    rng = np.random.default_rng(1)
    R = np.stack([axis_angle_matrix(rng.normal(size=3), rng.uniform(-180, 180)) for _ in range(4)])
    t = rng.normal(size=(4, 3))
    R2, t2 = Pose.from_arrays(chain, R, t).local_arrays(chain)
    np.testing.assert_allclose(R2, R, atol=1e-12)
    np.testing.assert_allclose(t2, t)


@pytest.mark.parametrize(
    "content, problem",
    [
        ("{not json", "invalid JSON"),
        ('{"joints": []}', "'handles' object"),
        ('{"handles": {"fore": {"rotation": [[2, 0, 0], [0, 1, 0], [0, 0, 1]]}}}', "not a rotation matrix"),
        ('{"handles": {"fore": {"rotation": [[1, 0], [0, 1]]}}}', "rotation must be 3×3"),
        ('{"handles": {"fore": {"axis_angle_deg": [0, 0, 0, 30]}}}', "zero axis"),
        (
            '{"handles": {"fore": {"quaternion": [1, 0, 0, 0], "rotation": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]}}}',
            "give one of",
        ),
        ('{"handles": {"fore": {"translation": ["a", 0, 0]}}}', "translation must be 3"),
        ('{"handles": {"fore": {"twist": 3}}}', "unknown key"),
    ],
)
def test_bad_pose_files(tmp_path, content, problem):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(InputError) as info:
        Pose.load(path)
    assert str(path) in str(info.value) and problem in str(info.value)


def test_errors_naming_handles(tmp_path, chain):
    with pytest.raises(InputError, match="pose file not found"):
        Pose.load(tmp_path / "missing.json")
    with pytest.raises(InputError, match="unknown handle 'elbow'.*upper"):
        pose_transforms(chain, Pose().set("elbow", rotation=np.eye(3)))
    with pytest.raises(InputError, match="rotation matrix"):
        Pose().set("fore", rotation=np.diag([1.0, 1.0, -1.0]))
