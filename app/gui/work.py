"""The slow part of every app action, as a plain function run in the compute process.

Each function takes its inputs and, last, a :mod:`fieldrig.core.progress` callback, and
returns picklable values (arrays, rigs, :class:`~fieldrig.session.RigState`, trained
fields as the bytes their ``save`` writes). Nothing here imports Qt or polyscope: the
compute process (:class:`fieldrig.gui.jobs.ComputeProcess`) runs them away from the UI,
so not even a library call that holds Python's GIL for seconds can stall the windows.
"""

from __future__ import annotations

import hashlib
import os
import queue
import sys
import tempfile
import threading
import traceback
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Optional, Tuple

import numpy as np

from fieldrig.core.errors import InputError
from fieldrig.core.progress import Cancelled, ProgressEvent, ProgressReporter, Throttle
from fieldrig.gui.preview import PreviewSkinning
from fieldrig.session import CageState, RigState, Session, WeightSet, deform_mesh

Progress = Callable[[ProgressEvent], Optional[bool]]

#: The compute process sends at most one progress report per this many seconds.
PROGRESS_INTERVAL_S = 0.05


# ------------------------------------------------------------------ the compute process
class RemoteError(RuntimeError):
    """An unexpected exception raised by a job in the compute process.

    Attributes
    ----------
    type_name : str
        The original exception's class name.
    message : str
    """

    def __init__(self, type_name: str, message: str):
        super().__init__(f"{type_name}: {message}")
        self.type_name, self.message = type_name, message


def _portable(exc: BaseException) -> tuple:
    """An exception as plain values that survive pickling (InputError's two-argument
    constructor does not)."""
    if isinstance(exc, InputError):
        return ("input", exc.source, exc.problem)
    if isinstance(exc, OSError):
        return ("os", str(exc))
    return ("other", type(exc).__name__, str(exc))


def rebuilt_error(portable: tuple) -> BaseException:
    """The exception a job raised, rebuilt in the app from :func:`_portable`'s values."""
    kind = portable[0]
    if kind == "input":
        return InputError(portable[1], portable[2])
    if kind == "os":
        return OSError(portable[1])
    return RemoteError(portable[1], portable[2])


def _probe_cuda(send) -> None:
    """In the compute process: report the CUDA GPU's name ("" for none) once torch is in."""
    try:
        import torch

        send(("cuda", torch.cuda.get_device_name(0) if torch.cuda.is_available() else ""))
    except Exception:  # no usable torch: no GPU; training will say why it fails
        send(("cuda", ""))


def serve(conn, probe: bool = True) -> None:
    """The compute process's loop.

    Messages from the app: ``("job", work)``, ``("cancel",)``, ``("stop",)``. Messages to it:
    ``("progress", event)``, ``("done", result)``, ``("cancelled",)``,
    ``("error", portable exception, traceback)``, ``("cuda", name)``. A reader thread takes
    the app's messages so that a cancel arrives while a job runs; the job's progress
    callback answers False once it has. ``probe`` looks for a CUDA GPU in the background.
    """
    lock = threading.Lock()

    def send(message) -> None:
        with lock:
            conn.send(message)

    jobs: "queue.Queue" = queue.Queue()
    cancel = threading.Event()

    def read() -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                jobs.put(None)
                return
            if message[0] == "cancel":
                cancel.set()
            elif message[0] == "job":
                jobs.put(message[1])
            else:
                jobs.put(None)
                return

    threading.Thread(target=read, daemon=True).start()
    if probe:
        threading.Thread(target=_probe_cuda, args=(send,), daemon=True).start()
    while True:
        work = jobs.get()
        if work is None:
            return
        cancel.clear()
        throttle = Throttle(PROGRESS_INTERVAL_S)

        def progress(event: ProgressEvent, throttle=throttle) -> bool:
            if throttle.passes(event.fraction):
                send(("progress", event))
            return not cancel.is_set()

        try:
            result = work(progress)
        except Cancelled:
            send(("cancelled",))
        except BaseException as exc:  # everything goes back to the app, which shows it
            send(("error", _portable(exc), traceback.format_exc()))
        else:
            send(("done", result))


