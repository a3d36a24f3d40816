"""The desktop app: polyscope's window and the Qt panel in one process and one thread,
slow work in a second process.

A ``QTimer`` (16 ms) drives ``ps.frame_tick()`` through :meth:`Viewer.tick`; Qt's event
loop runs everything else. ``ps.show()`` is never called. Slow work runs in the compute process
(:class:`~fieldrig.gui.jobs.ComputeProcess`), so the 3D view keeps turning while fields
train.

    fieldrig view arm.obj --rig arm.tgf
"""

from __future__ import annotations

import sys
import time
from collections import deque
from functools import partial
from typing import Optional

import numpy as np
import polyscope as ps
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication

from fieldrig.gui.brush import BrushTool
from fieldrig.gui.controller import Controller
from fieldrig.gui.document import Document
from fieldrig.gui.jobs import JobRunner, compute_process
from fieldrig.gui.panel import MainWindow
from fieldrig.gui.tools import ClickTools
from fieldrig.gui.viewer import Viewer

FRAME_INTERVAL_MS = 16
#: Where polyscope opens its window (its fixed initial position: it has no setter in Python).
VIEW_WINDOW_POS = (20, 20)
#: The panel's preferred size, and the smallest 3D view worth shrinking to beside it.
PANEL_SIZE, MIN_VIEW_SIZE = (520, 960), (480, 360)  # taller tabs scroll (a shorter screen)


def side_by_side(screen, view_size, panel_size=PANEL_SIZE, view_pos=VIEW_WINDOW_POS, gap=12):
    """Sizes and places the two windows next to each other on a screen: the 3D view where
    polyscope opens it, the panel to its right, the view shrunk when both do not fit.

    Parameters
    ----------
    screen : (x, y, width, height)
        The screen's available area.
    view_size, panel_size : (width, height)
        The windows' sizes as they would open.
    view_pos : (x, y)
        Where the 3D view's window opens.

    Returns
    -------
    view_size : (width, height)
    panel_rect : (x, y, width, height)
    """
    sx, sy, sw, sh = screen
    vx, vy = view_pos
    height = max(MIN_VIEW_SIZE[1], min(view_size[1], sy + sh - vy - 40))
    panel_h = max(300, min(panel_size[1], sy + sh - vy - 40))
    room = sx + sw - vx - gap - panel_size[0] - 8
    width = max(MIN_VIEW_SIZE[0], min(view_size[0], room))
    panel_x = min(vx + width + gap, sx + sw - panel_size[0])
    return (int(width), int(height)), (int(panel_x), int(vy), int(panel_size[0]), int(panel_h))


def _camera(view_json: Optional[str] = None) -> Optional[str]:
    """Get (no argument) or set the polyscope camera as JSON."""
    if view_json is None:
        return ps.get_view_as_json()
    ps.set_view_from_json(view_json)
    return None


def screenshot_3d() -> np.ndarray:
    """The polyscope view as an (h, w, 4) uint8 image, without polyscope's own UI."""
    return np.ascontiguousarray(ps.screenshot_to_buffer(transparent_bg=False, include_UI=False))


