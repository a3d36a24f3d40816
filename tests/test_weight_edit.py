"""Weight editing tools: every result stays on the simplex, locked joints keep their values."""

import numpy as np
import pytest

from fieldrig.core.errors import InputError
from fieldrig.geometry.weight_edit import (
    BrushStroke,
    brush_falloff,
    brush_vertices,
    dab_centres,
    limit_influences,
    mirror_joint_map,
    mirror_vertex_map,
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


def test_mirror_vertex_map_sends_each_target_vertex_to_its_mirror_image():
    V, _ = _grid()
    source, side, unmatched = mirror_vertex_map(V, axis=0, from_positive=False)
    assert unmatched == 0
    assert np.array_equal(side, np.sign(-V[:, 0]).astype(int))
    left = side < 0  # x > 0 is the target side here
    np.testing.assert_allclose(V[source[left]], V[left] * [-1, 1, 1], atol=1e-12)
    assert np.array_equal(source[~left], np.flatnonzero(~left))
    bumped = V.copy()
    bumped[V[:, 0] < -0.5, 1] += 0.05  # an asymmetric mesh: those vertices have no exact mirror
    assert mirror_vertex_map(bumped, axis=0)[2] == int((V[:, 0] > 0.5).sum())


def test_dab_centres_are_evenly_spaced_across_moves():
    spacing = 0.25
    last, centres = np.zeros(3), []
    for x in (0.1, 0.3, 0.35, 1.0, 1.01):  # slow then fast moves along x
        new = dab_centres(last, [x, 0, 0], spacing)
        centres += list(new)
        last = new[-1] if len(new) else last
    np.testing.assert_allclose(np.array(centres)[:, 0], [0.25, 0.5, 0.75, 1.0])
    assert dab_centres(np.zeros(3), [0.2, 0, 0], spacing).shape == (0, 3)
    with pytest.raises(InputError, match="spacing"):
        dab_centres(np.zeros(3), np.ones(3), 0.0)


def _strip(n=41):
    """Vertices on the x axis from 0 to 1, neighbours along it, and weights all on joint 0."""
    V = np.c_[np.linspace(0, 1, n), np.zeros(n), np.zeros(n)]
    F = np.c_[np.arange(n - 2), np.arange(1, n - 1), np.arange(2, n)]
    W = np.c_[np.ones(n), np.zeros(n), np.zeros(n)]
    return V, F, W


def test_a_stroke_acts_once_per_vertex_unless_it_accumulates():
    V, _, W = _strip()
    once = BrushStroke(W, V, joint=1, mode="add", value=0.5, radius=0.2, strength=0.6, falloff="linear")
    twice = BrushStroke(W, V, joint=1, mode="add", value=0.5, radius=0.2, strength=0.6, falloff="linear",
                        accumulate=True)  # fmt: skip
    for stroke in (once, twice):
        for _ in range(3):  # the same spot, three times
            changed = stroke.dab([0.5, 0, 0])
        assert set(changed) == set(np.flatnonzero(np.abs(V[:, 0] - 0.5) < 0.2))
        assert _on_simplex(stroke.weights) and np.array_equal(stroke.painted, np.sort(changed))
    expected = paint(W, changed, 0.6 * (1 - np.abs(V[changed, 0] - 0.5) / 0.2), 1, "add", 0.5)
    np.testing.assert_allclose(once.weights, expected, atol=1e-12)  # exactly one dab's worth
    assert twice.weights[20, 1] == pytest.approx(min(1.0, 3 * 0.6 * 0.5))  # three dabs' worth at the centre
    # a weaker dab later in the stroke does not take back what a stronger one gave
    once.dab([0.52, 0, 0])
    assert once.weights[20, 1] == pytest.approx(expected[20, 1])
    assert np.array_equal(W[:, 0], np.ones(len(W)))  # the table the stroke started from is untouched


def test_stroke_modes_locks_and_smoothing():
    V, F, W = _strip()
    W = np.c_[np.where(V[:, 0] < 0.5, 1.0, 0.0), np.where(V[:, 0] < 0.5, 0.0, 1.0), np.zeros(len(V))]
    lock = np.array([False, False, True])
    replace = BrushStroke(W, V, joint=2, mode="replace", value=0.3, radius=0.3, falloff="constant")
    replace.dab([0.2, 0, 0])
    inside = np.abs(V[:, 0] - 0.2) < 0.3
    np.testing.assert_allclose(replace.weights[inside, 2], 0.3)
    assert _on_simplex(replace.weights)
    with pytest.raises(InputError, match="locked"):
        BrushStroke(W, V, joint=2, locked=lock)
    with pytest.raises(InputError, match="neighbours"):
        BrushStroke(W, V, joint=0, mode="smooth")
    smooth = BrushStroke(W, V, joint=0, mode="smooth", radius=0.2, adjacency=vertex_adjacency(len(V), F))
    before = np.abs(np.diff(W[:, 0])).max()
    for _ in range(5):
        smooth.dab([0.5, 0, 0])  # smoothing accumulates: the step at x = 0.5 spreads out
    assert np.abs(np.diff(smooth.weights[:, 0])).max() < 0.5 * before and _on_simplex(smooth.weights)
    for bad, message in ((dict(strength=1.5), "strength"), (dict(value=-0.1), "value"), (dict(radius=0), "radius")):
        with pytest.raises(InputError, match=message):
            BrushStroke(W, V, joint=0, **bad)
