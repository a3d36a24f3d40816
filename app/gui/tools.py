"""What a click in the 3D view does: select handles, joints and cage vertices, place point
handles and bones on the surface or inside the volume, probe a vertex's weights.

Rig mode has three tools: ``"select"`` (click a joint to move it with the gizmo, a bone
to select it), ``"point"`` (each click adds a point handle) and ``"bone"`` (the first
click sets the chain's start — an existing joint when a joint is clicked — and each
further click adds a bone from the previous end, as Blender's extrude does; Escape or
another tool ends the chain). In the other modes a click selects what it hits (Shift+click
adds cage vertices to the selection or takes them out); in weights mode a click on the mesh
also shows that vertex's weights.
"""

from __future__ import annotations

from typing import Optional, Union

import numpy as np
from PyQt6.QtCore import QObject, pyqtSignal

from fieldrig.core.errors import InputError
from fieldrig.draw.scene import BONES, JOINTS, MESH
from fieldrig.gui.document import Document
from fieldrig.gui.picking import VolumePicker
from fieldrig.gui.rig_edit import add_bone, add_point_handle
from fieldrig.gui.viewer import CAGE_VERTICES, Pick, Viewer

TOOLS = ("select", "point", "bone")


class ClickTools(QObject):
    """Turns :class:`~fieldrig.gui.viewer.Pick` events into document edits.

    Signals
    -------
    probed(int)
        A mesh vertex was clicked in weights mode (show its weights).
    message(str)
        A short hint for the status bar (e.g. "click on the mesh").
    tool_changed(str)
    """

    probed = pyqtSignal(int)
    message = pyqtSignal(str)
    tool_changed = pyqtSignal(str)

    def __init__(self, document: Document, viewer: Viewer, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.doc, self.viewer = document, viewer
        self.tool = "select"
        self.chain_start: Union[None, int, np.ndarray] = None
        self._picker: Optional[VolumePicker] = None
        self._picker_mesh = None
        viewer.picked.connect(self.on_pick)
        document.changed.connect(self._on_changed)

    def _on_changed(self, topics) -> None:
        if "mesh" in topics or ("mode" in topics and self.doc.mode != "rig"):
            self.end_chain()

    def set_tool(self, tool: str) -> None:
        """Switch the rig-mode tool (ends a bone chain)."""
        if tool not in TOOLS:
            raise ValueError(f"tool must be one of {TOOLS}, got {tool!r}")
        self.end_chain()
        if tool != self.tool:
            self.tool = tool
            self.tool_changed.emit(tool)
        hints = {
            "select": "Click a joint to move it, a bone to select it.",
            "point": "Click on the mesh to add a point handle.",
            "bone": "Click the bone's start (a joint, or a point on the mesh), then its end; keep clicking to chain.",
        }
        self.message.emit(hints[tool])

    def end_chain(self) -> None:
        """Stop adding bones to the current chain."""
        if self.chain_start is not None:
            self.chain_start = None
            self.viewer.set_bone_start(None)

    # --------------------------------------------------------------- placing
    def placement(self, pick: Pick) -> Optional[np.ndarray]:
        """Where a click puts a joint: the surface point, or the middle of the volume under it."""
        mesh = self.doc.mesh
        if self.doc.settings["placement"] == "volume" and mesh is not None:
            if self._picker is None or self._picker_mesh is not mesh:
                self._picker, self._picker_mesh = VolumePicker(mesh.V, mesh.F), mesh
            point = self._picker.volume_point(pick.ray_origin, pick.ray_direction)
            if point is not None:
                return point
        if pick.structure == MESH and pick.position is not None:
            return pick.position
        return None

    def place_point_handle(self, position) -> None:
        """Add a point handle at ``position`` (3,)."""
        self.doc.edit_rig(add_point_handle(self.doc.rig, position), "Add point handle")
        self.doc.select_handle(len(self.doc.rig.point_handles) - 1)

    def bone_click(self, target: Union[int, np.ndarray]) -> None:
        """One click of the bone tool: a joint index or a position.

        The first click of a chain sets its start; each further click adds a bone from the
        chain's current end to ``target`` (a position) and continues from there.
        """
        if self.chain_start is None:
            self.chain_start = int(target) if isinstance(target, (int, np.integer)) else np.asarray(target, float)
            start = self.doc.rig.joints[self.chain_start] if isinstance(self.chain_start, int) else self.chain_start
            self.viewer.set_bone_start(start)
            return
        if isinstance(target, (int, np.integer)):
            target = self.doc.rig.joints[int(target)]
        try:
            new_rig = add_bone(self.doc.rig, self.chain_start, target)
        except InputError as exc:
            self.message.emit(str(exc))
            return
        self.doc.edit_rig(new_rig, "Add bone")
        self.doc.select_handle(new_rig.n_handles - 1)
        self.chain_start = len(new_rig.joints) - 1
        self.viewer.set_bone_start(new_rig.joints[-1])

    # --------------------------------------------------------------- clicks
    def on_pick(self, pick: Pick) -> None:
        """Handle one click in the 3D view."""
        doc = self.doc
        if doc.mode == "rig" and self.tool in ("point", "bone"):
            if self.tool == "bone" and pick.structure == JOINTS and pick.index is not None:
                self.bone_click(int(pick.index))
                return
            position = self.placement(pick)
            if position is None:
                self.message.emit("Click on the mesh (nothing was hit).")
            elif self.tool == "point":
                self.place_point_handle(position)
            else:
                self.bone_click(position)
            return
        if doc.mode == "cage":
            doc.click_cage_vertex(int(pick.index) if pick.structure == CAGE_VERTICES else None, pick.shift)
            return
        handle = self._handle_at(pick)
        if pick.structure == JOINTS and doc.mode == "rig":
            doc.select_joint(int(pick.index))
        if handle is not None or pick.structure is None:
            doc.select_handle(handle)
        if doc.mode == "weights" and pick.vertex is not None:
            self.probed.emit(int(pick.vertex))

    def _handle_at(self, pick: Pick) -> Optional[int]:
        rig = self.doc.rig
        if rig is None or pick.index is None:
            return None
        if pick.structure == BONES:
            bone = pick.index // 2 if pick.element == "node" else pick.index
            return int(rig.bone_handles[bone]) if bone < len(rig.bones) else None
        if pick.structure == JOINTS:
            j = int(pick.index)
            hits = np.flatnonzero(rig.point_handles == j)
            if len(hits):
                return int(rig.point_columns[hits[0]])
            if rig.is_skeleton:
                return j  # a skeleton's joint is its own handle
            ends = np.flatnonzero(rig.bones[:, 1] == j) if len(rig.bones) else []
            starts = np.flatnonzero(rig.bones[:, 0] == j) if len(rig.bones) else []
            bones = list(ends) + list(starts)
            return int(rig.bone_handles[bones[0]]) if bones else None
        return None