class FieldrigApp:
    """All parts of the app, wired together (also what tests and scripts drive).

    Parameters
    ----------
    backend : str, optional
        polyscope backend; None picks a window (GLFW). Tests pass ``"openGL_mock"``.
    start_timer : bool
        Start the frame timer (tests may tick by hand instead).

    Attributes
    ----------
    qt : QApplication
    document : Document
    viewer : Viewer
    jobs : JobRunner
    controller : Controller
    tools : ClickTools
    brush : BrushTool
    window : MainWindow
    timer : QTimer
        Calls :meth:`tick` every 16 ms.
    compute : ComputeProcess
        The child process jobs run in (shared by every app in this Python process).
    frame_gaps_ms : deque of float
        Time between consecutive ticks (the last 2000): how smooth the UI is.
    """

    def __init__(self, backend: Optional[str] = None, start_timer: bool = True):
        self.qt = QApplication.instance() or QApplication(sys.argv[:1])
        self.document = Document()
        self.viewer = Viewer(self.document, backend)
        self.jobs = JobRunner()
        self.controller = Controller(self.document, self.jobs, camera=_camera)
        self.tools = ClickTools(self.document, self.viewer)
        self.brush = BrushTool(self.document, self.viewer)
        self.window = MainWindow(self.document, self.controller, self.tools, self.brush, self.jobs, screenshot_3d)
        self._place_windows()
        self.viewer.files_dropped.connect(self.window.open_files)
        self.viewer.shortcut.connect(self.window.shortcut)
        self.viewer.timeline_key.connect(self.window.timeline.playback.key)
        self.viewer.status.connect(lambda text: self.window.statusBar().showMessage(text, 8000))
        self.compute = compute_process()
        self.compute.start()  # warm: it imports torch and looks for a GPU meanwhile
        self.device_timer = QTimer()
        self.device_timer.setInterval(250)
        self.device_timer.timeout.connect(self._poll_device)
        self.device_timer.start()
        self.frame_gaps_ms: deque = deque(maxlen=2000)
        self._last_tick: Optional[float] = None
        self.timer = QTimer()
        self.timer.setInterval(FRAME_INTERVAL_MS)
        self.timer.timeout.connect(self.tick)
        if start_timer:
            self.timer.start()

    def _place_windows(self) -> None:
        """The panel beside the 3D view, both on the screen (the view shrunk if needed)."""
        screen = self.qt.primaryScreen()
        if screen is None:
            return
        area = screen.availableGeometry()
        view, (x, y, w, h) = side_by_side((area.x(), area.y(), area.width(), area.height()), ps.get_window_size())
        if tuple(view) != tuple(ps.get_window_size()):
            ps.set_window_size(*view)
        self.window.setGeometry(x, y, w, h)

    def _poll_device(self) -> None:
        name = self.compute.poll_cuda()
        if name is not None:
            self.device_timer.stop()
            self.window.weights_tab.set_cuda(name)

    def tick(self) -> None:
        """One frame: the clip's frame real time has reached, pending document changes, then
        ``ps.frame_tick()``; quits when the polyscope window is closed."""
        now = time.perf_counter()
        if self._last_tick is not None:
            self.frame_gaps_ms.append((now - self._last_tick) * 1000.0)
        self._last_tick = now
        self.window.timeline.playback.advance()
        self.viewer.tick()
        if ps.window_requests_close() and self.timer.isActive():
            self.timer.stop()
            self.window.maybe_save(can_cancel=False)
            self.window.close()
            self.qt.quit()

    def open_files(
        self,
        mesh: Optional[str] = None,
        rig: Optional[str] = None,
        cage: Optional[str] = None,
        project: Optional[str] = None,
    ) -> None:
        """Open the files given on the command line, one after the other."""
        c = self.controller
        actions = [
            partial(action, path)
            for path, action in ((project, c.open_project), (mesh, c.open_mesh), (rig, c.open_rig), (cage, c.open_cage))
            if path
        ]
        self.window.queue_actions(actions)

    def shutdown(self) -> None:
        """Stop the timer and the worker; detach from polyscope."""
        self.timer.stop()
        self.device_timer.stop()
        self.jobs.cancel()
        self.jobs.wait(10000)
        self.window.close()
        self.viewer.close()


def run_app(
    mesh: Optional[str] = None,
    rig: Optional[str] = None,
    cage: Optional[str] = None,
    project: Optional[str] = None,
    backend: Optional[str] = None,
) -> int:
    """Open the app (blocking until it is closed) and return the exit code."""
    app = FieldrigApp(backend)
    app.window.show()
    app.open_files(mesh, rig, cage, project)
    code = app.qt.exec()
    app.shutdown()
    app.compute.stop()
    return code
