"""The Cage tab: load or build a cage, see which coordinates bind the mesh, train better
ones, select and move cage vertices.

A cage binds the mesh as soon as it is loaded or built, by mean value coordinates (closed
form, computed in the compute process together with the cage), so its vertices can be
dragged at once; *Compute coordinates* trains a barycentric field in the background and
swaps its coordinates in when ready, keeping the cage as it has been moved.

Typed positions: with one vertex selected the boxes hold its position; with several, the
selection's centroid, and typing moves every selected vertex by the same offset.
"""

from __future__ import annotations

import numpy as np
from PyQt6.QtWidgets import QFormLayout, QGroupBox, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from fieldrig.core import vocabulary as vocab
from fieldrig.gui.controller import Controller
from fieldrig.gui.document import Document
from fieldrig.gui.tabs.common import AskPath, ask_then, button, setting_combo
from fieldrig.gui.widgets import Vec3Edit
from fieldrig.session import MEAN_VALUE, CageState

#: The automatic cage's default vertex count: 3D meshes, flat (2D) meshes (as ``auto_cage``).
DEFAULT_CAGE_VERTICES = {3: 40, 2: 16}
#: Largest vertex count the resolution box offers (auto_cage refuses more than its offset
#: surface has; that message names the limit).
MAX_CAGE_VERTICES = 100_000
#: Vertex indices the selection line lists before "…".
SHOWN_INDICES = 8
#: Coordinates below this are reported as negative (rounding stays far below).
NEGATIVE_TOLERANCE = 1e-9


def coordinates_label(cage: CageState) -> str:
    """Which coordinates bind the mesh, for people: "Mean value (closed form)",
    "Trained: Dirichlet …", or "none"."""
    if cage.coordinates is None:
        return "none"
    if cage.coordinates_kind == MEAN_VALUE:
        return "Mean value (closed form)"
    if cage.coordinates_kind in vocab.COORDINATE_OBJECTIVE_LABELS:
        return f"Trained: {vocab.COORDINATE_OBJECTIVE_LABELS[cage.coordinates_kind]}"
    return "Trained" if cage.barycentric_field is not None else "From the project"


