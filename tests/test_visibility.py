"""Segment visibility and ray distances through a surface (fieldrig.geometry.visibility)."""

import numpy as np
import trimesh

from fieldrig.geometry.visibility import SegmentVisibility


def _box():
    mesh = trimesh.creation.box(extents=[2, 2, 2])
    return np.asarray(mesh.vertices), np.asarray(mesh.faces)


def test_segments_crossing_the_surface_are_hidden():
    V, F = _box()
    vis = SegmentVisibility(V, F, margin=1e-6)
    A = np.array([[0, 0, 0], [0, 0, 0], [-0.5, 0.2, 0.1], [2, 0, 0], [2, 0, 0]], float)
    B = np.array([[0.9, 0.9, 0.9], [1.5, 0, 0], [0.5, -0.2, 0.3], [3, 0, 0], [-2, 0, 0]], float)
    np.testing.assert_array_equal(vis.visible(A, B), [True, False, True, True, False])


def test_margin_lets_a_segment_start_on_the_surface_but_not_end_beyond_it():
    V, F = _box()
    vis = SegmentVisibility(V, F, margin=1e-4)
    on = np.array([[1.0, 0.3, 0.2]])  # on the face x = 1
    assert vis.visible(on, np.array([[0.0, 0.0, 0.0]]))[0]  # starts on the surface: allowed
    assert not vis.visible(np.array([[0.0, 0.0, 0.0]]), np.array([[1.0 + 1e-3, 0.3, 0.2]]))[0]
    # a segment shorter than the margin is visible
    assert vis.visible(np.array([[0.99999, 0, 0]]), np.array([[1.00001, 0, 0]]))[0]


def test_hit_distance_is_the_distance_to_the_first_face():
    V, F = _box()
    vis = SegmentVisibility(V, F, margin=0.0)
    origins = np.array([[0, 0, 0], [0.5, 0, 0], [3, 0, 0], [3, 0, 0]], float)
    directions = np.array([[1, 0, 0], [0, 0, -1], [1, 0, 0], [-1, 0, 0]], float)
    np.testing.assert_allclose(vis.hit_distance(origins, directions), [1, 1, np.inf, 2], atol=1e-6)


def test_point_clouds_block_nothing():
    vis = SegmentVisibility(np.random.default_rng(0).random((10, 3)), None, margin=0.0)
    assert not vis.has_surface
    assert vis.visible(np.zeros((3, 3)), np.ones((3, 3))).all()
    assert np.all(np.isinf(vis.hit_distance(np.zeros((2, 3)), np.eye(3)[:2])))
