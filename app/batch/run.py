"""Running a batch: which assets to compute, on which executor, and the summary.

:func:`run_batch` first checks everything it will write (OUTDIR can be created and written,
every asset's folder lies in it), then removes the previous ``summary.json`` and the
temporary files that killed runs left, skips the assets that are up to date, runs the
others and writes the new ``summary.json`` atomically at the end. A run stopped by SIGINT
or SIGTERM stops its workers, still writes the summary of what finished (the rest
``failed``: interrupted) and raises :class:`BatchInterrupted`; a run killed outright
(SIGKILL) leaves no summary at all, never the previous one.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Generator, List, Optional, Sequence, Union

from fieldrig.batch.board import ProgressBoard
from fieldrig.batch.jobs import REPORT, asset_folder, failed_report, is_up_to_date, output_paths, read_report
from fieldrig.batch.manifest import SUMMARY, Asset, check_unique
from fieldrig.core.errors import InputError

PathLike = Union[str, os.PathLike]


class BatchInterrupted(KeyboardInterrupt):
    """A batch stopped by SIGINT or SIGTERM (after writing the summary of what finished).

    Attributes
    ----------
    signum : signal.Signals
        The signal.
    summary : BatchSummary
        What finished before it.
    """

    def __init__(self, signum: signal.Signals, summary: "BatchSummary"):
        super().__init__(signum.name)
        self.signum = signum
        self.summary = summary


@dataclass
class BatchOptions:
    """How to run a batch.

    Attributes
    ----------
    jobs : int
        Assets computed at once (local worker processes, or local Dask workers).
    threads : int or None
        torch/BLAS threads per job; None = CPU cores // jobs (at least 1).
    force : bool
        Recompute up-to-date assets.
    executor : str
        ``"local"`` or ``"dask"``.
    scheduler : str or None
        Dask scheduler address; None starts a local cluster.
    progress : bool
        Show progress bars (on a terminal).
    """

    jobs: int = 1
    threads: Optional[int] = None
    force: bool = False
    executor: str = "local"
    scheduler: Optional[str] = None
    progress: bool = True

    def threads_per_job(self) -> int:
        """``threads``, or the CPU cores shared among ``jobs`` (at least 1)."""
        return self.threads or max(1, (os.cpu_count() or 1) // self.jobs)


@dataclass
class BatchSummary:
    """The reports of a batch run, in asset order, and its wall time."""

    reports: List[Dict]
    time_s: float

    @property
    def all_succeeded(self) -> bool:
        """True when no asset failed (skipped ones count as succeeded)."""
        return all(r["status"] in ("ok", "skipped") for r in self.reports)

    def counts(self) -> Dict[str, int]:
        """Number of assets per status."""
        out = {"ok": 0, "skipped": 0, "failed": 0}
        for r in self.reports:
            out[r["status"]] += 1
        return out

    def to_dict(self) -> Dict:
        """What ``summary.json`` holds."""
        return {
            "time_s": round(self.time_s, 3),
            "counts": self.counts(),
            "all_succeeded": self.all_succeeded,
            "assets": [{k: r.get(k) for k in ("name", "status", "error", "time_s", "outputs")} for r in self.reports],
        }

    def table(self) -> str:
        """A plain-text table, one asset per line, then the totals."""
        width = max([len(r["name"]) for r in self.reports] + [5])
        lines = [f"{'asset':<{width}}  {'status':<7}  {'time':>7}  detail"]
        for r in self.reports:
            fig = r.get("figures") or {}
            detail = r.get("error") or (
                f"{fig['n_vertices']:,} vertices × {fig['n_handles']} handles" if fig else "up to date"
            )
            t = f"{r['time_s']:.1f}s" if r.get("time_s") is not None else "-"
            lines.append(f"{r['name']:<{width}}  {r['status']:<7}  {t:>7}  {detail}")
        c = self.counts()
        lines.append(
            f"{len(self.reports)} assets: {c['ok']} ok, {c['skipped']} up to date, {c['failed']} failed "
            f"in {self.time_s:.1f} s"
        )
        return "\n".join(lines)


def run_batch(assets: Sequence[Asset], outdir: PathLike, options: Optional[BatchOptions] = None) -> BatchSummary:
    """Run every asset's job, write ``OUTDIR/summary.json`` and return the summary.

    Parameters
    ----------
    assets : sequence of Asset
    outdir : str or PathLike
    options : BatchOptions, optional

    Returns
    -------
    BatchSummary

    Raises
    ------
    InputError
        Before any work: OUTDIR cannot be created or written, an asset's name is unsafe or
        its folder leads out of OUTDIR, two assets share a name, or an asset's folder
        cannot be written.
    BatchInterrupted
        SIGINT or SIGTERM (in the main thread) stopped the run; the summary was written.
    """
    from fieldrig.core.atomic import atomic_write_text
    from fieldrig.core.interrupts import StopSignals

    options = options or BatchOptions()
    outdir = Path(outdir)
    summary_path = outdir / SUMMARY
    with StopSignals() as stop:  # the first SIGINT/SIGTERM raises, the ones after it wait
        _prepare_outdir(outdir, assets)
        summary_path.unlink(missing_ok=True)  # never an old summary beside new (or half-made) outputs
        start = time.perf_counter()
        reports: Dict[str, Dict] = {}
        try:
            _run(assets, outdir, options, reports)
        except KeyboardInterrupt:
            if stop.stopped_by is None:
                raise
        why = f"interrupted ({stop.stopped_by.name}) before it finished" if stop.stopped_by else None
        for a in assets:  # interrupted: a job may have finished before it could tell us
            if a.name not in reports:
                reports[a.name] = (is_up_to_date(a, outdir) and read_report(a, outdir)) or failed_report(a, why)
        summary = BatchSummary([reports[a.name] for a in assets], time.perf_counter() - start)
        atomic_write_text(summary_path, _json(summary.to_dict()))
    if stop.stopped_by is not None:
        raise BatchInterrupted(stop.stopped_by, summary)
    return summary


def _run(assets: Sequence[Asset], outdir: Path, options: BatchOptions, reports: Dict[str, Dict]) -> None:
    """Remove what killed runs left, skip the assets that are up to date, run the others;
    each report goes into ``reports`` as it comes."""
    from fieldrig.core.atomic import remove_orphaned_temporaries, sweep_orphaned_temporaries

    remove_orphaned_temporaries(outdir / SUMMARY)
    todo = []
    for a in assets:
        sweep_orphaned_temporaries(asset_folder(a, outdir))
        if not options.force and is_up_to_date(a, outdir):
            recorded = (read_report(a, outdir) or {}).get("outputs") or [str(p) for p in output_paths(a, outdir)]
            reports[a.name] = {"name": a.name, "status": "skipped", "error": None, "time_s": None, "outputs": recorded}
        else:
            todo.append(a)
    board = ProgressBoard(len(assets), len(assets) - len(todo), options.progress)
    jobs = _executor(todo, outdir, options, board)
    try:
        for report in jobs:
            reports[report["name"]] = report
            board.finished(report)
    finally:
        jobs.close()  # stops the workers still running
        board.close()


def _prepare_outdir(outdir: Path, assets: Sequence[Asset]) -> None:
    """Check, before any work, that every asset's files can be written in OUTDIR; then create it."""
    from fieldrig.core.atomic import check_writable

    if outdir.exists() and not outdir.is_dir():
        raise InputError(str(outdir), "is a file: -o names the output folder")
    check_unique(assets, "assets")
    folders = [asset_folder(a, outdir) for a in assets]
    check_writable([outdir / SUMMARY] + [folder / REPORT for folder in folders])
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(str(outdir), f"cannot create the output folder ({exc.strerror or exc})") from exc


def _executor(
    todo: Sequence[Asset], outdir: Path, options: BatchOptions, board: ProgressBoard
) -> Generator[Dict, None, None]:
    """The reports of the jobs of ``todo``, as they finish, from the executor ``options`` name."""
    if not todo:
        return
    if options.executor == "dask":
        from fieldrig.batch.dask_executor import run_dask

        threads = options.threads or (None if options.scheduler else options.threads_per_job())
        yield from run_dask(todo, outdir, options.jobs, threads, options.scheduler, board)
        return
    from fieldrig.batch.local_executor import run_local

    yield from run_local(todo, outdir, options.jobs, options.threads_per_job(), board)


def _json(data: Dict) -> str:
    import json

    return json.dumps(data, indent=2) + "\n"
