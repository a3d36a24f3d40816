"""The Export tab: weights, glTF with skin, the posed mesh, a screenshot; projects."""

from __future__ import annotations

from typing import Callable

import numpy as np
from PyQt6.QtWidgets import QFormLayout, QGroupBox, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from fieldrig.core import vocabulary as vocab
from fieldrig.gui.controller import Controller
from fieldrig.gui.tabs.common import AskPath, ask_then, button


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
            button(
                "Weights (NPY / CSV / DMAT)…",
                lambda: ask_then(ask_save, "Export weights", vocab.WEIGHTS_FILTER, controller.export_weights),
            )
        )
        self.influences = QSpinBox()
        self.influences.setRange(1, 16)
        self.influences.setValue(4)
        row = QHBoxLayout()
        row.addWidget(
            button(
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
            button(
                "Posed mesh (OBJ / PLY)…",
                lambda: ask_then(
                    ask_save, "Export posed mesh", vocab.POSED_MESH_SAVE_FILTER, controller.export_posed_mesh
                ),
            )
        )
        form.addRow(
            button(
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
            button(
                "Open project…",
                lambda: ask_then(ask_open, "Open project", vocab.PROJECT_FILTER, controller.open_project),
            )
        )
        row.addWidget(
            button(
                "Save project…",
                lambda: ask_then(ask_save, "Save project", vocab.PROJECT_FILTER, controller.save_project),
            )
        )
        layout.addWidget(box)
        layout.addStretch(1)