# ------------------------------------------------------------------------- helpers


def saved_bytes(obj) -> bytes:
    """What ``obj.save(path)`` writes, as bytes (trained fields travel and are stored so)."""
    with tempfile.TemporaryDirectory(prefix="fieldrig-") as folder:
        path = Path(folder) / "field.bin"
        obj.save(path)
        return path.read_bytes()


def loaded_from_bytes(data: bytes, load: Callable[[Path], Any]):
    """``load(path)`` on a temporary file holding ``data`` (the inverse of :func:`saved_bytes`)."""
    with tempfile.TemporaryDirectory(prefix="fieldrig-") as folder:
        path = Path(folder) / "field.bin"
        path.write_bytes(data)
        return load(path)


# --------------------------------------------------------------------------- opening
def open_mesh(path: str, progress: Progress):
    """Read and check a mesh. A skinned file opens in its bind pose, as its first skin: the
    parts bound to it, its skeleton (one column per joint) and its own skin weights.

    Returns
    -------
    (MeshData, MeshReport, RigState or None, SkinnedAsset or None)
    """
    from fieldrig import workflow
    from fieldrig.geometry.mesh_check import check_mesh

    progress(ProgressEvent("reading", 0.1))
    asset, rig_state = None, None
    if workflow.is_skinned_file(path):
        subject = workflow.asset_subjects(path)[0]
        mesh, asset = subject.mesh, subject.asset
        W = workflow.source_weights(subject) if asset.artist_weights is not None else None
        progress(ProgressEvent("checking the skeleton", 0.4))
        skin = () if W is None else (WeightSet("skin", W, "file", preview=PreviewSkinning(mesh.V, W)),)
        rig_state = RigState(subject.rig, str(path), skin, problems=tuple(rig_problems(mesh, subject.rig)))
    else:
        from fieldrig.geometry.mesh_io import load_mesh

        mesh = load_mesh(path)
    progress(ProgressEvent("checking", 0.6))
    report = check_mesh(mesh.V, mesh.F, str(path))
    return mesh, report, rig_state, asset


def rig_problems(mesh, rig) -> list:
    """Sentences about the rig's handles that are not wholly inside the mesh, and those excluded."""
    from fieldrig.geometry.handle_placement import place_handles

    placement = place_handles(mesh.V, mesh.F, rig, N=mesh.N)
    found = [placement.sentence(h) for h in np.flatnonzero(rig.deform) if placement.inside_fraction[h] < 1]
    off = [n for n, d in zip(rig.handle_names, rig.deform) if not d]
    if off:
        found.append(f"not deforming ({len(off)}): {', '.join(off)}")
    return found


def open_rig(path: str, progress: Progress):
    """A rig from TGF, JSON or a rigged glTF."""
    from fieldrig.geometry.rig import load_rig

    return load_rig(path)


def open_cage(path: str, points: Optional[np.ndarray], progress: Progress):
    """A cage file, validated, and the mesh bound to it by mean value coordinates:
    ``(V, F, Phi or None, problem or None)`` (see :func:`bind_mean_value`; ``points``
    None: no mesh, nothing bound)."""
    from fieldrig.geometry.cage import load_cage

    reporter = ProgressReporter(progress)
    reporter.report("reading the cage", 0.0)
    cage = load_cage(path)
    return (cage.V, cage.F) + _bound(cage, points, reporter, 0.05)


