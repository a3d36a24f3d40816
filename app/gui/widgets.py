"""Small reusable panel widgets: the handle outliner, a 3-vector editor, the progress strip."""

from __future__ import annotations

from typing import Optional

import numpy as np
from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QColor, QIcon, QPixmap
from PyQt6.QtWidgets import (
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fieldrig.core.progress import ProgressEvent
from fieldrig.draw.colours import handle_palette
from fieldrig.gui.document import Document


def _swatch(rgb) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(QColor.fromRgbF(float(rgb[0]), float(rgb[1]), float(rgb[2])))
    return QIcon(pixmap)


class HandleTree(QTreeWidget):
    """The rig's handles as an outliner: children nested under their parents, each with its
    colour and kind (point, bone, or a skeleton's joint). Selecting an item selects the
    handle in the document (and back). With ``deform_column`` a third column holds a
    checkbox per handle: whether it deforms the mesh (unchecked: its weights stay zero)."""

    def __init__(self, document: Document, parent: Optional[QWidget] = None, deform_column: bool = False):
        super().__init__(parent)
        self.doc = document
        self.deform_column = deform_column
        self.setHeaderLabels(["Handle", "Kind"] + (["Deforms"] if deform_column else []))
        self.setColumnWidth(0, 170)
        self.setSelectionMode(QTreeWidget.SelectionMode.SingleSelection)
        self._items = {}
        self._updating = False
        self._editing = False  # inside an item's own itemChanged signal
        self.itemSelectionChanged.connect(self._selection_to_document)
        self.itemChanged.connect(self._deform_to_document)
        document.changed.connect(self._on_changed)
        self.rebuild()

    def _on_changed(self, topics) -> None:
        if "rig" in topics and self._editing:  # rebuilding now would delete the item whose signal runs
            QTimer.singleShot(0, self.rebuild)
        elif "rig" in topics:
            self.rebuild()
        elif "selection" in topics:
            self._selection_from_document()

    def rebuild(self) -> None:
        """Refill from the document's rig."""
        self._updating = True
        self.clear()
        self._items = {}
        rig = self.doc.rig
        if rig is not None:
            palette = handle_palette(rig.n_handles)
            parents = rig.handle_parents()
            pending = list(range(rig.n_handles))
            while pending:  # parents before children
                rest = []
                for h in pending:
                    p = parents[h]
                    if p >= 0 and p not in self._items:
                        rest.append(h)
                        continue
                    kind = "joint" if rig.is_skeleton else rig.handle_kind(h)
                    item = QTreeWidgetItem([rig.handle_names[h], kind])
                    item.setIcon(0, _swatch(palette[h]))
                    item.setData(0, Qt.ItemDataRole.UserRole, h)
                    if self.deform_column:
                        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                        item.setCheckState(2, Qt.CheckState.Checked if rig.deform[h] else Qt.CheckState.Unchecked)
                    if p >= 0:
                        self._items[p].addChild(item)
                    else:
                        self.addTopLevelItem(item)
                    self._items[h] = item
                pending = rest
            self.expandAll()
        self._updating = False
        self._selection_from_document()

    def set_deform(self, handle: int, deform: bool) -> None:
        """Tick or untick a handle's deform box as a click would."""
        self._items[handle].setCheckState(2, Qt.CheckState.Checked if deform else Qt.CheckState.Unchecked)

    def _deform_to_document(self, item: QTreeWidgetItem, column: int) -> None:
        if self._updating or column != 2 or self.doc.rig is None:
            return
        from fieldrig.gui.rig_edit import set_deform

        h = item.data(0, Qt.ItemDataRole.UserRole)
        on = item.checkState(2) == Qt.CheckState.Checked
        if bool(self.doc.rig.deform[h]) != on:
            name = self.doc.rig.handle_names[h]
            self._editing = True
            try:
                self.doc.edit_rig(set_deform(self.doc.rig, h, on), f"{name} {'deforms' if on else 'does not deform'}")
            finally:
                self._editing = False

    def _selection_from_document(self) -> None:
        self._updating = True
        h = self.doc.selected_handle
        self.clearSelection()
        if h is not None and h in self._items:
            self._items[h].setSelected(True)
            self.scrollToItem(self._items[h])
        self._updating = False

    def _selection_to_document(self) -> None:
        if self._updating:
            return
        items = self.selectedItems()
        self.doc.select_handle(items[0].data(0, Qt.ItemDataRole.UserRole) if items else None)

    def select(self, handle: Optional[int]) -> None:
        """Select a handle as a click on its row would."""
        self.clearSelection()
        if handle is not None:
            self._items[handle].setSelected(True)


class Vec3Edit(QWidget):
    """Three spin boxes for a point or vector.

    Signals
    -------
    edited(ndarray)
        The user changed a value (not emitted by :meth:`set_value`).
    """

    edited = pyqtSignal(object)

    def __init__(self, parent: Optional[QWidget] = None, decimals: int = 4, step: float = 0.01):
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.boxes = []
        for axis in "xyz":
            box = QDoubleSpinBox()
            box.setRange(-1e6, 1e6)
            box.setDecimals(decimals)
            box.setSingleStep(step)
            box.setPrefix(f"{axis} ")
            box.setKeyboardTracking(False)
            box.valueChanged.connect(self._changed)
            layout.addWidget(box)
            self.boxes.append(box)
        self._setting = False

    def value(self) -> np.ndarray:
        """The current vector, (3,) float."""
        return np.array([b.value() for b in self.boxes])

    def set_value(self, v) -> None:
        """Show ``v`` without emitting :attr:`edited`."""
        self._setting = True
        for box, x in zip(self.boxes, np.asarray(v, dtype=float).reshape(3)):
            box.setValue(float(x))
        self._setting = False

    def set_step(self, step: float) -> None:
        """Spin step (e.g. 1% of the model's size)."""
        for box in self.boxes:
            box.setSingleStep(step)

    def _changed(self, _value) -> None:
        if not self._setting:
            self.edited.emit(self.value())


class ProgressStrip(QWidget):
    """The running job: its title and stage on one line; progress bar, time left and a
    Cancel button on the next."""

    cancel_clicked = pyqtSignal()

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(2)
        self.stage = QLabel("Ready")
        self.stage.setMinimumWidth(10)
        layout.addWidget(self.stage)
        row = QHBoxLayout()
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setFormat("%p%")
        self.eta = QLabel("")
        self.eta.setMinimumWidth(70)
        self.cancel = QPushButton("Cancel")
        self.cancel.clicked.connect(self.cancel_clicked)
        for w in (self.bar, self.eta, self.cancel):
            row.addWidget(w)
        layout.addLayout(row)
        self.title = ""
        self.idle()

    def started(self, title: str, cancellable: bool) -> None:
        """A job started: show its title, a busy bar until the first progress report."""
        self.title = title
        self.stage.setText(title)
        self.bar.setRange(0, 0)
        self.bar.setFormat("%p%")
        self.eta.setText("")
        self.cancel.setEnabled(cancellable)

    def progressed(self, event: ProgressEvent) -> None:
        """Show one progress report."""
        self.bar.setRange(0, 1000)
        self.bar.setValue(int(round(1000 * event.fraction)))
        self.stage.setText(f"{self.title}: {event.stage}")
        self.eta.setText("" if event.eta_s is None else _duration(event.eta_s) + " left")

    def idle(self) -> None:
        """No job: an empty bar."""
        self.title = ""
        self.stage.setText("Ready")
        self.bar.setRange(0, 1000)
        self.bar.setValue(0)
        self.bar.setFormat("")
        self.eta.setText("")
        self.cancel.setEnabled(False)


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds} s"
