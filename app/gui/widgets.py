"""Small reusable panel widgets: the handle outliner, a 3-vector editor, the progress strip,
the weight colour legend."""

from __future__ import annotations

from typing import Optional

import numpy as np
from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QColor, QIcon, QLinearGradient, QPainter, QPixmap
from PyQt6.QtWidgets import (
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QStatusBar,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fieldrig.core.progress import ProgressEvent
from fieldrig.draw.colours import UNWEIGHTED_COLOR, VIRIDIS_STOPS, handle_palette
from fieldrig.gui.document import Document


def _swatch(rgb) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(_qcolor(rgb))
    return QIcon(pixmap)


class HandleTree(QTreeWidget):
    """The rig's handles as an outliner: children nested under their parents, each with its
    colour and kind (point, bone, or a skeleton's joint). Selecting an item selects the
    handle in the document (and back). With ``deform_column`` a third column holds a
    checkbox per handle: whether it deforms the mesh (unchecked: its weights stay zero).
    With ``lock_column`` a column of checkboxes shows which handles are locked against
    weight edits; ticking one emits :attr:`lock_toggled` (the owner edits the document).

    Signals
    -------
    lock_toggled(int, bool)
        The user ticked (True) or cleared a handle's lock box.
    """

    lock_toggled = pyqtSignal(int, bool)

    def __init__(
        self,
        document: Document,
        parent: Optional[QWidget] = None,
        deform_column: bool = False,
        lock_column: bool = False,
    ):
        super().__init__(parent)
        self.doc = document
        self.deform_column = deform_column
        self.lock_column = 2 + deform_column if lock_column else None
        self.setHeaderLabels(
            ["Handle", "Kind"] + (["Deforms"] if deform_column else []) + (["Locked"] if lock_column else [])
        )
        # the names take the room the other (narrow) columns leave: a deep skeleton's names indent far
        header = self.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, self.columnCount()):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.setIndentation(12)
        self.setSelectionMode(QTreeWidget.SelectionMode.SingleSelection)
        self._items = {}
        self._updating = False
        self._editing = False  # inside an item's own itemChanged signal
        self.itemSelectionChanged.connect(self._selection_to_document)
        self.itemChanged.connect(self._deform_to_document)
        self.itemChanged.connect(self._lock_changed)
        document.changed.connect(self._on_changed)
        self.rebuild()

    def _on_changed(self, topics) -> None:
        if "rig" in topics and self._editing:  # rebuilding now would delete the item whose signal runs
            QTimer.singleShot(0, self.rebuild)
        elif "rig" in topics:
            self.rebuild()
        elif "selection" in topics:
            self._selection_from_document()
        if "weights" in topics and "rig" not in topics and self.lock_column is not None:
            self._show_locks()

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
                    if self.deform_column or self.lock_column is not None:
                        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                    if self.deform_column:
                        item.setCheckState(2, Qt.CheckState.Checked if rig.deform[h] else Qt.CheckState.Unchecked)
                    if p >= 0:
                        self._items[p].addChild(item)
                    else:
                        self.addTopLevelItem(item)
                    self._items[h] = item
                pending = rest
            self.expandAll()
        self._updating = False
        self._show_locks()
        self._selection_from_document()

    def _show_locks(self) -> None:
        if self.lock_column is None or self.doc.rig is None:
            return
        self._updating = True
        for h, locked in enumerate(self.doc.rig_state.locked_mask()):
            if h in self._items:
                self._items[h].setCheckState(
                    self.lock_column, Qt.CheckState.Checked if locked else Qt.CheckState.Unchecked
                )
        self._updating = False

    def set_locked(self, handle: int, locked: bool) -> None:
        """Tick or clear a handle's lock box as a click would."""
        self._items[handle].setCheckState(
            self.lock_column, Qt.CheckState.Checked if locked else Qt.CheckState.Unchecked
        )

    def _lock_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if self._updating or column != self.lock_column:
            return
        self.lock_toggled.emit(item.data(0, Qt.ItemDataRole.UserRole), item.checkState(column) == Qt.CheckState.Checked)

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


