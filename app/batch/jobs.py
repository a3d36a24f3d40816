"""One asset's job: its fingerprint, its files inside OUTDIR, the job itself, its report.

A job (:func:`process_asset`) loads, trains and writes ``OUTDIR/NAME/``: the outputs and a
``report.json``, all committed together (every file new or every file as it was). It never
raises: a failure becomes a report with ``status: "failed"`` and a one-line ``error``.

The report records the input fingerprint (SHA-256 of the mesh and rig files plus the
settings and the fieldrig version) and each output's SHA-256: an asset is up to date
(:func:`is_up_to_date`) only when both still match, so an output cut short or edited after
the run is computed again.

Every path a job writes is checked to lie in ``OUTDIR/NAME/`` (:func:`asset_folder`),
symbolic links resolved: no asset name or link ever makes a job write elsewhere.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
import traceback
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple, Union

from fieldrig.batch.manifest import Asset, check_name
from fieldrig.core.errors import InputError
from fieldrig.core.files import file_sha256
from fieldrig.core.progress import Throttle

PathLike = Union[str, os.PathLike]
#: A job's progress sink: ``sink(asset_name, fraction, stage)``.
ProgressSink = Callable[[str, float, str], None]
#: Each asset's report, in its folder.
REPORT = "report.json"


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


def asset_folder(asset: Asset, outdir: PathLike) -> Path:
    """``OUTDIR/NAME``, checked to resolve (symbolic links followed) to a folder directly in
    OUTDIR.

    Raises
    ------
    InputError
        An unsafe name (:func:`~fieldrig.batch.manifest.check_name`), or a folder that is a
        link leading elsewhere (or a broken link, or a link loop).
    """
    check_name(asset.name, f"asset {asset.name!r}")
    outdir = Path(outdir)
    folder = outdir / asset.name
    if os.path.realpath(folder) != os.path.join(os.path.realpath(outdir), asset.name):
        raise InputError(str(folder), "is a symbolic link out of the output folder; remove it or choose another -o")
    return folder


def checked_output(folder: Path, path: PathLike) -> Path:
    """``path`` when it names a file directly in ``folder`` (as resolved), else an error."""
    path = Path(path)
    if os.path.realpath(path.parent) != os.path.realpath(folder) or path.name in ("", ".", ".."):
        raise InputError(str(path), f"would be written outside the asset's folder {str(folder)!r}; refused")
    return path


def output_paths(asset: Asset, outdir: PathLike) -> List[Path]:
    """Files the asset's job writes besides its report, as named in its settings (an asset
    with several skins writes ``NAME_skinK.EXT`` tables instead of ``NAME.EXT``)."""
    folder = asset_folder(asset, outdir)
    paths = [folder / f"{asset.name}.{fmt}" for fmt in asset.settings["formats"]]
    if asset.settings.get("save_field"):
        paths.append(folder / f"{asset.name}.field")
    return paths


def read_report(asset: Asset, outdir: PathLike) -> Optional[Dict]:
    """The asset's previous report, None when there is none or it cannot be read."""
    try:
        report = json.loads((asset_folder(asset, outdir) / REPORT).read_text())
    except (OSError, ValueError, InputError):
        return None
    return report if isinstance(report, dict) else None


def is_up_to_date(asset: Asset, outdir: PathLike) -> bool:
    """Whether the asset's previous report is ``ok`` for the same inputs and every output it
    recorded still has the content it recorded (SHA-256)."""
    report = read_report(asset, outdir)
    if report is None or report.get("status") != "ok" or report.get("fingerprint") != fingerprint(asset):
        return False
    recorded = report.get("sha256")
    if not isinstance(recorded, dict) or not recorded:
        return False
    folder = asset_folder(asset, outdir)
    for name, digest in recorded.items():
        path = folder / str(name)
        try:
            if path.parent != folder or not path.is_file() or file_sha256(path) != digest:
                return False
        except OSError:
            return False
    return True


def throttled(send: ProgressSink, interval_s: float) -> ProgressSink:
    """A sink that forwards at most one update per ``interval_s`` (and always the last one)."""
    throttle = Throttle(interval_s)

    def sink(name: str, fraction: float, stage: str) -> None:
        if throttle.passes(fraction):
            send(name, fraction, stage)

    return sink


def failed_report(asset: Asset, error: str) -> Dict:
    """A report of an asset whose job did not report itself (crashed, interrupted, lost)."""
    return {
        "name": asset.name,
        "mesh": asset.mesh,
        "rig": asset.rig,
        "settings": asset.settings,
        "status": "failed",
        "time_s": None,
        "error": error,
    }


