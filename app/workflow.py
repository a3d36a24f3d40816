"""Load → fit → write: the one path from input files to weights and outputs that the CLI,
batch, the GUI's jobs and headless rendering all take.

* **Load** (:func:`load_subjects`). A skinned glTF/FBX file on its own (or given as its own
  ``--rig``) gives one :class:`Subject` per skin: the bind-pose geometry of the parts bound
  to it and a skeleton rig whose columns are the skin's joints. Any other mesh needs a rig
  file (TGF, JSON, or a skinned file whose skin is taken as the rig). Deform selection
  (``--deform-joints``/``--exclude-joints`` globs) sets the rig's deform flags.
* **Fit** (:func:`fit_subject`): :func:`fieldrig.fit_skinning_field`, with input errors
  named after the files and the fit's warnings kept.
* **Write** (:func:`write_outputs`): weight tables (columns named after the rig's
  handles, for an asset the skin's joints); glTF: the input file re-skinned (only its skin
  attributes replaced) for an asset read from glTF, a new file with the skeleton, the
  parts and the sampled clips for an asset read from another format, a new file with the
  rig's skeleton for a mesh and a rig.
"""

from __future__ import annotations

import fnmatch
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np

from fieldrig.core.errors import InputError
from fieldrig.core.files import same_file
from fieldrig.core.vocabulary import GLTF_SUFFIXES
from fieldrig.geometry.mesh_io import MeshData
from fieldrig.geometry.rig import Rig
from fieldrig.geometry.skinned_asset import SKINNED_SUFFIXES, SkinnedAsset

#: Frames per second of ``--frame``.
FRAME_RATE = 30.0


class ProgressBar:
    """Progress of :class:`fieldrig.core.progress.ProgressEvent` callbacks on stderr.

    On a terminal, a tqdm bar. Elsewhere (a pipe, a log file) a bar cannot redraw, so a long
    job prints one line every ``interval_s`` seconds instead (the first after one interval:
    a short job prints nothing).

    Parameters
    ----------
    description : str
        What is computed ("weights arm.obj").
    enabled : bool
        False shows nothing (``--quiet``).
    interval_s : float
        Seconds between two lines when stderr is not a terminal.
    """

    def __init__(self, description: str, enabled: bool, interval_s: float = 10.0):
        import sys

        from tqdm import tqdm

        from fieldrig.core.progress import Throttle

        self._description = description
        terminal = enabled and sys.stderr.isatty()
        self._lines = Throttle(interval_s) if enabled and not terminal else None
        if self._lines is not None:
            self._lines.passes(0.0)  # primed: the first line comes after one interval
        self._bar = tqdm(
            total=1000,
            desc=description,
            disable=not terminal,
            leave=False,
            bar_format="{desc}: {percentage:3.0f}%|{bar:30}| {elapsed}<{remaining}{postfix}",
        )

    def __call__(self, event) -> bool:
        self._bar.set_postfix_str(event.stage, refresh=False)
        self._bar.update(int(round(1000 * event.fraction)) - self._bar.n)
        if self._lines is not None and event.fraction < 1.0 and self._lines.passes(event.fraction):
            import sys

            left = f", about {event.eta_s:.0f} s left" if event.eta_s is not None else ""
            print(f"{self._description}: {100 * event.fraction:.0f}% ({event.stage}){left}", file=sys.stderr)
        return True

    def close(self) -> None:
        self._bar.close()


# =============================================================================== load
@dataclass
class Subject:
    """One shape and one rig to compute weights for.

    Attributes
    ----------
    name : str
        For messages: the mesh file's name (and the skin, when the file has several).
    mesh : MeshData
        The shape (an asset's bind-pose parts, concatenated).
    rig : Rig
    rig_source : str
        The rig's file, for messages.
    asset : SkinnedAsset or None
        The skin, when the subject is one.
    index : int
        The skin's position among its file's assets.
    """

    name: str
    mesh: MeshData
    rig: Rig
    rig_source: str
    asset: Optional[SkinnedAsset] = None
    index: int = 0

    @property
    def warnings(self) -> List[str]:
        """What loading found (dropped faces, missing inverse bind matrices, ...)."""
        return list(self.mesh.warnings)


