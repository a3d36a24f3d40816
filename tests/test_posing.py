"""Posing by hand: quaternion turns without locks, axis and angle, a handle's frame and the
local pose that puts it anywhere (its subtree follows), mirrored poses on symmetric rigs."""

import numpy as np
import pytest

from fieldrig.core.errors import InputError
from fieldrig.geometry.pose import Pose, pose_transforms
from fieldrig.geometry.posing import (
    axis_angle,
    handle_frame,
    local_from_frame,
    mirror_pose,
    mirror_rotation,
    quaternion_multiply,
    reflection,
    turn,
)
from fieldrig.geometry.rig import Rig
from fieldrig.geometry.rotations import axis_angle_matrix, matrix_to_quaternion, quaternion_to_matrix
from fieldrig.geometry.weight_edit import mirror_joint_map


def random_rotation(rng):
    return quaternion_to_matrix(rng.normal(size=4))


@pytest.fixture
def legs():
    """A rig symmetric across x = 0: pelvis (root) → spine, thigh_l → shin_l, thigh_r → shin_r."""
    joints = np.array(
        [
            [0.0, 1.0, 0.0],  # 0 pelvis
            [0.0, 1.5, 0.05],  # 1 chest
            [0.2, 1.0, 0.0],  # 2 hip l
            [0.25, 0.5, 0.05],  # 3 knee l
            [0.3, 0.0, 0.0],  # 4 ankle l
            [-0.2, 1.0, 0.0],  # 5 hip r
            [-0.25, 0.5, 0.05],  # 6 knee r
            [-0.3, 0.0, 0.0],  # 7 ankle r
        ]
    )
    bones = [[0, 1], [2, 3], [3, 4], [5, 6], [6, 7], [0, 2], [0, 5]]
    names = ["spine", "thigh_l", "shin_l", "thigh_r", "shin_r", "hip_l", "hip_r"]
    parents = [-1, 5, 1, 6, 3, -1, -1]
    return Rig.from_arrays(joints, bones, [], parents, bone_names=names)


def random_pose(rig, rng, translate=()):
    pose = Pose()
    for name in rig.handle_names:
        pose.set(name, rotation=axis_angle_matrix(rng.normal(size=3), rng.uniform(-120, 120)))
    for name in translate:
        pose.set(name, translation=rng.normal(scale=0.1, size=3))
    return pose


# ------------------------------------------------------------------------------ rotations
def test_quaternion_product_is_the_matrix_product():
    rng = np.random.default_rng(0)
    for _ in range(20):
        a, b = rng.normal(size=4), rng.normal(size=4)
        a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
        np.testing.assert_allclose(
            quaternion_to_matrix(quaternion_multiply(a, b)),
            quaternion_to_matrix(a) @ quaternion_to_matrix(b),
            atol=1e-12,
        )
    np.testing.assert_allclose(quaternion_multiply([1, 0, 0, 0], [0.5, 0.5, 0.5, 0.5]), [0.5, 0.5, 0.5, 0.5])


def test_turns_pass_through_90_degrees_and_stay_rotations():
    # Euler XYZ sliders lock at ±90° about Y; quaternion turns go through it and on
    R = axis_angle_matrix([1, 0, 0], 30)
    for _ in range(12):
        R = turn(R, [0, 1, 0], 10)
    np.testing.assert_allclose(R, axis_angle_matrix([0, 1, 0], 120) @ axis_angle_matrix([1, 0, 0], 30), atol=1e-12)
    rng = np.random.default_rng(1)
    for _ in range(2000):  # long chains do not drift off the rotations
        R = turn(R, rng.normal(size=3), rng.uniform(-30, 30))
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert abs(np.linalg.det(R) - 1) < 1e-12
    with pytest.raises(InputError, match="not all zero"):
        turn(R, [0, 0, 0], 10)


@pytest.mark.parametrize("degrees", [0.0, 1e-3, 45.0, 89.0, 90.0, 91.0, 179.0, 180.0])
def test_axis_angle_recovers_what_built_the_rotation(degrees):
    axis = np.array([0.3, -0.5, 0.8]) / np.linalg.norm([0.3, -0.5, 0.8])
    a, d = axis_angle(axis_angle_matrix(axis, degrees))
    assert d == pytest.approx(degrees, abs=1e-6)
    if degrees == 0:
        np.testing.assert_array_equal(a, [1, 0, 0])  # the identity has no axis
    elif degrees < 180:
        np.testing.assert_allclose(a, axis, atol=1e-6)
    else:  # 180°: either sense of the axis
        np.testing.assert_allclose(np.abs(a), np.abs(axis), atol=1e-6)
    rng = np.random.default_rng(2)
    for _ in range(50):
        R = random_rotation(rng)
        np.testing.assert_allclose(axis_angle_matrix(*axis_angle(R)), R, atol=1e-9)


def test_a_mirrored_rotation_is_the_rotation_seen_in_the_mirror():
    rng = np.random.default_rng(3)
    n = rng.normal(size=3)
    S = reflection(n)
    np.testing.assert_allclose(S @ S, np.eye(3), atol=1e-12)
    for _ in range(10):
        R = random_rotation(rng)
        M = mirror_rotation(R, n)
        assert abs(np.linalg.det(M) - 1) < 1e-12
        x = rng.normal(size=3)
        np.testing.assert_allclose(M @ (S @ x), S @ (R @ x), atol=1e-12)  # mirror, turn = turn, mirror
    # a turn about the plane's normal looks the same in the mirror; one about an axis in it, reversed
    np.testing.assert_allclose(mirror_rotation(axis_angle_matrix([1, 0, 0], 40)), axis_angle_matrix([1, 0, 0], 40))
    np.testing.assert_allclose(
        mirror_rotation(axis_angle_matrix([0, 1, 0], 40)), axis_angle_matrix([0, 1, 0], -40), atol=1e-12
    )


