"""The Pose tab: turn and move the selected handle by typed numbers (the gizmo and Blender's
R / G in the 3D view do the same by hand), reset, mirror, choose LBS or DQS, save and load
poses.

A handle's rotation is kept as a matrix and shown as an axis and an angle in degrees: type
either to set it, or turn it by a step about a world axis (composed as quaternions, so it
never locks). Translations are in the parent's frame (the world's for a root); any handle
moves, its subtree with it. While a clip of the timeline poses the rig, the manual pose
waits and the tab says so.
"""

from __future__ import annotations

import numpy as np
from PyQt6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from fieldrig.core import vocabulary as vocab
from fieldrig.core.errors import InputError
from fieldrig.geometry.pose import Pose
from fieldrig.geometry.posing import axis_angle, mirror_pose, turn
from fieldrig.geometry.rotations import axis_angle_matrix, nearest_rotation
from fieldrig.geometry.weight_edit import mirror_joint_map
from fieldrig.gui.controller import Controller
from fieldrig.gui.document import Document
from fieldrig.gui.tabs.common import AskPath, ask_then, button, setting_combo
from fieldrig.gui.widgets import HandleTree, Vec3Edit
from fieldrig.session import copy_pose

WORLD_AXES = {"X": (1.0, 0.0, 0.0), "Y": (0.0, 1.0, 0.0), "Z": (0.0, 0.0, 1.0)}
HOTKEYS = (
    "In the 3D view: R rotates, G grabs the selected handle; then X / Y / Z for an axis, type a "
    "number, click or Enter to keep, Esc or right click to cancel. Drag the gizmo's rings and arrows."
)


