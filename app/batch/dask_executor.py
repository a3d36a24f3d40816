"""The Dask executor: the same jobs on a ``dask.distributed`` cluster.

The job function (:func:`~fieldrig.batch.jobs.process_asset`) is submitted to a scheduler
(or to a local cluster of ``jobs`` workers when no address is given). Workers read the
inputs and write the outputs themselves, so OUTDIR and the assets must be on storage every
worker sees (a shared or network file system). Progress comes back on a distributed queue.
"""

from __future__ import annotations

import queue as queue_module
import threading
import uuid
from pathlib import Path
from typing import Dict, Iterator, Optional, Sequence

from fieldrig.batch.jobs import failed_report, process_asset, throttled
from fieldrig.batch.manifest import Asset
from fieldrig.core.errors import InputError


def run_dask(
    todo: Sequence[Asset], outdir: Path, jobs: int, threads: Optional[int], scheduler: Optional[str], board
) -> Iterator[Dict]:
    """Yield the assets' reports as their jobs finish on a Dask cluster.

    Parameters
    ----------
    todo : sequence of Asset
    outdir : Path
    jobs : int
        Workers of the local cluster started when ``scheduler`` is None.
    threads : int or None
        torch threads per job (None: the workers' own setting, on a remote cluster).
    scheduler : str or None
        Scheduler address; None starts a local cluster.
    board : ProgressBoard

    Raises
    ------
    InputError
        dask.distributed is not installed, or the scheduler cannot be reached.
    """
    try:
        from distributed import Client, LocalCluster, Queue, as_completed
    except ImportError as exc:
        raise InputError("--executor dask", "needs dask.distributed: pip install 'fieldrig[dask]'") from exc

    cluster = None
    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise InputError("--scheduler", f"cannot reach the Dask scheduler at {scheduler} ({exc})") from exc
    else:
        import logging

        cluster = LocalCluster(
            n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.CRITICAL
        )
        client = Client(cluster)
    queue_name = f"fieldrig-progress-{uuid.uuid4().hex}" if board.enabled else None
    stop = threading.Event()
    drain = None
    try:
        if queue_name is not None:
            reader = _QueueReader(Queue(queue_name, client=client))
            drain = threading.Thread(target=_drain, args=(reader, board, stop), daemon=True)
            drain.start()
        futures = {
            client.submit(
                _dask_job,
                a,
                str(Path(outdir).resolve()),
                threads,
                queue_name,
                pure=False,
                key=f"fieldrig-{a.name}-{uuid.uuid4().hex[:8]}",
            ): a
            for a in todo
        }
        for fut in as_completed(futures):
            yield _result_or_failure(fut, futures[fut])
    finally:
        stop.set()
        if drain is not None:
            drain.join()
        client.close()
        if cluster is not None:
            cluster.close()


def _dask_job(asset: Asset, outdir: str, threads: Optional[int], queue_name: Optional[str]) -> Dict:
    """The job as run on a Dask worker: progress goes to a distributed queue."""
    sink = None
    if queue_name is not None:
        from distributed import Queue

        queue = Queue(queue_name)
        sink = throttled(lambda name, fraction, stage: queue.put((name, fraction, stage)), 0.5)
    return process_asset(asset, outdir, threads, sink)


def _result_or_failure(fut, asset: Asset) -> Dict:
    """The job's report; a crashed worker (killed, out of memory) becomes a failed report."""
    try:
        return fut.result()
    except Exception as exc:
        return failed_report(asset, f"worker crashed: {type(exc).__name__}: {exc}")


def _drain(reader: "_QueueReader", board, stop: threading.Event) -> None:
    """Feed the board from the progress queue until ``stop`` is set."""
    while not stop.is_set():
        try:
            name, fraction, stage = reader.get(timeout=0.1)
        except (queue_module.Empty, EOFError, OSError):
            continue
        board.update(name, fraction, stage)


class _QueueReader:
    """Adapts a distributed.Queue to a ``get(timeout=)`` that raises ``queue.Empty``."""

    def __init__(self, queue):
        self._queue = queue

    def get(self, timeout: float):
        try:
            return self._queue.get(timeout=timeout)
        except (TimeoutError, OSError):
            raise queue_module.Empty from None