def is_skinned_file(path) -> bool:
    """True for an FBX file and for a glTF file whose scene has a skinned mesh."""
    suffix = Path(path).suffix.lower()
    if suffix not in SKINNED_SUFFIXES:
        return False
    if suffix == ".fbx":
        return True
    from fieldrig.geometry.gltf import is_skinned_gltf

    return is_skinned_gltf(path)


def asset_mesh(asset: SkinnedAsset) -> MeshData:
    """An asset's bind-pose parts as one mesh (faces re-indexed, warnings and dropped faces kept)."""
    from fieldrig.geometry.mesh_io import MeshCleanup

    cleanup = MeshCleanup.total(part.cleanup for part in asset.parts)
    return MeshData(asset.V, asset.F, asset.N, asset.path, list(asset.warnings), cleanup)


def asset_subjects(path, deform: Sequence[str] = (), exclude: Sequence[str] = ()) -> List[Subject]:
    """One subject per skin of a skinned file (see the module docstring)."""
    from fieldrig.geometry.skinned_asset import load_skinned_assets

    assets = load_skinned_assets(path)
    subjects = []
    for k, asset in enumerate(assets):
        name = Path(path).name + (f" skin {k}" if len(assets) > 1 else "")
        rig = select_deforming(asset.rig(), deform, exclude)
        subjects.append(Subject(name, asset_mesh(asset), rig, str(path), asset, k))
    return subjects


def load_subjects(mesh_path, rig_path=None, deform: Sequence[str] = (), exclude: Sequence[str] = ()) -> List[Subject]:
    """The subjects of a mesh file and a rig file (see the module docstring).

    Parameters
    ----------
    mesh_path : str or PathLike
    rig_path : str or PathLike, optional
        Needed unless ``mesh_path`` is a skinned file; the same path as ``mesh_path`` means
        "its own skin".
    deform, exclude : sequence of str
        Globs of handle names: only handles matching one of ``deform`` (when given) and
        none of ``exclude`` deform.

    Returns
    -------
    list of Subject
    """
    from fieldrig.geometry.mesh_io import load_mesh
    from fieldrig.geometry.rig import load_rig

    same = rig_path is not None and same_file(rig_path, mesh_path)
    if (rig_path is None or same) and is_skinned_file(mesh_path):
        return asset_subjects(mesh_path, deform, exclude)
    mesh = load_mesh(mesh_path)  # a file that cannot be read says why here
    if rig_path is None:
        raise InputError(str(mesh_path), "has no skin: give its rig with --rig (TGF, JSON or a skinned glTF)")
    rig = select_deforming(load_rig(rig_path), deform, exclude)
    return [Subject(Path(mesh_path).name, mesh, rig, str(rig_path))]


def select_deforming(rig: Rig, deform: Sequence[str] = (), exclude: Sequence[str] = ()) -> Rig:
    """The rig with deform flags off for handles not matching ``deform`` (when given) or
    matching ``exclude`` (shell globs on handle names, case-sensitive).

    Raises
    ------
    InputError
        A glob that matches no handle (a typo would otherwise silently do nothing).
    """
    if not deform and not exclude:
        return rig
    names = rig.handle_names
    flags = rig.deform.copy()
    for option, globs in (("--deform-joints", deform), ("--exclude-joints", exclude)):
        for glob in globs:
            if not fnmatch.filter(names, glob):
                shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
                raise InputError(option, f"{glob!r} matches no joint or handle (the rig has: {shown})")
    if deform:
        flags &= np.array([any(fnmatch.fnmatchcase(n, g) for g in deform) for n in names])
    if exclude:
        flags &= ~np.array([any(fnmatch.fnmatchcase(n, g) for g in exclude) for n in names])
    return rig.with_deform(flags)


# ================================================================================ fit
@dataclass
class FitResult:
    """Weights of one subject.

    Attributes
    ----------
    subject : Subject
    W : (n, H) float
        One column per rig handle.
    fitted : RigField
        The field the weights came from (trained, or loaded with ``--field``).
    seconds : float
        Training time.
    warnings : list of str
        What the fit worked around (handles outside the shape, ...).
    """

    subject: Subject
    W: np.ndarray
    fitted: object = None
    seconds: float = 0.0
    warnings: List[str] = field(default_factory=list)


