"""Running slow work off the UI thread: one job at a time in a QThread, with progress and cancel.

Everything that can take more than a few tens of milliseconds (reading files, checking a
mesh, training fields, writing exports and projects) runs through :class:`JobRunner`. A job
is a plain function ``work(progress) -> result``; ``progress`` is a
:mod:`fieldrig.neural.progress` callback, so the training APIs take it directly and a
cancel request reaches them as a ``False`` return, which they turn into
:class:`~fieldrig.neural.progress.Cancelled`.

The runner's signals are delivered on the UI thread (queued connections), so slots can
touch widgets and polyscope.
"""
from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Optional

from PyQt6.QtCore import QObject, QThread, pyqtSignal

from fieldrig.neural.progress import Cancelled, ProgressEvent

Work = Callable[[Callable[[ProgressEvent], Optional[bool]]], Any]

#: Progress events closer together than this are coalesced (the last one wins).
PROGRESS_INTERVAL_S = 0.05


@dataclass
class JobFailure:
    """What went wrong in a job.

    Attributes
    ----------
    title : str
        The job's title, e.g. ``"Computing weights"``.
    error : BaseException
    details : str
        The formatted traceback, for a dialog's "details" section.
    """

    title: str
    error: BaseException
    details: str


class _JobThread(QThread):
    """Runs one job; reports through signals (emitted from the worker thread)."""

    progressed = pyqtSignal(object)
    succeeded = pyqtSignal(object)
    failed = pyqtSignal(object)
    was_cancelled = pyqtSignal()

    def __init__(self, title: str, work: Work, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.title = title
        self._work = work
        self.cancel_requested = threading.Event()
        self._last_emit = 0.0
        self._last_stage = None

    def _progress(self, event: ProgressEvent) -> bool:
        now = time.perf_counter()
        if event.stage != self._last_stage or event.fraction >= 1.0 or now - self._last_emit >= PROGRESS_INTERVAL_S:
            self._last_emit, self._last_stage = now, event.stage
            self.progressed.emit(event)
        return not self.cancel_requested.is_set()

    def run(self) -> None:  # noqa: D401 - Qt override
        try:
            result = self._work(self._progress)
        except Cancelled:
            self.was_cancelled.emit()
            return
        except BaseException as exc:  # reported to the user, never swallowed
            self.failed.emit(JobFailure(self.title, exc, traceback.format_exc()))
            return
        if self.cancel_requested.is_set():
            self.was_cancelled.emit()
        else:
            self.succeeded.emit(result)


class JobRunner(QObject):
    """Runs one job at a time and tells the UI how it goes.

    Signals
    -------
    started(str)
        A job with this title started.
    progressed(ProgressEvent)
    finished()
        The job ended, whichever way (after its success/failure/cancel handling).
    failed(JobFailure)
    cancelled(str)
        The job with this title was cancelled.
    """

    started = pyqtSignal(str)
    progressed = pyqtSignal(object)
    finished = pyqtSignal()
    failed = pyqtSignal(object)
    cancelled = pyqtSignal(str)

    def __init__(self, parent: Optional[QObject] = None):
        super().__init__(parent)
        self._thread: Optional[_JobThread] = None
        self._on_success: Optional[Callable[[Any], None]] = None
        self.cancellable = False

    @property
    def busy(self) -> bool:
        """True while a job runs."""
        return self._thread is not None

    @property
    def title(self) -> Optional[str]:
        """Title of the running job, None when idle."""
        return None if self._thread is None else self._thread.title

    def start(self, title: str, work: Work, on_success: Callable[[Any], None], cancellable: bool = False) -> bool:
        """Start ``work`` in a worker thread.

        Parameters
        ----------
        title : str
            Shown beside the progress bar and in error dialogs.
        work : callable
            ``work(progress) -> result``, run in the worker thread. It must not touch Qt
            widgets or polyscope.
        on_success : callable
            ``on_success(result)``, called on the UI thread.
        cancellable : bool
            Whether the Cancel button applies (the work checks ``progress``'s answer).

        Returns
        -------
        bool
            False when another job is still running (nothing is started).
        """
        if self._thread is not None:
            return False
        thread = _JobThread(title, work, self)
        thread.progressed.connect(self.progressed)
        thread.succeeded.connect(self._succeeded)
        thread.failed.connect(self._failed)
        thread.was_cancelled.connect(self._cancelled)
        self._thread, self._on_success, self.cancellable = thread, on_success, cancellable
        self.started.emit(title)
        thread.start()
        return True

    def cancel(self) -> None:
        """Ask the running job to stop; it ends at its next progress check."""
        if self._thread is not None:
            self._thread.cancel_requested.set()

    def wait(self, timeout_ms: int = -1) -> bool:
        """Block until the worker thread ends (for shutdown and scripts, not for slots)."""
        thread = self._thread
        if thread is None:
            return True
        return thread.wait() if timeout_ms < 0 else thread.wait(timeout_ms)

    def _end(self) -> Optional[_JobThread]:
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.wait()
            thread.deleteLater()
        return thread

    def _succeeded(self, result: Any) -> None:
        on_success = self._on_success
        thread = self._end()
        try:
            if on_success is not None:
                on_success(result)
        except BaseException as exc:  # applying the result failed: report it like a job failure
            self.failed.emit(JobFailure(thread.title if thread else "", exc, traceback.format_exc()))
        finally:
            self.finished.emit()

    def _failed(self, failure: JobFailure) -> None:
        self._end()
        self.failed.emit(failure)
        self.finished.emit()

    def _cancelled(self) -> None:
        thread = self._end()
        self.cancelled.emit(thread.title if thread else "")
        self.finished.emit()


class DeviceProbe(QThread):
    """Finds out, off the UI thread (importing torch takes seconds), whether CUDA is usable.

    Signals
    -------
    found(str)
        The CUDA device's name, or an empty string when there is none.
    """

    found = pyqtSignal(str)

    def run(self) -> None:  # noqa: D401 - Qt override
        try:
            import torch

            self.found.emit(torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
        except Exception:  # no usable torch: report no GPU; training will say why it fails
            self.found.emit("")