class PoseTab(QWidget):
    """Pose the selected handle by numbers, reset and mirror, choose LBS or DQS, save and load poses."""

    def __init__(self, document: Document, controller: Controller, ask_open: AskPath, ask_save: AskPath):
        super().__init__()
        self.doc = document
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(QLabel("Skinning"))
        self.method = setting_combo(
            document, "method", [(vocab.SKINNING_METHOD_LABELS[m], m) for m in vocab.SKINNING_METHODS]
        )
        row.addWidget(self.method)
        layout.addLayout(row)
        self.clip_note = QLabel("")
        self.clip_note.setWordWrap(True)
        layout.addWidget(self.clip_note)
        self.tree = HandleTree(document)
        layout.addWidget(self.tree)

        self.box = QGroupBox("Selected handle")
        form = QFormLayout(self.box)
        self.axis = Vec3Edit(decimals=3, step=0.1)
        self.axis.edited.connect(lambda _axis: self._axis_angle_edited())
        form.addRow("Axis", self.axis)
        self.angle = QDoubleSpinBox()
        self.angle.setRange(-360.0, 360.0)
        self.angle.setDecimals(2)
        self.angle.setSuffix("°")
        self.angle.setKeyboardTracking(False)
        self.angle.setToolTip("Rotation from the rest pose about the axis (in the parent's frame)")
        self.angle.valueChanged.connect(lambda _angle: self._axis_angle_edited())
        form.addRow("Angle", self.angle)
        turns = QHBoxLayout()
        self.step = QDoubleSpinBox()
        self.step.setRange(0.1, 180.0)
        self.step.setValue(15.0)
        self.step.setSuffix("°")
        self.step.setToolTip("Step of the turn buttons")
        turns.addWidget(self.step)
        self.turn_buttons = {}
        for name in WORLD_AXES:
            for sign in (1, -1):
                label = f"{'+' if sign > 0 else '−'}{name}"
                b = button(
                    label, lambda n=name, s=sign: self.turn(n, s * self.step.value()), f"Turn about world {name}"
                )
                b.setMaximumWidth(38)
                self.turn_buttons[label] = b
                turns.addWidget(b)
        form.addRow("Turn", turns)
        self.translation = Vec3Edit()
        self.translation.edited.connect(self._translation_edited)
        self.translation.setToolTip("In the parent's frame (the world's for a root); the subtree follows")
        form.addRow("Translate", self.translation)
        buttons = QHBoxLayout()
        buttons.addWidget(button("Reset handle", self.reset_handle))
        self.mirror_one = button(
            "Mirror to other side", self.mirror_selected, "Copy this handle's pose, mirrored, to its partner"
        )
        buttons.addWidget(self.mirror_one)
        form.addRow(buttons)
        self.mirror_note = QLabel("")
        self.mirror_note.setWordWrap(True)
        form.addRow(self.mirror_note)
        layout.addWidget(self.box)

        self.whole = QGroupBox("Whole pose")
        row = QHBoxLayout(self.whole)
        row.addWidget(button("Reset pose", self.reset_pose))
        self.mirror_all = button("Mirror pose", self.mirror_pose, "Left and right exchange their poses (by name)")
        row.addWidget(self.mirror_all)
        self.mirror_axis = QComboBox()
        for name in WORLD_AXES:
            self.mirror_axis.addItem(f"across {name.lower()} = 0", name)
        self.mirror_axis.setToolTip("The rig's symmetry plane (only its normal matters: poses are relative to rest)")
        row.addWidget(self.mirror_axis)
        layout.addWidget(self.whole)
        hotkeys = QLabel(HOTKEYS)
        hotkeys.setWordWrap(True)
        layout.addWidget(hotkeys)
        files = QHBoxLayout()
        files.addWidget(
            button("Load pose…", lambda: ask_then(ask_open, "Load pose", vocab.POSE_FILTER, controller.load_pose))
        )
        files.addWidget(
            button("Save pose…", lambda: ask_then(ask_save, "Save pose", vocab.POSE_FILTER, controller.save_pose))
        )
        layout.addLayout(files)
        self._setting = False
        document.changed.connect(self._on_changed)
        self._on_changed(document.topics_all())

    def _on_changed(self, topics) -> None:
        if topics & {"pose", "rig", "selection", "mesh", "animation"}:
            self._show()

    def _selected(self):
        rig, h = self.doc.rig, self.doc.selected_handle
        return (None, None) if rig is None or h is None else (h, rig.handle_names[h])

    def _show(self) -> None:
        doc = self.doc
        h, name = self._selected()
        frames = doc.clip_frames()
        self.clip_note.setText(
            ""
            if frames is None
            else f"The clip “{frames.clip.name}” poses the rig: choose “No clip” in the timeline to pose by hand."
        )
        self.box.setEnabled(h is not None and frames is None)
        self.whole.setEnabled(doc.rig is not None and frames is None)
        self._setting = True
        if doc.mesh is not None:
            self.translation.set_step(0.01 * float(np.linalg.norm(np.ptp(doc.mesh.V, axis=0))))
        R = doc.pose.rotations.get(name, np.eye(3)) if h is not None else np.eye(3)
        axis, degrees = axis_angle(R)
        if degrees > 0 or h is None:  # at rest the axis typed last stays: the angle turns about it
            self.axis.set_value(axis)
        self.angle.setValue(degrees)
        self.translation.set_value(doc.pose.translations.get(name, np.zeros(3)) if h is not None else np.zeros(3))
        self._setting = False
        partner = None
        if h is not None:
            m = int(mirror_joint_map(doc.rig.handle_names)[h])
            partner = doc.rig.handle_names[m] if m != h else None
        self.mirror_one.setEnabled(partner is not None)
        self.mirror_note.setText(
            "" if h is None else f"Partner: {partner}." if partner else "No partner by name: a centre handle."
        )

    # ----------------------------------------------------------------- edits
    def _edit(self, pose: Pose, text: str, token=None) -> None:
        self.doc.set_pose(pose, text, token)

    def _axis_angle_edited(self) -> None:
        h, name = self._selected()
        if self._setting or h is None:
            return
        axis = self.axis.value()
        if not np.linalg.norm(axis) > 0:
            return  # no axis yet: nothing to turn about
        self.set_rotation(axis_angle_matrix(axis, self.angle.value()))

    def set_rotation(self, R: np.ndarray) -> None:
        """Set the selected handle's rotation from rest (undoable; typing merges into one step)."""
        h, name = self._selected()
        if h is None:
            return
        pose = copy_pose(self.doc.pose).set(name, rotation=R)
        self._edit(pose, f"Rotate {name}", self.doc.interaction_token("axis angle", h))

    def turn(self, axis: str, degrees: float) -> None:
        """Turn the selected handle by ``degrees`` about world axis ``axis`` ("X", "Y", "Z")
        as it is posed now (undoable)."""
        h, name = self._selected()
        if h is None:
            return
        parent = int(self.doc.rig.handle_parents()[h])
        P = np.eye(3) if parent < 0 else nearest_rotation(self.doc.handle_transforms()[parent][:3, :3])
        local_axis = P.T @ np.asarray(WORLD_AXES[axis])  # the world axis in the parent's frame
        R = turn(self.doc.pose.rotations.get(name, np.eye(3)), local_axis, degrees)
        self._edit(copy_pose(self.doc.pose).set(name, rotation=R), f"Turn {name} about {axis}")

    def _translation_edited(self, t) -> None:
        h, name = self._selected()
        if self._setting or h is None:
            return
        pose = copy_pose(self.doc.pose).set(name, translation=t)
        self._edit(pose, f"Translate {name}", self.doc.interaction_token("translate", h))

    def reset_handle(self) -> None:
        """Put the selected handle back at rest (undoable)."""
        h, name = self._selected()
        if h is None:
            return
        pose = copy_pose(self.doc.pose)
        pose.rotations.pop(name, None)
        pose.translations.pop(name, None)
        self._edit(pose, f"Reset {name}")

    def reset_pose(self) -> None:
        """Put every handle back at rest (undoable)."""
        self._edit(Pose(), "Reset pose")

    def _mirrored(self, handles) -> None:
        if self.doc.rig is None:
            return
        normal = WORLD_AXES[self.mirror_axis.currentData()]
        try:
            pose = mirror_pose(self.doc.rig, self.doc.pose, normal, handles)
        except InputError as exc:  # the pose names handles the rig lacks
            self.mirror_note.setText(str(exc))
            return
        self._edit(pose, "Mirror pose" if handles is None else f"Mirror {handles[0]} to the other side")

    def mirror_pose(self) -> None:
        """Left and right exchange their poses, mirrored across the chosen plane (undoable)."""
        self._mirrored(None)

    def mirror_selected(self) -> None:
        """The selected handle's pose, mirrored, onto its other-side partner (undoable)."""
        h, name = self._selected()
        if h is not None:
            self._mirrored([name])
