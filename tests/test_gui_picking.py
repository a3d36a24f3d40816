"""Placing joints inside the volume: the middle of the first inside stretch of the camera ray."""

import numpy as np
import pytest
import trimesh

from fieldrig.core.errors import InputError
from fieldrig.gui.picking import VolumePicker


@pytest.fixture
def two_spheres():
    """Two unit spheres centred at x = 0 and x = 3, as one triangle mesh."""
    a = trimesh.creation.icosphere(3)
    b = a.copy()
    b.apply_translation([3, 0, 0])
    both = trimesh.util.concatenate([a, b])
    return np.asarray(both.vertices), np.asarray(both.faces)


def test_mesh_volume_point_is_the_middle_of_the_first_stretch(two_spheres):
    picker = VolumePicker(*two_spheres)
    # along x through both spheres: enters at -1, leaves at 1 (not at 4, past the gap)
    np.testing.assert_allclose(picker.volume_point([-5, 0, 0], [1, 0, 0]), [0, 0, 0], atol=1e-3)
    np.testing.assert_allclose(picker.crossings([-5, 0, 0], [2, 0, 0]), [4, 6, 7, 9], atol=1e-2)
    # an off-centre ray: the chord's midpoint, at the sphere's depth
    point = picker.volume_point([3.5, 0.5, 10], [0, 0, -1])
    np.testing.assert_allclose(point, [3.5, 0.5, 0], atol=1e-2)
    assert picker.volume_point([10, 10, 10], [0, 0, -1]) is None


def test_ray_through_a_vertex_counts_one_crossing():
    V, F = trimesh.creation.box().vertices, trimesh.creation.box().faces
    # straight down through the top face's diagonal and the bottom's: edges shared by two triangles
    picker = VolumePicker(V, F)
    np.testing.assert_allclose(picker.crossings([0, 0, 5], [0, 0, -1]), [4.5, 5.5], atol=1e-6)
    np.testing.assert_allclose(picker.volume_point([0, 0, 5], [0, 0, -1]), [0, 0, 0], atol=1e-6)


def test_point_cloud_volume_point(two_spheres):
    rng = np.random.default_rng(0)
    P = rng.normal(size=(20000, 3))
    P /= np.linalg.norm(P, axis=1, keepdims=True)
    picker = VolumePicker(np.vstack([P, P + [3, 0, 0]]), None)
    np.testing.assert_allclose(picker.volume_point([-5, 0, 0], [1, 0, 0]), [0, 0, 0], atol=0.1)
    np.testing.assert_allclose(picker.volume_point([0.3, 0.2, 8], [0, 0, -1]), [0.3, 0.2, 0], atol=0.1)


def test_zero_direction_is_refused(two_spheres):
    with pytest.raises(InputError, match="ray direction"):
        VolumePicker(*two_spheres).volume_point([0, 0, 0], [0, 0, 0])
