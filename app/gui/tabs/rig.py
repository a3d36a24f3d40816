"""The Rig tab: load, build and edit the skeleton — tools, outliner, properties, undo/redo."""

from __future__ import annotations

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
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from fieldrig.core import vocabulary as vocab
from fieldrig.core.errors import InputError
from fieldrig.gui.controller import Controller
from fieldrig.gui.document import Document
from fieldrig.gui.rig_edit import delete_handle, joint_of_handle, move_joint, rename_handle, set_bone_parent
from fieldrig.gui.tabs.common import AskPath, ask_then, button, setting_combo
from fieldrig.gui.tools import ClickTools
from fieldrig.gui.widgets import HandleTree, Vec3Edit


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
            button("Open rig…", lambda: ask_then(ask_open, "Open rig", vocab.RIG_OPEN_FILTER, controller.open_rig))
        )
        files.addWidget(
            button("Save rig…", lambda: ask_then(ask_save, "Save rig", vocab.RIG_SAVE_FILTER, controller.save_rig))
        )
        layout.addLayout(files)

        tool_box = QGroupBox("Build (click in the 3D view)")
        tool_layout = QVBoxLayout(tool_box)
        row = QHBoxLayout()
        self.tool_buttons = QButtonGroup(self)
        for name, text in (("select", "Select / move"), ("point", "Add point"), ("bone", "Add bones")):
            radio = QRadioButton(text)
            radio.setObjectName(name)
            self.tool_buttons.addButton(radio)
            row.addWidget(radio)
            radio.toggled.connect(lambda on, name=name: tools.set_tool(name) if on else None)
            if name == "select":
                radio.setChecked(True)
        tool_layout.addLayout(row)
        row = QHBoxLayout()
        row.addWidget(QLabel("Place joints"))
        self.placement = setting_combo(
            document, "placement", [(label, where) for where, label in vocab.JOINT_PLACEMENT_LABELS.items()]
        )
        row.addWidget(self.placement)
        row.addWidget(button("End chain", tools.end_chain, "Stop adding bones to the current chain (Esc)"))
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
        form.addRow(button("Delete handle", self.delete_selected))
        layout.addWidget(props)

        undo = QHBoxLayout()
        undo.addWidget(button("Undo", document.undo_stack.undo))
        undo.addWidget(button("Redo", document.undo_stack.redo))
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
