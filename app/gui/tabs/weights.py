"""The Weights tab: compute weights (preset, device, progress), pick the weight set in use,
inspect them (colours with a legend, one vertex's weights), and edit them: the brush, the
weight tools, locks, and typed values."""

from __future__ import annotations

from functools import partial
from typing import Optional

import numpy as np
from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fieldrig.core import vocabulary as vocab
from fieldrig.core.errors import InputError
from fieldrig.draw.colours import handle_palette
from fieldrig.geometry.weight_edit import BRUSH_MODES, FALLOFFS
from fieldrig.gui import weight_tools
from fieldrig.gui.brush import BrushTool
from fieldrig.gui.controller import Controller
from fieldrig.gui.document import Document
from fieldrig.gui.tabs.common import AskPath, ask_then, button, setting_combo
from fieldrig.gui.tabs.weight_sets import WeightSetTools
from fieldrig.gui.tools import ClickTools
from fieldrig.gui.widgets import HandleTree, WeightLegend

#: The tooltip of the Re-solve button when it can run.
RESOLVE_TIP = (
    "Keep the painted vertices' weights and recompute all the others smoothly around them "
    "(the painted values become fixed values of the solve); undoable"
)


def _spin(low: float, high: float, value: float, step: float, decimals: int = 3, tip: str = "") -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setDecimals(decimals)
    box.setSingleStep(step)
    box.setValue(value)
    box.setKeyboardTracking(False)
    box.setToolTip(tip)
    return box