class WrappingStatusBar(QStatusBar):
    """A status bar two lines high whose messages wrap instead of being cut at the panel's
    width (``showMessage`` and ``currentMessage`` as usual)."""

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setMinimumHeight(2 * self.fontMetrics().lineSpacing() + 6)
        self.messageChanged.connect(lambda _text: self.update())

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        text = self.currentMessage()
        if not text:
            super().paintEvent(event)
            return
        painter = QPainter(self)
        painter.setPen(self.palette().windowText().color())
        flags = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter | Qt.TextFlag.TextWordWrap
        painter.drawText(self.rect().adjusted(4, 0, -18, 0), int(flags), text)  # clear of the size grip
        painter.end()


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds} s"


class WeightLegend(QWidget):
    """What the weight colours mean: the viridis bar from 0 to 1 with ticks (one handle's
    weight field), or each handle's swatch and name (the dominant-handle view).

    Attributes
    ----------
    kind : {"field", "dominant", "none"}
    """

    BAR_HEIGHT, ROW_HEIGHT, COLUMNS = 14, 16, 3

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.kind = "none"
        self.title = ""
        self.entries: list = []
        self.setMinimumHeight(0)

    def show_field(self, handle_name: str) -> None:
        """The weight field of one handle: viridis, 0 to 1."""
        self.kind, self.title, self.entries = "field", f"{handle_name}'s weight", []
        self.setFixedHeight(self.BAR_HEIGHT + 34)
        self.update()

    def show_dominant(self, names, palette) -> None:
        """Each handle's colour in the dominant-handle view; magenta: no weight at all."""
        self.kind, self.title = "dominant", "Dominant handle"
        self.entries = list(zip(names, np.asarray(palette))) + [("no weight", np.asarray(UNWEIGHTED_COLOR))]
        rows = -(-len(self.entries) // self.COLUMNS)
        self.setFixedHeight(18 + rows * self.ROW_HEIGHT)
        self.update()

    def clear(self) -> None:
        """No colouring shown."""
        self.kind, self.title, self.entries = "none", "", []
        self.setFixedHeight(0)
        self.update()

    def bar_rect(self):
        """Where the colour bar is drawn (x, y, width, height)."""
        return 8, 18, max(10, self.width() - 16), self.BAR_HEIGHT

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        if self.kind == "none":
            return
        painter = QPainter(self)
        painter.drawText(8, 13, self.title)
        if self.kind == "field":
            x, y, w, h = self.bar_rect()
            gradient = QLinearGradient(x, 0, x + w, 0)
            for k, rgb in enumerate(VIRIDIS_STOPS):
                gradient.setColorAt(k / (len(VIRIDIS_STOPS) - 1), _qcolor(rgb))
            painter.fillRect(x, y, w, h, gradient)
            for k in range(5):
                tx = x + round(k * (w - 1) / 4)
                painter.drawLine(tx, y + h, tx, y + h + 3)
                label = f"{k / 4:g}"
                width = painter.fontMetrics().horizontalAdvance(label)
                painter.drawText(min(max(tx - width // 2, 0), self.width() - width), y + h + 15, label)
        else:
            column_width = max(40, (self.width() - 8) // self.COLUMNS)
            for i, (name, rgb) in enumerate(self.entries):
                cx, cy = 8 + (i % self.COLUMNS) * column_width, 18 + (i // self.COLUMNS) * self.ROW_HEIGHT
                painter.fillRect(cx, cy + 2, 11, 11, _qcolor(rgb))
                text = painter.fontMetrics().elidedText(name, Qt.TextElideMode.ElideRight, column_width - 18)
                painter.drawText(cx + 15, cy + 12, text)
        painter.end()


def _qcolor(rgb) -> QColor:
    return QColor.fromRgbF(float(rgb[0]), float(rgb[1]), float(rgb[2]))
