"""The weight brush: drags on the mesh in the 3D view become strokes on the active weight set.

While the brush is on, the viewer hands it the camera ray under the mouse every frame
(:meth:`BrushTool.hover`), and a press on the mesh starts a stroke: the camera stays put
until the button is released, dabs go every quarter radius along the drag
(:func:`~fieldrig.geometry.weight_edit.dab_centres`), and each move is one document edit
that merges with the rest of the stroke into one undo step. A press off the mesh turns the
camera as usual. The brush works on the surface as shown (posed, in the Weights tab), with
the radius in scene units; the first stroke on a file or computed weight set paints a copy
(:meth:`fieldrig.session.RigState.with_edited_weights`).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, replace
from typing import Optional

import numpy as np
from PyQt6.QtCore import QObject, pyqtSignal

from fieldrig.core.errors import InputError
from fieldrig.draw.scene import draw_brush_circle
from fieldrig.geometry.weight_edit import BRUSH_MODES, FALLOFFS, BrushStroke, dab_centres, vertex_adjacency
from fieldrig.gui.document import Document
from fieldrig.gui.picking import VolumePicker
from fieldrig.gui.viewer import Viewer

#: Dabs per brush radius along a stroke.
DABS_PER_RADIUS = 4
#: The default radius, as a fraction of the mesh's bounding-box diagonal.
DEFAULT_RADIUS_FRACTION = 0.05


@dataclass(frozen=True)
class BrushSettings:
    """How the brush paints.

    Attributes
    ----------
    mode : {"add", "subtract", "replace", "smooth"}
    radius : float
        In scene units.
    strength : float
        In [0, 1], at the brush's centre.
    value : float
        The brush weight in [0, 1] (``add``/``subtract`` move by it, ``replace`` sets it).
    falloff : {"smooth", "linear", "constant"}
    accumulate : bool
        Dabs of one stroke add up (else a stroke acts once per vertex, as in Blender).
    """

    mode: str = "add"
    radius: float = 0.1
    strength: float = 0.5
    value: float = 1.0
    falloff: str = "smooth"
    accumulate: bool = False

    def __post_init__(self):
        if self.mode not in BRUSH_MODES:
            raise InputError("brush", f"mode must be one of {', '.join(BRUSH_MODES)}, got {self.mode!r}")
        if self.falloff not in FALLOFFS:
            raise InputError("brush", f"falloff must be one of {', '.join(FALLOFFS)}, got {self.falloff!r}")
        if not self.radius > 0:
            raise InputError("brush", f"radius must be positive, got {self.radius!r}")
        for name in ("strength", "value"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise InputError("brush", f"{name} must be in [0, 1], got {getattr(self, name)!r}")


class BrushTool(QObject):
    """Paints the selected handle's weights with the mouse (the viewer's ``painter``).

    Parameters
    ----------
    document : Document
    viewer : Viewer

    Attributes
    ----------
    settings : BrushSettings
    active : bool
    hover_point : (3,) float or None
        Where the brush is on the surface (None: off the mesh).
    dab_ms : deque of float
        Time of each document edit of a stroke (dabs, table update), the last 500.

    Signals
    -------
    message(str)
        A hint or refusal for the status bar.
    active_changed(bool)
    settings_changed()
        The settings changed (the radius follows a new mesh's size).
    """

    message = pyqtSignal(str)
    active_changed = pyqtSignal(bool)
    settings_changed = pyqtSignal()

    def __init__(self, document: Document, viewer: Viewer, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.doc, self.viewer = document, viewer
        self.settings = BrushSettings()
        self.active = False
        self.hover_point: Optional[np.ndarray] = None
        self.dab_ms: deque = deque(maxlen=500)
        self._stroke: Optional[BrushStroke] = None
        self._stroke_surface = None
        self._token = None
        self._last: Optional[np.ndarray] = None
        self._surface = (None, None)  # (what it was built for, (positions, picker))
        self._adjacency = (None, None)
        document.changed.connect(self._on_changed)
        self._fit_radius()

    # ---------------------------------------------------------------- settings
    def set_settings(self, **changes) -> None:
        """Change some settings (see :class:`BrushSettings`)."""
        self.settings = replace(self.settings, **changes)
        self.settings_changed.emit()

    def _fit_radius(self) -> None:
        mesh = self.doc.mesh
        if mesh is not None:
            diagonal = float(np.linalg.norm(np.ptp(mesh.V, axis=0)))
            self.set_settings(radius=DEFAULT_RADIUS_FRACTION * diagonal if diagonal > 0 else 1.0)

    def _on_changed(self, topics) -> None:
        if "mesh" in topics:
            self._fit_radius()
        if "mode" in topics and self.doc.mode != "weights":
            self.set_active(False)

    def set_active(self, on: bool) -> None:
        """Turn the brush on (the Weights tab's mode) or off."""
        if on == self.active:
            return
        if not on and self._stroke is not None:
            self.release()
        self.active = on
        self.viewer.painter = self if on else None
        self.hover_point = None
        if on:
            self.doc.set_mode("weights")
            self.message.emit(
                "Paint: drag on the mesh to paint the selected handle; drag off it to turn the view. "
                "P or Esc stops painting."
            )
        self.active_changed.emit(on)

    # ---------------------------------------------------------------- surface
    def _surface_now(self):
        """The shown vertex positions (n, 3) and a ray picker on them (rebuilt when they change)."""
        doc = self.doc
        key = (doc.mesh, doc.rig_state, doc.mode, doc.settings["method"])
        built_for, surface = self._surface
        if surface is None or any(a is not b for a, b in zip(built_for, key)):
            X = np.asarray(self.viewer.displayed_positions(), dtype=np.float64)
            surface = (X, VolumePicker(X, doc.mesh.F))
            self._surface = (key, surface)
        return surface

    def hit(self, origin, direction, surface=None) -> Optional[np.ndarray]:
        """Where the ray meets the shown surface (or ``surface``: positions and picker)
        first, (3,), or None."""
        if self.doc.mesh is None:
            return None
        X, picker = surface or self._surface_now()
        d = np.asarray(direction, dtype=np.float64)
        t = picker.crossings(origin, d)
        t = t[t > 0]
        return None if not len(t) else np.asarray(origin, dtype=np.float64) + t[0] * d / np.linalg.norm(d)

    def _adjacency_now(self):
        mesh = self.doc.mesh
        if self._adjacency[0] is not mesh:
            self._adjacency = (mesh, vertex_adjacency(len(mesh.V), mesh.F, mesh.V))
        return self._adjacency[1]

    # ------------------------------------------------------- the viewer's painter
    def hover(self, origin, direction) -> None:
        """The mouse moved (no button): follow the surface with the brush outline."""
        self.hover_point = self.hit(origin, direction)

    def press(self, origin, direction) -> bool:
        """The button went down: start a stroke when the ray meets the mesh and the
        selected handle can be painted; True when a stroke started (the camera stays put)."""
        centre = self.hit(origin, direction)
        if centre is None:
            return False
        doc, s = self.doc, self.settings
        if not doc.weights_usable():
            self.message.emit("Paint: there are no weights for this mesh and rig; compute or import them first.")
            return False
        joint = doc.selected_handle
        if s.mode != "smooth" and joint is None:
            self.message.emit("Paint: pick the handle to paint in the list (or click its bone) first.")
            return False
        lock = doc.rig_state.locked_mask()
        if s.mode != "smooth" and lock[joint]:
            self.message.emit(f"Paint: {doc.rig.handle_names[joint]} is locked; unlock it to paint it.")
            return False
        self._stroke_surface = self._surface_now()  # fixed for the stroke: what the user saw at the press
        X, _ = self._stroke_surface
        self._stroke = BrushStroke(
            doc.weights,
            X,
            0 if joint is None else joint,
            s.mode,
            s.value,
            s.radius,
            s.strength,
            s.falloff,
            lock,
            self._adjacency_now() if s.mode == "smooth" else None,
            s.accumulate,
        )
        doc.end_interaction()
        self._token = doc.interaction_token("paint")
        self._last = centre
        self._apply([centre])
        return True

    def move(self, origin, direction) -> None:
        """The mouse moved with the button down: dabs along the way."""
        if self._stroke is None:
            return
        centre = self.hit(origin, direction, self._stroke_surface)
        self.hover_point = centre
        if centre is None:  # off the mesh: the stroke resumes where the brush comes back
            self._last = None
            return
        if self._last is None:
            centres = [centre]
        else:
            centres = dab_centres(self._last, centre, self.settings.radius / DABS_PER_RADIUS)
        if len(centres):
            self._last = np.asarray(centres[-1])
            self._apply(centres)

    def release(self) -> None:
        """The button came up: the stroke is one undo step."""
        if self._stroke is None:
            return
        painted = len(self._stroke.painted)
        self._stroke, self._last, self._stroke_surface = None, None, None
        self.doc.end_interaction()
        name = self.doc.rig_state.active_set.name
        self.message.emit(f"Painted {painted:,} vertices in “{name}” (Ctrl+Z undoes the stroke).")

    def _apply(self, centres) -> None:
        start = time.perf_counter()
        changed = [self._stroke.dab(c) for c in centres]
        if sum(len(c) for c in changed):
            s, rig = self.settings, self.doc.rig
            what = "Smooth weights" if s.mode == "smooth" else f"Paint {rig.handle_names[self._stroke.joint]}"
            self.doc.edit_weights(self._stroke.weights.copy(), what, self._stroke.painted, self._token)
        self.dab_ms.append((time.perf_counter() - start) * 1000.0)

    def draw(self) -> None:
        """The brush outline under the mouse (inside polyscope's frame)."""
        if self.hover_point is not None:
            draw_brush_circle(self.hover_point, self.settings.radius, self._stroke is not None)
