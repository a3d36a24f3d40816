"""Blender's R and G in the 3D view: rotate or grab the selected handle by moving the mouse,
without holding a button.

Press R (rotate) or G (grab) with a handle selected in the Pose tab; move the mouse; press
X, Y or Z to work about / along that world axis (again to drop it); type a number for an
exact angle in degrees or distance in model units (Backspace edits it, ``-`` flips its
sign); click or press Enter to keep the result, Esc or a right click to put the handle back.

- Grab moves the handle's pivot with the point under the mouse on the plane through the
  pivot facing the camera; with an axis, along that axis (the point of the axis nearest
  to the mouse ray). Any handle can be grabbed: its subtree follows it.
- Rotate turns the handle about its pivot by the angle the mouse sweeps around the pivot,
  about the view axis, or about the chosen world axis (the sense that follows the mouse
  when the axis faces the camera).

A typed number replaces the mouse: rotate by that many degrees (about the view axis
without an axis), grab by that distance along the axis (along X without one, as Blender
does). The tool works in rays (origin, direction) and the camera's viewing direction, so
it needs no pixels: the viewer gives it the ray through the mouse each frame.

Every step is one document edit with the same merge token, so the whole move is one undo
step; cancelling puts the pose it started from back, which removes that step.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from fieldrig.geometry.posing import handle_frame, local_from_frame
from fieldrig.geometry.rotations import axis_angle_matrix
from fieldrig.gui.document import Document
from fieldrig.session import copy_pose

KINDS = ("rotate", "grab")
AXES = {"x": np.array([1.0, 0.0, 0.0]), "y": np.array([0.0, 1.0, 0.0]), "z": np.array([0.0, 0.0, 1.0])}
#: Below this sine of the angle between the mouse ray and an axis they are parallel.
_PARALLEL = 1e-3


class TransformTool:
    """One modal rotate or grab at a time on a :class:`Document`'s selected handle.

    Attributes
    ----------
    kind : {"rotate", "grab"} or None
        None when no move is under way.
    axis : {"x", "y", "z"} or None
        The axis constraint.
    typed : str
        The number typed so far ("" : the mouse decides).
    """

    def __init__(self, document: Document):
        self.doc = document
        self.kind: Optional[str] = None
        self.axis: Optional[str] = None
        self.typed = ""
        self._count = 0
        document.changed.connect(self._on_changed)

    def _on_changed(self, topics) -> None:
        """A new mesh or rig, another mode or a clip: the move ends where it is (one undo step)."""
        if self.active and (topics & {"mesh", "rig", "mode"} or "animation" in topics and not self.can_start()):
            self.confirm()

    @property
    def active(self) -> bool:
        return self.kind is not None

    def can_start(self) -> bool:
        """A handle is selected in pose mode and no clip poses the rig."""
        doc = self.doc
        return doc.mode == "pose" and doc.selected_handle is not None and doc.clip_frames() is None

    def start(self, kind: str, origin, direction, look) -> bool:
        """Begin a move from the mouse ray (``origin``, ``direction``) with the camera looking
        along ``look``; False (nothing started) when :meth:`can_start` says no."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if self.active or not self.can_start():
            return False
        doc = self.doc
        self.kind, self.axis, self.typed = kind, None, ""
        self.handle = doc.selected_handle
        self.pose0 = doc.pose
        self.T0 = doc.handle_transforms()
        self.frame0 = handle_frame(doc.rig, self.T0, self.handle)
        self.look = _unit(look)
        self._count += 1
        self._pushed = False
        self._ray0 = (np.asarray(origin, float), _unit(direction))
        self._ray = self._ray0
        return True

    # ---------------------------------------------------------------- input
    def move(self, origin, direction) -> None:
        """The mouse moved: its ray is now (``origin``, ``direction``)."""
        if self.active:
            self._ray = (np.asarray(origin, float), _unit(direction))
            self._apply()

    def constrain(self, axis: str) -> None:
        """Work about / along world ``axis`` ("x", "y", "z"); the same axis again drops it."""
        if self.active:
            self.axis = None if axis == self.axis else axis
            self._apply()

    def type_key(self, key: str) -> None:
        """A key of the typed number: a digit, ".", "-" (flips the sign) or "backspace"."""
        if not self.active:
            return
        if key == "backspace":
            self.typed = self.typed[:-1]
        elif key == "-":
            self.typed = self.typed[1:] if self.typed.startswith("-") else "-" + self.typed
        elif key == "." and "." not in self.typed or key.isdigit() and len(key) == 1:
            self.typed += key
        self._apply()

    def confirm(self) -> None:
        """Keep the result (one undo step)."""
        if self.active:
            self.kind = None
            self.doc.end_interaction()

    def cancel(self) -> None:
        """Put the pose back as it was before the move (no undo step is left)."""
        if self.active:
            if self._pushed:  # merges with the move's step, which then changes nothing and goes
                self.doc.set_pose(self.pose0, self._text(), self._token())
            self.kind = None
            self.doc.end_interaction()

    def status(self) -> str:
        """What the move is doing now, for the status bar."""
        if not self.active:
            return ""
        value = self.value()
        unit = "°" if self.kind == "rotate" else ""
        about = f" {self.axis.upper()}" if self.axis else (" (view)" if self.kind == "rotate" else "")
        number = f"{self.typed}{unit} (typed)" if self.typed else f"{value:.3g}{unit}"
        return (
            f"{self.kind.capitalize()}{about}: {number} — X/Y/Z axis, type a value, "
            "click or Enter to confirm, Esc or right click to cancel"
        )

    # ------------------------------------------------------------- geometry
    def value(self) -> float:
        """Degrees (rotate) or distance along the axis (grab) of the current move."""
        if self.typed not in ("", "-", ".", "-."):
            return float(self.typed)
        if self.kind == "rotate":
            return self._mouse_angle()
        return float(np.linalg.norm(self._mouse_offset()))

    def _plane_hit(self, ray) -> Optional[np.ndarray]:
        """Where a ray meets the plane through the pivot facing the camera."""
        origin, direction = ray
        pivot = self.frame0[:3, 3]
        denom = float(direction @ self.look)
        if abs(denom) < _PARALLEL:
            return None
        return origin + direction * (float((pivot - origin) @ self.look) / denom)

    def _axis_param(self, ray, a: np.ndarray) -> Optional[float]:
        """Parameter s of the point ``pivot + s·a`` nearest to a ray (None: parallel)."""
        origin, d = ray
        w = self.frame0[:3, 3] - origin
        b = float(a @ d)
        denom = 1.0 - b * b
        if denom < _PARALLEL**2:
            return None
        return float((b * (w @ d) - (w @ a)) / denom)

    def _mouse_offset(self) -> np.ndarray:
        """World displacement of the pivot the mouse asks for, (3,)."""
        if self.axis is not None:
            a = AXES[self.axis]
            s0, s1 = self._axis_param(self._ray0, a), self._axis_param(self._ray, a)
            if s0 is not None and s1 is not None:
                return (s1 - s0) * a
        h0, h1 = self._plane_hit(self._ray0), self._plane_hit(self._ray)
        if h0 is None or h1 is None:
            return np.zeros(3)
        d = h1 - h0
        return d if self.axis is None else (d @ AXES[self.axis]) * AXES[self.axis]

    def _mouse_angle(self) -> float:
        """Degrees swept by the mouse around the pivot, counter-clockwise as the camera sees it."""
        h0, h1 = self._plane_hit(self._ray0), self._plane_hit(self._ray)
        if h0 is None or h1 is None:
            return 0.0
        pivot = self.frame0[:3, 3]
        u, v = h0 - pivot, h1 - pivot
        if np.linalg.norm(u) == 0 or np.linalg.norm(v) == 0:
            return 0.0
        towards_camera = -self.look
        return float(np.degrees(np.arctan2(np.cross(u, v) @ towards_camera, u @ v)))

    def _apply(self) -> None:
        doc, rig = self.doc, self.doc.rig
        frame = self.frame0.copy()
        if self.kind == "rotate":
            if self.axis is None:
                axis, degrees = -self.look, self.value()
            else:
                axis = AXES[self.axis]
                sense = 1.0 if axis @ -self.look >= 0 else -1.0
                degrees = self.value() if self.typed else sense * self._mouse_angle()
            frame[:3, :3] = axis_angle_matrix(axis, degrees) @ frame[:3, :3]
        elif self.typed:
            frame[:3, 3] += self.value() * AXES[self.axis or "x"]
        else:
            frame[:3, 3] += self._mouse_offset()
        R, t = local_from_frame(rig, self.T0, self.handle, frame)
        name = rig.handle_names[self.handle]
        if self.kind == "rotate":  # about the pivot: the translation stays as it was
            pose = copy_pose(self.pose0).set(name, rotation=R)
        else:
            pose = copy_pose(self.pose0).set(name, translation=t)
        doc.set_pose(pose, self._text(), self._token())
        self._pushed = True

    def _text(self) -> str:
        return f"{'Rotate' if self.kind == 'rotate' else 'Grab'} {self.doc.rig.handle_names[self.handle]}"

    def _token(self) -> tuple:
        return ("transform tool", self._count)


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)