def make_auto_cage(V: np.ndarray, F: np.ndarray, vertices: Optional[int], progress: Progress):
    """A coarse enclosing cage of about ``vertices`` vertices (None: the default) and the
    mesh bound to it by mean value coordinates: ``(V, F, Phi, None)``."""
    import fieldrig

    reporter = ProgressReporter(progress)
    reporter.report("building the cage", 0.0)
    cage = fieldrig.auto_cage(V, F, vertices=vertices)
    # the cage takes about 0.5 s, spot's 2,930 vertices 0.1 s to bind: share the bar by size
    share = 1.0 / (1.0 + len(V) / _BIND_POINTS_PER_CAGE)
    return (cage.V, cage.F) + _bound(cage, V, reporter, share)


def bind_mean_value(cage_V: np.ndarray, cage_F: np.ndarray, points: np.ndarray, progress: Progress):
    """Mesh vertices ``points`` (n, 3) bound to a cage by mean value coordinates:
    ``(Phi (n, c) or None, problem or None)`` (see :func:`_bound`)."""
    from fieldrig.geometry.cage import Cage

    return _bound(Cage.from_arrays(cage_V, cage_F), points, ProgressReporter(progress), 0.0)


#: Points bound per call of mean value coordinates (one progress report each).
_BIND_CHUNK = 8192
#: Mesh vertices bound in the time an automatic cage takes to build (measured on spot:
#: cage 0.4–0.6 s, 2,930 vertices bound in 0.09–0.1 s), for the progress bar's shares.
_BIND_POINTS_PER_CAGE = 15000


def _bound(cage, points: Optional[np.ndarray], reporter: ProgressReporter, start: float) -> tuple:
    """Mean value coordinates of mesh vertices ``points`` (n, 3; a 2D cage takes their x
    and y) in ``cage``, reported from fraction ``start`` to 1.

    Returns ``(Phi (n, c), None)``; ``(None, problem)`` when a vertex is outside the cage
    (the mesh cannot be bound: the cage stays, without coordinates); ``(None, None)``
    without points."""
    from fieldrig.geometry.mvc import mean_value_coordinates

    if points is None:
        return None, None
    try:
        P = cage.check_inside(points[:, : cage.dim], "mesh")
    except InputError as exc:
        return None, exc.problem
    Phi = np.empty((len(P), cage.n_vertices))
    stage = f"binding {len(P):,} vertices (mean value coordinates)"
    for a in range(0, len(P), _BIND_CHUNK):
        reporter.report(stage, start + (1.0 - start) * a / len(P))
        Phi[a : a + _BIND_CHUNK] = mean_value_coordinates(cage, P[a : a + _BIND_CHUNK])
    reporter.report(stage, 1.0)
    return Phi, None


def import_weights(path: str, shape: Tuple[int, int], V: np.ndarray, progress: Progress):
    """Weights from NPY / CSV / DMAT, checked against (vertices, handles): ``(W, preview)``."""
    from fieldrig.geometry.export import load_weights

    W = load_weights(path)
    if W.shape != tuple(shape):
        raise InputError(
            path, f"weights have shape {W.shape}; the mesh has {shape[0]} vertices and the rig {shape[1]} handles"
        )
    return W, PreviewSkinning(V, W)


def open_project(path: str, progress: Progress):
    """A project, its mesh checked and the active weights' preview built:
    ``(Session, warnings, MeshReport or None)``."""
    from dataclasses import replace

    from fieldrig.geometry.mesh_check import check_mesh
    from fieldrig.project import load_project

    progress(ProgressEvent("reading", 0.1))
    session, warnings = load_project(path)
    progress(ProgressEvent("checking the mesh", 0.5))
    mesh = session.mesh
    report = None if mesh is None else check_mesh(mesh.V, mesh.F, mesh.path)
    rs = session.rig_state
    if rs.active_set is not None and mesh is not None:
        rs = rs.with_weight_set(replace(rs.active_set, preview=PreviewSkinning(mesh.V, rs.weights)))
        session = replace(session, rig_state=rs)
    return session, warnings, report


