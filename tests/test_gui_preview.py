"""The pose preview's skinning agrees with the reference deformers, in both layouts."""

import numpy as np
import pytest

from fieldrig.geometry.deform import dual_quaternion_skinning, linear_blend_skinning
from fieldrig.geometry.rotations import axis_angle_matrix
from fieldrig.gui.preview import PreviewSkinning


@pytest.mark.parametrize("zero_fraction, dense", [(0.95, False), (0.0, True)])
def test_preview_matches_lbs_and_dqs(zero_fraction, dense):
    rng = np.random.default_rng(0)
    H = 30
    V = rng.normal(size=(400, 3))
    W = rng.random((400, H))
    W[W < zero_fraction] = 0.0
    W[np.arange(400), rng.integers(0, H, 400)] += 0.1  # every vertex has some weight
    W /= W.sum(axis=1, keepdims=True)
    T = np.tile(np.eye(4), (H, 1, 1))
    for h in range(H):
        T[h, :3, :3] = axis_angle_matrix(rng.normal(size=3), rng.uniform(-120, 120))
        T[h, :3, 3] = rng.normal(size=3)
    preview = PreviewSkinning(V, W)
    assert preview.dense == dense
    np.testing.assert_allclose(preview.lbs(T), linear_blend_skinning(V, W, T), atol=2e-5)
    np.testing.assert_allclose(preview.dqs(T), dual_quaternion_skinning(V, W, T), atol=2e-5)
    np.testing.assert_allclose(preview.lbs(np.tile(np.eye(4), (H, 1, 1))), V, atol=1e-5)  # rest pose: identity
    with pytest.raises(ValueError, match="expected 30 transforms"):
        preview.lbs(T[:3])
