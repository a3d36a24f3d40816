"""The Pose tab: pose the selected handle with sliders, choose LBS or DQS, reset, save and load poses."""

from __future__ import annotations

import math

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QFormLayout, QGroupBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from fieldrig.core import vocabulary as vocab
from fieldrig.geometry.rotations import axis_angle_matrix
from fieldrig.gui.controller import Controller
from fieldrig.gui.document import Document
from fieldrig.gui.tabs.common import AskPath, ask_then, button, setting_combo
from fieldrig.gui.widgets import HandleTree, Vec3Edit
from fieldrig.session import copy_pose


def euler_xyz_to_matrix(angles_deg) -> np.ndarray:
    """Rotation ``Rz(c) · Ry(b) · Rx(a)`` from angles (a, b, c) in degrees, (3, 3)."""
    a, b, c = angles_deg
    return axis_angle_matrix((0, 0, 1), c) @ axis_angle_matrix((0, 1, 0), b) @ axis_angle_matrix((1, 0, 0), a)


def matrix_to_euler_xyz(R: np.ndarray) -> np.ndarray:
    """Angles (a, b, c) in degrees with ``R = Rz(c) · Ry(b) · Rx(a)``, b in [-90, 90]."""
    b = math.asin(float(np.clip(-R[2, 0], -1.0, 1.0)))
    if abs(R[2, 0]) < 1 - 1e-9:
        a, c = math.atan2(R[2, 1], R[2, 2]), math.atan2(R[1, 0], R[0, 0])
    else:  # gimbal lock: put everything into a
        a, c = math.atan2(-R[1, 2], R[1, 1]), 0.0
    return np.degrees([a, b, c])


class PoseTab(QWidget):
    """Pose the selected handle with sliders (the gizmo in the 3D view does the same), choose
    LBS or DQS, reset, save and load poses."""

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
        self.tree = HandleTree(document)
        layout.addWidget(self.tree)

        box = QGroupBox("Selected handle (local, in the rest frame)")
        form = QFormLayout(box)
        self.sliders = []
        for axis in "XYZ":
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setRange(-180, 180)
            slider.valueChanged.connect(self._rotation_edited)
            slider.sliderReleased.connect(document.end_interaction)
            self.sliders.append(slider)
            form.addRow(f"Rotate {axis}", slider)
        self.translation = Vec3Edit()
        self.translation.edited.connect(self._translation_edited)
        form.addRow("Translate", self.translation)
        self.translation_note = QLabel("")
        form.addRow(self.translation_note)
        buttons = QHBoxLayout()
        buttons.addWidget(button("Reset handle", self.reset_handle))
        buttons.addWidget(button("Reset pose", self.reset_pose))
        form.addRow(buttons)
        layout.addWidget(box)
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
        if topics & {"pose", "rig", "selection", "mesh"}:
            self._show()

    def _selected(self):
        rig, h = self.doc.rig, self.doc.selected_handle
        return (None, None) if rig is None or h is None else (h, rig.handle_names[h])

    def _show(self) -> None:
        h, name = self._selected()
        self._setting = True
        enabled = h is not None
        for slider in self.sliders:
            slider.setEnabled(enabled)
        root = enabled and self.doc.rig.handle_parents()[h] < 0
        self.translation.setEnabled(bool(root))
        self.translation_note.setText(
            "" if not enabled or root else "Child bones rotate about their joint; translate the root."
        )
        if self.doc.mesh is not None:
            self.translation.set_step(0.01 * float(np.linalg.norm(np.ptp(self.doc.mesh.V, axis=0))))
        if enabled:
            R = self.doc.pose.rotations.get(name, np.eye(3))
            for slider, angle in zip(self.sliders, matrix_to_euler_xyz(R)):
                slider.setValue(int(round(angle)))
            self.translation.set_value(self.doc.pose.translations.get(name, np.zeros(3)))
        else:
            for slider in self.sliders:
                slider.setValue(0)
            self.translation.set_value(np.zeros(3))
        self._setting = False

    def _rotation_edited(self, _value) -> None:
        h, name = self._selected()
        if self._setting or h is None:
            return
        R = euler_xyz_to_matrix([s.value() for s in self.sliders])
        pose = copy_pose(self.doc.pose).set(name, rotation=R)
        self.doc.set_pose(pose, f"Rotate {name}", self.doc.interaction_token("slider", h))

    def _translation_edited(self, t) -> None:
        h, name = self._selected()
        if self._setting or h is None:
            return
        pose = copy_pose(self.doc.pose).set(name, translation=t)
        self.doc.set_pose(pose, f"Translate {name}", self.doc.interaction_token("translate", h))

    def reset_handle(self) -> None:
        """Put the selected handle back at rest (undoable)."""
        h, name = self._selected()
        if h is None:
            return
        pose = copy_pose(self.doc.pose)
        pose.rotations.pop(name, None)
        pose.translations.pop(name, None)
        self.doc.set_pose(pose, f"Reset {name}")

    def reset_pose(self) -> None:
        """Put every handle back at rest (undoable)."""
        from fieldrig.geometry.pose import Pose

        self.doc.set_pose(Pose(), "Reset pose")
