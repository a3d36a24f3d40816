"""Shared pieces of the tabs: buttons, file dialogs, combo boxes bound to a setting."""

from __future__ import annotations

from typing import Callable, Optional

from PyQt6.QtWidgets import QComboBox, QPushButton

from fieldrig.gui.document import Document

AskPath = Callable[[str, str], Optional[str]]


def button(text: str, slot, tip: str = "") -> QPushButton:
    """A push button that calls ``slot()`` when clicked (``tip``: its tooltip)."""
    widget = QPushButton(text)
    widget.clicked.connect(lambda _checked=False: slot())
    if tip:
        widget.setToolTip(tip)
    return widget


def ask_then(ask: AskPath, title: str, filters: str, action) -> None:
    """Ask for a path with a file dialog; run ``action(path)`` unless cancelled."""
    path = ask(title, filters)
    if path:
        action(path)


def setting_combo(document: Document, key: str, choices) -> QComboBox:
    """A combo box bound both ways to one document setting.

    Parameters
    ----------
    document : Document
    key : str
        The setting (see :data:`fieldrig.gui.document.DEFAULT_SETTINGS`).
    choices : sequence of (label, value) or of str
        A plain string is both label and value.
    """
    combo = QComboBox()
    for choice in choices:
        label, value = (choice, choice) if isinstance(choice, str) else choice
        combo.addItem(label, value)

    def show(topics=frozenset({"settings"})):
        if "settings" in topics:
            combo.blockSignals(True)
            combo.setCurrentIndex(max(0, combo.findData(document.settings[key])))
            combo.blockSignals(False)

    combo.currentIndexChanged.connect(lambda _index: document.set_setting(key, combo.currentData()))
    document.changed.connect(show)
    show()
    return combo