def load_pose(path: str, rig, progress: Progress):
    """A pose JSON that names handles of ``rig`` (an unknown name is an InputError)."""
    from fieldrig.geometry.pose import Pose

    pose = Pose.load(path)
    pose.local_arrays(rig)
    return pose


# -------------------------------------------------------------------------- training
#: Skinning fields alive in the compute process, by the SHA-256 of their saved bytes (what
#: the session holds): the last computed field, which keeps its solver state, and the fields
#: re-solved from it, which share that state. A re-solve of one of them refits from the
#: kept state; any other field is read from its bytes and first replays its fit (slower).
_LIVE_FIELDS: "OrderedDict[str, Any]" = OrderedDict()
#: Re-solved fields kept beside the computed one (each holds its particle values only).
_LIVE_LIMIT = 8


def _kept(field) -> bytes:
    """``field``'s bytes, remembering the field."""
    data = saved_bytes(field)
    _LIVE_FIELDS[hashlib.sha256(data).hexdigest()] = field
    while len(_LIVE_FIELDS) > _LIVE_LIMIT:
        _LIVE_FIELDS.pop(next(iter(_LIVE_FIELDS)))
    return data


def compute_weights(V, F, N, rig, preset: str, device: str, seed: int, progress: Progress):
    """Train the skinning field: ``(field bytes, W (n, H), preview, device used, warnings)``.

    The field stays alive in this process with its solver state, for :func:`resolve_weights`.
    """
    from fieldrig import workflow
    from fieldrig.geometry.mesh_io import MeshData
    from fieldrig.neural.device import resolve_device

    progress(ProgressEvent("starting", 0.0))
    _LIVE_FIELDS.clear()  # the earlier fields' solver state is freed before this fit needs memory
    dev = resolve_device(device)
    subject = workflow.Subject("mesh", MeshData(V, F, N, "mesh"), rig, "rig")
    result = workflow.fit_subject(subject, preset, str(dev), seed, progress=progress, keep_solver=True)
    W = np.asarray(result.W, dtype=np.float64)
    return _kept(result.fitted), W, PreviewSkinning(V, W), str(dev), result.warnings


def resolve_weights(field: bytes, V: np.ndarray, painted: np.ndarray, rows: np.ndarray, progress: Progress):
    """Refit a skinning field around painted rows: ``(field bytes, W (n, H), preview, warnings)``.

    Parameters
    ----------
    field : bytes
        The field the weights were painted over (or re-solved from).
    V : (n, 3) float
        The mesh's vertices (those the field was fitted to).
    painted : (k,) int
    rows : (k, H) float
        The painted vertices and their rows (rig columns), kept by the refit.
    """
    from fieldrig.skinning import RigField

    reporter = ProgressReporter(progress)
    live = _LIVE_FIELDS.get(hashlib.sha256(field).hexdigest())
    if live is None:  # refitting it rebuilds its solver state once, kept with it from then on
        reporter.report("reading the field", 0.0)
        live = loaded_from_bytes(field, RigField.load)
        _LIVE_FIELDS[hashlib.sha256(field).hexdigest()] = live
    if len(live.surface_V) != len(V):
        raise InputError("weights", "their field was trained for another mesh; compute the weights again")
    refitted = live.refit(painted, rows, lambda e: reporter.report(e.stage, 0.9 * e.fraction))
    reporter.report(f"evaluating at {len(V):,} vertices", 0.9)
    W = refitted.evaluate(V)
    return _kept(refitted), W, PreviewSkinning(V, W), refitted.warnings


#: Evaluating a trained field at k points takes about ``k · _EVALUATION_SHARE · √(c / 40)``
#: of its fit's time (c cage vertices; spot's cages of 12, 40 and 120 vertices at 20k
#: points, one torch thread: 0.0050, 0.0107, 0.0164 per 1,000 points, this rule ±15 %).
_EVALUATION_SHARE = 1.07e-5
#: Points evaluated per call (one progress report each).
_EVALUATION_CHUNK = 8192


