"""The timeline: a skinned file's clips played on the mesh with the weights in use, and the
A/B comparison of two weight sets.

:class:`Playback` plays the document's clip in real time, driven by the app's frame timer
(:meth:`Playback.advance` runs at the start of every tick): each tick it shows the frame
real time has reached. When a frame's skinning and upload take longer than a clip frame,
the frames in between are skipped (counted in :attr:`Playback.dropped`), never queued, so
the view never falls behind the clock. Each frame's skinning matrices are evaluated once
per clip and kept (:class:`~fieldrig.geometry.clip_frames.ClipFrames`); what a frame costs
is the skinning with the weights in use, LBS or DQS, and the vertex upload.

While a clip is chosen it poses the rig: the Pose tab's manual pose waits (and says so)
until "No clip" is chosen again. The clip plays in the Weights and Pose tabs; the Mesh
and Rig tabs show the bind pose, the Cage tab the cage deformation.

:class:`TimelineStrip` is the panel's strip under the tabs: clip, play / pause, step,
scrub, loop and speed (shown when the rig has clips), and the A/B row (shown when there
are two weight sets or more): choose A and B, swap between them (B, in the panel or the 3D
view), and colour the mesh by how far apart they are (per-vertex ½ Σ |w_A − w_B|).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Callable, Optional

import numpy as np
from PyQt6.QtCore import QObject, Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from fieldrig.geometry.clip_frames import ClipFrames
from fieldrig.gui.document import Document
from fieldrig.gui.tabs.common import button
from fieldrig.session import SPEED_RANGE

#: Modes in which the clip deforms the mesh.
PLAYING_MODES = ("weights", "pose")
#: A difference above this share of a vertex's weight counts as "differs" in the summary.
DIFFERS = 0.1


class Playback(QObject):
    """Plays the document's clip (see the module docstring).

    Parameters
    ----------
    document : Document
    clock : callable, optional
        Seconds, monotonic (``time.perf_counter``; tests pass their own).

    Signals
    -------
    playing_changed(bool)

    Attributes
    ----------
    playing : bool
    dropped : int
        Frames skipped since playback last started, because the UI was slower than the clip.
    shown : int
        Frames shown since playback last started.
    """

    playing_changed = pyqtSignal(bool)

    def __init__(self, document: Document, clock: Callable[[], float] = time.perf_counter):
        super().__init__()
        self.doc, self.clock = document, clock
        self.playing = False
        self.dropped = self.shown = 0
        self._anchor = (0.0, 0.0)  # (clock, clip time) of the last start, re-anchored on every change
        document.changed.connect(self._on_changed)

    def _on_changed(self, topics) -> None:
        if self.playing and topics & {"mesh", "rig", "animation"} and self._usable() is None:
            self.pause()

    def _usable(self) -> Optional[ClipFrames]:
        frames = self.doc.clip_frames()
        return frames if frames is not None and frames.n_frames > 1 else None

    # ------------------------------------------------------------ state
    @property
    def frame(self) -> int:
        """The frame shown (0 without a clip)."""
        frames = self.doc.clip_frames()
        return 0 if frames is None else frames.frame_at(self.doc.animation.time)

    def _clip_time(self) -> float:
        """Where real time has brought the clip since the last start (not wrapped)."""
        start_clock, start_time = self._anchor
        return start_time + (self.clock() - start_clock) * self.doc.animation.speed

    def _set_time(self, seconds: float) -> None:
        self.doc.set_animation(replace(self.doc.animation, time=float(seconds)))

    # ----------------------------------------------------------- actions
    def choose_clip(self, name: Optional[str]) -> None:
        """Play ``name`` from its start (paused), or pose by hand again with None."""
        self.pause()
        if name is not None and name not in self.doc.clip_names():
            raise ValueError(f"no clip {name!r} (there are {self.doc.clip_names()})")
        self.doc.set_animation(replace(self.doc.animation, clip=name, time=0.0))

    def play(self) -> None:
        """Start playing from the frame shown (from the start when a clip without loop has ended)."""
        frames = self._usable()
        if frames is None or self.playing:
            return
        t = float(frames.times[self.frame])
        if not self.doc.animation.loop and self.frame == frames.n_frames - 1:
            t = 0.0
            self._set_time(t)
        self._anchor = (self.clock(), t)
        self.dropped = self.shown = 0
        self.playing = True
        self.playing_changed.emit(True)

    def pause(self) -> None:
        """Stop on the frame shown."""
        if self.playing:
            self.playing = False
            self.playing_changed.emit(False)

    def toggle(self) -> None:
        """Play or pause."""
        self.pause() if self.playing else self.play()

    def advance(self) -> None:
        """Show the frame real time has reached (the app calls this every tick)."""
        if not self.playing:
            return
        frames = self._usable()
        if frames is None:
            self.pause()
            return
        t, end = self._clip_time(), frames.duration
        finished = t >= end and not self.doc.animation.loop
        t = min(t, end) if not self.doc.animation.loop else t % end
        frame, current = frames.frame_at(t), self.frame
        if frame != current:
            steps = (frame - current) % frames.n_frames if self.doc.animation.loop else frame - current
            self.dropped += max(0, steps - 1)
            self.shown += 1
            self._set_time(frames.times[frame])
        if finished:
            self.pause()

    def step(self, delta: int) -> None:
        """Pause and move ``delta`` frames (wrapping round when looping)."""
        frames = self.doc.clip_frames()
        if frames is None:
            return
        self.pause()
        frame = self.frame + int(delta)
        frame = frame % frames.n_frames if self.doc.animation.loop else int(np.clip(frame, 0, frames.n_frames - 1))
        self._set_time(frames.times[frame])

    def scrub(self, frame: int) -> None:
        """Show ``frame`` (playback, when running, goes on from there)."""
        frames = self.doc.clip_frames()
        if frames is None:
            return
        frame = int(np.clip(frame, 0, frames.n_frames - 1))
        self._set_time(frames.times[frame])
        self._anchor = (self.clock(), float(frames.times[frame]))

    def set_speed(self, speed: float) -> None:
        """Play at ``speed`` × real time (clamped to 0.1–4)."""
        low, high = SPEED_RANGE
        speed = float(np.clip(speed, low, high))
        if self.playing:  # go on from where the old speed got to
            self._anchor = (self.clock(), self._clip_time())
        self.doc.set_animation(replace(self.doc.animation, speed=speed))

    def set_loop(self, loop: bool) -> None:
        """Loop at the end, or stop there."""
        self.doc.set_animation(replace(self.doc.animation, loop=bool(loop)))

    def key(self, name: str) -> None:
        """A timeline key pressed in the 3D view (see :attr:`fieldrig.gui.viewer.Viewer.timeline_key`)."""
        actions = {
            "play": self.toggle,
            "frame_back": lambda: self.step(-1),
            "frame_forward": lambda: self.step(1),
            "swap_ab": self.doc.swap_compared,
        }
        actions[name]()


class TimelineStrip(QWidget):
    """The strip under the tabs: clips and playback, A/B comparison (see the module docstring).

    Parameters
    ----------
    document : Document
    playback : Playback, optional
        Built here when not given.
    """

    def __init__(self, document: Document, playback: Optional[Playback] = None):
        super().__init__()
        self.doc = document
        self.playback = playback or Playback(document)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.setSpacing(2)

        self.clip_row = QWidget()
        rows = QVBoxLayout(self.clip_row)
        rows.setContentsMargins(0, 0, 0, 0)
        rows.setSpacing(2)
        top = QHBoxLayout()
        self.clip = QComboBox()
        self.clip.setToolTip("The skinned file's animation clips; 'No clip' poses the rig by hand (Pose tab)")
        self.clip.activated.connect(lambda _i: self.playback.choose_clip(self.clip.currentData()))
        top.addWidget(self.clip, 1)
        self.back = button("◀", lambda: self.playback.step(-1), "One frame back (Left in the 3D view)")
        self.play = button("Play", self.playback.toggle, "Play / pause (Space in the 3D view)")
        self.forward = button("▶", lambda: self.playback.step(1), "One frame forward (Right in the 3D view)")
        for w in (self.back, self.play, self.forward):
            top.addWidget(w)
        self.loop = QCheckBox("Loop")
        self.loop.toggled.connect(self.playback.set_loop)
        top.addWidget(self.loop)
        self.speed = QDoubleSpinBox()
        self.speed.setRange(*SPEED_RANGE)
        self.speed.setSingleStep(0.1)
        self.speed.setDecimals(1)
        self.speed.setSuffix("×")
        self.speed.setToolTip("Playback speed, × real time")
        self.speed.valueChanged.connect(self.playback.set_speed)
        top.addWidget(self.speed)
        rows.addLayout(top)
        scrub = QHBoxLayout()
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip("Scrub through the clip")
        self.slider.valueChanged.connect(self._scrubbed)
        scrub.addWidget(self.slider, 1)
        self.time_label = QLabel("")
        self.time_label.setMinimumWidth(150)
        scrub.addWidget(self.time_label)
        rows.addLayout(scrub)
        self.note = QLabel("")
        self.note.setWordWrap(True)
        rows.addWidget(self.note)
        layout.addWidget(self.clip_row)

        self.ab_row = QWidget()
        ab = QVBoxLayout(self.ab_row)
        ab.setContentsMargins(0, 0, 0, 0)
        ab.setSpacing(2)
        pick = QHBoxLayout()
        self.set_a, self.set_b = QComboBox(), QComboBox()
        for label, combo in (("A", self.set_a), ("B", self.set_b)):
            pick.addWidget(QLabel(label))
            combo.setToolTip(f"Weight set {label} of the comparison")
            combo.activated.connect(self._compare_chosen)
            pick.addWidget(combo, 1)
        self.swap = button(
            "Swap A/B", document.swap_compared, "Deform with the other set of the pair (B, also in the 3D view)"
        )
        self.swap.setShortcut("B")
        pick.addWidget(self.swap)
        self.difference = QCheckBox("Difference")
        self.difference.setToolTip("Colour the mesh by ½ Σ|w_A − w_B| per vertex (Weights and Pose tabs)")
        self.difference.toggled.connect(document.set_show_difference)
        pick.addWidget(self.difference)
        ab.addLayout(pick)
        self.legend = QLabel("")
        self.legend.setWordWrap(True)
        ab.addWidget(self.legend)
        layout.addWidget(self.ab_row)

        self._showing = False
        self.playback.playing_changed.connect(lambda on: self.play.setText("Pause" if on else "Play"))
        document.changed.connect(self._on_changed)
        self._on_changed(document.topics_all())

    # ------------------------------------------------------------- showing
    def _on_changed(self, topics) -> None:
        self._showing = True
        try:
            if topics & {"mesh", "rig", "animation", "mode", "weights"}:
                self._show_clip()
            if topics & {"mesh", "rig", "weights", "difference", "mode"}:
                self._show_ab()
        finally:
            self._showing = False
        self.setVisible(self.clip_row.isVisibleTo(self) or self.ab_row.isVisibleTo(self))

    def _show_clip(self) -> None:
        doc = self.doc
        names = doc.clip_names()
        self.clip_row.setVisible(bool(names))
        if not names:
            return
        wanted = [None] + names
        if [self.clip.itemData(i) for i in range(self.clip.count())] != wanted:
            self.clip.clear()
            self.clip.addItem("No clip — pose by hand", None)
            for name in names:
                self.clip.addItem(name, name)
        anim, frames = doc.animation, doc.clip_frames()
        self.clip.setCurrentIndex(max(0, self.clip.findData(anim.clip)) if frames is not None else 0)
        self.loop.setChecked(anim.loop)
        self.speed.setValue(anim.speed)
        for w in (self.back, self.play, self.forward, self.slider, self.loop, self.speed):
            w.setEnabled(frames is not None)
        if frames is None:
            self.slider.setRange(0, 0)
            self.time_label.setText("")
            self.note.setText("")
            return
        frame = frames.frame_at(anim.time)
        self.slider.setRange(0, frames.n_frames - 1)
        self.slider.setValue(frame)
        self.time_label.setText(
            f"{frames.times[frame]:.2f} s · frame {frame} / {frames.n_frames - 1} ({frames.frame_rate:g} fps)"
        )
        self.note.setText(
            ""
            if doc.mode in PLAYING_MODES
            else "The clip plays in the Weights and Pose tabs; this tab shows the "
            + ("cage deformation." if doc.mode == "cage" else "bind pose.")
        )

    def _show_ab(self) -> None:
        rs = self.doc.rig_state
        names = rs.set_names
        self.ab_row.setVisible(len(names) > 1 and self.doc.weights_usable())
        for combo, k in ((self.set_a, 0), (self.set_b, 1)):
            combo.clear()
            combo.addItem("—", None)
            for name in names:
                combo.addItem(name, name)
            combo.setCurrentIndex(combo.findData(rs.compare[k]) if rs.compare else 0)
        self.swap.setEnabled(bool(rs.compare))
        self.difference.setChecked(self.doc.show_difference)
        self.difference.setEnabled(bool(rs.compare))
        self.legend.setText(self._legend())

    def _legend(self) -> str:
        rs = self.doc.rig_state
        if not rs.compare:
            return "Choose two weight sets to compare."
        a, b = rs.compare
        active = rs.active_set.name
        using = f"Deforming with {'A' if active == a else 'B' if active == b else active}."
        if not self.doc.show_difference:
            return using
        D = rs.weight_difference()
        return (
            f"{using} Difference ½Σ|A−B| per vertex, white 0 → dark red {max(D.max(), 1e-6):.3f}: "
            f"mean {D.mean():.3f}, {100 * np.mean(D > DIFFERS):.0f}% of vertices above {DIFFERS:g}."
        )

    # ---------------------------------------------------------------- edits
    def _scrubbed(self, frame: int) -> None:
        if not self._showing:
            self.playback.scrub(frame)

    def _compare_chosen(self, _index: int) -> None:
        self.doc.set_compare(self.set_a.currentData(), self.set_b.currentData())