def write_report(asset: Asset, outdir: PathLike, report: Dict) -> Dict:
    """Write ``report`` to the asset's folder, atomically; returns it (marked failed when it
    cannot be written)."""
    from fieldrig.core.atomic import atomic_write_text

    try:
        folder = asset_folder(asset, outdir)
        atomic_write_text(checked_output(folder, folder / REPORT), json.dumps(report, indent=2) + "\n")
    except (OSError, InputError) as exc:
        report.update(status="failed", error=f"cannot write the report ({exc})")
    return report


def process_asset(
    asset: Asset, outdir: PathLike, threads: Optional[int] = None, progress: Optional[ProgressSink] = None
) -> Dict:
    """Compute one asset's weights, write its outputs and ``report.json``; never raises.

    Parameters
    ----------
    asset : Asset
    outdir : str or PathLike
        Outputs go to ``outdir/asset.name/``.
    threads : int, optional
        torch threads for this job (left as they are when None).
    progress : callable, optional
        ``progress(asset_name, fraction, stage)`` during training.

    Returns
    -------
    dict
        The report: name, status (``ok``/``failed``), error, time_s, figures, outputs,
        sha256 (output file name → SHA-256), ...
    """
    from fieldrig import __version__

    start = time.perf_counter()
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
        folder = asset_folder(asset, outdir)
    except InputError as exc:  # nothing is written for an asset whose folder is not in OUTDIR
        report.update(error=str(exc), time_s=round(time.perf_counter() - start, 3))
        return report
    try:
        results, computed = _compute(asset, threads, progress)
        report.update(status="ok", **computed)
        _commit(asset, folder, results, report, start)
        return report
    except Exception as exc:  # a job reports its failure instead of raising
        report.update(status="failed", outputs=[])
        report.pop("sha256", None)
        report["error"] = " ".join(str(exc).split()) or type(exc).__name__
        if not isinstance(exc, InputError):
            report["error"] = f"{type(exc).__name__}: {report['error']}"
            report["traceback"] = traceback.format_exc()
    report["time_s"] = round(time.perf_counter() - start, 3)
    return write_report(asset, outdir, report)


def _compute(asset: Asset, threads: Optional[int], progress: Optional[ProgressSink]) -> Tuple[list, Dict]:
    """Load and train; returns the results (``workflow.FitResult``, one per skin) and what the
    report says of them (figures, warnings, device, stage times)."""
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

    def on_progress(event) -> bool:
        if progress is not None:
            progress(asset.name, event.fraction, event.stage)
        return True

    results = [
        workflow.fit_subject(subject, s["preset"], s["device"], s["seed"], progress=on_progress) for subject in subjects
    ]
    t2 = time.perf_counter()
    lost = np.concatenate([pruned_mass(r.W, s["max_influences"]) for r in results])
    rigs = [r.subject.rig for r in results]
    return results, {
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
        "stages_s": {"load": round(t1 - t0, 3), "train": round(t2 - t1, 3)},
    }


def _commit(asset: Asset, folder: Path, results: list, report: Dict, start: float) -> None:
    """Write the outputs and ``report`` (completed with each output's SHA-256 and the times)
    together: every path checked to lie in ``folder``, all renamed into place at once, or none."""
    from fieldrig import workflow
    from fieldrig.core.atomic import atomic_outputs

    s = asset.settings
    t2 = time.perf_counter()
    outputs = [str(folder / f"{asset.name}.{fmt}") for fmt in s["formats"]]
    field = str(folder / f"{asset.name}.field") if s.get("save_field") else None
    files = [f for group in workflow.output_files(outputs + ([field] if field else []), len(results)) for f in group]
    targets = [checked_output(folder, f) for f in files] + [checked_output(folder, folder / REPORT)]
    with atomic_outputs(targets) as temps:  # the writers below fill these temporary files
        workflow.write_outputs(outputs, results, s["max_influences"])
        if field:
            workflow.save_fields(field, results)
        report["outputs"] = files
        report["sha256"] = {Path(f).name: file_sha256(tmp) for f, tmp in zip(files, temps)}
        t3 = time.perf_counter()
        report["stages_s"]["write"] = round(t3 - t2, 3)
        report["time_s"] = round(t3 - start, 3)
        temps[-1].write_text(json.dumps(report, indent=2) + "\n")