def compute_coordinates(
    cage_V, cage_F, points, objective: str, preset: str, device: str, seed: int, progress: Progress
):
    """Train barycentric coordinates and evaluate them at ``points``: ``(field bytes,
    Phi (n, c), device used)``.

    One progress bar for both: the fit's fractions (proportional to its predicted time)
    fill the share of the bar the fit is predicted to take, the evaluation the rest, so the
    ETA covers the whole job. The evaluation runs with the preset's torch threads, as the
    fit does (two threads on a busy 2-core CPU were measured 4–10× slower than one).
    """
    import fieldrig
    from fieldrig.geometry.cage import Cage
    from fieldrig.neural.barycentric_training import _torch_threads, resolve_preset
    from fieldrig.neural.device import resolve_device

    progress(ProgressEvent("starting", 0.0))
    dev = resolve_device(device)
    cage = Cage.from_arrays(cage_V, cage_F)
    reporter = ProgressReporter(progress)  # from here on, as the fit's own: its fractions start here
    fit_share = 1.0 / (1.0 + _EVALUATION_SHARE * np.sqrt(cage.n_vertices / 40.0) * len(points))
    field = fieldrig.fit_barycentric_field(
        cage,
        objective=objective,
        preset=preset,
        seed=seed,
        device=dev,
        progress=lambda event: reporter.report(event.stage, fit_share * event.fraction),
    )
    P = cage.check_inside(points, "mesh")
    Phi = np.empty((len(P), cage.n_vertices))
    stage = f"evaluating at {len(P):,} vertices"
    with _torch_threads(resolve_preset(preset).cpu_threads, dev):
        for a in range(0, len(P), _EVALUATION_CHUNK):
            reporter.report(stage, fit_share + (1.0 - fit_share) * a / len(P))
            Phi[a : a + _EVALUATION_CHUNK] = field.evaluate(P[a : a + _EVALUATION_CHUNK])
    reporter.report(stage, 1.0)
    return saved_bytes(field), Phi, str(dev)


# --------------------------------------------------------------------------- writing
def save_rig(rig, path: str, progress: Progress) -> None:
    from fieldrig.geometry.rig import save_rig as write

    write(rig, path)


def export_weights(path: str, W, names, progress: Progress) -> None:
    from fieldrig.geometry.export import save_weights

    save_weights(path, W, names)


def export_gltf(path: str, mesh, rig, W, max_influences: int, asset, progress: Progress) -> None:
    """A skinned asset re-skinned (``asset`` given: the columns of ``W`` are its joints), or
    the mesh with the rig's skeleton and skin."""
    from fieldrig import workflow

    subject = workflow.Subject("mesh", mesh, rig, "rig", asset)
    workflow.write_gltf_output(path, [workflow.FitResult(subject, W)], max_influences)


def export_posed_mesh(
    path: str,
    V,
    F,
    rig_state: RigState,
    cage_state: CageState,
    method: str,
    deformation: str,
    transforms,
    progress: Progress,
) -> None:
    """The mesh as the pose, the clip's frame (``transforms``, (H, 4, 4) or None) or the cage
    deforms it, written as OBJ / PLY."""
    from fieldrig.geometry.export import save_mesh

    save_mesh(path, deform_mesh(V, rig_state, cage_state, method, deformation, transforms), F)


def save_pose(pose, path: str, progress: Progress) -> None:
    pose.save(path)


def save_project(session: Session, path: str, progress: Progress) -> None:
    from fieldrig.project import save_project as write

    write(session, path)


if __name__ == "__main__":  # the compute process: python -m fieldrig.gui.work ADDRESS [--no-probe]
    from multiprocessing.connection import Client

    serve(
        Client(sys.argv[1], authkey=bytes.fromhex(os.environ["FIELDRIG_COMPUTE_KEY"])),
        probe="--no-probe" not in sys.argv,
    )
