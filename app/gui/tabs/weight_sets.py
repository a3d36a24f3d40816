"""The Weights tab's weight-set tools: rename, duplicate and delete the set in use (every
one undoable). Choosing the set in use is the tab's combo; comparing two is the timeline
strip's A/B row."""

from __future__ import annotations

from typing import Callable, Optional

from PyQt6.QtWidgets import QHBoxLayout, QInputDialog, QLabel, QVBoxLayout, QWidget

from fieldrig.core.errors import InputError
from fieldrig.gui.document import Document
from fieldrig.gui.tabs.common import button

#: ``ask_name(title, current)`` → the new name, or None when cancelled.
AskName = Callable[[str, str], Optional[str]]


class WeightSetTools(QWidget):
    """Rename…, Duplicate, Delete for the weight set in use.

    Parameters
    ----------
    document : Document
    ask_name : callable, optional
        Asks for a name (a text dialog by default; tests give their answer).
    """

    def __init__(self, document: Document, ask_name: Optional[AskName] = None):
        super().__init__()
        self.doc = document
        self.ask_name = ask_name or self._dialog
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.rename = button("Rename…", self.rename_active, "Rename the weight set in use")
        self.duplicate = button("Duplicate", self.duplicate_active, "Keep a copy (e.g. before computing again)")
        self.delete = button("Delete", self.delete_active, "Remove the weight set in use (undoable)")
        for b in (self.rename, self.duplicate, self.delete):
            row.addWidget(b)
        layout.addLayout(row)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        document.changed.connect(self._on_changed)
        self._on_changed({"weights"})

    def _dialog(self, title: str, current: str) -> Optional[str]:
        text, ok = QInputDialog.getText(self, title, "Name", text=current)
        return text if ok else None

    def _on_changed(self, topics) -> None:
        if topics & {"weights", "rig", "mesh"}:
            has = bool(self.doc.rig_state.weight_sets)
            for b in (self.rename, self.duplicate, self.delete):
                b.setEnabled(has)

    def rename_active(self) -> None:
        """Ask for a new name of the set in use (a name in use is refused, with the reason)."""
        rs = self.doc.rig_state
        if not rs.weight_sets:
            return
        name = self.ask_name("Rename weight set", rs.active_set.name)
        if name is None:
            return
        try:
            self.doc.rename_weight_set(rs.active, name)
            self.message.setText("")
        except InputError as exc:
            self.message.setText(exc.problem)

    def duplicate_active(self) -> None:
        """Copy the set in use; the copy is used from now on."""
        if self.doc.rig_state.weight_sets:
            self.doc.duplicate_weight_set(self.doc.rig_state.active)

    def delete_active(self) -> None:
        """Remove the set in use."""
        if self.doc.rig_state.weight_sets:
            self.doc.delete_weight_set(self.doc.rig_state.active)
