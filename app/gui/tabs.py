"""The panel's tabs: Mesh, Rig, Weights, Pose, Cage, Export.

Each tab shows part of the :class:`~fieldrig.gui.document.Document`, refreshes itself on
its ``changed`` signal, and sends edits to the document (rig edits, pose) or actions to the
:class:`~fieldrig.gui.controller.Controller` (files, training). Buttons that open files
call ``ask_open`` / ``ask_save`` (file dialogs) and then the same controller method a test
or a script calls with a path.
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QRadioButton,
    QSlider,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fieldrig.core import vocabulary as vocab
from fieldrig.core.errors import InputError
from fieldrig.geometry.rotations import axis_angle_matrix
from fieldrig.gui.controller import Controller
from fieldrig.gui.document import Document
from fieldrig.gui.rig_edit import delete_handle, joint_of_handle, move_joint, rename_handle, set_bone_parent
from fieldrig.gui.tools import ClickTools
from fieldrig.gui.widgets import HandleTree, Vec3Edit
from fieldrig.session import copy_pose, mesh_problems

AskPath = Callable[[str, str], Optional[str]]

DEVICES = ("auto", "cpu", "cuda")


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


def _button(text: str, slot, tip: str = "") -> QPushButton:
    button = QPushButton(text)
    button.clicked.connect(lambda _checked=False: slot())
    if tip:
        button.setToolTip(tip)
    return button


def ask_then(ask: AskPath, title: str, filters: str, action) -> None:
    """Ask for a path with a file dialog; run ``action(path)`` unless cancelled."""
    path = ask(title, filters)
    if path:
        action(path)


def setting_combo(document: Document, key: str, choices) -> QComboBox:
    """A combo box bound both ways to one document setting.

    Parameters
    ----------
    document : Document
    key : str
        The setting (see :data:`fieldrig.gui.document.DEFAULT_SETTINGS`).
    choices : sequence of (label, value) or of str
        A plain string is both label and value.
    """
    combo = QComboBox()
    for choice in choices:
        label, value = (choice, choice) if isinstance(choice, str) else choice
        combo.addItem(label, value)

    def show(topics=frozenset({"settings"})):
        if "settings" in topics:
            combo.blockSignals(True)
            combo.setCurrentIndex(max(0, combo.findData(document.settings[key])))
            combo.blockSignals(False)

    combo.currentIndexChanged.connect(lambda _index: document.set_setting(key, combo.currentData()))
    document.changed.connect(show)
    show()
    return combo


# ============================================================================= Mesh
class MeshTab(QWidget):
    """The mesh's file, statistics, and the problems found on load."""

    def __init__(self, document: Document, controller: Controller, ask_open: AskPath):
        super().__init__()
        self.doc = document
        layout = QVBoxLayout(self)
        layout.addWidget(
            _button(
                "Open mesh…",
                lambda: self._open(controller, ask_open),
                "OBJ, PLY, OFF, STL, GLB/GLTF meshes and soups; PLY/XYZ point clouds",
            )
        )
        self.file = QLabel("No mesh")
        self.file.setWordWrap(True)
        layout.addWidget(self.file)
        stats = QGroupBox("Statistics")
        form = QFormLayout(stats)
        self.stats = {}
        for key in ("Vertices", "Faces", "Dropped faces", "Surface", "Components", "Holes", "Size", "Skin"):
            self.stats[key] = QLabel("–")
            form.addRow(key, self.stats[key])
        layout.addWidget(stats)
        layout.addWidget(QLabel("Problems found on load"))
        self.warnings = QListWidget()
        layout.addWidget(self.warnings)
        self._problems = 0
        document.changed.connect(lambda topics: self.refresh() if "mesh" in topics else None)

    def _open(self, controller: Controller, ask_open: AskPath) -> None:
        path = ask_open("Open mesh", vocab.MESH_OPEN_FILTER)
        if path:
            controller.open_mesh(path)

    def problem_count(self) -> int:
        """How many problems the list shows."""
        return self._problems

    def refresh(self) -> None:
        mesh, report = self.doc.mesh, self.doc.mesh_report
        self._problems = 0
        self.warnings.clear()
        if mesh is None:
            self.file.setText("No mesh")
            for label in self.stats.values():
                label.setText("–")
            return
        self.file.setText(mesh.path)
        self.stats["Vertices"].setText(f"{len(mesh.V):,}")
        self.stats["Faces"].setText("point cloud" if mesh.F is None else f"{len(mesh.F):,}")
        c = mesh.cleanup
        self.stats["Dropped faces"].setText(
            f"{c.dropped:,} ({c.collapsed} collapsed, {c.zero_area} zero-area, {c.duplicate} duplicate)"
            if c.dropped
            else "none"
        )
        asset = self.doc.asset
        self.stats["Skin"].setText(
            "–"
            if asset is None
            else f"{asset.skeleton.n_joints} joints, {len(asset.parts)} part(s), {len(asset.clips)} animation(s)"
        )
        if report is not None:
            self.stats["Surface"].setText(
                "point cloud" if report.is_point_cloud else ("closed" if report.closed else "open")
            )
            self.stats["Components"].setText(str(report.components))
            self.stats["Holes"].setText(str(report.boundary_loops))
            self.stats["Size"].setText(f"diagonal {report.bbox_diagonal:.4g}")
        problems = mesh_problems(mesh, report)
        self._problems = len(problems)
        for text in problems:
            item = QListWidgetItem("⚠ " + text)
            item.setForeground(Qt.GlobalColor.darkYellow)
            self.warnings.addItem(item)
        if not self.warnings.count():
            self.warnings.addItem("No problems found.")


