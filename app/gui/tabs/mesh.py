"""The Mesh tab: the mesh's file, statistics, and the problems found on load."""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QFormLayout, QGroupBox, QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from fieldrig.core import vocabulary as vocab
from fieldrig.gui.controller import Controller
from fieldrig.gui.document import Document
from fieldrig.gui.tabs.common import AskPath, button
from fieldrig.session import mesh_problems


class MeshTab(QWidget):
    """The mesh's file, statistics, and the problems found on load."""

    def __init__(self, document: Document, controller: Controller, ask_open: AskPath):
        super().__init__()
        self.doc = document
        layout = QVBoxLayout(self)
        layout.addWidget(
            button(
                "Open mesh…",
                lambda: self._open(controller, ask_open),
                "OBJ, PLY, OFF, STL, GLB/GLTF meshes and soups; PLY/XYZ point clouds; skinned GLB/GLTF/FBX characters",
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
