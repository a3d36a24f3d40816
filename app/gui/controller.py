"""The app's actions: open, compute, export, save — each as a background job that ends in
one document update on the UI thread.

Every action validates what it can up front (a clear message instead of a failed job),
hands the slow part (file reading, training, writing) to the :class:`JobRunner`, and
applies the result in ``on_success``. Failures reach the panel through
:attr:`Controller.error` as (title, message, details) and become dialogs; the document is
untouched by a failed or cancelled job, so nothing is lost.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
from PyQt6.QtCore import QObject, pyqtSignal

from fieldrig.geometry.errors import InputError
from fieldrig.gui.document import CageState, Document, RigState, copy_pose, deform_mesh, mesh_problems
from fieldrig.gui.jobs import JobFailure, JobRunner
from fieldrig.gui.preview import PreviewSkinning

MESH_SUFFIXES = (".obj", ".ply", ".off", ".stl", ".glb", ".gltf", ".xyz")
RIG_SUFFIXES = (".tgf", ".json", ".glb", ".gltf")
CAGE_SUFFIXES = (".obj", ".off", ".ply", ".json")
WEIGHT_SUFFIXES = (".npy", ".csv", ".dmat")
POSED_MESH_SUFFIXES = (".obj", ".ply")
PROJECT_SUFFIX = ".fieldrig"


def _saved_bytes(obj, suffix: str) -> bytes:
    """What ``obj.save(path)`` writes, as bytes (for storing a field inside a project)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="fieldrig-") as folder:
        path = Path(folder) / f"field{suffix}"
        obj.save(path)
        return path.read_bytes()