# ============================================================================== Rig
class RigTab(QWidget):
    """Load, build and edit the skeleton: tools, outliner, properties, undo/redo."""

    def __init__(
        self, document: Document, controller: Controller, tools: ClickTools, ask_open: AskPath, ask_save: AskPath
    ):
        super().__init__()
        self.doc, self.controller, self.tools = document, controller, tools
        layout = QVBoxLayout(self)
        files = QHBoxLayout()
        files.addWidget(
            _button("Open rig…", lambda: ask_then(ask_open, "Open rig", vocab.RIG_OPEN_FILTER, controller.open_rig))
        )
        files.addWidget(
            _button("Save rig…", lambda: ask_then(ask_save, "Save rig", vocab.RIG_SAVE_FILTER, controller.save_rig))
        )
        layout.addLayout(files)

        tool_box = QGroupBox("Build (click in the 3D view)")
        tool_layout = QVBoxLayout(tool_box)
        row = QHBoxLayout()
        self.tool_buttons = QButtonGroup(self)
        for name, text in (("select", "Select / move"), ("point", "Add point"), ("bone", "Add bones")):
            button = QRadioButton(text)
            button.setObjectName(name)
            self.tool_buttons.addButton(button)
            row.addWidget(button)
            button.toggled.connect(lambda on, name=name: tools.set_tool(name) if on else None)
            if name == "select":
                button.setChecked(True)
        tool_layout.addLayout(row)
        row = QHBoxLayout()
        row.addWidget(QLabel("Place joints"))
        self.placement = setting_combo(
            document, "placement", [("on the surface", "surface"), ("inside the volume", "volume")]
        )
        row.addWidget(self.placement)
        row.addWidget(_button("End chain", tools.end_chain, "Stop adding bones to the current chain (Esc)"))
        tool_layout.addLayout(row)
        layout.addWidget(tool_box)

        self.tree = HandleTree(document, deform_column=True)
        layout.addWidget(self.tree)
        layout.addWidget(QLabel("Problems (handles outside the shape, excluded handles)"))
        self.problems = QListWidget()
        self.problems.setMaximumHeight(90)
        layout.addWidget(self.problems)

        props = QGroupBox("Selected handle")
        form = QFormLayout(props)
        self.name = QLineEdit()
        self.name.editingFinished.connect(self._rename)
        form.addRow("Name", self.name)
        self.parent_combo = QComboBox()
        self.parent_combo.activated.connect(self._reparent)
        form.addRow("Parent", self.parent_combo)
        self.joint_combo = QComboBox()
        self.joint_combo.currentIndexChanged.connect(self._joint_chosen)
        form.addRow("Joint", self.joint_combo)
        self.position = Vec3Edit()
        self.position.edited.connect(self._move_joint)
        form.addRow("Position", self.position)
        form.addRow(_button("Delete handle", self.delete_selected))
        layout.addWidget(props)

        undo = QHBoxLayout()
        undo.addWidget(_button("Undo", document.undo_stack.undo))
        undo.addWidget(_button("Redo", document.undo_stack.redo))
        layout.addLayout(undo)
        document.changed.connect(self._on_changed)
        self._on_changed({"rig", "selection"})

    def _on_changed(self, topics) -> None:
        if topics & {"rig", "selection", "mesh"}:
            self._show_selection()
        if topics & {"rig", "weights"}:
            self.problems.clear()
            for text in self.doc.rig_state.problems:
                item = QListWidgetItem("⚠ " + text)
                item.setForeground(Qt.GlobalColor.darkYellow)
                self.problems.addItem(item)

    def problem_count(self) -> int:
        """How many problems the Rig tab lists."""
        return self.problems.count()

    def _show_selection(self) -> None:
        doc, rig, h = self.doc, self.doc.rig, self.doc.selected_handle
        enabled = rig is not None and h is not None
        for w in (self.name, self.parent_combo, self.joint_combo, self.position):
            w.setEnabled(enabled)
        self.joint_combo.blockSignals(True)
        self.joint_combo.clear()
        self.parent_combo.clear()
        if doc.mesh is not None:
            self.position.set_step(0.01 * float(np.linalg.norm(np.ptp(doc.mesh.V, axis=0))))
        if not enabled:
            self.name.setText("")
            self.joint_combo.blockSignals(False)
            return
        self.name.setText(rig.handle_names[h])
        point = np.flatnonzero(rig.point_columns == h)
        if rig.is_skeleton:
            joints = [int(rig.pivot_joints[h])]
            p = int(rig.parents[h])
            self.parent_combo.addItem("(none)" if p < 0 else rig.handle_names[p], -2)
            self.parent_combo.setEnabled(False)
        elif len(point):
            joints = [int(rig.point_handles[point[0]])]
            self.parent_combo.addItem("(point handles have no parent)", -2)
            self.parent_combo.setEnabled(False)
        else:
            b = int(np.flatnonzero(rig.bone_handles == h)[0])
            joints = [int(j) for j in rig.bones[b]]
            self.parent_combo.addItem("(none)", -1)
            for other in range(len(rig.bones)):
                if other != b and not _descends_from(rig.bone_parents, other, b):
                    self.parent_combo.addItem(rig.bone_names[other], other)
            self.parent_combo.setCurrentIndex(max(0, self.parent_combo.findData(int(rig.bone_parents[b]))))
        for j in joints:
            self.joint_combo.addItem(rig.joint_names[j], j)
        selected = doc.selected_joint if doc.selected_joint in joints else joint_of_handle(rig, h)
        self.joint_combo.setCurrentIndex(self.joint_combo.findData(selected))
        self.joint_combo.blockSignals(False)
        self.position.set_value(rig.joints[selected])
        if doc.selected_joint != selected:
            doc.select_joint(selected)

    def _joint_chosen(self, _index) -> None:
        j = self.joint_combo.currentData()
        if j is not None:
            self.doc.select_joint(int(j))

    def _edit(self, make, text: str, **kwargs) -> None:
        try:
            new_rig = make()
        except InputError as exc:
            self.controller.error.emit(text, str(exc), "")
            self._show_selection()
            return
        self.doc.edit_rig(new_rig, text, **kwargs)

    def _rename(self) -> None:
        h, rig = self.doc.selected_handle, self.doc.rig
        if h is None or rig is None or self.name.text() == rig.handle_names[h]:
            return
        old = rig.handle_names[h]
        self._edit(
            lambda: rename_handle(rig, h, self.name.text()), f"Rename {old}", renamed={old: self.name.text().strip()}
        )

    def _reparent(self, _index) -> None:
        h, rig = self.doc.selected_handle, self.doc.rig
        parent = self.parent_combo.currentData()
        if h is None or rig is None or parent is None or parent < -1:
            return
        b = int(np.flatnonzero(rig.bone_handles == h)[0])
        if parent != rig.bone_parents[b]:
            self._edit(lambda: set_bone_parent(rig, b, int(parent)), f"Set parent of {rig.bone_names[b]}")

    def _move_joint(self, position) -> None:
        j, rig = self.doc.selected_joint, self.doc.rig
        if j is None or rig is None:
            return
        self._edit(
            lambda: move_joint(rig, j, position),
            f"Move {rig.joint_names[j]}",
            merge_token=self.doc.interaction_token("spin", j),
        )

    def delete_selected(self) -> None:
        """Delete the selected handle (undoable)."""
        h, rig = self.doc.selected_handle, self.doc.rig
        if h is None or rig is None:
            return
        name = rig.handle_names[h]
        self._edit(lambda: delete_handle(rig, h), f"Delete {name}")
        self.doc.select_handle(None)