# --------------------------------------------------------------------- frames and grabbing
def test_handle_frame_is_the_pivot_at_rest(legs):
    T = pose_transforms(legs)
    for h in range(legs.n_handles):
        F = handle_frame(legs, T, h)
        np.testing.assert_allclose(F[:3, :3], np.eye(3))
        np.testing.assert_allclose(F[:3, 3], legs.handle_pivots()[h])


@pytest.mark.parametrize("name", ["shin_l", "thigh_r", "spine"])
def test_any_handle_goes_where_it_is_put_and_its_subtree_follows(legs, name):
    rng = np.random.default_rng(4)
    pose = random_pose(legs, rng, translate=["thigh_l"])
    h = legs.handle_names.index(name)
    T = pose_transforms(legs, pose)
    target = np.eye(4)
    target[:3, :3] = random_rotation(rng)
    target[:3, 3] = handle_frame(legs, T, h)[:3, 3] + rng.normal(scale=0.3, size=3)
    R, t = local_from_frame(legs, T, h, target)
    moved = Pose(dict(pose.rotations), dict(pose.translations)).set(name, rotation=R, translation=t)
    T2 = pose_transforms(legs, moved)
    np.testing.assert_allclose(handle_frame(legs, T2, h), target, atol=1e-12)
    # the handle's subtree moves rigidly with it; nothing else moves
    M = T2[h] @ np.linalg.inv(T[h])
    parents = legs.handle_parents()
    for d in range(legs.n_handles):
        a, below = d, False
        while a >= 0:
            below |= a == h
            a = parents[a]
        np.testing.assert_allclose(T2[d], M @ T[d] if below else T[d], atol=1e-12)


# ------------------------------------------------------------------------------ mirroring
@pytest.mark.parametrize("offset", [0.0, 3.7])
def test_mirrored_pose_is_the_mirror_image_of_the_posed_rig(legs, offset):
    """T'_m = A T_h A for every handle h and its partner m, with A the reflection across the
    rig's plane of symmetry — wherever that plane is."""
    shifted = legs.rebuilt(joints=legs.joints + [offset, 0, 0])
    pose = random_pose(shifted, np.random.default_rng(5), translate=["spine", "shin_l", "hip_r"])
    mirrored = mirror_pose(shifted, pose)
    A = np.eye(4)
    A[0, 0], A[0, 3] = -1.0, 2.0 * offset
    T, T2 = pose_transforms(shifted, pose), pose_transforms(shifted, mirrored)
    names = shifted.handle_names
    swap = {"l": "r", "r": "l"}
    for h, name in enumerate(names):
        m = names.index(name[:-1] + swap[name[-1]]) if name[-2:] in ("_l", "_r") else h
        np.testing.assert_allclose(T2[m], A @ T[h] @ A, atol=1e-12)
    # twice is the pose itself
    back = mirror_pose(shifted, mirrored)
    np.testing.assert_allclose(pose_transforms(shifted, back), T, atol=1e-12)
    assert pose.rotations.keys() == back.rotations.keys()


def test_mirror_one_side_onto_the_other(legs):
    pose = Pose().set("thigh_l", rotation=axis_angle_matrix([1, 0.2, 0], 50)).set("shin_r", translation=[0, 0.1, 0])
    out = mirror_pose(legs, pose, handles=["thigh_l"])
    np.testing.assert_allclose(out.rotations["thigh_r"], mirror_rotation(pose.rotations["thigh_l"]))
    np.testing.assert_array_equal(out.rotations["thigh_l"], pose.rotations["thigh_l"])  # the source stays
    np.testing.assert_array_equal(out.translations["shin_r"], [0, 0.1, 0])  # others are kept
    assert "shin_r" not in pose.rotations and "thigh_r" not in pose.rotations  # the input is not modified
    with pytest.raises(InputError, match="unknown handle"):
        mirror_pose(legs, pose, handles=["tail"])
    # a centre handle takes its own mirrored rotation; y-mirrors use the y normal
    twisted = Pose().set("spine", rotation=axis_angle_matrix([0, 1, 0], 30))
    np.testing.assert_allclose(
        mirror_pose(legs, twisted).rotations["spine"], axis_angle_matrix([0, 1, 0], -30), atol=1e-12
    )
    q = matrix_to_quaternion(mirror_pose(legs, twisted, normal=[0, 1, 0]).rotations["spine"])
    np.testing.assert_allclose(q, matrix_to_quaternion(axis_angle_matrix([0, 1, 0], 30)), atol=1e-12)


def test_sides_between_separators_pair_up():
    """Characters name sides in the middle too (assimp's Testwuson: ForeLeg_L_03; Blender's copies: hand.L.001)."""
    names = ["ForeLeg_L_03", "Tail01", "ForeLeg_R_03", "hand.L.001", "hand.R.001", "Spine_Back01"]
    assert mirror_joint_map(names).tolist() == [2, 1, 0, 4, 3, 5]
