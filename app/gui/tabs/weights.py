"""The Weights tab: compute weights (preset, device, progress), pick the weight set in use, and inspect them."""

from __future__ import annotations

from typing import Optional

import numpy as np
from PyQt6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QRadioButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fieldrig.core import vocabulary as vocab
from fieldrig.gui.controller import Controller
from fieldrig.gui.document import Document
from fieldrig.gui.tabs.common import AskPath, ask_then, button, setting_combo
from fieldrig.gui.tabs.weight_sets import WeightSetTools
from fieldrig.gui.tools import ClickTools
from fieldrig.gui.widgets import HandleTree


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
        self.device = setting_combo(document, "device", vocab.DEVICE_CHOICES)
        form.addRow("Device", self.device)
        self.device_label = QLabel("checking for a CUDA GPU…")
        form.addRow("In use", self.device_label)
        self.cuda_name: Optional[str] = None
        self._probed = False
        self.compute = button("Compute weights", controller.compute_weights, "Train the skinning field (cancel below)")
        form.addRow(self.compute)
        form.addRow(
            button(
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
        self.set_tools = WeightSetTools(document)
        form.addRow(self.set_tools)
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
