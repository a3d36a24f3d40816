"""LBS / DQS: identities, rigid invariance, antipodality, the candy-wrapper effect, Skinner."""

import numpy as np
import pytest

from fieldrig.core.errors import InputError
from fieldrig.geometry.deform import Skinner, dual_quaternion_skinning, linear_blend_skinning
from fieldrig.geometry.rotations import axis_angle_matrix

DEFORMERS = [
    linear_blend_skinning,
    dual_quaternion_skinning,
    lambda V, W, T: Skinner(V, W).lbs(T),
    lambda V, W, T: Skinner(V, W).dqs(T),
]


def _rigid(axis, degrees, t):
    T = np.eye(4)
    T[:3, :3] = axis_angle_matrix(axis, degrees)
    T[:3, 3] = t
    return T


@pytest.fixture
def cloud():
    rng = np.random.default_rng(0)
    V = rng.normal(size=(200, 3))
    W = rng.random((200, 5))
    return V, W / W.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("deform", DEFORMERS)
def test_identity_transforms_give_rest_pose(cloud, deform):
    V, W = cloud
    np.testing.assert_allclose(deform(V, W, np.tile(np.eye(4), (5, 1, 1))), V, atol=1e-12)


@pytest.mark.parametrize("deform", DEFORMERS)
def test_same_rigid_transform_everywhere_moves_rigidly(cloud, deform):
    V, W = cloud
    T = _rigid([1, 2, -0.5], 133.0, [0.3, -2.0, 1.5])
    out = deform(V, W, np.tile(T, (5, 1, 1)))
    np.testing.assert_allclose(out, V @ T[:3, :3].T + T[:3, 3], atol=1e-10)


def test_one_hot_weights_follow_their_handle_exactly(cloud):
    V, _ = cloud
    T = np.stack([_rigid(np.random.default_rng(h).normal(size=3), 40.0 * h + 7, [h, -h, 0.5]) for h in range(5)])
    W = np.eye(5)[np.arange(len(V)) % 5]
    expected = np.einsum("nij,nj->ni", T[np.arange(len(V)) % 5, :3, :3], V) + T[np.arange(len(V)) % 5, :3, 3]
    for deform in DEFORMERS:
        np.testing.assert_allclose(deform(V, W, T), expected, atol=1e-10)


def test_3x4_transforms_and_float32_path(cloud):
    V, W = cloud
    T = np.stack([_rigid([0, 0, 1], 10.0 * h, [h, 0, 0]) for h in range(5)])
    full = linear_blend_skinning(V, W, T)
    np.testing.assert_allclose(linear_blend_skinning(V, W, T[:, :3]), full)
    out32 = linear_blend_skinning(V.astype(np.float32), W.astype(np.float32), T)
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, full, atol=1e-4)
    dq32 = dual_quaternion_skinning(V.astype(np.float32), W.astype(np.float32), T)
    assert dq32.dtype == np.float32
    np.testing.assert_allclose(dq32, dual_quaternion_skinning(V, W, T), atol=1e-4)


def test_dqs_blends_antipodal_quaternions_the_short_way():
    # +170° and -170° about z are 20° apart; their quaternions are nearly antipodal
    T = np.stack([_rigid([0, 0, 1], 170.0, [0, 0, 0]), _rigid([0, 0, 1], -170.0, [0, 0, 0])])
    out = dual_quaternion_skinning(np.array([[1.0, 0, 0]]), np.array([[0.5, 0.5]]), T)
    np.testing.assert_allclose(out, [[-1.0, 0, 0]], atol=1e-12)


def test_dqs_ignores_scale_and_keeps_zero_weight_vertices_at_rest():
    T = np.eye(4)[None].copy()
    T[0, :3, :3] = 2.0 * axis_angle_matrix([0, 0, 1], 90.0)
    V = np.array([[1.0, 0, 0], [0, 2.0, 0]])
    out = dual_quaternion_skinning(V, np.array([[1.0], [0.0]]), T)
    np.testing.assert_allclose(out, [[0, 1.0, 0], [0, 2.0, 0]], atol=1e-12)


def test_candy_wrapper_lbs_collapses_dqs_keeps_volume():
    # a tube along x, radius 1; bone 0 holds x < 0, bone 1 holds x > 0, 50/50 at x = 0
    theta = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    x = np.linspace(-2, 2, 21)
    X, Th = np.meshgrid(x, theta, indexing="ij")
    V = np.stack([X.ravel(), np.cos(Th).ravel(), np.sin(Th).ravel()], axis=1)
    w1 = np.clip(0.5 + V[:, 0] / 2, 0, 1)
    W = np.stack([1 - w1, w1], axis=1)
    T = np.stack([np.eye(4), _rigid([1, 0, 0], 180.0, [0, 0, 0])])  # twist bone 1 about the tube axis

    def radius(P):
        return np.linalg.norm(P[:, 1:], axis=1)

    middle = np.abs(V[:, 0]) < 1e-9
    lbs = linear_blend_skinning(V, W, T)
    dqs = dual_quaternion_skinning(V, W, T)
    assert radius(lbs[middle]).max() < 1e-9  # LBS: the middle ring collapses onto the axis
    np.testing.assert_allclose(radius(dqs), 1.0, atol=1e-9)  # DQS: every ring keeps its radius
    np.testing.assert_allclose(dqs[:, 0], V[:, 0], atol=1e-9)


def test_skinner_pruning_renormalises(cloud):
    V, W = cloud
    T = np.stack([_rigid([1, 0, 0], 30.0 * h, [0, h, 0]) for h in range(5)])
    pruned = Skinner(V, W, max_influences=2)
    assert pruned.weights.getnnz(axis=1).max() == 2
    np.testing.assert_allclose(np.asarray(pruned.weights.sum(axis=1)).ravel(), 1.0)
    top2 = np.zeros_like(W)
    order = np.argsort(-W, axis=1)[:, :2]
    np.put_along_axis(top2, order, np.take_along_axis(W, order, axis=1), axis=1)
    top2 /= top2.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(pruned.lbs(T), linear_blend_skinning(V, top2, T), atol=1e-12)
    np.testing.assert_allclose(pruned.dqs(T), dual_quaternion_skinning(V, top2, T), atol=1e-12)


@pytest.mark.parametrize(
    "V, W, T, message",
    [
        (np.zeros((4, 2)), np.ones((4, 1)), np.eye(4)[None], "V: expected rest positions of shape"),
        (np.zeros((4, 3)), np.ones((3, 1)), np.eye(4)[None], "W: expected weights of shape \\(4, H\\)"),
        (np.zeros((4, 3)), np.ones((4, 2)), np.eye(4)[None], "T: expected \\(2, 4, 4\\) or \\(2, 3, 4\\)"),
        (np.zeros((4, 3)), np.ones((4, 1)), np.full((1, 4, 4), np.nan), "NaN"),
        (np.zeros((4, 3)), np.ones((4, 1)), np.ones((1, 4, 4)), "projective"),
    ],
)
def test_bad_shapes_raise_input_error(V, W, T, message):
    for deform in (linear_blend_skinning, dual_quaternion_skinning):
        with pytest.raises(InputError, match=message):
            deform(V, W, T)