def fit_subject(
    subject: Subject,
    preset="balanced",
    device: Optional[str] = None,
    seed: int = 0,
    strict: bool = False,
    progress=None,
) -> FitResult:
    """Train the subject's skinning field and evaluate it at its vertices.

    Input errors that the skinning API reports against its arguments (``mesh``, ``rig``)
    are re-raised naming the files instead.
    """
    from fieldrig.skinning import fit_skinning_field

    mesh = subject.mesh
    start = time.perf_counter()
    try:
        fitted = fit_skinning_field(
            mesh.V,
            mesh.F,
            subject.rig,
            N=mesh.N,
            preset=preset,
            device=device,
            seed=seed,
            progress=progress,
            strict=strict,
        )
    except InputError as exc:
        source = {"rig": subject.rig_source, "mesh": mesh.path, "points": mesh.path, "N": mesh.path}.get(exc.source)
        if source is None:
            raise
        raise InputError(source, exc.problem) from exc
    W = fitted.evaluate(mesh.V)
    return FitResult(subject, W, fitted, time.perf_counter() - start, list(fitted.warnings))


def evaluate_saved_field(path, subject: Subject, device: Optional[str] = None) -> FitResult:
    """Weights of the subject's vertices from a field saved by ``--save-field``, which must
    belong to the subject's rig (same handle names)."""
    from fieldrig.skinning import RigField

    fitted = RigField.load(path, device=None if device in (None, "auto") else device)
    if fitted.handle_names != subject.rig.handle_names:
        raise InputError(
            str(path),
            f"was trained for handles {fitted.handle_names[:8]}..., the rig has {subject.rig.handle_names[:8]}...",
        )
    return FitResult(subject, fitted.evaluate(subject.mesh.V), fitted)


def source_weights(subject: Subject, rig: Optional[Rig] = None) -> np.ndarray:
    """The file's own skin weights of an asset subject, rows renormalised.

    Parameters
    ----------
    subject : Subject
        A skin.
    rig : Rig, optional
        The columns wanted: the skin's joints (default), or the rig fieldrig stored in the
        file (its handles are the first joints).

    Returns
    -------
    (n, H) float

    Raises
    ------
    InputError
        The subject is not a skin, a part has no weights, or ``rig`` is neither of the above.
    """
    asset = subject.asset
    W = None if asset is None else asset.artist_weights
    if W is None:
        raise InputError(subject.mesh.path, "has no skin weights of its own (give --weights)")
    names = asset.skeleton.names
    if rig is not None and rig.handle_names != names:
        if rig.handle_names != names[: rig.n_handles]:
            raise InputError(subject.mesh.path, "its skin's joints are not the handles of the rig given (--rig)")
        W = W[:, : rig.n_handles]
    total = W.sum(axis=1, keepdims=True)
    return np.divide(W, total, out=np.zeros_like(W), where=total > 0)


# ============================================================================== write
def numbered(path, index: int, count: int) -> str:
    """``path`` for the only subject; ``stem_skin<index>.ext`` when a file has several skins."""
    if count <= 1:
        return str(path)
    p = Path(path)
    return str(p.with_name(f"{p.stem}_skin{index}{p.suffix}"))


def output_files(outputs: Sequence[str], count: int) -> List[List[str]]:
    """The files each output path stands for, given the number of subjects (skins).

    A glTF output is one file holding every skin; a weight table is one file per skin
    (:func:`numbered`).

    Returns
    -------
    list of list of str
        One list per entry of ``outputs``.
    """
    return [
        [str(out)] if Path(out).suffix.lower() in GLTF_SUFFIXES else [numbered(out, k, count) for k in range(count)]
        for out in outputs
    ]


