"""Weight editing tools: every result stays on the simplex, locked joints keep their values."""

import numpy as np
import pytest

from fieldrig.core.errors import InputError
from fieldrig.geometry.weight_edit import (
    brush_falloff,
    brush_vertices,
    limit_influences,
    mirror_joint_map,
    mirror_weights,
    mirrored_name,
    normalize,
    paint,
    prune,
    vertex_adjacency,
)


def _random_weights(n=50, H=5, seed=0):
    W = np.random.default_rng(seed).random((n, H)) ** 3
    return W / W.sum(axis=1, keepdims=True)


def _on_simplex(W):
    return W.min() >= 0 and np.allclose(W.sum(axis=1), 1.0, atol=1e-12)


def _grid(n=9):
    """A flat n×n grid in x, y ∈ [-1, 1], symmetric about x = 0."""
    x, y = np.meshgrid(np.linspace(-1, 1, n), np.linspace(-1, 1, n))
    V = np.c_[x.ravel(), y.ravel(), np.zeros(n * n)]
    q = np.arange(n * n).reshape(n, n)[:-1, :-1].ravel()
    F = np.r_[np.c_[q, q + 1, q + n], np.c_[q + 1, q + n + 1, q + n]]
    return V, F


def test_normalize_keeps_locked_columns():
    W = _random_weights() * 1.7
    lock = np.array([True, False, False, False, False])
    W[:, 0] = 0.3
    out = normalize(W, lock)
    assert _on_simplex(out) and np.allclose(out[:, 0], 0.3)
    assert np.allclose(out[:, 1] / out[:, 2], W[:, 1] / W[:, 2])