def _descends_from(parents: np.ndarray, bone: int, ancestor: int) -> bool:
    """True when ``ancestor`` is on ``bone``'s parent chain."""
    p = parents[bone]
    while p >= 0:
        if p == ancestor:
            return True
        p = parents[p]
    return False


# ========================================================================== Weights
class WeightsTab(QWidget):
    """Compute weights (preset, device, progress) and inspect them (per handle, dominant, per vertex)."""

    def __init__(self, document: Document, controller: Controller, tools: ClickTools, ask_open: AskPath):
        super().__init__()
        self.doc, self.controller = document, controller
        layout = QVBoxLayout(self)
        box = QGroupBox("Compute")
        form = QFormLayout(box)
        self.preset = setting_combo(document, "preset", vocab.SKINNING_PRESET_NAMES)
        form.addRow("Preset", self.preset)
        self.device = setting_combo(document, "device", DEVICES)
        form.addRow("Device", self.device)
        self.device_label = QLabel("checking for a CUDA GPU…")
        form.addRow("In use", self.device_label)
        self.cuda_name: Optional[str] = None
        self._probed = False
        self.compute = _button("Compute weights", controller.compute_weights, "Train the skinning field (cancel below)")
        form.addRow(self.compute)
        form.addRow(
            _button(
                "Import weights…",
                lambda: ask_then(ask_open, "Import weights", vocab.WEIGHTS_FILTER, controller.load_weights),
            )
        )
        self.status = QLabel("")
        self.status.setWordWrap(True)
        form.addRow(self.status)
        self.weight_set = QComboBox()
        self.weight_set.setToolTip("The weights shown, posed with and exported: the file's, imported or computed")
        self.weight_set.activated.connect(document.select_weight_set)
        form.addRow("Weight set", self.weight_set)
        layout.addWidget(box)

        view = QGroupBox("Show")
        row = QHBoxLayout(view)
        self.show_weight = QRadioButton("Selected handle's weight")
        self.show_dominant = QRadioButton("Dominant handle")
        row.addWidget(self.show_weight)
        row.addWidget(self.show_dominant)
        self.show_weight.toggled.connect(lambda on: document.set_setting("colouring", "weight" if on else "dominant"))
        layout.addWidget(view)
        self.tree = HandleTree(document)
        layout.addWidget(self.tree)
        layout.addWidget(QLabel("Vertex weights (click the mesh)"))
        self.readout = QTableWidget(0, 2)
        self.readout.setHorizontalHeaderLabels(["Handle", "Weight"])
        self.readout.horizontalHeader().setStretchLastSection(True)
        layout.addWidget(self.readout)
        self.probed_vertex: Optional[int] = None
        tools.probed.connect(self.show_vertex)
        self.used_device: Optional[str] = None
        controller.device_used.connect(self._device_used)
        document.changed.connect(self._on_changed)
        self._on_changed(document.topics_all())

    def set_cuda(self, name: str) -> None:
        """What the device probe found: the CUDA GPU's name, or "" for none."""
        self.cuda_name, self._probed = name or None, True
        self._show_device()

    def _device_used(self, device: str) -> None:
        self.used_device = device
        self._show_device()

    def _show_device(self) -> None:
        choice = self.doc.settings["device"]
        if choice == "cpu":
            text = "CPU"
        elif not self._probed:
            text = "checking for a CUDA GPU…"
        elif self.cuda_name is None:
            text = "CPU (no CUDA GPU found)" if choice == "auto" else "CUDA not available: training will fail"
        else:
            text = f"CUDA: {self.cuda_name}"
        if self.used_device:
            text += f" · last training ran on {self.used_device}"
        self.device_label.setText(text)

    def _on_changed(self, topics) -> None:
        doc = self.doc
        if "selection" in topics and doc.mode == "weights" and doc.selected_handle is not None:
            doc.set_setting("colouring", "weight")  # picking a handle here means: show its weight field
        if "settings" in topics:
            (self.show_weight if doc.settings["colouring"] == "weight" else self.show_dominant).setChecked(True)
            self._show_device()
        if topics & {"weights", "rig", "mesh"}:
            if doc.weights_usable():
                W = doc.weights
                text = f"{W.shape[0]:,} vertices × {W.shape[1]} handles."
                if doc.rig_state.weights_stale:
                    text += " ⚠ Joints moved since they were computed: compute again."
            elif doc.mesh is None or doc.rig is None:
                text = "Open a mesh and a rig (or build one) to compute weights."
            else:
                text = "No weights yet."
            self.status.setText(text)
            self._show_weight_sets()
            if self.probed_vertex is not None:
                self.show_vertex(self.probed_vertex)

    def _show_weight_sets(self) -> None:
        rs = self.doc.rig_state
        self.weight_set.blockSignals(True)
        self.weight_set.clear()
        for ws in rs.weight_sets:
            self.weight_set.addItem(f"{ws.name} ({ws.origin})")
        self.weight_set.setCurrentIndex(rs.active if rs.weight_sets else -1)
        self.weight_set.setEnabled(len(rs.weight_sets) > 1)
        self.weight_set.blockSignals(False)

    def show_vertex(self, vertex: int) -> None:
        """Fill the readout with one vertex's weights, largest first."""
        self.probed_vertex = vertex
        self.readout.setRowCount(0)
        if not self.doc.weights_usable() or vertex >= len(self.doc.weights):
            return
        w = self.doc.weights[vertex]
        names = self.doc.rig.handle_names
        order = np.argsort(-w)
        self.readout.setRowCount(len(order) + 1)
        self.readout.setItem(0, 0, QTableWidgetItem(f"vertex {vertex}"))
        self.readout.setItem(0, 1, QTableWidgetItem(f"sum {w.sum():.4f}"))
        for row, h in enumerate(order, start=1):
            self.readout.setItem(row, 0, QTableWidgetItem(names[h]))
            self.readout.setItem(row, 1, QTableWidgetItem(f"{w[h]:.4f}"))


