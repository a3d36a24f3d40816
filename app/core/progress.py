"""Progress reporting and cancellation shared by every long computation.

A progress callback receives :class:`ProgressEvent` objects. Returning ``False`` from it
cancels the computation, which then raises :class:`Cancelled` at the next check point.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Optional


class Cancelled(RuntimeError):
    """Raised inside a computation when its progress callback asked to stop."""


@dataclass(frozen=True)
class ProgressEvent:
    """One progress report.

    Attributes
    ----------
    stage : str
        Human-readable name of the current stage, e.g. ``"level 2/3: solve"``.
    fraction : float
        Overall completion in [0, 1].
    eta_s : float or None
        Estimated seconds left, None when unknown.
    """

    stage: str
    fraction: float
    eta_s: Optional[float] = None


ProgressCallback = Callable[[ProgressEvent], Optional[bool]]


class ProgressReporter:
    """Turns (stage, fraction) updates into events with an ETA and checks cancellation.

    Parameters
    ----------
    callback : callable or None
        Receives :class:`ProgressEvent`; returning ``False`` cancels.
    """

    def __init__(self, callback: Optional[ProgressCallback]):
        self._callback = callback
        self._start = time.perf_counter()

    def report(self, stage: str, fraction: float) -> None:
        """Report progress; raise :class:`Cancelled` when the callback returns False."""
        if self._callback is None:
            return
        fraction = min(max(float(fraction), 0.0), 1.0)
        elapsed = time.perf_counter() - self._start
        eta = elapsed * (1.0 - fraction) / fraction if fraction > 0.02 else None
        if self._callback(ProgressEvent(stage, fraction, eta)) is False:
            raise Cancelled(f"cancelled during {stage}")


class Throttle:
    """Lets at most one progress update through per interval (the final one always).

    Parameters
    ----------
    interval_s : float
        Minimum time between two updates that pass.

    Examples
    --------
    >>> throttle = Throttle(0.1)
    >>> throttle.passes(0.5), throttle.passes(0.6), throttle.passes(1.0)
    (True, False, True)
    """

    def __init__(self, interval_s: float):
        self.interval_s = float(interval_s)
        self._last = -float("inf")
        self._stage: Optional[str] = None

    def passes(self, fraction: float, stage: Optional[str] = None) -> bool:
        """Whether an update at ``fraction`` (in stage ``stage``) should be sent now.

        An update passes when the interval has elapsed since the last one that passed,
        when it completes the work (``fraction >= 1``), or when its stage differs from
        the last passed stage (``stage`` given).
        """
        now = time.monotonic()
        new_stage = stage is not None and stage != self._stage
        if new_stage or fraction >= 1.0 or now - self._last >= self.interval_s:
            self._last, self._stage = now, stage if stage is not None else self._stage
            return True
        return False