def write_outputs(outputs: Sequence[str], results: Sequence[FitResult], max_influences: int = 4) -> List[str]:
    """Write the results to each output path by extension (see the module docstring).

    The files are committed together (:func:`fieldrig.core.atomic.atomic_outputs`): a
    failure or an interrupt leaves every one of them as it was.

    Parameters
    ----------
    outputs : sequence of str
        Weight tables (``.npy``, ``.csv``, ``.dmat``; one per skin when there are several)
        and glTF files (``.glb``, ``.gltf``; one with every skin).
    results : sequence of FitResult
        Every subject of one input (all the skins of a file, or one mesh and its rig),
        in the order of their ``subject.index``.
    max_influences : int
        Influences per vertex kept in glTF outputs.

    Returns
    -------
    list of str
        The files written.
    """
    from fieldrig.core.atomic import atomic_outputs
    from fieldrig.geometry.export import save_weights

    files = output_files(outputs, len(results))
    written = [f for group in files for f in group]
    with atomic_outputs(written):
        for out, group in zip(outputs, files):
            if Path(out).suffix.lower() in GLTF_SUFFIXES:
                write_gltf_output(out, results, max_influences)
                continue
            for target, r in zip(group, results):
                save_weights(target, r.W, r.subject.rig.handle_names)
    return written


def write_gltf_output(path, results: Sequence[FitResult], max_influences: int = 4) -> None:
    """One glTF file with the results' weights: the input re-skinned, or a new file."""
    from fieldrig.geometry.gltf import reskin_gltf, write_assets_gltf, write_skinned_gltf
    from fieldrig.geometry.gltf.skins import GltfSkinSource

    assets = [r.subject.asset for r in results]
    if all(a is None for a in assets):
        if len(results) != 1:
            raise InputError(str(path), "one glTF output holds one mesh and its rig")
        s = results[0].subject
        write_skinned_gltf(path, s.mesh.V, s.mesh.F, s.rig, results[0].W, max_influences, normals=s.mesh.N)
    elif any(a is None for a in assets):
        raise InputError(str(path), "cannot mix skinned assets and meshes in one glTF output")
    elif all(isinstance(a.source, GltfSkinSource) for a in assets):
        reskin_gltf(path, [(a, r.W) for a, r in zip(assets, results)], max_influences)
    else:
        write_assets_gltf(path, [(a, r.W) for a, r in zip(assets, results)], max_influences)


def save_fields(path, results: Sequence[FitResult]) -> List[str]:
    """Save each result's trained field (one file per skin when there are several)."""
    from fieldrig.core.atomic import atomic_outputs

    (written,) = output_files([path], len(results))
    with atomic_outputs(written):
        for target, r in zip(written, results):
            r.fitted.save(target)
    return written


# ============================================================================= posing
def clip_time(asset: SkinnedAsset, animation: Optional[str], seconds: Optional[float], frame: Optional[int]):
    """The clip called ``animation`` (the first when None) and the time to sample it at.

    ``frame`` counts at :data:`FRAME_RATE` frames per second from the clip's start; times
    outside the clip take its first or last pose.

    Returns
    -------
    (Clip, float)
    """
    clip = asset.clip(animation)
    if seconds is not None and frame is not None:
        raise InputError("--time", "give --time or --frame, not both")
    t = float(seconds) if seconds is not None else (frame / FRAME_RATE if frame is not None else 0.0)
    if not np.isfinite(t):
        raise InputError("--time", f"expected a finite time in seconds, got {t}")
    return clip, t


def animation_transforms(
    asset: SkinnedAsset, animation: Optional[str], seconds: Optional[float] = None, frame: Optional[int] = None
) -> np.ndarray:
    """Skinning transforms (J, 4, 4) of an asset's clip at a time (see :func:`clip_time`)."""
    clip, t = clip_time(asset, animation, seconds, frame)
    return clip.skinning_transforms(asset.skeleton, t)


def deformed(V: np.ndarray, W: np.ndarray, T: np.ndarray, method: str = "lbs") -> np.ndarray:
    """Vertices skinned by ``T`` with weights ``W``: linear blend or dual quaternion."""
    from fieldrig.geometry.deform import dual_quaternion_skinning, linear_blend_skinning

    skin = dual_quaternion_skinning if method == "dqs" else linear_blend_skinning
    return np.asarray(skin(V, W, T))


def pruning_note(W: np.ndarray, max_influences: int) -> Optional[Tuple[float, float]]:
    """Mean and largest share of weight that ``max_influences`` per vertex drops (None: nothing)."""
    from fieldrig.geometry.gltf import pruned_mass

    if W.shape[1] <= max_influences:
        return None
    lost = pruned_mass(W, max_influences)
    return float(lost.mean()), float(lost.max())
