"""A clip as a sequence of frames, for playback: the frame times and each frame's skinning
matrices, evaluated once on first use and kept.

Evaluating a clip (sampling every channel, composing the joints' world matrices) costs
about 2 ms for a 37–54-joint character here; a frame's skinning matrices are 60 × 16
numbers. Playing a clip in a loop therefore evaluates each frame once and then only reads
it back. Frames are the clip's own rate (FBX time modes) or a default one (glTF, which
has none), sampled as :func:`fieldrig.geometry.skin_compare.clip_times` does: both ends
included, evenly spread over the clip's duration.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from fieldrig.core.errors import InputError
from fieldrig.geometry.skin_compare import clip_times
from fieldrig.geometry.skinned_asset import Clip, Skeleton

#: Frames kept at most (60 joints: 7.7 KB a frame, 15 MB in all).
MAX_CACHED_FRAMES = 2000


class ClipFrames:
    """One clip of a skin, frame by frame.

    Parameters
    ----------
    clip : Clip
    skeleton : Skeleton
        The skin whose joints the clip moves (one skinning matrix per joint, in skin order).
    default_rate : float
        Frames per second when the clip has no rate of its own.

    Attributes
    ----------
    clip : Clip
    frame_rate : float
        Frames per second.
    times : (k,) float
        Time of every frame, seconds from the clip's start (k ≥ 1; one frame for a clip of
        no duration).
    evaluations : int
        How many times the clip itself was evaluated (each frame once, while it stays cached).
    """

    def __init__(self, clip: Clip, skeleton: Skeleton, default_rate: float = 30.0):
        self.clip, self.skeleton = clip, skeleton
        self.frame_rate = float(clip.frame_rate or default_rate)
        self.times = clip_times(clip, self.frame_rate)
        self._cache: "OrderedDict[int, np.ndarray]" = OrderedDict()
        self.evaluations = 0

    @property
    def n_frames(self) -> int:
        """Number of frames (both ends included)."""
        return len(self.times)

    @property
    def duration(self) -> float:
        """Seconds from the first frame to the last."""
        return float(self.times[-1])

    def frame_at(self, seconds: float) -> int:
        """The frame shown at ``seconds`` (the nearest one; times outside the clip give its
        first or last frame)."""
        if not np.isfinite(seconds):
            raise InputError("time", f"expected a finite time in seconds, got {seconds!r}")
        if self.n_frames == 1:
            return 0
        step = self.duration / (self.n_frames - 1)
        return int(np.clip(round(seconds / step), 0, self.n_frames - 1))

    def transforms(self, frame: int) -> np.ndarray:
        """Skinning matrices ``G_j · inverse_bind_j`` of one frame, (J, 4, 4) float (a
        read-only array, shared between calls)."""
        if not 0 <= frame < self.n_frames:
            raise InputError("frame", f"expected a frame in 0..{self.n_frames - 1}, got {frame}")
        T = self._cache.get(frame)
        if T is None:
            T = self.clip.skinning_transforms(self.skeleton, float(self.times[frame]))
            T.setflags(write=False)
            self.evaluations += 1
            self._cache[frame] = T
            if len(self._cache) > MAX_CACHED_FRAMES:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(frame)
        return T
