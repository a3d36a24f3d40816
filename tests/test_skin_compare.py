"""Comparison figures of two skins, on tiny cases with known answers."""

import numpy as np
import pytest

from fieldrig.core.errors import InputError
from fieldrig.geometry.rotations import axis_angle_matrix
from fieldrig.geometry.skin_compare import (
    clip_times,
    compare_skins,
    same_dominant_share,
    skinned_positions,
    vertex_weight_l1,
)
from fieldrig.geometry.skinned_asset import Clip, Skeleton


class _Swing(Clip):
    """Joint 0 stays at its bind transform; joint 1 turns about z through the origin by
    ``degrees_per_second · t``."""

    def __init__(self, duration, degrees_per_second):
        super().__init__("swing", duration)
        self.rate = degrees_per_second

    def joint_world(self, t):
        G = np.tile(np.eye(4), (2, 1, 1))
        G[1, :3, :3] = axis_angle_matrix([0, 0, 1], self.rate * min(max(t, 0.0), self.duration))
        return G


def _skeleton():
    return Skeleton(["fixed", "turning"], np.array([-1, 0]), np.tile(np.eye(4), (2, 1, 1)))


def test_a_vertex_on_the_other_joint_is_off_by_the_chord_of_the_turn():
    # vertex 0 at radius 2 on the turning joint in a, on the fixed one in b: distance 2·r·sin(θ/2);
    # vertices 1, 2 agree, and a box corner pins the diagonal
    V = np.array([[2.0, 0, 0], [0, 0, 0], [1.0, 1.0, 1.0]])
    W_a = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    W_b = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    clip = _Swing(1.0, 90.0)
    c = compare_skins(V, W_a, W_b, _skeleton(), clip, fps=4)
    assert np.allclose(c.times, [0, 0.25, 0.5, 0.75, 1.0])
    chords = 2 * 2.0 * np.sin(np.radians(90.0 * c.times) / 2)
    assert c.max == pytest.approx(chords.max())
    assert c.mean == pytest.approx(chords.sum() / (3 * len(c.times)))
    assert np.allclose(c.vertex_max_distance, [chords.max(), 0, 0])
    assert c.diagonal == pytest.approx(np.sqrt(4 + 1 + 1))
    assert c.max_pct == pytest.approx(100 * chords.max() / np.sqrt(6))
    assert np.allclose(c.vertex_l1, [1, 0, 0]) and c.l1 == pytest.approx(1 / 3)
    assert c.same_dominant == pytest.approx(2 / 3)
    assert c.unweighted_a == 0 and c.unweighted_b == 0


def test_p95_is_the_percentile_over_frames_and_vertices():
    rng = np.random.default_rng(3)
    V = rng.normal(size=(40, 3))
    W_a = rng.random((40, 2))
    W_b = rng.random((40, 2))
    clip = _Swing(2.0, 45.0)
    c = compare_skins(V, W_a, W_b, _skeleton(), clip, fps=5)
    # independent: rows normalised by hand, LBS written out
    A, B = W_a / W_a.sum(1, keepdims=True), W_b / W_b.sum(1, keepdims=True)
    d = []
    for t in c.times:
        R = axis_angle_matrix([0, 0, 1], 45.0 * t)
        Xa = A[:, :1] * V + A[:, 1:] * (V @ R.T)
        Xb = B[:, :1] * V + B[:, 1:] * (V @ R.T)
        d.append(np.linalg.norm(Xa - Xb, axis=1))
    d = np.concatenate(d)
    assert c.p95 == pytest.approx(np.percentile(d, 95)) and c.mean == pytest.approx(d.mean())


class _Scaled(Clip):
    """Another clip under a uniformly scaled root: every world transform × ``k``."""

    def __init__(self, clip, k):
        super().__init__(clip.name, clip.duration)
        self.clip, self.k = clip, k

    def joint_world(self, t):
        S = np.diag([self.k, self.k, self.k, 1.0])
        return S @ self.clip.joint_world(t)


def test_a_scaled_scene_is_measured_in_bind_pose_units():
    rng = np.random.default_rng(5)
    V, W_a, W_b = rng.normal(size=(30, 3)), rng.random((30, 2)), rng.random((30, 2))
    clip = _Swing(1.0, 60.0)
    plain = compare_skins(V, W_a, W_b, _skeleton(), clip, fps=6)
    scaled = compare_skins(V, W_a, W_b, _skeleton(), _Scaled(clip, 100.0), fps=6)
    assert scaled.mean == pytest.approx(plain.mean) and scaled.max == pytest.approx(plain.max)
    assert plain.mean > 0


def test_identical_skins_and_the_bind_pose_give_zero():
    rng = np.random.default_rng(0)
    V, W = rng.random((10, 3)), rng.random((10, 2))
    c = compare_skins(V, W, 3 * W, _skeleton(), _Swing(1.0, 30.0))
    assert c.max == pytest.approx(0, abs=1e-12) and c.l1 == pytest.approx(0, abs=1e-12) and c.same_dominant == 1
    still = compare_skins(V, W, W[:, ::-1], _skeleton(), _Swing(0.0, 30.0))
    assert np.allclose(still.times, [0]) and still.max == pytest.approx(0, abs=1e-12)


def test_weight_l1_is_half_the_row_difference_of_normalised_rows():
    W_a = np.array([[1.0, 0.0], [0.5, 0.5], [2.0, 0.0], [0.2, 0.6]])
    W_b = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [0.25, 0.75]])
    assert np.allclose(vertex_weight_l1(W_a, W_b), [1.0, 0.5, 0.0, 0.0])


def test_unweighted_vertices_stay_at_rest_count_and_never_agree():
    V = np.array([[1.0, 0, 0], [2.0, 0, 0]])
    W_a = np.array([[0.0, 0.0], [0.0, 1.0]])
    W_b = np.array([[0.0, 1.0], [0.0, 1.0]])
    T = _Swing(1.0, 90.0).skinning_transforms(_skeleton(), 1.0)
    X = skinned_positions(V, W_a, T)
    assert np.allclose(X, [[1, 0, 0], [0, 2, 0]], atol=1e-12)
    c = compare_skins(V, W_a, W_b, _skeleton(), _Swing(1.0, 90.0), fps=1)
    assert c.unweighted_a == 1 and c.unweighted_b == 0
    assert c.max == pytest.approx(np.sqrt(2))  # vertex 0: at rest (1,0,0) against turned (0,1,0)
    assert same_dominant_share(W_a, W_b) == 0.5


def test_clip_times_cover_the_clip_at_the_rate():
    assert len(clip_times(_Swing(1.0, 1.0), 30)) == 31
    assert clip_times(_Swing(0.5, 1.0), 30)[-1] == pytest.approx(0.5)
    with pytest.raises(InputError, match="fps"):
        clip_times(_Swing(1.0, 1.0), 0)


def test_mismatched_weights_are_refused_with_their_shapes():
    V = np.zeros((3, 3))
    with pytest.raises(InputError, match=r"\(3, 2\) and \(3, 3\)"):
        compare_skins(V, np.ones((3, 2)), np.ones((3, 3)), _skeleton(), _Swing(1.0, 1.0))
    with pytest.raises(InputError, match=r"expected \(3, 2\) weights"):
        compare_skins(V, np.ones((4, 2)), np.ones((4, 2)), _skeleton(), _Swing(1.0, 1.0))
