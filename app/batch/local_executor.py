"""The local executor: one worker process per asset, forked from a preloaded fork server.

The fork server imports torch and the skinning code once (:data:`WORKER_PRELOAD`), so a
worker starts in milliseconds; ``jobs`` run at a time, each with ``threads`` torch/BLAS
threads. A job that kills its process (a native crash, the out-of-memory killer) is
reported failed and the others go on.

Interrupts: the fork server and the workers ignore SIGINT (a Ctrl-C on the terminal
reaches only the batch process, which stops the workers itself). Each worker also watches
a pipe whose only writing end the batch process holds: when the batch process dies, even
by SIGKILL, the pipe closes and the worker exits at once instead of writing on after it.
A worker killed mid-write leaves only a temporary file, which the next run removes.
"""

from __future__ import annotations

import os
import queue as queue_module
import threading
import time
from pathlib import Path
from typing import Dict, Iterator, Optional, Sequence

from fieldrig.batch.jobs import failed_report, process_asset, throttled, write_report
from fieldrig.batch.manifest import Asset
from fieldrig.core.atomic import deferred_signals

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "IGL_NUM_THREADS")

#: Imported once by the fork server, so that worker processes start with them loaded.
#: (Modules that do not exist are skipped, so the list may name the skinning code's internals.)
WORKER_PRELOAD = [
    "numpy",
    "scipy.sparse",
    "scipy.spatial",
    "igl",
    "trimesh",
    "torch",
    "fieldrig.batch",
    "fieldrig.workflow",
    "fieldrig.skinning",
    "fieldrig.neural.skinning_training",
    "fieldrig.neural.skinning_field",
    "fieldrig.geometry.mesh_check",
    "fieldrig.geometry.mesh_io",
    "fieldrig.geometry.gltf",
    "fieldrig.geometry.handle_placement",
]

#: Seconds a dead worker may stay silent before it counts as crashed (its report, sent just
#: before it exited, would have been read meanwhile).
CRASH_GRACE_S = 2.0


def run_local(todo: Sequence[Asset], outdir: Path, jobs: int, threads: int, board) -> Iterator[Dict]:
    """Yield the assets' reports as their jobs finish.

    Parameters
    ----------
    todo : sequence of Asset
    outdir : Path
    jobs : int
        Workers at a time.
    threads : int
        torch/BLAS threads per worker.
    board : ProgressBoard
        Receives the jobs' progress.
    """
    ctx = _worker_context()
    messages = ctx.Queue()
    # The fork server inherits this environment when it starts and imports numpy/torch once:
    # their thread pools get the per-job size from the start.
    saved = {var: os.environ.get(var) for var in _THREAD_VARIABLES}
    os.environ.update({var: str(threads) for var in _THREAD_VARIABLES})
    _start_fork_server_deaf_to_ctrl_c(ctx)
    lifeline, keep_alive = ctx.Pipe(duplex=False)  # workers read; only this process holds the writing end
    waiting = list(todo)
    running: Dict[str, tuple] = {}
    try:
        while waiting or running:
            while waiting and len(running) < jobs:
                asset = waiting.pop(0)
                process = ctx.Process(
                    target=_worker_main,
                    args=(asset, str(outdir), threads, messages, lifeline),
                    name=f"fieldrig-{asset.name}",
                    daemon=True,
                )
                with deferred_signals():  # a started process is always one we know, to stop it
                    process.start()
                    running[asset.name] = (process, asset)
            try:
                message = messages.get(timeout=0.2)
            except queue_module.Empty:
                message = None
            if message is not None and message[0] == "progress":
                board.update(*message[1:])
            elif message is not None and message[1] in running:
                process, _ = running.pop(message[1])
                process.join()
                yield message[2]
            for name, (process, asset) in list(running.items()):
                if not process.is_alive() and _silent_since_exit(process, CRASH_GRACE_S):
                    del running[name]
                    yield _crash_report(asset, outdir, process.exitcode)
    finally:
        for process, _ in running.values():
            process.terminate()
            process.join()
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value
        messages.close()
        lifeline.close()
        keep_alive.close()


def _start_fork_server_deaf_to_ctrl_c(ctx) -> None:
    """Start the fork server with SIGINT ignored (a disposition that survives its exec and
    that its workers inherit): Ctrl-C then reaches only this process, which stops the
    workers itself, instead of printing a traceback from every process importing torch."""
    import signal
    from multiprocessing import forkserver

    if ctx.get_start_method() != "forkserver" or threading.current_thread() is not threading.main_thread():
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, previous)


def _silent_since_exit(process, grace_s: float) -> bool:
    """True once ``grace_s`` have passed since we first saw ``process`` dead."""
    first = getattr(process, "_fieldrig_seen_dead", None)
    if first is None:
        process._fieldrig_seen_dead = first = time.monotonic()
    return time.monotonic() - first >= grace_s


def _crash_report(asset: Asset, outdir: Path, exitcode: Optional[int]) -> Dict:
    """A failed report for a job whose process died without reporting; written to its folder."""
    import signal

    how = f"exit code {exitcode}"
    if exitcode is not None and exitcode < 0:
        try:
            how = f"signal {signal.Signals(-exitcode).name}"
        except ValueError:
            how = f"signal {-exitcode}"
    error = f"the worker process died ({how}): a crash in native code or out of memory"
    return write_report(asset, outdir, failed_report(asset, error))


def _exit_with_parent(lifeline) -> None:
    """Exit this process as soon as ``lifeline`` closes (the batch process is gone)."""

    def watch() -> None:
        try:
            lifeline.recv()  # nothing is ever sent: this returns only at end of file
        except (EOFError, OSError):
            pass
        os._exit(1)

    threading.Thread(target=watch, name="fieldrig-lifeline", daemon=True).start()


def _worker_main(asset: Asset, outdir: str, threads: Optional[int], messages, lifeline) -> None:
    """Entry point of a local worker process: one asset, progress and report on ``messages``."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops us
    _exit_with_parent(lifeline)
    sink = throttled(lambda name, fraction, stage: messages.put(("progress", name, fraction, stage)), 0.1)
    report = process_asset(asset, outdir, threads, sink)
    messages.put(("done", asset.name, report))


def _worker_context():
    """Worker processes: forked from a fork server that has imported torch and the skinning
    code once (workers then start in milliseconds instead of seconds each); plain spawn where
    there is no fork server (Windows)."""
    import multiprocessing as mp

    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(WORKER_PRELOAD)
    return ctx
