"""Batch skinning: many assets, in worker processes or on a Dask cluster, resumable.

Each asset is one job, :func:`process_asset`: load, train, write the outputs and a
``report.json`` into ``OUTDIR/NAME/``. A job never raises: a failure becomes a report with
``status: "failed"`` and a one-line ``error``, so one bad asset never stops the others.
A job whose ``report.json`` says ``ok`` for the same input fingerprint (SHA-256 of the mesh
and rig files plus the settings) and whose outputs all exist is skipped (resume).

Executors:

- ``local``: one worker process per asset, ``jobs`` at a time, forked from a fork server
  that imported torch and the skinning code once; each uses ``threads`` torch/BLAS threads
  (default: CPU cores // jobs: one job alone uses every core, two jobs on two cores one
  thread each). A job that kills its process (a native crash, the out-of-memory killer)
  is reported failed; the others go on.
- ``dask``: the same job function submitted to a ``dask.distributed`` scheduler (or to a
  local cluster of ``jobs`` workers when no address is given). Workers read the inputs and
  write the outputs themselves, so OUTDIR and the assets must be on storage every worker
  sees (a shared or network file system).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Union

from fieldrig.core.errors import InputError
from fieldrig.core.files import file_sha256
from fieldrig.core.progress import Throttle
from fieldrig.core.vocabulary import DEFAULT_SKINNING_PRESET, SKINNING_PRESET_NAMES, WEIGHT_OUTPUT_SUFFIXES
from fieldrig.geometry.skinned_asset import SKINNED_SUFFIXES

PathLike = Union[str, os.PathLike]

MESH_SUFFIXES = (".obj", ".ply", ".off", ".stl", ".glb", ".gltf", ".fbx")
RIG_SUFFIXES = (".tgf", ".json")
FORMATS = tuple(s.lstrip(".") for s in WEIGHT_OUTPUT_SUFFIXES)
DEFAULTS = {
    "preset": DEFAULT_SKINNING_PRESET,
    "formats": ["npy", "glb"],
    "seed": 0,
    "device": "auto",
    "max_influences": 4,
    "save_field": False,
}
REPORT = "report.json"
SUMMARY = "summary.json"


# ============================================================================ assets
@dataclass
class Asset:
    """One mesh and its rig, with the settings to compute its weights with.

    Attributes
    ----------
    name : str
        Unique; names the output folder ``OUTDIR/name``.
    mesh : str
        Mesh path.
    rig : str
        Rig path (TGF, JSON, or a rigged GLB/GLTF — possibly the mesh itself).
    settings : dict
        preset, formats, seed, device, max_influences, save_field.
    """

    name: str
    mesh: str
    rig: str
    settings: Dict = field(default_factory=lambda: dict(DEFAULTS))


def discover_assets(source: PathLike, defaults: Optional[Dict] = None) -> List[Asset]:
    """The assets of a manifest JSON or of a folder.

    Parameters
    ----------
    source : str or PathLike
        A manifest (see :func:`read_manifest`) or a folder: every mesh with a rig of the
        same stem beside it (``NAME.tgf``/``NAME.json``), or a skinned glTF/FBX file on its
        own (its skin is the rig, and its glTF output is the file re-skinned). A mesh with
        neither still becomes an asset, so that it is reported as failed rather than
        silently skipped.
    defaults : dict, optional
        Settings for assets that do not set their own (the command line's options).

    Returns
    -------
    list of Asset
    """
    source = Path(source)
    settings = {**DEFAULTS, **(defaults or {})}
    _check_settings(settings, "settings")
    if source.is_dir():
        assets = []
        for mesh in sorted(p for p in source.iterdir() if p.suffix.lower() in MESH_SUFFIXES and p.is_file()):
            rigs = [mesh.with_suffix(s) for s in RIG_SUFFIXES if mesh.with_suffix(s).is_file()]
            rig = rigs[0] if rigs else mesh if mesh.suffix.lower() in SKINNED_SUFFIXES else mesh.with_suffix(".tgf")
            assets.append(Asset(mesh.stem, str(mesh), str(rig), dict(settings)))
        if not assets:
            raise InputError(str(source), f"no meshes ({', '.join(MESH_SUFFIXES)}) in this folder")
        _check_unique(assets, str(source))
        return assets
    if source.is_file():
        return read_manifest(source, settings)
    raise InputError(str(source), "no such manifest file or folder")


def read_manifest(path: PathLike, defaults: Optional[Dict] = None) -> List[Asset]:
    """Read a batch manifest.

    Format (JSON; paths relative to the manifest's folder)::

        {"defaults": {"preset": "fast", "formats": ["glb", "npy"], "seed": 0},
         "assets": [{"name": "finger", "mesh": "finger.obj", "rig": "finger.tgf"},
                    {"mesh": "legs.obj", "rig": "legs.json", "preset": "high"}]}

    A bare list of assets is accepted too. ``name`` defaults to the mesh's stem; ``rig``
    to the mesh itself for glTF and FBX files (their own skin). Settings: preset, formats, seed, device,
    max_influences, save_field; an asset's own override the manifest's ``defaults``, which
    override ``defaults``.
    """
    from fieldrig.core.files import read_json

    path = Path(path)
    data = read_json(path, "manifest")
    if isinstance(data, list):
        data = {"assets": data}
    if not isinstance(data, dict) or not isinstance(data.get("assets"), list) or not data["assets"]:
        raise InputError(str(path), "a manifest needs a non-empty 'assets' list")
    base = {**DEFAULTS, **(defaults or {}), **data.get("defaults", {})}
    _check_settings(base, f"{path} defaults")
    assets = []
    for i, entry in enumerate(data["assets"]):
        if not isinstance(entry, dict) or "mesh" not in entry:
            raise InputError(str(path), f"asset {i} needs a 'mesh' path")
        mesh = path.parent / entry["mesh"]
        rig = entry.get("rig") or (entry["mesh"] if mesh.suffix.lower() in SKINNED_SUFFIXES else None)
        if rig is None:
            raise InputError(str(path), f"asset {i} ({entry['mesh']}) needs a 'rig' path")
        settings = {**base, **{k: v for k, v in entry.items() if k in DEFAULTS}}
        _check_settings(settings, f"{path} asset {i}")
        unknown = set(entry) - set(DEFAULTS) - {"name", "mesh", "rig"}
        if unknown:
            raise InputError(str(path), f"asset {i} has unknown keys {sorted(unknown)}")
        assets.append(Asset(str(entry.get("name", mesh.stem)), str(mesh), str(path.parent / rig), settings))
    _check_unique(assets, str(path))
    return assets


def _check_settings(settings: Dict, source: str) -> None:
    unknown = set(settings) - set(DEFAULTS)
    if unknown:
        raise InputError(source, f"unknown settings {sorted(unknown)} (known: {', '.join(DEFAULTS)})")
    bad = [f for f in settings["formats"] if f not in FORMATS]
    if bad or not settings["formats"]:
        raise InputError(source, f"unknown output formats {bad} (expected some of {', '.join(FORMATS)})")
    if settings["preset"] not in SKINNING_PRESET_NAMES:
        raise InputError(
            source, f"unknown preset {settings['preset']!r} (expected one of {', '.join(SKINNING_PRESET_NAMES)})"
        )
    if not isinstance(settings["max_influences"], int) or settings["max_influences"] < 1:
        raise InputError(source, f"max_influences must be a positive integer, got {settings['max_influences']!r}")


def _check_unique(assets: Sequence[Asset], source: str) -> None:
    seen = set()
    for a in assets:
        if a.name in seen:
            raise InputError(source, f"two assets are named {a.name!r}; give them distinct names")
        seen.add(a.name)


# ============================================================================ one job
def fingerprint(asset: Asset) -> str:
    """SHA-256 of the asset's input files and settings: equal means nothing to redo."""
    from fieldrig import __version__

    h = hashlib.sha256()
    for path in (asset.mesh, asset.rig):
        h.update(path.encode() + b"\0")
        try:
            h.update(file_sha256(path).encode())
        except OSError:
            h.update(b"<unreadable>")
    h.update(json.dumps(asset.settings, sort_keys=True).encode())
    h.update(__version__.encode())
    return h.hexdigest()


def output_paths(asset: Asset, outdir: PathLike) -> List[Path]:
    """Files the asset's job writes (besides its report)."""
    folder = Path(outdir) / asset.name
    paths = [folder / f"{asset.name}.{fmt}" for fmt in asset.settings["formats"]]
    if asset.settings.get("save_field"):
        paths.append(folder / f"{asset.name}.field")
    return paths


def is_up_to_date(asset: Asset, outdir: PathLike) -> bool:
    """Whether the asset's previous report is ``ok`` for the same inputs and its outputs exist."""
    try:
        report = json.loads((Path(outdir) / asset.name / REPORT).read_text())
    except (OSError, ValueError):
        return False
    return (
        report.get("status") == "ok"
        and report.get("fingerprint") == fingerprint(asset)
        and all(p.is_file() for p in output_paths(asset, outdir))
    )


# The job's progress sink, called as sink(asset_name, fraction, stage): set in a local
# worker process by _worker_main, on a Dask worker by _dask_job.
_progress_sink: Optional[Callable[[str, float, str], None]] = None

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "IGL_NUM_THREADS")


def _throttled(send: Callable[[str, float, str], None], interval_s: float) -> Callable[[str, float, str], None]:
    """A sink that forwards at most one update per ``interval_s`` (and always the last one)."""
    throttle = Throttle(interval_s)

    def sink(name: str, fraction: float, stage: str) -> None:
        if throttle.passes(fraction):
            send(name, fraction, stage)

    return sink


def process_asset(asset: Asset, outdir: PathLike, threads: Optional[int] = None) -> Dict:
    """Compute one asset's weights, write its outputs and ``report.json``; never raises.

    Parameters
    ----------
    asset : Asset
    outdir : str or PathLike
        Outputs go to ``outdir/asset.name/``.
    threads : int, optional
        torch threads for this job (left as they are when None).

    Returns
    -------
    dict
        The report: name, status (``ok``/``failed``), error, time_s, figures, outputs, ...
    """
    from fieldrig import __version__
    from fieldrig.core.atomic import atomic_write_text

    start = time.perf_counter()
    folder = Path(outdir) / asset.name
    report: Dict = {
        "name": asset.name,
        "mesh": asset.mesh,
        "rig": asset.rig,
        "settings": asset.settings,
        "fingerprint": fingerprint(asset),
        "status": "failed",
        "error": None,
        "host": socket.gethostname(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "fieldrig_version": __version__,
    }
    try:
        report.update(_compute(asset, folder, threads))
        report["status"] = "ok"
    except Exception as exc:  # a job reports its failure instead of raising
        report["error"] = " ".join(str(exc).split()) or type(exc).__name__
        if not isinstance(exc, InputError):
            report["error"] = f"{type(exc).__name__}: {report['error']}"
            report["traceback"] = traceback.format_exc()
    report["time_s"] = round(time.perf_counter() - start, 3)
    try:
        atomic_write_text(folder / REPORT, json.dumps(report, indent=2) + "\n")
    except OSError as exc:
        report.update(status="failed", error=f"cannot write the report ({exc})")
    return report


def _compute(asset: Asset, folder: Path, threads: Optional[int]) -> Dict:
    import numpy as np

    from fieldrig import workflow
    from fieldrig.geometry.gltf import pruned_mass

    s = asset.settings
    t0 = time.perf_counter()
    subjects = workflow.load_subjects(asset.mesh, asset.rig)
    t1 = time.perf_counter()
    import torch  # after the inputs: a bad file fails without loading torch

    from fieldrig.neural.device import resolve_device

    if threads:
        torch.set_num_threads(threads)
    sink = _progress_sink

    def progress(event) -> bool:
        if sink is not None:
            sink(asset.name, event.fraction, event.stage)
        return True

    results = [
        workflow.fit_subject(subject, s["preset"], s["device"], s["seed"], progress=progress) for subject in subjects
    ]
    t2 = time.perf_counter()
    outputs = [str(p) for p in output_paths(asset, folder.parent)]
    written = workflow.write_outputs([o for o in outputs if not o.endswith(".field")], results, s["max_influences"])
    if s.get("save_field"):
        written += workflow.save_fields(outputs[-1], results)
    t3 = time.perf_counter()
    lost = np.concatenate([pruned_mass(r.W, s["max_influences"]) for r in results])
    rigs = [r.subject.rig for r in results]
    return {
        "outputs": written,
        "stages_s": {"load": round(t1 - t0, 3), "train": round(t2 - t1, 3), "write": round(t3 - t2, 3)},
        "figures": {
            "n_vertices": int(sum(len(r.W) for r in results)),
            "n_faces": sum(0 if r.subject.mesh.F is None else len(r.subject.mesh.F) for r in results) or None,
            "n_handles": int(sum(rig.n_handles for rig in rigs)),
            "handles": [n for rig in rigs for n in rig.handle_names],
            "min_weight": float(min(r.W.min() for r in results)),
            "max_weight": float(max(r.W.max() for r in results)),
            "partition_of_unity_error": float(max(np.abs(r.W.sum(axis=1) - 1.0).max() for r in results)),
            "max_influences": int(s["max_influences"]),
            "pruned_weight_mean": float(lost.mean()),
            "pruned_weight_max": float(lost.max()),
            "dropped_faces": int(sum(r.subject.mesh.cleanup.dropped for r in results)),
        },
        "warnings": [w for r in results for w in r.subject.warnings + r.warnings],
        "device": str(resolve_device(s["device"])),
        "torch_threads": torch.get_num_threads(),
    }


# ============================================================================ running
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
    """
    from fieldrig.core.atomic import atomic_write_text

    options = options or BatchOptions()
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    reports: Dict[str, Dict] = {}
    todo = []
    for a in assets:
        if not options.force and is_up_to_date(a, outdir):
            reports[a.name] = {
                "name": a.name,
                "status": "skipped",
                "error": None,
                "time_s": None,
                "outputs": [str(p) for p in output_paths(a, outdir)],
            }
        else:
            todo.append(a)
    board = _ProgressBoard(len(assets), len(assets) - len(todo), options.progress)
    interrupted = False
    try:
        if todo:
            runner = _run_dask if options.executor == "dask" else _run_local
            for report in runner(todo, outdir, options, board):
                reports[report["name"]] = report
                board.finished(report)
    except KeyboardInterrupt:
        interrupted = True  # the summary still records what finished
    finally:
        board.close()
    for a in assets:
        reports.setdefault(
            a.name, {"name": a.name, "status": "failed", "error": "interrupted before it finished", "time_s": None}
        )
    summary = BatchSummary([reports[a.name] for a in assets], time.perf_counter() - start)
    atomic_write_text(outdir / SUMMARY, json.dumps(summary.to_dict(), indent=2) + "\n")
    if interrupted:
        raise KeyboardInterrupt
    return summary


def _threads_per_job(options: BatchOptions) -> int:
    return options.threads or max(1, (os.cpu_count() or 1) // options.jobs)


def _run_local(todo: Sequence[Asset], outdir: Path, options: BatchOptions, board: "_ProgressBoard"):
    """Yield reports as jobs finish. Every asset runs in its own worker process (forked from
    a preloaded fork server, so this costs milliseconds), at most ``jobs`` at a time: a job
    that crashes its process (a segfault in native code, the out-of-memory killer) fails
    alone and the others go on."""
    import queue as queue_module

    ctx = _worker_context()
    messages = ctx.Queue()
    threads = _threads_per_job(options)
    # The fork server inherits this environment when it starts and imports numpy/torch once:
    # their thread pools get the per-job size from the start.
    saved = {var: os.environ.get(var) for var in _THREAD_VARIABLES}
    os.environ.update({var: str(threads) for var in _THREAD_VARIABLES})
    _start_fork_server_deaf_to_ctrl_c(ctx)
    waiting = list(todo)
    running: Dict[str, tuple] = {}
    try:
        while waiting or running:
            while waiting and len(running) < options.jobs:
                asset = waiting.pop(0)
                process = ctx.Process(
                    target=_worker_main,
                    args=(asset, str(outdir), threads, messages),
                    name=f"fieldrig-{asset.name}",
                    daemon=True,
                )
                with _ctrl_c_deferred():  # a started process is always one we know, to stop it
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
            # A process that exited without a report for 2 s (its report would have been
            # read above meanwhile) crashed.
            for name, (process, asset) in list(running.items()):
                if not process.is_alive() and _silent_since_exit(process, 2.0):
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


@contextlib.contextmanager
def _ctrl_c_deferred():
    """Hold a Ctrl-C (SIGINT) that arrives during the block, and raise it after the block."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda *_: caught.append(True))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


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


def _crash_report(asset: Asset, outdir: PathLike, exitcode: Optional[int]) -> Dict:
    """A failed report for a job whose process died without reporting; written to its folder."""
    import signal

    from fieldrig.core.atomic import atomic_write_text

    how = f"exit code {exitcode}"
    if exitcode is not None and exitcode < 0:
        try:
            how = f"signal {signal.Signals(-exitcode).name}"
        except ValueError:
            how = f"signal {-exitcode}"
    report = {
        "name": asset.name,
        "mesh": asset.mesh,
        "rig": asset.rig,
        "settings": asset.settings,
        "status": "failed",
        "time_s": None,
        "error": f"the worker process died ({how}): a crash in native code or out of memory",
    }
    try:
        atomic_write_text(Path(outdir) / asset.name / REPORT, json.dumps(report, indent=2) + "\n")
    except OSError:
        pass
    return report


def _worker_main(asset: Asset, outdir: str, threads: Optional[int], messages) -> None:
    """Entry point of a local worker process: one asset, progress and report on ``messages``."""
    import signal

    global _progress_sink
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops us
    _progress_sink = _throttled(lambda name, fraction, stage: messages.put(("progress", name, fraction, stage)), 0.1)
    report = process_asset(asset, outdir, threads)
    messages.put(("done", asset.name, report))


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
    "fieldrig.cli",
    "fieldrig.workflow",
    "fieldrig.skinning",
    "fieldrig.neural.skinning_training",
    "fieldrig.neural.skinning_field",
    "fieldrig.geometry.mesh_check",
    "fieldrig.geometry.mesh_io",
    "fieldrig.geometry.gltf",
    "fieldrig.geometry.handle_placement",
]


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


def _result_or_failure(fut, asset: Asset) -> Dict:
    """The job's report; a crashed worker (killed, out of memory) becomes a failed report."""
    try:
        return fut.result()
    except Exception as exc:
        return {
            "name": asset.name,
            "mesh": asset.mesh,
            "rig": asset.rig,
            "status": "failed",
            "error": f"worker crashed: {type(exc).__name__}: {exc}",
            "time_s": None,
        }


def _drain(queue, board: "_ProgressBoard", stop: threading.Event) -> None:
    import queue as queue_module

    while not stop.is_set():
        try:
            name, fraction, stage = queue.get(timeout=0.1)
        except (queue_module.Empty, EOFError, OSError):
            continue
        board.update(name, fraction, stage)


def _dask_job(asset: Asset, outdir: str, threads: Optional[int], queue_name: Optional[str]) -> Dict:
    """The job as run on a Dask worker: progress goes to a distributed queue."""
    global _progress_sink
    if queue_name is not None:
        from distributed import Queue

        queue = Queue(queue_name)
        _progress_sink = _throttled(lambda name, fraction, stage: queue.put((name, fraction, stage)), 0.5)
    try:
        return process_asset(asset, outdir, threads)
    finally:
        _progress_sink = None


def _run_dask(todo: Sequence[Asset], outdir: Path, options: BatchOptions, board: "_ProgressBoard"):
    """Yield reports as jobs finish on a Dask distributed cluster."""
    try:
        from distributed import Client, LocalCluster, Queue, as_completed
    except ImportError as exc:
        raise InputError("--executor dask", "needs dask.distributed: pip install 'fieldrig[dask]'") from exc
    import uuid

    cluster = None
    if options.scheduler:
        try:
            client = Client(options.scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise InputError("--scheduler", f"cannot reach the Dask scheduler at {options.scheduler} ({exc})") from exc
    else:
        import logging

        cluster = LocalCluster(
            n_workers=options.jobs,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.CRITICAL,
        )
        client = Client(cluster)
    queue_name = f"fieldrig-progress-{uuid.uuid4().hex}" if board.enabled else None
    stop = threading.Event()
    drain = None
    threads = options.threads or (_threads_per_job(options) if cluster is not None else None)
    try:
        if queue_name is not None:
            drain = threading.Thread(
                target=_drain, args=(_DaskQueueReader(Queue(queue_name, client=client)), board, stop), daemon=True
            )
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


class _DaskQueueReader:
    """Adapts a distributed.Queue to the ``get(timeout=)`` that :func:`_drain` uses."""

    def __init__(self, queue):
        self._queue = queue

    def get(self, timeout: float):
        import queue as queue_module

        try:
            return self._queue.get(timeout=timeout)
        except (TimeoutError, OSError):
            raise queue_module.Empty from None


class _ProgressBoard:
    """One bar over assets, plus one bar per running asset's training (tqdm, on stderr)."""

    def __init__(self, total: int, done: int, enabled: bool):
        from tqdm import tqdm

        self.enabled = enabled and sys.stderr.isatty()
        self._tqdm = tqdm
        self._lock = threading.Lock()
        self._overall = tqdm(
            total=total, initial=done, desc="assets", unit="asset", disable=not self.enabled, position=0
        )
        self._bars: Dict[str, object] = {}
        self._free: List[int] = []

    def update(self, name: str, fraction: float, stage: str) -> None:
        if not self.enabled:
            return
        with self._lock:
            bar = self._bars.get(name)
            if bar is None:
                position = self._free.pop(0) if self._free else len(self._bars) + 1
                bar = self._tqdm(
                    total=1000,
                    desc=name,
                    position=position,
                    leave=False,
                    bar_format="{desc}: {percentage:3.0f}%|{bar:30}| {elapsed}<{remaining}{postfix}",
                )
                bar.position_slot = position
                self._bars[name] = bar
            bar.set_postfix_str(stage, refresh=False)
            bar.update(int(round(1000 * fraction)) - bar.n)

    def finished(self, report: Dict) -> None:
        with self._lock:
            bar = self._bars.pop(report["name"], None)
            if bar is not None:
                self._free.append(bar.position_slot)
                self._free.sort()
                bar.close()
            self._overall.update(1)
            self._overall.set_postfix_str(f"{report['name']}: {report['status']}")

    def close(self) -> None:
        with self._lock:
            for bar in self._bars.values():
                bar.close()
            self._overall.close()
