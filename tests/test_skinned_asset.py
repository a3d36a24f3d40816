"""The skinned-asset model: bind space, concatenated parts, skinning transforms."""

import numpy as np
import pytest

from fieldrig.core.errors import InputError
from fieldrig.geometry.deform import linear_blend_skinning
from fieldrig.geometry.rotations import axis_angle_matrix
from fieldrig.geometry.skinned_asset import Clip, Skeleton, SkinnedAsset, SkinnedPart


def _rigid(R, t):
    M = np.eye(4)
    M[:3, :3], M[:3, 3] = R, t
    return M


class _Fixed(Clip):
    """A clip that holds the same joint world transforms at every time."""

    def __init__(self, name, world):
        super().__init__(name, 1.0)
        self.world = world

    def joint_world(self, t):
        return self.world


def _asset():
    bind = np.stack([_rigid(axis_angle_matrix([0, 0, 1], 30), [1, 2, 3]), _rigid(np.eye(3), [0, 1, 0])])
    skeleton = Skeleton(["root", "tip"], np.array([-1, 0]), np.linalg.inv(bind))
    rng = np.random.default_rng(0)
    body = SkinnedPart(
        "body", rng.random((5, 3)), np.array([[0, 1, 2], [2, 3, 4]]), None, np.tile([0.25, 0.75], (5, 1))
    )
    eyes = SkinnedPart("eyes", rng.random((3, 3)), np.array([[0, 1, 2]]), None, np.tile([1.0, 0.0], (3, 1)))
    return SkinnedAsset("toy.glb", skeleton, [body, eyes], [_Fixed("bind", bind)]), bind


def test_bind_positions_are_the_inverse_bind_origins():
    asset, bind = _asset()
    assert np.allclose(asset.skeleton.bind_positions, bind[:, :3, 3])


def test_parts_concatenate_in_order_with_faces_reindexed():
    asset, _ = _asset()
    assert np.array_equal(asset.part_offsets, [0, 5, 8])
    assert asset.V.shape == (8, 3) and np.array_equal(asset.V[5:], asset.parts[1].V)
    assert np.array_equal(asset.F[-1], [5, 6, 7])
    assert asset.artist_weights.shape == (8, 2) and asset.N is None


def test_the_bind_pose_skins_every_vertex_onto_itself():
    asset, _ = _asset()
    T = asset.clip().skinning_transforms(asset.skeleton, 0.0)
    assert np.allclose(linear_blend_skinning(asset.V, asset.artist_weights, T), asset.V)


def test_a_moved_joint_moves_the_vertices_it_weighs_rigidly():
    asset, bind = _asset()
    move = _rigid(axis_angle_matrix([1, 0, 0], 50), [0.3, -0.2, 0.1])
    clip = _Fixed("moved", np.stack([move @ bind[0], move @ bind[1]]))
    X = linear_blend_skinning(asset.V, asset.artist_weights, clip.skinning_transforms(asset.skeleton, 0.0))
    assert np.allclose(X, asset.V @ move[:3, :3].T + move[:3, 3])


def test_unknown_clip_names_the_file_and_the_clips():
    asset, _ = _asset()
    with pytest.raises(InputError, match=r"toy.glb: has no animation 'run' \(it has 'bind'\)"):
        asset.clip("run")
