"""Handles and the exact handle blend (fieldrig.neural.handle_blend): samples, distances to
multi-segment handles, length scales, and beta's Lagrange/locality properties."""

import numpy as np
import torch

from fieldrig.neural.handle_blend import HandleGeometry, handle_blend


def _skin_like():
    """Three handles as a glTF skin makes them: a joint with two children (two segments),
    a child bone, and a leaf point at the end of the other child's segment."""
    starts = np.array([[0.0, 0, 0], [0.0, 0, 0], [0.0, 0, 1.0], [1.0, 0, 0]])
    ends = np.array([[0.0, 0, 1.0], [1.0, 0, 0], [0.0, 0, 2.0], [1.0, 0, 0]])
    owner = np.array([0, 0, 1, 2])
    return HandleGeometry(starts, ends, owner, 3, isolated_point=[False, False, False, True])


def _brute_distance(X, handles):
    """Squared distance to each handle by dense sampling of its segments (step <= 1/2000 of a segment)."""
    d2 = np.full((len(X), handles.n_handles), np.inf)
    for a, b, h in zip(handles.starts, handles.ends, handles.owner):
        t = np.linspace(0, 1, 2001)
        pts = a + t[:, None] * (b - a)
        d2[:, h] = np.minimum(d2[:, h], ((X[:, None] - pts[None]) ** 2).sum(-1).min(axis=1))
    return d2


def test_per_handle_distance_is_the_nearest_of_the_handles_segments():
    handles = _skin_like()
    X = np.random.default_rng(0).uniform(-1, 2, (200, 3))
    d2, closest = handles.per_handle(torch.as_tensor(X))
    np.testing.assert_allclose(np.sqrt(d2.numpy()), np.sqrt(_brute_distance(X, handles)), atol=3e-4)
    # the closest point is on the handle and at that distance
    np.testing.assert_allclose(((X[:, None] - closest.numpy()) ** 2).sum(-1), d2.numpy(), atol=1e-12)


def test_per_handle_with_many_handles_in_small_chunks_matches_one_chunk(monkeypatch):
    import fieldrig.neural.handle_blend as hb

    rng = np.random.default_rng(1)
    S, H = 150, 60
    starts = rng.uniform(-1, 1, (S, 3))
    ends = starts + rng.normal(0, 0.2, (S, 3)) * (rng.random((S, 1)) > 0.2)  # some points
    handles = HandleGeometry(starts, ends, rng.integers(0, H, S) % H, H)
    handles.owner[:H] = np.arange(H)  # every handle has a segment
    X = torch.as_tensor(rng.uniform(-1, 1, (500, 3)))
    d2, c = handles.per_handle(X)
    monkeypatch.setattr(hb, "_PAIR_CHUNK", 1000)
    d2b, cb = handles.per_handle(X)
    assert torch.equal(d2, d2b) and torch.equal(c, cb)
    brute = _brute_distance(X.numpy()[:50], handles)
    np.testing.assert_allclose(np.sqrt(d2.numpy()[:50]), np.sqrt(brute), atol=3e-4)


def test_samples_cover_each_segment_with_the_requested_steps():
    handles = _skin_like()
    step = np.array([0.1, 0.3, 0.05, 1.0])
    Z, owner, isolated = handles.samples(step)
    for s, (a, b, h) in enumerate(zip(handles.starts, handles.ends, handles.owner)):
        length = np.linalg.norm(b - a)
        on = np.abs(np.linalg.norm(Z - a, axis=1) + np.linalg.norm(Z - b, axis=1) - length) < 1e-12
        mine = Z[on & (owner == h)]
        assert any(np.allclose(p, a) for p in mine) and any(np.allclose(p, b) for p in mine)
        if length > 0:
            t = np.sort(np.linalg.norm(mine - a, axis=1))
            assert np.diff(t).max() <= step[s] + 1e-12
    assert isolated.sum() == 1 and owner[isolated][0] == 2


def test_length_scales_of_bones_and_points():
    handles = _skin_like()
    np.testing.assert_allclose(handles.length_scales(), [1.0, 1.0, 1.0])  # longest segment; leaf: gap to a pivot
    lone = HandleGeometry(np.zeros((2, 3)), np.zeros((2, 3)), [0, 1], 2)  # two points at one place
    assert np.all(np.isinf(lone.length_scales()))


def test_transformed_handles_move_with_the_frame():
    handles = _skin_like()
    moved = handles.transformed(np.array([1.0, 2.0, 3.0]), 4.0)
    np.testing.assert_allclose(moved.starts * 4.0 + [1, 2, 3], handles.starts)
    np.testing.assert_array_equal(moved.owner, handles.owner)
    np.testing.assert_allclose(moved.length_scales() * 4.0, handles.length_scales())


def test_blend_is_one_on_each_handle_zero_far_away_and_a_single_handle_everywhere():
    handles = _skin_like()
    rho = torch.tensor([0.2, 0.1, 0.15], dtype=torch.float64)
    on = np.array([[0, 0, 0.5], [0.5, 0, 0], [0, 0, 1.5], [1.0, 0, 0]])
    handle, beta = handle_blend(torch.as_tensor(on), handles, rho)
    np.testing.assert_array_equal(handle.numpy(), [0, 0, 1, 2])
    np.testing.assert_allclose(beta.numpy(), 1.0)
    X = torch.as_tensor(np.random.default_rng(2).uniform(-0.5, 1.5, (1000, 3)))
    handle, beta = handle_blend(X, handles, rho)
    d2 = _brute_distance(X.numpy(), handles)
    assert beta.min() >= 0 and beta.max() <= 1
    # beta > 0 only within rho of the handle it blends toward
    near = np.sqrt(d2[np.arange(len(X)), handle.numpy()])
    blending = beta.numpy() > 0
    assert blending.sum() > 5
    assert np.all(near[blending] < rho.numpy()[handle.numpy()][blending] + 3e-4)
    # W = (1 - beta) u + beta e_k stays on the simplex for any u on it
    u = np.random.default_rng(3).dirichlet(np.ones(3), len(X))
    W = (1 - beta.numpy())[:, None] * u
    W[np.arange(len(X)), handle.numpy()] += beta.numpy()
    np.testing.assert_allclose(W.sum(1), 1.0, atol=1e-14)
    assert W.min() >= 0


def test_blend_is_zero_where_the_handle_is_hidden():
    handles = _skin_like()
    X = torch.tensor([[0.0, 0.05, 0.5], [0.0, -0.05, 0.5]], dtype=torch.float64)
    hidden_above = lambda A, B: A[:, 1] < 0  # noqa: E731  (a wall at y = 0 seen from y > 0)
    _, beta = handle_blend(X, handles, 0.2, hidden_above)
    assert beta[0] == 0 and beta[1] > 0
