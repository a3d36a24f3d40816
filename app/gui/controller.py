"""The app's actions: open, compute, export, save — each a background job that ends in
one document update on the UI thread.

Every action validates what it can up front (a clear message instead of a failed job),
hands the slow part — a function of :mod:`fieldrig.gui.work` — to the :class:`JobRunner`
(which runs it in the compute process), and applies the result in ``done``. Failures
reach the panel through :attr:`Controller.error` as (title, message, details) and become
dialogs; the document is untouched by a failed or cancelled job, so nothing is lost.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Callable, Optional, Sequence, Tuple

import numpy as np
from PyQt6.QtCore import QObject, pyqtSignal

from fieldrig.core import vocabulary as vocab
from fieldrig.core.errors import InputError
from fieldrig.gui import work
from fieldrig.gui.document import Document
from fieldrig.gui.jobs import JobFailure, JobRunner
from fieldrig.session import MEAN_VALUE, CageState, RigState, copy_pose, mesh_problems


class Controller(QObject):
    """Runs the app's actions against a :class:`Document`.

    Parameters
    ----------
    document : Document
    jobs : JobRunner
    camera : callable, optional
        ``camera()`` returns the view as JSON, ``camera(json)`` sets it (the viewer's
        polyscope camera); None leaves the camera out of projects.

    Attributes
    ----------
    ask : callable or None
        ``ask(title, text, choices)`` returns the chosen one of ``choices`` (str), or None
        for Cancel: how the controller asks the user (the panel's dialogs). None (scripts):
        the first choice.
    confirm_discard : callable
        ``confirm_discard(what)`` returns False to stop an action that replaces the session
        (``what``: "opening a mesh", ...); the panel offers to save unsaved changes.

    Signals
    -------
    error(str, str, str)
        Title, message, details (a traceback for unexpected failures, else empty).
    info(str)
        A short message for the status bar.
    project_path_changed(str)
    device_used(str)
        The torch device the last training ran on ("cpu", "cuda:0").
    """

    error = pyqtSignal(str, str, str)
    info = pyqtSignal(str)
    project_path_changed = pyqtSignal(str)
    device_used = pyqtSignal(str)

    def __init__(
        self, document: Document, jobs: JobRunner, camera: Optional[Callable] = None, parent: Optional[QObject] = None
    ):
        super().__init__(parent)
        self.doc, self.jobs, self.camera = document, jobs, camera
        self.project_path: Optional[str] = None
        self.ask: Optional[Callable[[str, str, Sequence[str]], Optional[str]]] = None
        self.confirm_discard: Callable[[str], bool] = lambda what: True
        jobs.failed.connect(self._job_failed)
        jobs.cancelled.connect(lambda title: self.info.emit(f"{title}: cancelled; nothing was changed."))

    # -------------------------------------------------------------- helpers
    def _job_failed(self, failure: JobFailure) -> None:
        if isinstance(failure.error, (InputError, OSError)):
            self.error.emit(failure.title, str(failure.error), "")
        elif isinstance(failure.error, work.RemoteError):
            self.error.emit(failure.title, str(failure.error), failure.details)
        else:
            self.error.emit(failure.title, f"{type(failure.error).__name__}: {failure.error}", failure.details)

    def _refuse(self, title: str, message: str) -> bool:
        self.error.emit(title, message, "")
        return False

    def _start(self, title: str, job, done, cancellable: bool = False, in_process: bool = True) -> bool:
        if not self.jobs.start(title, job, done, cancellable, in_process):
            return self._refuse(title, f"Busy with “{self.jobs.title}”; wait for it or cancel it first.")
        return True

    def _check_suffix(self, title: str, path, allowed) -> bool:
        if Path(path).suffix.lower() not in allowed:
            return self._refuse(title, f"{path}: expected one of {', '.join(allowed)}")
        return True

    def _said(self, text: str) -> Callable:
        return lambda _result: self.info.emit(text)

    # --------------------------------------------------------------- opening
    def open_any(self, path: str) -> bool:
        """Open a dropped file by its kind: project, rig, or mesh (a rigged glTF brings its rig)."""
        suffix = Path(path).suffix.lower()
        if suffix == vocab.PROJECT_SUFFIX:
            return self.open_project(path)
        if suffix in vocab.RIG_FILE_SUFFIXES:
            return self.open_rig(path)
        if suffix in vocab.MESH_INPUT_SUFFIXES:
            return self.open_mesh(path)
        return self._refuse("Open", f"{path}: not a mesh, rig or project file fieldrig knows")

    def _choose(self, title: str, text: str, choices: Sequence[str]) -> Optional[str]:
        return choices[0] if self.ask is None else self.ask(title, text, choices)

    def _rig_for(self, mesh, path: str) -> Optional[Tuple[bool, bool]]:
        """Ask what happens to the current rig and weights with a new mesh: (keep rig,
        keep weights), or None for Cancel. Weights are offered only when they fit the new
        vertex count; a rig far off the new mesh's size or place is said so, and discarding
        it is then the first choice."""
        doc = self.doc
        fits = doc.weights is not None and len(doc.weights) == len(mesh.V)
        text = f"Keep the current rig ({doc.rig.n_handles} handles) for {Path(path).name}?"
        misfit = rig_misfit(doc.rig.joints, mesh.V)
        if misfit:
            text += f"\n\n⚠ {misfit}."
        if doc.weights is not None:
            text += (
                f"\n\nIts weights fit the new mesh's {len(mesh.V):,} vertices and can stay."
                if fits
                else "\n\nIts weights do not fit the new mesh's vertices and are dropped."
            )
        keep = ["Keep rig and weights", "Keep rig"] if fits else ["Keep rig"]
        choices = (["Discard rig"] + keep if misfit else keep + ["Discard rig"]) + ["Cancel"]
        answer = self._choose("Open mesh", text, choices)
        if answer in (None, "Cancel"):
            return None
        return answer != "Discard rig", answer == "Keep rig and weights"

    def open_mesh(self, path: str) -> bool:
        """Load a mesh, soup or point cloud and check it; a skinned glTF also brings its rig
        and weights. With unsaved changes it first offers to save; with a rig it asks
        whether the rig (and weights that fit) stay with the new mesh."""
        if not self._check_suffix("Open mesh", path, vocab.MESH_INPUT_SUFFIXES):
            return False
        if not self.confirm_discard("opening another mesh"):
            return False

        def done(result):
            mesh, report, rig_state, asset = result
            keep = (False, False) if rig_state is not None else (True, False)
            if rig_state is None and self.doc.rig is not None:
                keep = self._rig_for(mesh, path)
                if keep is None:
                    self.info.emit(f"Opening {Path(path).name} cancelled; nothing changed.")
                    return
            self.doc.set_mesh(mesh, report, asset, keep_rig=keep[0], keep_weights=keep[1])
            if rig_state is not None:  # a skinned file: its skeleton and skin weights come along
                self.doc.set_rig_state(rig_state, "Load rig")
                self.doc.undo_stack.clear()
            problems = len(mesh_problems(mesh, report))
            self.info.emit(
                f"Loaded {Path(path).name}: {len(mesh.V):,} vertices" + (f", {problems} warning(s)" if problems else "")
            )

        return self._start(f"Opening {Path(path).name}", partial(work.open_mesh, str(path)), done)

    def open_rig(self, path: str) -> bool:
        """Load a TGF / JSON / glTF skeleton (undoable: it replaces the rig)."""
        if not self._check_suffix("Open rig", path, vocab.RIG_INPUT_SUFFIXES):
            return False

        def done(rig):
            self.doc.set_rig_state(RigState(rig, str(path)), f"Load rig {Path(path).name}")
            self.doc.select_handle(None)
            what = (
                f"{rig.n_handles} joints"
                if rig.is_skeleton
                else f"{len(rig.bones)} bones, {len(rig.point_handles)} point handles"
            )
            self.info.emit(f"Loaded rig {Path(path).name}: {what}")

        return self._start(f"Opening {Path(path).name}", partial(work.open_rig, str(path)), done)

    def open_cage(self, path: str) -> bool:
        """Load a cage and bind the mesh to it by mean value coordinates (one undo step)."""
        if not self._check_suffix("Open cage", path, vocab.CAGE_INPUT_SUFFIXES):
            return False
        mesh = self.doc.mesh
        job = partial(work.open_cage, str(path), None if mesh is None else mesh.V)
        return self._start(
            f"Opening {Path(path).name}", job, partial(self._cage_built, f"Load cage {Path(path).name}", str(path))
        )

    def make_auto_cage(self, vertices: Optional[int] = None) -> bool:
        """Build a coarse cage of about ``vertices`` vertices (None: 40 in 3D, 16 for a flat
        mesh) around the mesh and bind the mesh to it by mean value coordinates (one undo step)."""
        mesh = self.doc.mesh
        if mesh is None or mesh.F is None:
            return self._refuse("Automatic cage", "Open a triangle mesh first (a point cloud has no surface to cage).")
        job = partial(work.make_auto_cage, mesh.V, mesh.F, vertices)
        return self._start("Building a cage", job, partial(self._cage_built, "Automatic cage", None))

    def _cage_built(self, text: str, source: Optional[str], result) -> None:
        V, F, Phi, problem = result
        kind = None if Phi is None else MEAN_VALUE
        self.doc.set_cage_state(CageState(V, F, source, coordinates=Phi, coordinates_kind=kind), text)
        bound = "" if Phi is None else "; the mesh follows it by mean value coordinates"
        self.info.emit(f"{text}: {len(V)} vertices, {len(F)} faces{bound}")
        if problem is not None:
            self.error.emit(text, f"The cage is loaded, but the mesh cannot be bound to it: {problem}", "")

    def bind_mean_value(self) -> bool:
        """Bind the mesh to the cage by mean value coordinates (undoable; the deformed cage
        stays): after a new mesh, or to go back from trained coordinates."""
        doc = self.doc
        cage = doc.cage_state
        if doc.mesh is None or cage.vertices is None:
            return self._refuse("Mean value coordinates", "Open a mesh and a cage first.")
        mesh = doc.mesh

        def done(result):
            Phi, problem = result
            if problem is not None:
                self._refuse("Mean value coordinates", f"The mesh cannot be bound to the cage: {problem}")
            elif self.doc.cage_state.vertices is not cage.vertices or self.doc.mesh is not mesh:
                self._refuse("Mean value coordinates", "The mesh or cage changed meanwhile; bind again.")
            else:
                self.doc.set_coordinates(Phi, None, "Use mean value coordinates", MEAN_VALUE)

        job = partial(work.bind_mean_value, cage.vertices, cage.faces, mesh.V)
        return self._start("Binding the mesh", job, done, cancellable=True)

    def load_weights(self, path: str) -> bool:
        """Import weights from NPY / CSV / DMAT (undoable)."""
        if not self._check_suffix("Import weights", path, vocab.WEIGHT_TABLE_SUFFIXES):
            return False
        if self.doc.mesh is None or self.doc.rig is None:
            return self._refuse("Import weights", "Open a mesh and a rig first.")
        shape = (len(self.doc.mesh.V), self.doc.rig.n_handles)
        return self._start(
            f"Importing {Path(path).name}",
            partial(work.import_weights, str(path), shape, self.doc.mesh.V),
            lambda result: self.doc.set_weights(
                result[0], None, "Import weights", result[1], name=Path(path).stem, origin="file"
            ),
        )

    # -------------------------------------------------------------- training
    def compute_weights(self, seed: int = 0) -> bool:
        """Train the skinning field for the current mesh and rig (cancellable)."""
        doc = self.doc
        if doc.mesh is None:
            return self._refuse("Compute weights", "Open a mesh first.")
        if doc.rig is None:
            return self._refuse("Compute weights", "Load or build a rig first (add at least one handle).")
        mesh, rig, preset = doc.mesh, doc.rig, doc.settings["preset"]
        job = partial(work.compute_weights, mesh.V, mesh.F, mesh.N, rig, preset, doc.settings["device"], seed)

        def done(result):
            field, W, preview, device, warnings = result
            self.device_used.emit(device)
            if self.doc.rig is not rig or self.doc.mesh is not mesh:
                self._refuse(
                    "Compute weights",
                    "The mesh or rig changed while the weights were computed; they were discarded. Compute again.",
                )
                return
            self.doc.set_weights(W, field, f"Compute weights ({preset})", preview, problems=warnings)
            note = f", {len(warnings)} warning(s) in the Rig tab" if warnings else ""
            self.info.emit(f"Weights computed: {W.shape[0]:,} vertices × {W.shape[1]} handles{note}")

        return self._start("Computing weights", job, done, cancellable=True)

    def resolve_weights(self) -> bool:
        """Re-solve the active painted set (undoable, cancellable): its painted vertices keep
        their rows and the rest is recomputed around them by refitting the field it was
        painted over, in the compute process, from the solver state it kept."""
        doc = self.doc
        problem = doc.resolve_problem()
        if problem is not None:
            return self._refuse("Re-solve", problem)
        active, mesh = doc.rig_state.active_set, doc.mesh
        painted = active.painted_vertices
        job = partial(work.resolve_weights, active.skinning_field, mesh.V, painted, active.weights[painted])

        def done(result):
            field, W, preview, warnings = result
            now = self.doc.rig_state.active_set
            if self.doc.mesh is not mesh or now is None or now.weights is not active.weights:
                self._refuse("Re-solve", "The weights changed while they were re-solved; they were discarded.")
                return
            self.doc.resolve_weights(W, field, preview)
            note = f" ({'; '.join(warnings)})" if warnings else ""
            self.info.emit(f"Re-solved around {len(painted):,} painted vertices{note}")

        return self._start("Re-solving weights", job, done, cancellable=True)

    def compute_coordinates(self, seed: int = 0) -> bool:
        """Train barycentric coordinates of the mesh in the cage (cancellable)."""
        doc = self.doc
        cage = doc.cage_state
        if doc.mesh is None:
            return self._refuse("Compute coordinates", "Open a mesh first.")
        if cage.vertices is None:
            return self._refuse("Compute coordinates", "Load or build a cage first.")
        mesh, objective = doc.mesh, doc.settings["objective"]
        job = partial(
            work.compute_coordinates,
            cage.vertices,
            cage.faces,
            mesh.V[:, : cage.vertices.shape[1]],
            objective,
            doc.settings["preset"],
            doc.settings["device"],
            seed,
        )

        def done(result):
            field, Phi, device = result
            self.device_used.emit(device)
            if self.doc.cage_state.vertices is not cage.vertices or self.doc.mesh is not mesh:
                self._refuse(
                    "Compute coordinates",
                    "The mesh or cage changed while the coordinates were computed; they were discarded.",
                )
                return
            self.doc.set_coordinates(Phi, field, f"Compute coordinates ({objective})", objective)
            self.info.emit(f"Coordinates computed: {Phi.shape[0]:,} points × {Phi.shape[1]} cage vertices")

        return self._start("Computing coordinates", job, done, cancellable=True)

    # ------------------------------------------------------------- writing
    def save_rig(self, path: str) -> bool:
        """Write the rig as JSON (names, parents) or TGF."""
        if self.doc.rig is None:
            return self._refuse("Save rig", "There is no rig to save.")
        if not self._check_suffix("Save rig", path, vocab.RIG_OUTPUT_SUFFIXES):
            return False
        return self._start(
            "Saving rig", partial(work.save_rig, self.doc.rig, str(path)), self._said(f"Rig saved to {path}")
        )

    def export_weights(self, path: str) -> bool:
        """Write the weights as NPY / CSV / DMAT."""
        if not self.doc.weights_usable():
            return self._refuse("Export weights", "There are no weights for this mesh and rig; compute them first.")
        if not self._check_suffix("Export weights", path, vocab.WEIGHT_TABLE_SUFFIXES):
            return False
        job = partial(work.export_weights, str(path), self.doc.weights, self.doc.rig.handle_names)
        return self._start("Exporting weights", job, self._said(f"Weights written to {path}"))

    def export_gltf(self, path: str, max_influences: int = 4) -> bool:
        """Write the glTF (.glb / .gltf): a skinned file re-skinned (only its skin weights
        replaced) while the rig is its skeleton, else the mesh with the rig's skeleton and skin."""
        if not self.doc.weights_usable():
            return self._refuse("Export glTF", "There are no weights for this mesh and rig; compute them first.")
        if not self._check_suffix("Export glTF", path, vocab.GLTF_SUFFIXES):
            return False
        asset = self.doc.asset if self.doc.reskinnable() else None
        job = partial(work.export_gltf, str(path), self.doc.mesh, self.doc.rig, self.doc.weights, max_influences, asset)
        return self._start("Exporting glTF", job, self._said(f"glTF written to {path}"))

    def export_posed_mesh(self, path: str) -> bool:
        """Write the mesh as currently shown (the pose or the clip's frame, or the cage in cage mode) as OBJ / PLY."""
        doc = self.doc
        if doc.mesh is None:
            return self._refuse("Export posed mesh", "Open a mesh first.")
        if not self._check_suffix("Export posed mesh", path, vocab.POSED_MESH_SUFFIXES):
            return False
        job = partial(
            work.export_posed_mesh,
            str(path),
            doc.mesh.V,
            doc.mesh.F,
            doc.session.without_caches().rig_state,
            doc.cage_state,
            doc.settings["method"],
            "cage" if doc.mode == "cage" else "pose",
            doc.handle_transforms(),
        )
        return self._start("Exporting posed mesh", job, self._said(f"Posed mesh written to {path}"))

    def save_screenshot(self, path: str, image: np.ndarray) -> bool:
        """Write an RGBA/RGB image (h, w, 3|4) uint8 as PNG/JPEG, atomically."""
        if not self._check_suffix("Screenshot", path, vocab.IMAGE_SUFFIXES):
            return False
        image = np.ascontiguousarray(image)

        def job(progress):
            from fieldrig.draw.render import write_image

            write_image(path, image)

        return self._start("Saving screenshot", job, self._said(f"Screenshot saved to {path}"), in_process=False)

    def save_pose(self, path: str) -> bool:
        """Write the current pose as JSON."""
        return self._start(
            "Saving pose",
            partial(work.save_pose, copy_pose(self.doc.pose), str(path)),
            self._said(f"Pose saved to {path}"),
        )

    def load_pose(self, path: str) -> bool:
        """Read a pose JSON (undoable); it must name handles of the current rig."""
        if self.doc.rig is None:
            return self._refuse("Load pose", "Load or build a rig first.")
        return self._start(
            f"Loading {Path(path).name}",
            partial(work.load_pose, str(path), self.doc.rig),
            lambda pose: self.doc.set_pose(pose, "Load pose"),
        )

    # ------------------------------------------------------------ projects
    def save_project(self, path: str) -> bool:
        """Write the document's session to one ``.fieldrig`` file, atomically."""
        if not path.lower().endswith(vocab.PROJECT_SUFFIX):
            path += vocab.PROJECT_SUFFIX

        def done(_):
            self.project_path = str(path)
            self.doc.undo_stack.setClean()
            self.project_path_changed.emit(self.project_path)
            self.info.emit(f"Project saved to {path}")

        session = replace(self.doc.session, camera=self.camera() if self.camera else None).without_caches()
        return self._start("Saving project", partial(work.save_project, session, str(path)), done)

    def open_project(self, path: str) -> bool:
        """Replace everything with a project's session (reports missing / changed files);
        with unsaved changes it first offers to save."""
        if not self.confirm_discard("opening a project"):
            return False

        def done(result):
            session, warnings, report = result
            self.doc.restore(session, report)
            if self.camera and session.camera:
                self.camera(session.camera)
            self.project_path = str(path)
            self.project_path_changed.emit(self.project_path)
            if warnings:
                self.error.emit(
                    "Open project", "The project was opened, with warnings:\n\n• " + "\n• ".join(warnings), ""
                )
            else:
                self.info.emit(f"Opened project {Path(path).name}")

        return self._start(f"Opening {Path(path).name}", partial(work.open_project, str(path)), done)


def rig_misfit(joints: np.ndarray, V: np.ndarray) -> str:
    """Why a rig's joints (J, 3) look made for another mesh than ``V`` (n, 3) — their
    extent 5× larger or smaller, or their box apart from the mesh's — or "" when they fit."""
    lo, hi = V.min(axis=0), V.max(axis=0)
    size = float(np.linalg.norm(hi - lo))
    if len(joints) == 0 or size == 0:
        return ""
    rig_size = float(np.linalg.norm(np.ptp(joints, axis=0)))
    if rig_size > 5 * size:
        return f"the rig is {rig_size / size:,.0f}× the size of the new mesh"
    if 0 < rig_size < size / 5:
        return f"the rig is 1/{size / rig_size:,.0f} of the size of the new mesh"
    margin = 0.25 * size
    if np.any(joints.min(axis=0) > hi + margin) or np.any(joints.max(axis=0) < lo - margin):
        return "the rig lies outside the new mesh"
    return ""