# ============================================================================= Pose
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
        buttons.addWidget(_button("Reset handle", self.reset_handle))
        buttons.addWidget(_button("Reset pose", self.reset_pose))
        form.addRow(buttons)
        layout.addWidget(box)
        files = QHBoxLayout()
        files.addWidget(
            _button("Load pose…", lambda: ask_then(ask_open, "Load pose", vocab.POSE_FILTER, controller.load_pose))
        )
        files.addWidget(
            _button("Save pose…", lambda: ask_then(ask_save, "Save pose", vocab.POSE_FILTER, controller.save_pose))
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


# ============================================================================= Cage
class CageTab(QWidget):
    """Load or build a cage, train coordinates, move cage vertices."""

    def __init__(self, document: Document, controller: Controller, ask_open: AskPath):
        super().__init__()
        self.doc, self.controller = document, controller
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(
            _button("Open cage…", lambda: ask_then(ask_open, "Open cage", vocab.CAGE_OPEN_FILTER, controller.open_cage))
        )
        row.addWidget(_button("Automatic cage", controller.make_auto_cage, "A coarse closed cage around the mesh"))
        layout.addLayout(row)
        box = QGroupBox("Coordinates")
        form = QFormLayout(box)
        self.objective = setting_combo(
            document,
            "objective",
            [("Dirichlet (smooth, harmonic-like)", "dirichlet"), ("total variation (local)", "tv")],
        )
        form.addRow("Objective", self.objective)
        self.compute = _button(
            "Compute coordinates", controller.compute_coordinates, "Train the barycentric field (cancel below)"
        )
        form.addRow(self.compute)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        form.addRow(self.status)
        layout.addWidget(box)
        box = QGroupBox("Selected cage vertex (click one in the 3D view, drag the gizmo)")
        form = QFormLayout(box)
        self.position = Vec3Edit()
        self.position.edited.connect(self._moved)
        form.addRow("Position", self.position)
        form.addRow(_button("Reset cage", self.reset_cage))
        layout.addWidget(box)
        layout.addStretch(1)
        document.changed.connect(self._on_changed)
        self._on_changed(document.topics_all())

    def _on_changed(self, topics) -> None:
        doc = self.doc
        if topics & {"cage", "coords", "mesh"}:
            cage = doc.cage_state
            if cage.vertices is None:
                text = "No cage."
            else:
                text = f"Cage: {len(cage.vertices)} vertices, {len(cage.faces)} faces."
                text += (
                    " Coordinates ready: drag cage vertices." if doc.coordinates_usable() else " No coordinates yet."
                )
            self.status.setText(text)
        if topics & {"cage_pose", "selection", "cage"}:
            i = doc.selected_cage_vertex
            self.position.setEnabled(i is not None)
            if i is not None and doc.cage_pose is not None:
                p = np.zeros(3)
                p[: doc.cage_pose.shape[1]] = doc.cage_pose[i]
                self.position.set_value(p)

    def _moved(self, p) -> None:
        doc, i = self.doc, self.doc.selected_cage_vertex
        if i is None or doc.cage_pose is None:
            return
        P = doc.cage_pose.copy()
        P[i] = p[: P.shape[1]]
        doc.set_cage_pose(P, f"Move cage vertex {i}", doc.interaction_token("cage spin", i))

    def reset_cage(self) -> None:
        """Move every cage vertex back to rest (undoable)."""
        if self.doc.cage_state.vertices is not None:
            self.doc.set_cage_pose(self.doc.cage_state.vertices.copy(), "Reset cage")


# =========================================================================== Export
class ExportTab(QWidget):
    """Weights, glTF with skin, the posed mesh, a screenshot; projects."""

    def __init__(
        self, controller: Controller, ask_open: AskPath, ask_save: AskPath, screenshot: Callable[[], np.ndarray]
    ):
        super().__init__()
        layout = QVBoxLayout(self)
        box = QGroupBox("Export")
        form = QFormLayout(box)
        form.addRow(
            _button(
                "Weights (NPY / CSV / DMAT)…",
                lambda: ask_then(ask_save, "Export weights", vocab.WEIGHTS_FILTER, controller.export_weights),
            )
        )
        self.influences = QSpinBox()
        self.influences.setRange(1, 16)
        self.influences.setValue(4)
        row = QHBoxLayout()
        row.addWidget(
            _button(
                "glTF with skin…",
                lambda: ask_then(
                    ask_save,
                    "Export glTF",
                    vocab.GLTF_FILTER,
                    lambda p: controller.export_gltf(p, self.influences.value()),
                ),
            )
        )
        row.addWidget(QLabel("influences per vertex"))
        row.addWidget(self.influences)
        form.addRow(row)
        form.addRow(
            _button(
                "Posed mesh (OBJ / PLY)…",
                lambda: ask_then(
                    ask_save, "Export posed mesh", vocab.POSED_MESH_SAVE_FILTER, controller.export_posed_mesh
                ),
            )
        )
        form.addRow(
            _button(
                "Screenshot (PNG)…",
                lambda: ask_then(
                    ask_save,
                    "Save screenshot",
                    vocab.IMAGE_SAVE_FILTER,
                    lambda p: controller.save_screenshot(p, screenshot()),
                ),
            )
        )
        layout.addWidget(box)
        box = QGroupBox("Project (mesh path, rig, weights, pose, cage, coordinates, settings)")
        row = QHBoxLayout(box)
        row.addWidget(
            _button(
                "Open project…",
                lambda: ask_then(ask_open, "Open project", vocab.PROJECT_FILTER, controller.open_project),
            )
        )
        row.addWidget(
            _button(
                "Save project…",
                lambda: ask_then(ask_save, "Save project", vocab.PROJECT_FILTER, controller.save_project),
            )
        )
        layout.addWidget(box)
        layout.addStretch(1)