class WeightsTab(QWidget):
    """Compute weights and inspect them; paint, normalise, prune, limit, mirror and lock.

    Attributes
    ----------
    status_message : callable or None
        Shows a sentence in the status bar (the panel sets it).
    """

    def __init__(
        self, document: Document, controller: Controller, tools: ClickTools, brush: BrushTool, ask_open: AskPath
    ):
        super().__init__()
        self.doc, self.controller, self.brush = document, controller, brush
        self.status_message = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        box = QGroupBox("Compute")
        form = QFormLayout(box)
        self.preset = setting_combo(document, "preset", vocab.SKINNING_PRESET_NAMES)
        form.addRow("Preset", self.preset)
        self.device = setting_combo(document, "device", vocab.DEVICE_CHOICES)
        form.addRow("Device", self.device)
        self.device_label = QLabel("checking for a CUDA GPU…")
        form.addRow("In use", self.device_label)
        self.cuda_name: Optional[str] = None
        self._probed = False
        self.compute = button("Compute weights", controller.compute_weights, "Train the skinning field (cancel below)")
        row = QHBoxLayout()
        row.addWidget(self.compute)
        row.addWidget(
            button(
                "Import weights…",
                lambda: ask_then(ask_open, "Import weights", vocab.WEIGHTS_FILTER, controller.load_weights),
            )
        )
        form.addRow(row)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        form.addRow(self.status)
        self.weight_set = QComboBox()
        self.weight_set.setToolTip(
            "The weights shown, posed with, edited and exported: the file's, imported, computed or painted"
        )
        self.weight_set.activated.connect(document.select_weight_set)
        form.addRow("Weight set", self.weight_set)
        self.set_tools = WeightSetTools(document)
        form.addRow(self.set_tools)
        layout.addWidget(box)

        view = QGroupBox("Show")
        column = QVBoxLayout(view)
        row = QHBoxLayout()
        self.show_weight = QRadioButton("Selected handle's weight")
        self.show_dominant = QRadioButton("Dominant handle")
        row.addWidget(self.show_weight)
        row.addWidget(self.show_dominant)
        column.addLayout(row)
        self.show_weight.toggled.connect(lambda on: document.set_setting("colouring", "weight" if on else "dominant"))
        self.legend = WeightLegend()
        column.addWidget(self.legend)
        layout.addWidget(view)

        layout.addWidget(self._edit_box())
        self.tree = HandleTree(document, lock_column=True)
        self.tree.lock_toggled.connect(lambda h, on: self._run(weight_tools.set_locked, h, on))
        layout.addWidget(self.tree, stretch=2)
        layout.addWidget(QLabel("Vertex weights (click the mesh; type a weight to set it)"))
        self.readout = QTableWidget(0, 2)
        self.readout.setHorizontalHeaderLabels(["Handle", "Weight"])
        self.readout.horizontalHeader().setStretchLastSection(True)
        self.readout.verticalHeader().setVisible(False)  # compact rows: a vertex's handles fit in view
        self.readout.verticalHeader().setDefaultSectionSize(self.readout.fontMetrics().height() + 6)
        self.readout.itemChanged.connect(self._readout_edited)
        layout.addWidget(self.readout, stretch=1)
        self.probed_vertex: Optional[int] = None
        self._filling = False
        tools.probed.connect(self.show_vertex)
        self.used_device: Optional[str] = None
        controller.device_used.connect(self._device_used)
        brush.active_changed.connect(self._brush_active)
        brush.settings_changed.connect(self._show_brush_settings)
        document.changed.connect(self._on_changed)
        self._show_brush_settings()
        self._on_changed(document.topics_all())

    # ------------------------------------------------------------------ editing
    def _edit_box(self) -> QGroupBox:
        box = QGroupBox("Edit weights")
        box.setToolTip(
            "Edits act on the weight set in use; the first edit of a file's or computed set makes a "
            "painted copy, so the original stays for comparison. Every edit is undoable."
        )
        grid = QGridLayout(box)
        grid.setVerticalSpacing(3)
        self.paint_button = QPushButton("Paint (P)")
        self.paint_button.setCheckable(True)
        self.paint_button.setToolTip(
            "Paint the selected handle's weight on the mesh in the 3D view (P toggles). Drag on the mesh to "
            "paint, drag off it to turn the view; one stroke is one undo step."
        )
        self.paint_button.toggled.connect(self.brush.set_active)
        grid.addWidget(self.paint_button, 0, 0)
        self.mode = QComboBox()
        for mode in BRUSH_MODES:
            self.mode.addItem(mode.capitalize(), mode)
        self.mode.setToolTip("Add or subtract the value, replace the weight by it, or smooth between neighbours")
        self.mode.currentIndexChanged.connect(lambda _i: self.brush.set_settings(mode=self.mode.currentData()))
        grid.addWidget(self.mode, 0, 1)
        self.falloff = QComboBox()
        for falloff in FALLOFFS:
            self.falloff.addItem(f"{falloff.capitalize()} falloff", falloff)
        self.falloff.currentIndexChanged.connect(lambda _i: self.brush.set_settings(falloff=self.falloff.currentData()))
        grid.addWidget(self.falloff, 0, 2)

        self.radius = _spin(1e-6, 1e6, 0.1, 0.01, 4, "Brush radius in scene units")
        self.radius.valueChanged.connect(lambda v: self.brush.set_settings(radius=v))
        self.strength = _spin(0.0, 1.0, 0.5, 0.05, 2, "Brush strength at its centre")
        self.strength.valueChanged.connect(lambda v: self.brush.set_settings(strength=v))
        self.value = _spin(0.0, 1.0, 1.0, 0.05, 2, "The weight the brush adds, subtracts or sets")
        self.value.valueChanged.connect(lambda v: self.brush.set_settings(value=v))
        for col, (label, widget) in enumerate(
            (("Radius", self.radius), ("Strength", self.strength), ("Value", self.value))
        ):
            grid.addLayout(_pair(QLabel(label), widget), 1, col)
        self.accumulate = QCheckBox("Accumulate within a stroke")
        self.accumulate.setToolTip("Dabs of one stroke add up (off: a stroke acts once per vertex, as in Blender)")
        self.accumulate.toggled.connect(lambda on: self.brush.set_settings(accumulate=on))
        grid.addWidget(self.accumulate, 2, 0, 1, 2)
        self.resolve = button("Re-solve", self.controller.resolve_weights, RESOLVE_TIP)
        grid.addWidget(self.resolve, 2, 2)

        grid.addWidget(
            button("Normalize", lambda: self._run(weight_tools.normalize), "Make every vertex's weights sum to one"),
            3,
            0,
        )
        self.prune_threshold = _spin(0.0, 0.999, 0.01, 0.005, 3, "Weights below this are dropped")
        prune = button(
            "Prune <",
            lambda: self._run(weight_tools.prune, self.prune_threshold.value()),
            "Drop small weights (each vertex keeps its largest) and renormalise",
        )
        grid.addLayout(_pair(prune, self.prune_threshold), 3, 1)
        self.max_influences = QSpinBox()
        self.max_influences.setRange(1, 64)
        self.max_influences.setValue(4)
        self.max_influences.setToolTip("Influences per vertex (glTF and game engines: 4)")
        limit = button(
            "Limit to",
            lambda: self._run(weight_tools.limit_influences, self.max_influences.value()),
            "Keep each vertex's largest weights (locked ones count and stay)",
        )
        grid.addLayout(_pair(limit, self.max_influences), 3, 2)

        self.mirror_axis = QComboBox()
        for axis in weight_tools.MIRROR_AXES:
            self.mirror_axis.addItem(f"across {axis} = 0", axis)
        self.mirror_direction = QComboBox()
        self.mirror_direction.addItem("from + to −", True)
        self.mirror_direction.addItem("from − to +", False)
        grid.addWidget(
            button(
                "Mirror",
                lambda: self._run(
                    weight_tools.mirror, self.mirror_axis.currentData(), self.mirror_direction.currentData()
                ),
                "Copy one side's weights onto the other, swapping left and right handles by name "
                "(_L/_R, .L/.R, Left/Right)",
            ),
            4,
            0,
        )
        grid.addWidget(self.mirror_axis, 4, 1)
        grid.addWidget(self.mirror_direction, 4, 2)
        return box

    def _say(self, text: str) -> None:
        if self.status_message is not None:
            self.status_message(text)

    def _run(self, tool, *args) -> bool:
        """Run a weight tool; its sentence (or why it could not) goes to the status bar."""
        try:
            self._say(tool(self.doc, *args))
            return True
        except InputError as exc:
            self._say(f"{exc.source}: {exc.problem}")
            self.tree.rebuild()  # a refused lock box goes back to what the document says
            return False

    def _brush_active(self, on: bool) -> None:
        self.paint_button.blockSignals(True)
        self.paint_button.setChecked(on)
        self.paint_button.blockSignals(False)

    def _show_brush_settings(self) -> None:
        s = self.brush.settings
        for widget, value in ((self.radius, s.radius), (self.strength, s.strength), (self.value, s.value)):
            widget.blockSignals(True)
            widget.setValue(value)
            widget.blockSignals(False)
        self.radius.setSingleStep(s.radius / 5)
        for combo, value in ((self.mode, s.mode), (self.falloff, s.falloff)):
            combo.blockSignals(True)
            combo.setCurrentIndex(combo.findData(value))
            combo.blockSignals(False)
        self.accumulate.blockSignals(True)
        self.accumulate.setChecked(s.accumulate)
        self.accumulate.blockSignals(False)

    # ----------------------------------------------------------------- devices
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

    # ------------------------------------------------------------------- state
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
                active = doc.rig_state.active_set
                if active.painted_vertices is not None:
                    text += f" {len(active.painted_vertices):,} vertices painted."
                if doc.rig_state.weights_stale:
                    text += " ⚠ Joints moved since they were computed: compute again."
            elif doc.mesh is None or doc.rig is None:
                text = "Open a mesh and a rig (or build one) to compute weights."
            else:
                text = "No weights yet."
            self.status.setText(text)
            self._show_weight_sets()
            problem = doc.resolve_problem()
            self.resolve.setEnabled(problem is None)
            self.resolve.setToolTip(RESOLVE_TIP if problem is None else problem)
            if self.probed_vertex is not None:
                self.show_vertex(self.probed_vertex)
        if topics & {"weights", "rig", "mesh", "selection", "settings"}:
            self._show_legend()

    def _show_legend(self) -> None:
        doc = self.doc
        if not doc.weights_usable():
            self.legend.clear()
        elif doc.settings["colouring"] == "weight":
            handle = doc.selected_handle if doc.selected_handle is not None else 0
            self.legend.show_field(doc.rig.handle_names[handle])
        else:
            self.legend.show_dominant(doc.rig.handle_names, handle_palette(doc.rig.n_handles))

    def _show_weight_sets(self) -> None:
        rs = self.doc.rig_state
        labels = [ws.name if ws.origin in ws.name else f"{ws.name} ({ws.origin})" for ws in rs.weight_sets]
        current = [self.weight_set.itemText(i) for i in range(self.weight_set.count())]
        self.weight_set.blockSignals(True)
        if labels != current:  # a brush stroke changes the weights many times a second, not the sets
            self.weight_set.clear()
            self.weight_set.addItems(labels)
        self.weight_set.setCurrentIndex(rs.active if rs.weight_sets else -1)
        self.weight_set.setEnabled(len(rs.weight_sets) > 1)
        self.weight_set.blockSignals(False)

    # -------------------------------------------------------------- the readout
    def show_vertex(self, vertex: int) -> None:
        """Fill the readout with one vertex's weights, largest first; the weights can be typed."""
        self.probed_vertex = vertex
        self._filling = True
        self.readout.setRowCount(0)
        if not self.doc.weights_usable() or vertex >= len(self.doc.weights):
            self._filling = False
            return
        w = self.doc.weights[vertex]
        names = self.doc.rig.handle_names
        locked = self.doc.rig_state.locked_mask()
        order = np.argsort(-w, kind="stable")
        self.readout.setRowCount(len(order) + 1)
        fixed = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        for col, text in enumerate((f"vertex {vertex}", f"sum {w.sum():.4f}")):
            item = QTableWidgetItem(text)
            item.setFlags(fixed)
            self.readout.setItem(0, col, item)
        for row, h in enumerate(order, start=1):
            name = QTableWidgetItem(names[h] + (" 🔒" if locked[h] else ""))
            name.setFlags(fixed)
            self.readout.setItem(row, 0, name)
            weight = QTableWidgetItem(f"{w[h]:.4f}")
            weight.setData(Qt.ItemDataRole.UserRole, int(h))
            weight.setFlags(fixed if locked[h] else fixed | Qt.ItemFlag.ItemIsEditable)
            weight.setToolTip("Locked" if locked[h] else "Type a weight: the others are rescaled to sum to one")
            self.readout.setItem(row, 1, weight)
        self._filling = False

    def weight_item(self, handle: int) -> QTableWidgetItem:
        """The readout's weight cell of ``handle`` (for typing into it)."""
        for row in range(1, self.readout.rowCount()):
            item = self.readout.item(row, 1)
            if item.data(Qt.ItemDataRole.UserRole) == handle:
                return item
        raise KeyError(f"handle {handle} is not in the readout")

    def _readout_edited(self, item: QTableWidgetItem) -> None:
        if self._filling or item.column() != 1 or self.probed_vertex is None:
            return
        # applied after this signal: the edit refills the table, which deletes this item
        QTimer.singleShot(0, partial(self._typed, self.probed_vertex, item.data(Qt.ItemDataRole.UserRole), item.text()))

    def _typed(self, vertex: int, handle: int, text: str) -> None:
        value = _parse_weight(text)
        if value is None:
            self._say(f"Vertex weight: expected a number in [0, 1], got {text!r}")
        else:
            self._run(weight_tools.set_vertex_weight, vertex, handle, value)
        self.show_vertex(vertex)  # what the document holds, typed or refused


def _pair(first: QWidget, second: QWidget) -> QHBoxLayout:
    """Two widgets side by side, the second taking the room."""
    row = QHBoxLayout()
    row.addWidget(first)
    row.addWidget(second, stretch=1)
    return row


def _parse_weight(text: str) -> Optional[float]:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 0.0 <= value <= 1.0 else None
