"""The compute process the app's jobs run in: results, errors, cancel, crashes, restarts."""

import os
import sys
import threading
import time
from functools import partial
from pathlib import Path

import pytest

from fieldrig.core.errors import InputError
from fieldrig.core.progress import Cancelled, ProgressEvent
from fieldrig.gui import jobs
from fieldrig.gui.jobs import ComputeProcess
from fieldrig.gui.work import RemoteError


# jobs, run in the child (it imports this module by name: see the fixture)
def double(x, progress):
    progress(ProgressEvent("doubling", 0.5))
    return 2 * x


def stubborn(seconds, progress):
    """Reports once, then ignores cancel requests."""
    progress(ProgressEvent("working", 0.1))
    time.sleep(seconds)
    return "finished"


def polite(progress):
    """Stops at its next progress check once cancelled."""
    for step in range(10_000):
        progress(ProgressEvent(f"step {step}", step / 10_000))
        time.sleep(0.01)
    return "finished"


def bad_file(progress):
    raise InputError("thing.obj", "line 3 is not a vertex")


def bug(progress):
    return {}["missing"]


def crash(progress):
    os._exit(3)


@pytest.fixture
def compute(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(Path(__file__).parent), *sys.path]))
    monkeypatch.setattr(jobs, "CANCEL_GRACE_S", 0.5)
    process = ComputeProcess()
    yield process
    process.stop()


def run_in_thread(compute, job):
    """Start ``job``; return (the thread, an event set at its first progress report, its outcome list)."""
    started, outcome = threading.Event(), []

    def run():
        try:
            outcome.append(compute.run(job, lambda event: started.set()))
        except Cancelled as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, started, outcome


def test_results_errors_cancel_and_crashes(compute):
    events = []
    assert compute.run(partial(double, 21), events.append) == 42
    deadline = time.time() + 60
    while compute.poll_cuda() is None and time.time() < deadline:
        time.sleep(0.1)
    assert compute.poll_cuda() is not None  # the child looked for a GPU
    assert events and events[0].stage == "doubling"
    with pytest.raises(InputError, match="thing.obj: line 3 is not a vertex"):
        compute.run(bad_file, events.append)
    with pytest.raises(RemoteError, match="KeyError: 'missing'") as info:
        compute.run(bug, events.append)
    assert "return {}" in info.value.remote_traceback

    # cancel: a job that checks stops at its next report; one that does not has its process ended
    for job in (polite, partial(stubborn, 60.0)):
        thread, started, outcome = run_in_thread(compute, job)
        assert started.wait(60)
        start = time.perf_counter()
        compute.cancel()
        thread.join(30)
        assert isinstance(outcome[0], Cancelled)
        assert time.perf_counter() - start < 10  # not the 60 s the job wanted

    with pytest.raises(RuntimeError, match=r"stopped unexpectedly \(exit code 3\)"):
        compute.run(crash, events.append)
    assert compute.run(partial(double, 4), events.append) == 8  # a fresh process took over
