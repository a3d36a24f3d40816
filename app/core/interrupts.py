"""SIGINT and SIGTERM while a command runs: a stop before its outputs are committed, a wait after.

A command that writes files either leaves them all as they were (it was stopped) or all
complete (it finished). :class:`StopSignals` gives that contract to a run:

* until :meth:`StopSignals.hold` is called, SIGINT raises :class:`KeyboardInterrupt` and
  SIGTERM raises :class:`Terminated` (a ``KeyboardInterrupt``, so every clean-up that
  handles Ctrl-C handles both) — the atomic writers then remove their temporary files;
* once the command starts committing its outputs it calls :meth:`~StopSignals.hold`:
  from then on a signal is only recorded (:attr:`~StopSignals.held`), the command
  finishes and its outputs are complete;
* a second signal while the first one's exception unwinds is recorded too, so the
  clean-up is not cut short.
"""

from __future__ import annotations

import signal
import threading
from typing import Dict, Optional

#: Exit code of a run stopped by each signal (128 + the signal's number, as a shell reports it).
EXIT_CODES = {signal.SIGINT: 128 + signal.SIGINT, signal.SIGTERM: 128 + signal.SIGTERM}


class Terminated(KeyboardInterrupt):
    """Raised by :class:`StopSignals` when SIGTERM arrives."""


class StopSignals:
    """Turns SIGINT/SIGTERM into exceptions until :meth:`hold` (see the module docstring).

    Use it as a context manager in the main thread (elsewhere it does nothing); a signal
    the process was started ignoring (``nohup``, a shell's background job) stays ignored.
    On exit it puts the previous handlers back, or ignores both signals when
    ``ignore_after`` (a process about to exit: a late signal must not turn a decided exit
    into a traceback).

    Attributes
    ----------
    stopped_by : signal.Signals or None
        The signal that raised, if any.
    held : signal.Signals or None
        The first signal that arrived after :meth:`hold`.
    """

    def __init__(self, ignore_after: bool = False):
        self.ignore_after = ignore_after
        self.stopped_by: Optional[signal.Signals] = None
        self.held: Optional[signal.Signals] = None
        self._holding = False
        self._previous: Dict[int, object] = {}

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            for s in EXIT_CODES:
                if signal.getsignal(s) is not signal.SIG_IGN:
                    self._previous[s] = signal.signal(s, self._on_signal)
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, signal.SIG_IGN if self.ignore_after else handler)

    def hold(self) -> None:
        """From now on record signals instead of raising (the outputs are being committed)."""
        self._holding = True

    def _on_signal(self, signum: int, frame) -> None:
        if self._holding or self.stopped_by is not None:
            if self.held is None and self.stopped_by is None:
                self.held = signal.Signals(signum)
            return
        self.stopped_by = signal.Signals(signum)
        raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()