def test_normalize_rows_with_only_locked_weight_scale_the_locked_ones():
    W = np.array([[0.5, 0.0, 0.0], [0.0, 0.0, 0.0]])
    out = normalize(W, np.array([True, False, False]))
    assert np.allclose(out, [[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])


def test_prune_drops_small_weights_but_never_the_largest():
    W = np.array([[0.02, 0.03, 0.95], [0.3, 0.3, 0.4], [0.01, 0.01, 0.98]])
    out = prune(W, 0.05)
    assert _on_simplex(out) and np.all((out == 0) | (W >= 0.05))
    assert np.allclose(out[0], [0, 0, 1]) and np.allclose(out[1], W[1])
    assert _on_simplex(prune(np.full((2, 4), 0.25), 0.5))  # every weight below: the largest stays


def test_limit_influences():
    W = _random_weights(H=8)
    out = limit_influences(W, 3)
    assert _on_simplex(out) and np.all((out > 0).sum(axis=1) <= 3)
    top = np.sort(W, axis=1)[:, -3:]
    assert np.allclose(np.sort(out, axis=1)[:, -3:], top / top.sum(axis=1, keepdims=True))


def test_limit_influences_keeps_locked_influences():
    W = _random_weights(H=6)
    W[:, 5] = 0.001
    W /= W.sum(axis=1, keepdims=True)
    lock = np.zeros(6, bool)
    lock[5] = True
    out = limit_influences(W, 2, lock)
    assert np.allclose(out[:, 5], W[:, 5]) and np.all((out > 0).sum(axis=1) <= 2) and _on_simplex(out)


@pytest.mark.parametrize("mode", ["add", "subtract", "replace"])
def test_paint_moves_one_joint_and_rescales_the_others_proportionally(mode):
    W = _random_weights()
    lock = np.array([False, False, True, False, False])
    v = np.arange(10, 30)
    s = np.linspace(0.1, 1.0, len(v))
    out = paint(W, v, s, joint=1, mode=mode, value=0.6, locked=lock)
    assert _on_simplex(out) and np.allclose(out[:, 2], W[:, 2])
    assert np.array_equal(out[:30][:10], W[:10]) and np.array_equal(out[30:], W[30:])
    others = [0, 3, 4]
    left = out[np.ix_(v, others)].sum(axis=1) > 0  # painting to the full row leaves the others nothing
    ratio_before = W[np.ix_(v, others)] / W[np.ix_(v, others)].sum(axis=1, keepdims=True)
    ratio_after = out[np.ix_(v, others)][left] / out[np.ix_(v, others)][left].sum(axis=1, keepdims=True)
    assert left.sum() > 5 and np.allclose(ratio_before[left], ratio_after)
    change = out[v, 1] - W[v, 1]
    assert {"add": np.all(change >= 0), "subtract": np.all(change <= 0), "replace": True}[mode]


def test_replace_at_full_strength_sets_the_value():
    W = _random_weights()
    out = paint(W, np.arange(5), 1.0, joint=3, mode="replace", value=0.25)
    assert np.allclose(out[:5, 3], 0.25) and _on_simplex(out)


def test_subtracting_from_a_vertex_owned_by_one_joint_changes_nothing():
    W = np.array([[0.0, 1.0, 0.0]])
    assert np.array_equal(paint(W, [0], 1.0, joint=1, mode="subtract"), W)


def test_painting_a_locked_joint_is_refused():
    with pytest.raises(InputError, match="locked"):
        paint(_random_weights(), [0], 1.0, joint=0, locked=np.array([True, False, False, False, False]))


def test_smooth_keeps_constants_and_lowers_the_roughness():
    V, F = _grid()
    A = vertex_adjacency(len(V), F)
    constant = np.tile([0.2, 0.3, 0.5], (len(V), 1))
    everywhere = np.arange(len(V))
    assert np.allclose(paint(constant, everywhere, 1.0, 0, mode="smooth", adjacency=A), constant)
    noisy = _random_weights(len(V), 3, seed=4)
    L = np.asarray(A.sum(axis=1)).ravel()[:, None] * noisy - A @ noisy
    smooth = paint(noisy, everywhere, 0.8, 0, mode="smooth", adjacency=A)
    L_after = np.asarray(A.sum(axis=1)).ravel()[:, None] * smooth - A @ smooth
    assert _on_simplex(smooth) and np.abs(L_after).sum() < 0.5 * np.abs(L).sum()


def test_falloff_profiles():
    d = np.array([0.0, 0.25, 0.5, 0.999, 1.0, 2.0])
    for kind in ("smooth", "linear", "constant"):
        f = brush_falloff(d, 1.0, kind)
        assert f[0] == 1 and f[4] == 0 and f[5] == 0 and np.all(np.diff(f) <= 0)
    with pytest.raises(InputError, match="radius"):
        brush_falloff(d, 0.0)


def test_brush_vertices_are_the_ones_within_the_radius():
    V, _ = _grid()
    idx, dist = brush_vertices(V, [0, 0, 0], 0.3)
    assert np.all(dist < 0.3) and set(idx) == set(np.flatnonzero(np.linalg.norm(V, axis=1) < 0.3))


@pytest.mark.parametrize(
    "name, other",
    [("hand.L", "hand.R"), ("arm_r", "arm_l"), ("L_foot", "R_foot"), ("LeftArm", "RightArm"),
     ("mixamorig:RightHand", "mixamorig:LeftHand"), ("leg-l", "leg-r"), ("Spine", None), ("Head", None),
     ("Eyelid", None)],
)  # fmt: skip
def test_mirrored_names(name, other):
    assert mirrored_name(name) == other


def test_mirror_joint_map_pairs_existing_names_only():
    names = ["Hips", "Leg_L", "Leg_R", "Arm_L"]
    perm = mirror_joint_map(names)
    assert list(perm) == [0, 2, 1, 3] and np.array_equal(perm[perm], np.arange(4))


def test_mirrored_weights_are_symmetric():
    V, _ = _grid()
    names = ["Root", "Arm_L", "Arm_R"]
    W = _random_weights(len(V), 3, seed=2)
    out, unmatched = mirror_weights(W, V, names, axis=0, from_positive=True)
    assert unmatched == 0 and _on_simplex(out)
    mirror = np.array([np.argmin(np.linalg.norm(V - v * [-1, 1, 1], axis=1)) for v in V])
    assert np.allclose(out, out[mirror][:, [0, 2, 1]])
    right = V[:, 0] > 1e-9
    assert np.array_equal(out[right], W[right])  # the source side is untouched
