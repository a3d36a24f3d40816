"""A clip frame by frame: frame times, the frame shown at a time, each frame evaluated once."""

import numpy as np
import pytest

from fieldrig.core.errors import InputError
from fieldrig.geometry import clip_frames
from fieldrig.geometry.clip_frames import ClipFrames
from fieldrig.geometry.rotations import axis_angle_matrix
from fieldrig.geometry.skinned_asset import Clip, Skeleton


class Swing(Clip):
    """Joint 1 swings about z by 90° · t / duration; joint 0 stays. Counts its evaluations."""

    def __init__(self, duration, frame_rate=None):
        super().__init__("swing", duration, frame_rate)
        self.calls = 0

    def joint_world(self, t):
        self.calls += 1
        G = np.tile(np.eye(4), (2, 1, 1))
        G[1, :3, :3] = axis_angle_matrix([0, 0, 1], 90.0 * min(max(t, 0.0), self.duration) / max(self.duration, 1e-9))
        G[1, :3, 3] = [1.0, 0.0, 0.0]
        return G


@pytest.fixture
def skeleton():
    ibm = np.tile(np.eye(4), (2, 1, 1))
    ibm[1, 0, 3] = -1.0  # joint 1 bound at x = 1
    return Skeleton(["root", "arm"], np.array([-1, 0]), ibm)


def test_frames_cover_the_clip_at_its_rate(skeleton):
    frames = ClipFrames(Swing(2.0), skeleton, default_rate=30.0)
    assert frames.n_frames == 61 and frames.frame_rate == 30.0 and frames.duration == 2.0
    np.testing.assert_allclose(np.diff(frames.times), 2.0 / 60)
    assert frames.frame_at(0.0) == 0 and frames.frame_at(1.0) == 30 and frames.frame_at(1.0 + 0.4 / 30) == 30
    assert frames.frame_at(-3.0) == 0 and frames.frame_at(9.0) == 60
    fbx = ClipFrames(Swing(1.0, frame_rate=24.0), skeleton)
    assert fbx.frame_rate == 24.0 and fbx.n_frames == 25  # the file's own rate wins
    still = ClipFrames(Swing(0.0), skeleton)
    assert still.n_frames == 1 and still.frame_at(5.0) == 0
    with pytest.raises(InputError, match="finite"):
        frames.frame_at(float("nan"))
    with pytest.raises(InputError, match="0..60"):
        frames.transforms(61)


def test_each_frame_is_evaluated_once_and_is_the_clips_own(skeleton, monkeypatch):
    clip = Swing(1.0)
    frames = ClipFrames(clip, skeleton, default_rate=10.0)
    for _ in range(3):  # three loops of the clip
        for k in range(frames.n_frames):
            T = frames.transforms(k)
            np.testing.assert_array_equal(T, clip.skinning_transforms(skeleton, frames.times[k]))
    assert frames.evaluations == frames.n_frames == 11
    with pytest.raises(ValueError):
        frames.transforms(3)[0, 0, 0] = 2.0  # shared between calls: read-only
    # the cache is bounded: the frames used longest ago go first
    monkeypatch.setattr(clip_frames, "MAX_CACHED_FRAMES", 4)
    small = ClipFrames(clip, skeleton, default_rate=10.0)
    for k in (0, 1, 2, 3, 0, 4):
        small.transforms(k)
    assert small.evaluations == 5
    small.transforms(0)  # still there (used again before 4 came)
    small.transforms(1)  # evicted
    assert small.evaluations == 6