def _loaded_from_bytes(data: bytes, suffix: str, load: Callable[[Path], Any]):
    """``load(path)`` on a temporary file holding ``data``."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="fieldrig-") as folder:
        path = Path(folder) / f"field{suffix}"
        path.write_bytes(data)
        return load(path)


class Controller(QObject):
    """Runs the app's actions against a :class:`Document`.

    Parameters
    ----------
    document : Document
    jobs : JobRunner
    camera : callable, optional
        ``camera()`` returns the view as JSON, ``camera(json)`` sets it (the viewer's
        polyscope camera); None leaves the camera out of projects.

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

    def __init__(self, document: Document, jobs: JobRunner, camera: Optional[Callable] = None,
                 parent: Optional[QObject] = None):
        super().__init__(parent)
        self.doc, self.jobs, self.camera = document, jobs, camera
        self.project_path: Optional[str] = None
        jobs.failed.connect(self._job_failed)
        jobs.cancelled.connect(lambda title: self.info.emit(f"{title}: cancelled; nothing was changed."))

    # -------------------------------------------------------------- helpers
    def _job_failed(self, failure: JobFailure) -> None:
        if isinstance(failure.error, (InputError, OSError)):
            self.error.emit(failure.title, str(failure.error), "")
        else:
            self.error.emit(failure.title, f"{type(failure.error).__name__}: {failure.error}", failure.details)

    def _refuse(self, title: str, message: str) -> bool:
        self.error.emit(title, message, "")
        return False

    def _start(self, title: str, work, on_success, cancellable: bool = False) -> bool:
        if not self.jobs.start(title, work, on_success, cancellable):
            return self._refuse(title, f"Busy with “{self.jobs.title}”; wait for it or cancel it first.")
        return True

    def _check_suffix(self, title: str, path, allowed) -> bool:
        if Path(path).suffix.lower() not in allowed:
            return self._refuse(title, f"{path}: expected one of {', '.join(allowed)}")
        return True

    # --------------------------------------------------------------- opening
    def open_any(self, path: str) -> bool:
        """Open a dropped file by its kind: project, rig, or mesh (a rigged glTF brings its rig)."""
        suffix = Path(path).suffix.lower()
        if suffix == PROJECT_SUFFIX:
            return self.open_project(path)
        if suffix in (".tgf", ".json"):
            return self.open_rig(path)
        if suffix in MESH_SUFFIXES:
            return self.open_mesh(path)
        return self._refuse("Open", f"{path}: not a mesh, rig or project file fieldrig knows")

    def open_mesh(self, path: str) -> bool:
        """Load a mesh, soup or point cloud and check it; a skinned glTF also brings its rig and weights."""
        if not self._check_suffix("Open mesh", path, MESH_SUFFIXES):
            return False

        def work(progress):
            from fieldrig.geometry.mesh_check import check_mesh
            from fieldrig.geometry.mesh_io import load_mesh

            progress(_event("reading", 0.1))
            mesh = load_mesh(path)
            progress(_event("checking", 0.6))
            report = check_mesh(mesh.V, mesh.F, str(path))
            rig_state = None
            if Path(path).suffix.lower() in (".glb", ".gltf"):
                from fieldrig.geometry.gltf import read_gltf_skin

                try:
                    skin = read_gltf_skin(path)
                except InputError:
                    skin = None  # an unrigged glTF is just a mesh
                if skin is not None:
                    W = skin.handle_weights() if skin.weights is not None else None
                    W = W if W is not None and W.shape[0] == len(mesh.V) else None
                    rig_state = RigState(skin.rig, str(path), W, preview=None if W is None else PreviewSkinning(mesh.V, W))
            return mesh, report, rig_state

        def done(result):
            mesh, report, rig_state = result
            self.doc.set_mesh(mesh, report)
            if rig_state is not None:  # a rigged glTF: its skeleton and skin weights come along
                self.doc.set_rig_state(rig_state, "Load rig")
                self.doc.undo_stack.clear()
            problems = len(mesh_problems(mesh, report))
            self.info.emit(f"Loaded {Path(path).name}: {len(mesh.V):,} vertices" + (f", {problems} warning(s)" if problems else ""))

        return self._start(f"Opening {Path(path).name}", work, done)

    def open_rig(self, path: str) -> bool:
        """Load a TGF / JSON / glTF skeleton (undoable: it replaces the rig)."""
        if not self._check_suffix("Open rig", path, RIG_SUFFIXES):
            return False

        def work(progress):
            from fieldrig.cli import load_any_rig

            return load_any_rig(path)

        def done(rig):
            self.doc.set_rig_state(RigState(rig, str(path)), f"Load rig {Path(path).name}")
            self.doc.select_handle(None)
            self.info.emit(f"Loaded rig {Path(path).name}: {len(rig.bones)} bones, {len(rig.point_handles)} point handles")

        return self._start(f"Opening {Path(path).name}", work, done)

    def open_cage(self, path: str) -> bool:
        """Load a cage (undoable)."""
        if not self._check_suffix("Open cage", path, CAGE_SUFFIXES):
            return False

        def work(progress):
            from fieldrig.geometry.cage import load_cage

            return load_cage(path)

        def done(cage):
            self.doc.set_cage_state(CageState(cage.V, cage.F, str(path)), f"Load cage {Path(path).name}")
            self.info.emit(f"Loaded cage {Path(path).name}: {len(cage.V)} vertices")

        return self._start(f"Opening {Path(path).name}", work, done)

    def make_auto_cage(self, **options) -> bool:
        """Build a coarse cage around the mesh (undoable)."""
        mesh = self.doc.mesh
        if mesh is None or mesh.F is None:
            return self._refuse("Automatic cage", "Open a triangle mesh first (a point cloud has no surface to cage).")
        V, F = mesh.V, mesh.F

        def work(progress):
            import fieldrig

            return fieldrig.auto_cage(V, F, **options)

        def done(cage):
            self.doc.set_cage_state(CageState(cage.V, cage.F, None), "Automatic cage")
            self.info.emit(f"Automatic cage: {len(cage.V)} vertices, {len(cage.F)} faces")

        return self._start("Building a cage", work, done)

    def load_weights(self, path: str) -> bool:
        """Import weights from NPY / CSV / DMAT (undoable)."""
        if not self._check_suffix("Import weights", path, WEIGHT_SUFFIXES):
            return False
        if self.doc.mesh is None or self.doc.rig is None:
            return self._refuse("Import weights", "Open a mesh and a rig first.")
        shape = (len(self.doc.mesh.V), self.doc.rig.n_handles)
        V = self.doc.mesh.V

        def work(progress):
            from fieldrig.geometry.export import load_weights

            W = load_weights(path)
            if W.shape != shape:
                raise InputError(path, f"weights have shape {W.shape}; the mesh has {shape[0]} vertices and the rig {shape[1]} handles")
            return W, PreviewSkinning(V, W)

        return self._start(f"Importing {Path(path).name}", work,
                           lambda result: self.doc.set_weights(result[0], None, "Import weights", result[1]))

    # -------------------------------------------------------------- training
    def compute_weights(self, seed: int = 0) -> bool:
        """Train the skinning field for the current mesh and rig (cancellable)."""
        doc = self.doc
        if doc.mesh is None:
            return self._refuse("Compute weights", "Open a mesh first.")
        if doc.rig is None:
            return self._refuse("Compute weights", "Load or build a rig first (add at least one handle).")
        V, F, N, rig = doc.mesh.V, doc.mesh.F, doc.mesh.N, doc.rig
        preset, device = doc.settings["preset"], doc.settings["device"]

        def work(progress):
            import fieldrig
            from fieldrig.neural.device import resolve_device

            dev = resolve_device(device)
            self.device_used.emit(str(dev))
            field = fieldrig.fit_skinning_field(V, F, rig, N=N, preset=preset, device=dev, seed=seed, progress=progress)
            W = np.asarray(field.evaluate(V), dtype=np.float64)
            return field, W, PreviewSkinning(V, W)

        def done(result):
            field, W, preview = result
            if self.doc.rig is not rig or self.doc.mesh is None or self.doc.mesh.V is not V:
                self._refuse("Compute weights", "The mesh or rig changed while the weights were computed; they were discarded. Compute again.")
                return
            self.doc.set_weights(W, field, f"Compute weights ({preset})", preview)
            self.info.emit(f"Weights computed: {W.shape[0]:,} vertices × {W.shape[1]} handles")

        return self._start("Computing weights", work, done, cancellable=True)

    def compute_coordinates(self, seed: int = 0) -> bool:
        """Train barycentric coordinates of the mesh in the cage (cancellable)."""
        doc = self.doc
        cage = doc.cage_state
        if doc.mesh is None:
            return self._refuse("Compute coordinates", "Open a mesh first.")
        if cage.vertices is None:
            return self._refuse("Compute coordinates", "Load or build a cage first.")
        d = cage.vertices.shape[1]
        points = doc.mesh.V[:, :d]
        CV, CF = cage.vertices, cage.faces
        objective, device, preset = doc.settings["objective"], doc.settings["device"], doc.settings["preset"]

        def work(progress):
            import fieldrig
            from fieldrig.geometry.cage import Cage
            from fieldrig.neural.device import resolve_device

            dev = resolve_device(device)
            self.device_used.emit(str(dev))
            field = fieldrig.fit_barycentric_field(Cage.from_arrays(CV, CF), objective=objective, preset=preset,
                                                   seed=seed, device=dev, progress=progress)
            return field, np.asarray(field.evaluate(points), dtype=np.float64)

        def done(result):
            field, Phi = result
            if self.doc.cage_state.vertices is not CV or self.doc.mesh is None:
                self._refuse("Compute coordinates", "The mesh or cage changed while the coordinates were computed; they were discarded.")
                return
            self.doc.set_coordinates(Phi, field, f"Compute coordinates ({objective})")
            self.info.emit(f"Coordinates computed: {Phi.shape[0]:,} points × {Phi.shape[1]} cage vertices")

        return self._start("Computing coordinates", work, done, cancellable=True)

    # ------------------------------------------------------------- writing
    def save_rig(self, path: str) -> bool:
        """Write the rig as JSON (names, parents) or TGF."""
        if self.doc.rig is None:
            return self._refuse("Save rig", "There is no rig to save.")
        if not self._check_suffix("Save rig", path, (".json", ".tgf")):
            return False
        rig = self.doc.rig

        def work(progress):
            from fieldrig.geometry.rig import save_rig

            save_rig(rig, path)

        return self._start("Saving rig", work, lambda _: self.info.emit(f"Rig saved to {path}"))

    def export_weights(self, path: str) -> bool:
        """Write the weights as NPY / CSV / DMAT."""
        if not self.doc.weights_usable():
            return self._refuse("Export weights", "There are no weights for this mesh and rig; compute them first.")
        if not self._check_suffix("Export weights", path, WEIGHT_SUFFIXES):
            return False
        W, names = self.doc.weights, self.doc.rig.handle_names

        def work(progress):
            from fieldrig.geometry.export import save_weights

            save_weights(path, W, names)

        return self._start("Exporting weights", work, lambda _: self.info.emit(f"Weights written to {path}"))

    def export_gltf(self, path: str, max_influences: int = 4) -> bool:
        """Write the mesh with its skeleton and skin as glTF (.glb / .gltf)."""
        if not self.doc.weights_usable():
            return self._refuse("Export glTF", "There are no weights for this mesh and rig; compute them first.")
        if not self._check_suffix("Export glTF", path, (".glb", ".gltf")):
            return False
        mesh, rig, W = self.doc.mesh, self.doc.rig, self.doc.weights

        def work(progress):
            from fieldrig.geometry.gltf import write_skinned_gltf

            write_skinned_gltf(path, mesh.V, mesh.F, rig, W, max_influences=max_influences, normals=mesh.N)

        return self._start("Exporting glTF", work, lambda _: self.info.emit(f"glTF written to {path}"))

    def export_posed_mesh(self, path: str) -> bool:
        """Write the mesh as currently deformed (pose, or cage in cage mode) as OBJ / PLY."""
        if self.doc.mesh is None:
            return self._refuse("Export posed mesh", "Open a mesh first.")
        if not self._check_suffix("Export posed mesh", path, POSED_MESH_SUFFIXES):
            return False
        doc = self.doc
        deformation = "cage" if doc.mode == "cage" else "pose"
        args = (doc.mesh.V, doc.rig_state, doc.cage_state, doc.cage_pose, doc.settings["method"], deformation)
        F = doc.mesh.F

        def work(progress):
            from fieldrig.geometry.export import save_mesh

            save_mesh(path, deform_mesh(*args), F)

        return self._start("Exporting posed mesh", work, lambda _: self.info.emit(f"Posed mesh written to {path}"))

    def save_screenshot(self, path: str, image: np.ndarray) -> bool:
        """Write an RGBA/RGB image (h, w, 3|4) uint8 as PNG/JPEG, atomically."""
        if not self._check_suffix("Screenshot", path, (".png", ".jpg", ".jpeg")):
            return False
        image = np.ascontiguousarray(image)

        def work(progress):
            from fieldrig.render import write_image

            write_image(path, image)

        return self._start("Saving screenshot", work, lambda _: self.info.emit(f"Screenshot saved to {path}"))

    def save_pose(self, path: str) -> bool:
        """Write the current pose as JSON."""
        pose = copy_pose(self.doc.pose)
        return self._start("Saving pose", lambda progress: pose.save(path), lambda _: self.info.emit(f"Pose saved to {path}"))

    def load_pose(self, path: str) -> bool:
        """Read a pose JSON (undoable); it must name handles of the current rig."""
        rig = self.doc.rig
        if rig is None:
            return self._refuse("Load pose", "Load or build a rig first.")

        def work(progress):
            from fieldrig.geometry.pose import Pose

            pose = Pose.load(path)
            pose.local_arrays(rig)  # raises InputError naming an unknown handle
            return pose

        return self._start(f"Loading {Path(path).name}", work, lambda pose: self.doc.set_pose(pose, "Load pose"))

    # ------------------------------------------------------------ projects
    def to_project(self):
        """The document as a :class:`~fieldrig.project.Project` (fields still as objects)."""
        from fieldrig.project import Project

        doc = self.doc
        rs, cs = doc.rig_state, doc.cage_state
        settings = dict(doc.settings, mode=doc.mode)
        return Project(
            mesh=doc.mesh, rig=rs.rig, rig_source=rs.rig_source, weights=rs.weights, weights_stale=rs.weights_stale,
            pose=copy_pose(rs.pose) if rs.rig is not None else None,
            cage_vertices=cs.vertices, cage_faces=cs.faces, cage_source=cs.source, cage_pose=doc.cage_pose,
            coordinates=cs.coordinates, settings=settings, camera=self.camera() if self.camera else None,
        )

    def save_project(self, path: str) -> bool:
        """Write everything to one ``.fieldrig`` file, atomically."""
        if not path.lower().endswith(PROJECT_SUFFIX):
            path += PROJECT_SUFFIX
        project = self.to_project()
        skinning_field, barycentric_field = self.doc.rig_state.skinning_field, self.doc.cage_state.barycentric_field

        def work(progress):
            from fieldrig.project import save_project

            if skinning_field is not None:
                project.skinning_field = _saved_bytes(skinning_field, ".field")
            if barycentric_field is not None:
                project.barycentric_field = _saved_bytes(barycentric_field, ".field")
            save_project(project, path)

        def done(_):
            self.project_path = str(path)
            self.doc.undo_stack.setClean()
            self.project_path_changed.emit(self.project_path)
            self.info.emit(f"Project saved to {path}")

        return self._start("Saving project", work, done)

    def open_project(self, path: str) -> bool:
        """Replace everything with a project's content (reports missing / changed files)."""

        def work(progress):
            from fieldrig.geometry.mesh_check import check_mesh
            from fieldrig.project import load_project

            project = load_project(path)
            report = None if project.mesh is None else check_mesh(project.mesh.V, project.mesh.F, project.mesh.path)
            skinning_field = barycentric_field = None
            if project.skinning_field is not None:
                import fieldrig

                skinning_field = _loaded_from_bytes(project.skinning_field, ".field", fieldrig.SkinningField.load)
            if project.barycentric_field is not None and project.cage_vertices is not None:
                import fieldrig
                from fieldrig.geometry.cage import Cage

                cage = Cage.from_arrays(project.cage_vertices, project.cage_faces)
                barycentric_field = _loaded_from_bytes(project.barycentric_field, ".field",
                                                       lambda p: fieldrig.BarycentricField.load(p, cage=cage))
            preview = None if project.weights is None else PreviewSkinning(project.mesh.V, project.weights)
            return project, report, skinning_field, barycentric_field, preview

        def done(result):
            project, report, skinning_field, barycentric_field, preview = result
            from fieldrig.geometry.pose import Pose

            rig_state = RigState(project.rig, project.rig_source, project.weights, project.weights_stale,
                                 skinning_field, project.pose or Pose(), preview)
            cage_state = CageState(project.cage_vertices, project.cage_faces, project.cage_source,
                                   project.coordinates, barycentric_field)
            self.doc.restore(project.mesh, report, rig_state, cage_state, project.cage_pose, project.settings)
            if self.camera and project.camera:
                self.camera(project.camera)
            self.project_path = str(path)
            self.project_path_changed.emit(self.project_path)
            if project.warnings:
                self.error.emit("Open project", "The project was opened, with warnings:\n\n• " + "\n• ".join(project.warnings), "")
            else:
                self.info.emit(f"Opened project {Path(path).name}")

        return self._start(f"Opening {Path(path).name}", work, done)


def _event(stage: str, fraction: float):
    from fieldrig.neural.progress import ProgressEvent

    return ProgressEvent(stage, fraction, None)
