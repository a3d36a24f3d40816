"""The panel window: menus, the tabs, the progress strip, dialogs, drag and drop."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Callable, List, Optional

import numpy as np
from PyQt6.QtCore import QEventLoop, Qt
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import (
    QApplication,
    QFileDialog,
    QFrame,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from fieldrig.core import vocabulary as vocab
from fieldrig.gui.brush import BrushTool
from fieldrig.gui.controller import Controller
from fieldrig.gui.document import Document
from fieldrig.gui.jobs import JobRunner
from fieldrig.gui.tabs import CageTab, ExportTab, MeshTab, PoseTab, RigTab, WeightsTab
from fieldrig.gui.tabs.common import ask_then
from fieldrig.gui.timeline import TimelineStrip
from fieldrig.gui.tools import ClickTools
from fieldrig.gui.widgets import ProgressStrip, WrappingStatusBar

#: Tab → viewer mode (the Export tab keeps the mode it was entered from).
TAB_MODES = {"Mesh": "rig", "Rig": "rig", "Weights": "weights", "Pose": "pose", "Cage": "cage"}


class MainWindow(QMainWindow):
    """The fieldrig panel.

    Parameters
    ----------
    document, controller, tools, brush, jobs
        The app's parts (see :class:`fieldrig.gui.app.FieldrigApp`).
    screenshot : callable
        Returns the 3D view as an (h, w, 4) uint8 image.

    Attributes
    ----------
    errors : list of (str, str)
        Every (title, message) shown in an error dialog this session, oldest first.
    """

    def __init__(
        self,
        document: Document,
        controller: Controller,
        tools: ClickTools,
        brush: BrushTool,
        jobs: JobRunner,
        screenshot: Callable[[], np.ndarray],
    ):
        super().__init__()
        self.doc, self.controller, self.tools, self.brush, self.jobs = document, controller, tools, brush, jobs
        self.errors: List[tuple] = []
        self._dialogs: List[QMessageBox] = []
        self._queue: List[Callable[[], bool]] = []
        self.setWindowTitle("fieldrig")
        self.setAcceptDrops(True)
        self.setStatusBar(WrappingStatusBar())

        self.tabs = QTabWidget()
        # looked up at call time, so that a script or test can answer the dialogs
        ask_open = lambda title, filters: self.ask_open(title, filters)  # noqa: E731
        ask_save = lambda title, filters: self.ask_save(title, filters)  # noqa: E731
        self.mesh_tab = MeshTab(document, controller, ask_open)
        self.rig_tab = RigTab(document, controller, tools, ask_open, ask_save)
        self.weights_tab = WeightsTab(document, controller, tools, brush, ask_open)
        self.weights_tab.status_message = lambda text: self.statusBar().showMessage(text, 8000)
        self.pose_tab = PoseTab(document, controller, ask_open, ask_save)
        self.cage_tab = CageTab(document, controller, ask_open)
        self.export_tab = ExportTab(controller, ask_open, ask_save, screenshot)
        for tab, name in (
            (self.mesh_tab, "Mesh"),
            (self.rig_tab, "Rig"),
            (self.weights_tab, "Weights"),
            (self.pose_tab, "Pose"),
            (self.cage_tab, "Cage"),
            (self.export_tab, "Export"),
        ):
            self.tabs.addTab(_scrolling(tab), name)
        self.tabs.currentChanged.connect(self._tab_changed)
        self.timeline = TimelineStrip(document)
        self.progress = ProgressStrip()
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.tabs)
        layout.addWidget(self.timeline)
        layout.addWidget(self.progress)
        self.setCentralWidget(central)
        self._build_menus(screenshot)
        # looked up at call time, like the file dialogs, so that tests can answer
        controller.ask = lambda title, text, choices: self.ask_choice(title, text, choices)
        controller.confirm_discard = lambda what: self.maybe_save(what=what)

        jobs.started.connect(lambda title: self.progress.started(title, jobs.cancellable))
        jobs.started.connect(lambda _title: self._set_busy(True))
        jobs.progressed.connect(self.progress.progressed)
        jobs.finished.connect(self._job_finished)
        self.progress.cancel_clicked.connect(jobs.cancel)
        controller.error.connect(self.show_error)
        controller.info.connect(lambda text: self.statusBar().showMessage(text, 8000))
        controller.project_path_changed.connect(lambda _p: self._update_title())
        tools.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        brush.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        brush.active_changed.connect(lambda on: self.paint_action.setChecked(on))
        document.undo_stack.cleanChanged.connect(self._update_title)
        document.changed.connect(self._on_changed)

    # ---------------------------------------------------------------- menus
    def _build_menus(self, screenshot) -> None:
        c = self.controller
        file_menu = self.menuBar().addMenu("&File")

        def add(menu, text, slot, shortcut=None):
            action = QAction(text, self)
            action.triggered.connect(lambda _checked=False: slot())
            if shortcut:
                action.setShortcut(QKeySequence(shortcut))
            menu.addAction(action)
            return action

        def ask(method, title, filters, action):
            return partial(ask_then, lambda t, f: getattr(self, method)(t, f), title, filters, action)

        add(
            file_menu,
            "Open mesh…",
            ask("ask_open", "Open mesh", vocab.MESH_OPEN_FILTER, c.open_mesh),
            QKeySequence.StandardKey.Open,
        )
        add(file_menu, "Open rig…", ask("ask_open", "Open rig", vocab.RIG_OPEN_FILTER, c.open_rig))
        add(file_menu, "Open cage…", ask("ask_open", "Open cage", vocab.CAGE_OPEN_FILTER, c.open_cage))
        file_menu.addSeparator()
        add(file_menu, "Open project…", ask("ask_open", "Open project", vocab.PROJECT_FILTER, c.open_project))
        add(file_menu, "Save project", self.save_project, QKeySequence.StandardKey.Save)
        add(
            file_menu,
            "Save project as…",
            ask("ask_save", "Save project", vocab.PROJECT_FILTER, c.save_project),
            QKeySequence.StandardKey.SaveAs,
        )
        file_menu.addSeparator()
        export = file_menu.addMenu("Export")
        add(export, "Weights…", ask("ask_save", "Export weights", vocab.WEIGHTS_FILTER, c.export_weights))
        add(export, "glTF with skin…", ask("ask_save", "Export glTF", vocab.GLTF_FILTER, c.export_gltf))
        add(
            export,
            "Posed mesh…",
            ask("ask_save", "Export posed mesh", vocab.POSED_MESH_SAVE_FILTER, c.export_posed_mesh),
        )
        add(
            export,
            "Screenshot…",
            ask("ask_save", "Save screenshot", vocab.IMAGE_SAVE_FILTER, lambda p: c.save_screenshot(p, screenshot())),
        )
        add(export, "Rig…", ask("ask_save", "Save rig", vocab.RIG_SAVE_FILTER, c.save_rig))
        file_menu.addSeparator()
        add(file_menu, "Quit", self.quit, QKeySequence.StandardKey.Quit)

        edit = self.menuBar().addMenu("&Edit")
        # QUndoStack's actions belong to Python, not to their Qt parent: without a reference
        # they are collected and vanish from the menu (and their shortcuts with them)
        self.undo_action = self.doc.undo_stack.createUndoAction(self, "Undo")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.redo_action = self.doc.undo_stack.createRedoAction(self, "Redo")
        redo_keys = QKeySequence.keyBindings(QKeySequence.StandardKey.Redo)
        self.redo_action.setShortcuts(redo_keys + [k for k in (QKeySequence("Ctrl+Y"),) if k not in redo_keys])
        edit.addAction(self.undo_action)
        edit.addAction(self.redo_action)
        edit.addSeparator()
        add(edit, "Delete selected handle", self.rig_tab.delete_selected, QKeySequence.StandardKey.Delete)
        add(edit, "End bone chain / stop painting", self.escape, "Esc")
        edit.addSeparator()
        self.paint_action = add(edit, "Paint weights", self.toggle_paint, "P")
        self.paint_action.setCheckable(True)

        compute = self.menuBar().addMenu("&Compute")
        add(compute, "Weights", c.compute_weights, "Ctrl+W")
        add(compute, "Cage coordinates", c.compute_coordinates)
        add(compute, "Cancel", self.jobs.cancel, "Ctrl+.")

    # ------------------------------------------------------------ file dialogs
    def ask_open(self, title: str, filters: str) -> Optional[str]:
        """A file-open dialog; None when cancelled."""
        path, _ = QFileDialog.getOpenFileName(self, title, "", filters + ";;All files (*)")
        return path or None

    def ask_save(self, title: str, filters: str) -> Optional[str]:
        """A file-save dialog; None when cancelled. A name typed without one of the chosen
        filter's suffixes gets its first one."""
        path, chosen = QFileDialog.getSaveFileName(self, title, "", filters)
        return vocab.with_default_suffix(path, chosen or filters) if path else None

    def ask_choice(self, title: str, text: str, choices: List[str]) -> Optional[str]:
        """A question with one button per choice (the first is the default; "Cancel" is
        what Esc and closing the dialog mean); the chosen text, or None for Cancel."""
        box = QMessageBox(QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.NoButton, self)
        buttons = {}
        for choice in choices:
            role = QMessageBox.ButtonRole.RejectRole if choice == "Cancel" else QMessageBox.ButtonRole.AcceptRole
            buttons[box.addButton(choice, role)] = choice
        box.setDefaultButton(next(iter(buttons)))
        box.exec()
        answer = buttons.get(box.clickedButton())
        return None if answer in (None, "Cancel") else answer

    def save_project(self) -> None:
        """Save to the current project file, or ask for one."""
        path = self.controller.project_path or self.ask_save("Save project", vocab.PROJECT_FILTER)
        if path:
            self.controller.save_project(path)

    # --------------------------------------------------------------- state
    def _tab_changed(self, index: int) -> None:
        mode = TAB_MODES.get(self.tabs.tabText(index))
        if mode is not None:
            self.doc.set_mode(mode)

    def _on_changed(self, topics) -> None:
        if "mode" in topics:
            current = TAB_MODES.get(self.tabs.tabText(self.tabs.currentIndex()))
            if current != self.doc.mode and current is not None:
                names = [n for n, m in TAB_MODES.items() if m == self.doc.mode]
                for i in range(self.tabs.count()):
                    if self.tabs.tabText(i) == names[-1]:
                        self.tabs.setCurrentIndex(i)
        if "mesh" in topics:
            self._update_title()
            if self.mesh_tab.problem_count():
                self.tabs.setCurrentWidget(self.mesh_tab)  # show what was found on load

    def _update_title(self, clean: Optional[bool] = None) -> None:
        clean = self.doc.undo_stack.isClean() if clean is None else clean
        name = (
            Path(self.controller.project_path).name
            if self.controller.project_path
            else (Path(self.doc.mesh.path).name if self.doc.mesh is not None else "untitled")
        )
        modified = "" if clean else " *"
        self.setWindowTitle(f"fieldrig — {name}{modified}")

    def _job_finished(self) -> None:
        self.progress.idle()
        self._set_busy(False)
        self._run_queued()

    def _set_busy(self, busy: bool) -> None:
        """While a job runs, the buttons that would start another training are off."""
        for button in (self.weights_tab.compute, self.cage_tab.compute):
            button.setEnabled(not busy)

    # -------------------------------------------------------------- errors
    def show_error(self, title: str, message: str, details: str = "") -> QMessageBox:
        """Show a non-blocking error dialog (the viewer keeps running)."""
        self.errors.append((title, message))
        box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self)
        if details:
            box.setDetailedText(details)
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.finished.connect(lambda _r, box=box: self._dialogs.remove(box) if box in self._dialogs else None)
        self._dialogs.append(box)
        box.show()
        return box

    # ------------------------------------------------------- drag and drop
    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt API
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt API
        self.open_files([url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()])

    def open_files(self, paths: List[str]) -> None:
        """Open dropped files one after the other: projects, then meshes, then rigs."""
        rank = {vocab.PROJECT_SUFFIX: 0, **{suffix: 2 for suffix in vocab.RIG_FILE_SUFFIXES}}
        ordered = sorted(paths, key=lambda p: rank.get(Path(p).suffix.lower(), 1))
        self.queue_actions([partial(self.controller.open_any, p) for p in ordered])

    def queue_actions(self, actions: List[Callable[[], bool]]) -> None:
        """Run actions that start jobs one after the other (each when the previous job ends)."""
        self._queue.extend(actions)
        self._run_queued()

    def _run_queued(self) -> None:
        while self._queue and not self.jobs.busy:
            self._queue.pop(0)()

    def shortcut(self, name: str) -> None:
        """A key pressed in the 3D view, handled as the same key in the panel."""
        actions = {
            "undo": self.doc.undo_stack.undo,
            "redo": self.doc.undo_stack.redo,
            "delete": self.rig_tab.delete_selected,
            "escape": self.escape,
            "paint": self.toggle_paint,
        }
        actions[name]()

    def escape(self) -> None:
        """Esc: end the bone chain being drawn, stop painting."""
        self.tools.end_chain()
        self.brush.set_active(False)

    def toggle_paint(self) -> None:
        """P: the weight brush on (in the Weights tab) or off."""
        self.brush.set_active(not self.brush.active)

    def maybe_save(self, can_cancel: bool = True, what: str = "closing") -> bool:
        """Offer to save unsaved edits before ``what``; False when the user cancels (or the
        save fails)."""
        if self.doc.undo_stack.isClean():
            return True
        answer = self.ask_choice(
            "Unsaved changes",
            f"The project has unsaved changes. Save it before {what}?",
            ["Save", "Discard"] + (["Cancel"] if can_cancel else []),
        )
        if answer == "Save":
            path = self.controller.project_path or self.ask_save("Save project", vocab.PROJECT_FILTER)
            if not path or not self.controller.save_project(path):
                return False
            while self.jobs.busy:  # wait for the save (its result arrives as events)
                QApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            return self.doc.undo_stack.isClean()
        return answer == "Discard"

    def quit(self) -> None:
        """File ▸ Quit: offer to save, then close (the app ends with its last window)."""
        if self.maybe_save():
            self.close()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt API
        if event.spontaneous() and not self.maybe_save():  # the user closed the window: ask; scripts do not
            event.ignore()
            return
        self.jobs.cancel()
        self.jobs.wait(5000)
        super().closeEvent(event)


def _scrolling(tab: QWidget) -> QScrollArea:
    """``tab`` in a vertical scroll area: a tall tab (a deep skeleton's handle list, the
    weight tools) scrolls on a short screen instead of pushing the panel past it."""
    area = QScrollArea()
    area.setWidget(tab)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return area
