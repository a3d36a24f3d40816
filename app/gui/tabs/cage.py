"""The Cage tab: load or build a cage, train coordinates, move cage vertices."""

from __future__ import annotations

import numpy as np
from PyQt6.QtWidgets import QFormLayout, QGroupBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from fieldrig.core import vocabulary as vocab
from fieldrig.gui.controller import Controller
from fieldrig.gui.document import Document
from fieldrig.gui.tabs.common import AskPath, ask_then, button, setting_combo
from fieldrig.gui.widgets import Vec3Edit


class CageTab(QWidget):
    """Load or build a cage, train coordinates, move cage vertices."""

    def __init__(self, document: Document, controller: Controller, ask_open: AskPath):
        super().__init__()
        self.doc, self.controller = document, controller
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(
            button("Open cage…", lambda: ask_then(ask_open, "Open cage", vocab.CAGE_OPEN_FILTER, controller.open_cage))
        )
        row.addWidget(button("Automatic cage", controller.make_auto_cage, "A coarse closed cage around the mesh"))
        layout.addLayout(row)
        box = QGroupBox("Coordinates")
        form = QFormLayout(box)
        self.objective = setting_combo(
            document,
            "objective",
            [(label, objective) for objective, label in vocab.COORDINATE_OBJECTIVE_LABELS.items()],
        )
        form.addRow("Objective", self.objective)
        self.compute = button(
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
        form.addRow(button("Reset cage", self.reset_cage))
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
