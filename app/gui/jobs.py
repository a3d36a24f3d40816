"""Running slow work away from the UI: one job at a time, with progress and cancel.

Everything that can take more than a few tens of milliseconds (reading files, checking a
mesh, training fields, writing exports and projects) runs through :class:`JobRunner`. A job
is a function ``work(progress) -> result``; ``progress`` is a
:mod:`fieldrig.core.progress` callback, so the training APIs take it directly and a
cancel request reaches them as a ``False`` return, which they turn into
:class:`~fieldrig.core.progress.Cancelled`.

Jobs run in the :class:`ComputeProcess`, one long-lived child process, not in a thread of
the app: library calls that hold Python's GIL for seconds (winding numbers, mesh checks)
would otherwise stall the windows — measured 2.3 s in one training. A :class:`QThread`
waits for the child's messages (waiting releases the GIL) and relays them as Qt signals,
delivered on the UI thread. Work sent to the child must be
picklable (a module-level function, e.g. of :mod:`fieldrig.gui.work`, with its
arguments); work that needs the UI process (writing a QImage) runs in the waiting thread.
Cancel asks the job to stop at its next progress report and ends the child if it has not
stopped within :data:`CANCEL_GRACE_S`; the next job starts a fresh one.
"""

from __future__ import annotations

import os
import queue
import secrets
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Listener
from typing import Any, Callable, Optional

from PyQt6.QtCore import QObject, QThread, pyqtSignal

from fieldrig.core.progress import Cancelled, ProgressEvent, Throttle
from fieldrig.gui.work import rebuilt_error

Work = Callable[[Callable[[ProgressEvent], Optional[bool]]], Any]

#: Seconds a cancelled job gets to stop by itself before its process is ended.
CANCEL_GRACE_S = 3.0
#: Seconds the compute process may take to start and connect.
STARTUP_TIMEOUT_S = 120.0
#: Progress events closer together than this are coalesced in the app (the last one wins).
PROGRESS_INTERVAL_S = 0.05


class ComputeProcess:
    """One long-lived child process that runs jobs (see the module docstring).

    The child is ``python -m fieldrig.gui.work`` connected back over a local socket
    (``multiprocessing.connection`` with an authentication key), so it never re-runs the
    app's main script. A reader thread takes every message the child sends: the CUDA
    probe's answer, and the running job's progress and result. Started by :meth:`start`
    or on first use; shared by the app (:func:`compute_process`).
    """

    def __init__(self):
        self._process: Optional[subprocess.Popen] = None
        self._conn = None
        self._connected = threading.Event()
        self._send_lock = threading.Lock()
        self._messages: "queue.Queue[tuple]" = queue.Queue()
        self._busy = threading.Event()
        self._cancelled = threading.Event()
        self._job = 0
        self.cuda_name: Optional[str] = None

    def start(self) -> None:
        """Start the child unless it runs; it imports torch and looks for a GPU meanwhile."""
        if self._process is not None and self._process.poll() is None:
            return
        key = secrets.token_bytes(32)
        listener = Listener(authkey=key)
        env = dict(os.environ, FIELDRIG_COMPUTE_KEY=key.hex())
        self._connected.clear()
        self._messages = queue.Queue()
        command = [sys.executable, "-m", "fieldrig.gui.work", str(listener.address)]
        if self.cuda_name is not None:  # a restart: the GPU question is answered already
            command.append("--no-probe")
        self._process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL)
        threading.Thread(
            target=self._read,
            args=(listener, self._process, self._messages),
            daemon=True,
            name="fieldrig-compute-reader",
        ).start()

    def _read(self, listener, process, messages) -> None:
        """Reader thread: accept the child's connection, then route its messages."""
        try:
            conn = listener.accept()
        except OSError:
            messages.put(("died", process.poll()))
            return
        finally:
            listener.close()
        self._conn = conn
        self._connected.set()
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                messages.put(("died", process.wait()))
                return
            if message[0] == "cuda":
                self.cuda_name = message[1]
            else:
                messages.put(message)

    def poll_cuda(self) -> Optional[str]:
        """The CUDA GPU's name ("" for none) once the child has looked, else None."""
        return self.cuda_name

    def _send(self, message) -> None:
        with self._send_lock:
            self._conn.send(message)

    def run(self, work: Work, progress: Callable[[ProgressEvent], Optional[bool]]) -> Any:
        """Run ``work`` in the child and wait for it (call this from a worker thread).

        Raises
        ------
        Cancelled
            The job was cancelled (or its process ended after a cancel).
        InputError, OSError, RemoteError
            What the job raised.
        RuntimeError
            The child could not start or stopped unexpectedly.
        """
        self.start()
        process, deadline = self._process, time.perf_counter() + STARTUP_TIMEOUT_S
        while not self._connected.wait(0.2):
            if process.poll() is not None:
                self._process = None
                raise RuntimeError(
                    f"the compute process could not start (exit code {process.returncode}; "
                    "its error is in the terminal)"
                )
            if time.perf_counter() > deadline:
                raise RuntimeError(f"the compute process did not start within {STARTUP_TIMEOUT_S:.0f} s")
        messages = self._messages
        self._cancelled.clear()
        self._job += 1
        self._busy.set()
        try:
            self._send(("job", work))
            while True:
                message = messages.get()
                kind = message[0]
                if kind == "progress":
                    if progress(message[1]) is False:
                        self.cancel()
                elif kind == "done":
                    return message[1]
                elif kind == "cancelled":
                    raise Cancelled("cancelled")
                elif kind == "died":
                    self._process = None
                    if self._cancelled.is_set():
                        raise Cancelled("cancelled (the compute process was ended)")
                    raise RuntimeError(f"the compute process stopped unexpectedly (exit code {message[1]})")
                else:
                    error = rebuilt_error(message[1])
                    error.remote_traceback = message[2]
                    raise error
        finally:
            self._busy.clear()

    def cancel(self) -> None:
        """Ask the running job to stop; end the process if it has not within :data:`CANCEL_GRACE_S`."""
        if self._cancelled.is_set() or not self._busy.is_set():
            return
        self._cancelled.set()
        try:
            self._send(("cancel",))
        except (OSError, AttributeError):
            pass
        process, job = self._process, self._job

        def end_if_still_running():  # the same job, still running: end its process
            if self._busy.is_set() and self._job == job and process is self._process and process.poll() is None:
                process.kill()

        timer = threading.Timer(CANCEL_GRACE_S, end_if_still_running)
        timer.daemon = True
        timer.start()

    def stop(self) -> None:
        """End the child process."""
        process, self._process = self._process, None
        if process is None:
            return
        try:
            self._send(("stop",))
            process.wait(2.0)
        except (OSError, AttributeError, subprocess.TimeoutExpired):
            process.kill()


