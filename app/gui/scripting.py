"""Scripting the running app, for the benches and the end-to-end test: steps run inside its
Qt event loop, and input reaches its windows through the X server, as a user's does
(xdotool), at widgets found on the screen.

Steps are a generator: each ``yield`` gives a condition (a callable returning bool) that
the event loop polls every :data:`POLL_MS`; the generator goes on once it holds, so the
windows keep drawing and jobs keep reporting in between. A step that opens a modal dialog
(by a click sent through X) is answered by the next steps: the dialog's own event loop
polls them too.
"""

from __future__ import annotations

import subprocess
import time
from typing import Callable, Iterator, Optional, Tuple

from PyQt6.QtCore import QPoint, QRect, QTimer
from PyQt6.QtWidgets import QWidget

#: How often the event loop polls the condition the steps wait for (ms).
POLL_MS = 20

Steps = Iterator[Callable[[], bool]]


class StepRunner:
    """Runs ``steps`` from the event loop of the running QApplication (see the module docstring).

    Parameters
    ----------
    steps : generator of callables
        Each yielded callable returns True when the next step may run.
    timeout : float
        Seconds for all the steps; past them the run stops with a TimeoutError.
    finish : callable
        Called once the steps end or fail, e.g. ``QApplication.quit`` to leave ``exec()``.

    Attributes
    ----------
    error : BaseException or None
        What a step (or the timeout) raised; :meth:`check` raises it again.
    done : bool
    """

    def __init__(self, steps: Steps, timeout: float, finish: Callable[[], None]):
        self._steps, self._finish, self.timeout = steps, finish, timeout
        self._deadline = time.perf_counter() + timeout
        self._waiting: Callable[[], bool] = lambda: True
        self._inside = False
        self.error: Optional[BaseException] = None
        self.done = False
        self._timer = QTimer()
        self._timer.timeout.connect(self._advance)
        self._timer.start(POLL_MS)

    def _advance(self) -> None:
        if self.done or self._inside:  # a step's own nested event loop polls too: not again meanwhile
            return
        self._inside = True
        try:
            if time.perf_counter() > self._deadline:
                raise TimeoutError(f"the steps took more than {self.timeout:g} s")
            if self._waiting():
                self._waiting = next(self._steps)
        except StopIteration:
            self._end()
        except BaseException as exc:  # reported by check(), after the event loop has stopped
            self.error = exc
            self._end()
        finally:
            self._inside = False

    def _end(self) -> None:
        self.done = True
        self._timer.stop()
        self._finish()

    def check(self) -> None:
        """Raise what a step raised, if anything."""
        if self.error is not None:
            raise self.error


def drive(app, steps: Steps, timeout: float) -> None:
    """Run the app's event loop through ``steps`` and return when they end; what a step
    raises is raised here.

    Parameters
    ----------
    app : fieldrig.gui.app.FieldrigApp
    steps : generator of callables
    timeout : float
        Seconds.
    """
    runner = StepRunner(steps, timeout, app.qt.quit)
    app.qt.exec()
    runner.check()


def polls(n: int) -> Steps:
    """Steps that wait ``n`` polls of the event loop (``yield from polls(5)``)."""
    for _ in range(n):
        yield lambda: True


def until(condition: Callable[[], bool], what: str, seconds: float) -> Steps:
    """A step that waits for ``condition``, failing with a TimeoutError naming ``what``
    after ``seconds``."""
    deadline = time.perf_counter() + seconds

    def met() -> bool:
        if condition():
            return True
        if time.perf_counter() > deadline:
            raise TimeoutError(f"no {what} after {seconds:g} s")
        return False

    yield met


def xdotool(*args) -> str:
    """Run ``xdotool`` with ``args`` (real X input to the display in ``$DISPLAY``); its output."""
    return subprocess.run(["xdotool", *map(str, args)], check=True, capture_output=True, text=True).stdout


def screen_point(widget: QWidget, rect: Optional[QRect] = None) -> Tuple[int, int]:
    """The screen pixel at the centre of ``widget`` (or of ``rect``, in its coordinates)."""
    centre = (rect if rect is not None else widget.rect()).center()
    point = widget.mapToGlobal(QPoint(centre.x(), centre.y()))
    ratio = widget.devicePixelRatioF()
    return round(point.x() * ratio), round(point.y() * ratio)


def click(widget: QWidget, rect: Optional[QRect] = None, button: int = 1) -> None:
    """Move the pointer onto ``widget`` (or ``rect`` in it) and click there, through X."""
    x, y = screen_point(widget, rect)
    xdotool("mousemove", "--sync", x, y, "click", button)