class CageTab(QWidget):
    """Load or build a cage, train coordinates, select and move cage vertices."""

    def __init__(self, document: Document, controller: Controller, ask_open: AskPath):
        super().__init__()
        self.doc, self.controller = document, controller
        self._mesh = None
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(
            button("Open cage…", lambda: ask_then(ask_open, "Open cage", vocab.CAGE_OPEN_FILTER, controller.open_cage))
        )
        self.build = button(
            "Automatic cage",
            lambda: controller.make_auto_cage(self.resolution.value()),
            "Build a coarse closed cage around the mesh with about this many vertices",
        )
        row.addWidget(self.build)
        self.resolution = QSpinBox()
        self.resolution.setRange(3, MAX_CAGE_VERTICES)
        self.resolution.setValue(DEFAULT_CAGE_VERTICES[3])
        self.resolution.setSuffix(" vertices")
        self.resolution.setToolTip(
            "The automatic cage's resolution: about this many vertices in 3D (at least 4), at most this many "
            "for a flat mesh's polygon (at least 3). Click Automatic cage to build it."
        )
        row.addWidget(self.resolution)
        layout.addLayout(row)

        box = QGroupBox("Coordinates")
        form = QFormLayout(box)
        self.in_use = QLabel("none")
        self.in_use.setWordWrap(True)
        form.addRow("In use", self.in_use)
        self.note = QLabel("")
        self.note.setWordWrap(True)
        form.addRow(self.note)
        self.objective = setting_combo(
            document,
            "objective",
            [(label, objective) for objective, label in vocab.COORDINATE_OBJECTIVE_LABELS.items()],
        )
        form.addRow("Objective", self.objective)
        self.compute = button(
            "Compute coordinates",
            controller.compute_coordinates,
            "Train the barycentric field in the background (cancel below); its coordinates replace the "
            "current ones when ready, the cage stays as moved",
        )
        self.mean_value = button(
            "Use mean value",
            controller.bind_mean_value,
            "Bind the mesh by mean value coordinates (closed form, at once)",
        )
        row = QHBoxLayout()
        row.addWidget(self.compute)
        row.addWidget(self.mean_value)
        form.addRow(row)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        form.addRow(self.status)
        layout.addWidget(box)

        box = QGroupBox("Selected cage vertices")
        form = QFormLayout(box)
        hint = QLabel(
            "Click a cage vertex in the 3D view, Shift+click to add or remove one; drag the gizmo "
            "(several vertices also rotate and scale about their centroid)."
        )
        hint.setWordWrap(True)
        form.addRow(hint)
        self.selected = QLabel("none")
        form.addRow("Selected", self.selected)
        self.position = Vec3Edit()
        self.position.setToolTip("One vertex: its position. Several: their centroid; typing moves them all.")
        self.position.edited.connect(self._moved)
        form.addRow("Position", self.position)
        row = QHBoxLayout()
        row.addWidget(button("Select all", self.select_all))
        row.addWidget(button("Select none", lambda: document.select_cage_vertices(())))
        row.addWidget(button("Reset cage", self.reset_cage))
        form.addRow(row)
        layout.addWidget(box)
        layout.addStretch(1)
        document.changed.connect(self._on_changed)
        self._on_changed(document.topics_all())

    # -------------------------------------------------------------- showing
    def _on_changed(self, topics) -> None:
        doc = self.doc
        if "mesh" in topics and doc.mesh is not self._mesh:
            self._mesh = doc.mesh
            flat = doc.mesh is not None and np.ptp(doc.mesh.V[:, 2]) == 0.0
            self.resolution.setValue(DEFAULT_CAGE_VERTICES[2 if flat else 3])
        if topics & {"cage", "coords", "mesh"}:
            self._show_coordinates()
        if topics & {"cage_pose", "selection", "cage"}:
            self._show_selection()

    def _show_coordinates(self) -> None:
        doc, cage = self.doc, self.doc.cage_state
        usable = doc.coordinates_usable()
        self.in_use.setText(coordinates_label(cage) if usable else "none")
        note = ""
        if usable and cage.coordinates_kind == MEAN_VALUE:
            low = float(cage.coordinates.min())
            if low < -NEGATIVE_TOLERANCE:
                note = (
                    f"Mean value coordinates dip to {low:.2g} inside this non-convex cage (a cage vertex can pull "
                    "parts of the mesh the opposite way); Compute coordinates gives non-negative ones."
                )
        self.note.setText(note)
        self.note.setVisible(bool(note))
        if cage.vertices is None:
            text = "No cage."
        else:
            text = f"Cage: {len(cage.vertices)} vertices, {len(cage.faces)} faces."
            if usable:
                text += " Drag cage vertices: the mesh follows."
            elif doc.mesh is not None:
                text += " The mesh is not bound to it: Use mean value, or Compute coordinates."
        self.status.setText(text)

    def _show_selection(self) -> None:
        doc = self.doc
        selection = doc.cage_selection
        shown = ", ".join(map(str, selection[:SHOWN_INDICES])) + ("…" if len(selection) > SHOWN_INDICES else "")
        if not selection:
            self.selected.setText("none")
        elif len(selection) == 1:
            self.selected.setText(f"vertex {shown}")
        else:
            self.selected.setText(f"{len(selection)} vertices ({shown})")
        self.position.setEnabled(bool(selection) and doc.cage_pose is not None)
        if selection and doc.cage_pose is not None:
            p = np.zeros(3)
            p[: doc.cage_pose.shape[1]] = doc.cage_pose[list(selection)].mean(axis=0)
            self.position.set_value(p)

    # -------------------------------------------------------------- editing
    def _moved(self, p) -> None:
        """Typed position: the one selected vertex goes there; several move by the offset
        from their centroid."""
        doc, selection = self.doc, list(self.doc.cage_selection)
        if not selection or doc.cage_pose is None:
            return
        P = doc.cage_pose.copy()
        d = P.shape[1]
        P[selection] += np.asarray(p)[:d] - P[selection].mean(axis=0)
        what = f"cage vertex {selection[0]}" if len(selection) == 1 else f"{len(selection)} cage vertices"
        doc.set_cage_pose(P, f"Move {what}", doc.interaction_token("cage spin", tuple(selection)))

    def select_all(self) -> None:
        """Select every cage vertex (to move the whole cage)."""
        if self.doc.cage_state.vertices is not None:
            self.doc.select_cage_vertices(range(len(self.doc.cage_state.vertices)))

    def reset_cage(self) -> None:
        """Move every cage vertex back to rest (undoable)."""
        if self.doc.cage_state.vertices is not None:
            self.doc.set_cage_pose(self.doc.cage_state.vertices.copy(), "Reset cage")