_COMPUTE: Optional[ComputeProcess] = None


def compute_process() -> ComputeProcess:
    """The app's compute process (one per Python process, started on first use)."""
    global _COMPUTE
    if _COMPUTE is None:
        _COMPUTE = ComputeProcess()
    return _COMPUTE


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
        self._throttle = Throttle(PROGRESS_INTERVAL_S)

    def _progress(self, event: ProgressEvent) -> bool:
        if self._throttle.passes(event.fraction, event.stage):
            self.progressed.emit(event)
        return not self.cancel_requested.is_set()

    def run(self) -> None:  # noqa: D401 - Qt override
        try:
            result = self._work(self._progress)
        except Cancelled:
            self.was_cancelled.emit()
            return
        except BaseException as exc:  # reported to the user, never swallowed
            self.failed.emit(
                JobFailure(self.title, exc, getattr(exc, "remote_traceback", None) or traceback.format_exc())
            )
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
        self.in_process = False

    @property
    def busy(self) -> bool:
        """True while a job runs."""
        return self._thread is not None

    @property
    def title(self) -> Optional[str]:
        """Title of the running job, None when idle."""
        return None if self._thread is None else self._thread.title

    def start(
        self,
        title: str,
        work: Work,
        on_success: Callable[[Any], None],
        cancellable: bool = False,
        in_process: bool = True,
    ) -> bool:
        """Start ``work`` in a worker thread.

        Parameters
        ----------
        title : str
            Shown beside the progress bar and in error dialogs.
        work : callable
            ``work(progress) -> result``. With ``in_process`` it runs in the compute
            process and must be picklable; otherwise in the worker thread. Either way it
            must not touch Qt widgets or polyscope.
        on_success : callable
            ``on_success(result)``, called on the UI thread.
        cancellable : bool
            Whether the Cancel button applies (the work checks ``progress``'s answer).
        in_process : bool
            Run in the compute process (default) rather than in a thread of the app.

        Returns
        -------
        bool
            False when another job is still running (nothing is started).
        """
        if self._thread is not None:
            return False
        if in_process:
            process = compute_process()
            thread = _JobThread(title, lambda progress: process.run(work, progress), self)
        else:
            thread = _JobThread(title, work, self)
        self.in_process = in_process
        thread.progressed.connect(self.progressed)
        thread.succeeded.connect(self._succeeded)
        thread.failed.connect(self._failed)
        thread.was_cancelled.connect(self._cancelled)
        self._thread, self._on_success, self.cancellable = thread, on_success, cancellable
        self.started.emit(title)
        thread.start()
        return True

    def cancel(self) -> None:
        """Ask the running job to stop; it ends at its next progress check (a job in the
        compute process that does not check in time has its process ended)."""
        if self._thread is not None:
            self._thread.cancel_requested.set()
            if self.in_process:
                compute_process().cancel()

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
