"""Project files: everything the app holds, in one ``.fieldrig`` file, written atomically.

A project file is a ZIP archive with

- ``project.json`` — format version, the referenced files (mesh, and the files the rig
  and cage were loaded from) as absolute path, path relative to the project file, SHA-256
  and size; the rig itself (the JSON rig format, so edits made in the app are kept); the
  names of the posed handles; settings; the camera;
- one ``.npy`` member per array (weights, cage vertices/faces, deformed cage,
  coordinates, pose rotations and translations), read back with ``allow_pickle=False``,
  so numbers come back bit for bit;
- optionally the trained fields (``skinning_field.bin``, ``barycentric_field.bin``) as
  written by their own ``save`` methods.

The mesh is referenced, not copied; a skinned file is referenced with the skin the
project works on (``skin``), and reopens as that skin's bind-pose parts, so its weights
and exports (re-skinning the file) line up again. :func:`load_project` looks for it beside the project
first (so a folder moved as a whole still opens), then at its absolute path. A missing
mesh is an error that names the file; a mesh whose content changed loads with a warning,
and per-vertex arrays that no longer match its vertex count are dropped with a warning,
never silently reused. The rig and the cage are stored in the project, so a missing or
changed rig/cage source file only gives a warning.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import numpy as np

from fieldrig.core.atomic import atomic_path
from fieldrig.core.errors import InputError
from fieldrig.core.files import file_sha256
from fieldrig.geometry.mesh_io import MeshData, load_mesh
from fieldrig.geometry.pose import Pose
from fieldrig.geometry.rig import Rig, rig_from_json, rig_to_json

PathLike = Union[str, os.PathLike]

PROJECT_SUFFIX = ".fieldrig"
FORMAT_NAME = "fieldrig-project"
FORMAT_VERSION = 1


@dataclass
class Project:
    """Everything a session holds, in memory.

    Attributes
    ----------
    mesh : MeshData or None
        The mesh (its ``path`` is what the project file refers to).
    rig : Rig or None
    rig_source : str or None
        File the rig was first loaded from (recorded with its hash; the rig itself is
        stored in the project).
    weights : (n, H) float or None
        Skinning weights, one column per handle of ``rig``.
    weights_stale : bool
        True when the rig was edited after the weights were computed.
    pose : Pose or None
    cage_vertices : (c, 3) float or None
        Rest cage.
    cage_faces : (k, 3) int or None
    cage_source : str or None
    cage_pose : (c, 3) float or None
        Deformed cage vertex positions.
    coordinates : (n, c) float or None
        Barycentric coordinates of the mesh vertices in the cage.
    skinning_field : bytes or None
        A saved :class:`~fieldrig.SkinningField` (the bytes its ``save`` wrote).
    barycentric_field : bytes or None
        A saved barycentric field.
    settings : dict
        JSON-serialisable app settings (preset, device, objective, display mode, ...).
    camera : str or None
        The viewer's camera as polyscope view JSON.
    warnings : list of str
        Filled by :func:`load_project`: missing or changed referenced files, dropped arrays.
    asset_index : int or None
        The mesh is skin ``asset_index`` of a skinned file (its bind-pose parts); None for a
        plain mesh.
    asset : SkinnedAsset or None
        That skin, as :func:`load_project` read it.
    """

    mesh: Optional[MeshData] = None
    rig: Optional[Rig] = None
    rig_source: Optional[str] = None
    weights: Optional[np.ndarray] = None
    weights_stale: bool = False
    pose: Optional[Pose] = None
    cage_vertices: Optional[np.ndarray] = None
    cage_faces: Optional[np.ndarray] = None
    cage_source: Optional[str] = None
    cage_pose: Optional[np.ndarray] = None
    coordinates: Optional[np.ndarray] = None
    skinning_field: Optional[bytes] = None
    barycentric_field: Optional[bytes] = None
    settings: Dict[str, Any] = field(default_factory=dict)
    camera: Optional[str] = None
    warnings: List[str] = field(default_factory=list)
    asset_index: Optional[int] = None
    asset: Any = None


_ARRAYS = ("weights", "cage_vertices", "cage_faces", "cage_pose", "coordinates")
_BLOBS = ("skinning_field", "barycentric_field")


def _file_reference(path: Optional[str], project_dir: Path) -> Optional[dict]:
    if path is None:
        return None
    p = Path(path).resolve()
    ref = {"path": str(p), "relative": os.path.relpath(p, project_dir.resolve())}
    if p.is_file():
        ref["sha256"] = file_sha256(p)
        ref["size"] = p.stat().st_size
    return ref


def _resolve_reference(ref: dict, project_dir: Path) -> Optional[Path]:
    """The referenced file: beside the project (relative path) first, then absolute."""
    candidates = []
    if ref.get("relative"):
        candidates.append(project_dir / ref["relative"])
    if ref.get("path"):
        candidates.append(Path(ref["path"]))
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    return None


# ------------------------------------------------------------------------ saving
def save_project(project: Project, path: PathLike) -> None:
    """Write ``project`` to ``path`` (a ``.fieldrig`` ZIP), atomically.

    Parameters
    ----------
    project : Project
    path : str or PathLike
        Should end in ``.fieldrig``.
    """
    path = Path(path)
    if path.suffix.lower() != PROJECT_SUFFIX:
        raise InputError(str(path), f"project files end in {PROJECT_SUFFIX!r}")
    project_dir = path.parent
    meta: Dict[str, Any] = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "mesh": _file_reference(project.mesh.path if project.mesh is not None else None, project_dir),
        "vertex_count": None if project.mesh is None else int(len(project.mesh.V)),
        "skin": project.asset_index,
        "rig": None if project.rig is None else rig_to_json(project.rig),
        "rig_source": _file_reference(project.rig_source, project_dir),
        "weights_stale": bool(project.weights_stale),
        "pose": None
        if project.pose is None
        else {"rotations": list(project.pose.rotations), "translations": list(project.pose.translations)},
        "cage_source": _file_reference(project.cage_source, project_dir),
        "settings": project.settings,
        "camera": project.camera,
        "arrays": [],
        "blobs": [],
    }
    arrays = {name: getattr(project, name) for name in _ARRAYS}
    if project.pose is not None:  # stored as arrays: bit-exact, unlike decimal JSON
        arrays["pose_rotations"] = np.array(list(project.pose.rotations.values())).reshape(-1, 3, 3)
        arrays["pose_translations"] = np.array(list(project.pose.translations.values())).reshape(-1, 3)
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            for name, value in arrays.items():
                if value is not None:
                    buffer = io.BytesIO()
                    np.lib.format.write_array(buffer, np.ascontiguousarray(value), allow_pickle=False)
                    zf.writestr(f"{name}.npy", buffer.getvalue())
                    meta["arrays"].append(name)
            for name in _BLOBS:
                value = getattr(project, name)
                if value is not None:
                    zf.writestr(f"{name}.bin", value)
                    meta["blobs"].append(name)
            zf.writestr("project.json", json.dumps(meta, indent=2))


# ----------------------------------------------------------------------- loading
def load_project(path: PathLike) -> Project:
    """Read a project file and the mesh it refers to.

    Parameters
    ----------
    path : str or PathLike

    Returns
    -------
    Project
        ``warnings`` lists referenced files that are missing or changed and arrays that
        were dropped because they no longer fit the mesh.

    Raises
    ------
    InputError
        The project file is missing, not a fieldrig project, damaged, or the mesh it refers
        to cannot be found or read; the message names the file.
    """
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise InputError(source, "project file not found")
    try:
        with zipfile.ZipFile(path) as zf:
            meta = json.loads(zf.read("project.json"))
            if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
                raise InputError(source, "not a fieldrig project (no fieldrig project.json inside)")
            if int(meta.get("version", 0)) > FORMAT_VERSION:
                raise InputError(
                    source,
                    f"written by a newer fieldrig (project format {meta['version']}, this one reads {FORMAT_VERSION})",
                )
            arrays = {
                name: np.load(io.BytesIO(zf.read(f"{name}.npy")), allow_pickle=False) for name in meta.get("arrays", [])
            }
            blobs = {name: zf.read(f"{name}.bin") for name in meta.get("blobs", []) if name in _BLOBS}
    except zipfile.BadZipFile as exc:
        raise InputError(source, f"not a fieldrig project or damaged ({exc})") from exc
    except KeyError as exc:
        raise InputError(source, f"damaged project: member {exc} is missing") from exc
    except (json.JSONDecodeError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(source, f"damaged project ({exc})") from exc

    project_dir = path.parent
    warnings: List[str] = []
    project = Project(settings=dict(meta.get("settings") or {}), camera=meta.get("camera"), warnings=warnings)

    mesh_ref = meta.get("mesh")
    if mesh_ref is not None:
        mesh_path = _resolve_reference(mesh_ref, project_dir)
        if mesh_path is None:
            raise InputError(
                source,
                f"the mesh it refers to is missing: {mesh_ref.get('path')} (also "
                f"looked for {mesh_ref.get('relative')} beside the project)",
            )
        if mesh_ref.get("sha256") and file_sha256(mesh_path) != mesh_ref["sha256"]:
            warnings.append(f"{mesh_path}: the mesh file changed since the project was saved")
        skin = meta.get("skin")
        if skin is not None:
            from fieldrig.workflow import asset_subjects

            subjects = asset_subjects(mesh_path)
            if not isinstance(skin, int) or not 0 <= skin < len(subjects):
                raise InputError(source, f"refers to skin {skin!r} of {mesh_path}, which has {len(subjects)}")
            project.mesh, project.asset, project.asset_index = subjects[skin].mesh, subjects[skin].asset, skin
        else:
            project.mesh = load_mesh(mesh_path)
        saved_n = meta.get("vertex_count")
        if saved_n is not None and saved_n != len(project.mesh.V):
            warnings.append(
                f"{mesh_path}: has {len(project.mesh.V)} vertices, the project was "
                f"saved with {saved_n}; its weights and coordinates were dropped"
            )
            arrays.pop("weights", None)
            arrays.pop("coordinates", None)
            blobs.pop("skinning_field", None)

    for key in ("rig_source", "cage_source"):
        ref = meta.get(key)
        if ref is None:
            continue
        found = _resolve_reference(ref, project_dir)
        what = "rig" if key == "rig_source" else "cage"
        if found is None:
            warnings.append(
                f"{ref.get('path')}: the {what} file is missing; the project's own copy of the {what} is used"
            )
            setattr(project, key, ref.get("path"))
        else:
            if ref.get("sha256") and file_sha256(found) != ref["sha256"]:
                warnings.append(
                    f"{found}: the {what} file changed since the project "
                    f"was saved; the project's own copy of the {what} is used"
                )
            setattr(project, key, str(found))

    if meta.get("rig") is not None:
        project.rig = rig_from_json(meta["rig"], source + ":rig")
    pose_rotations, pose_translations = arrays.pop("pose_rotations", None), arrays.pop("pose_translations", None)
    if meta.get("pose") is not None and project.rig is not None:
        project.pose = Pose(
            dict(zip(meta["pose"]["rotations"], pose_rotations)),
            dict(zip(meta["pose"]["translations"], pose_translations)),
        )
        try:
            project.pose.local_arrays(project.rig)
        except InputError as exc:
            warnings.append(f"{source}: the stored pose does not fit the rig ({exc.problem}); the rest pose is used")
            project.pose = Pose()
    project.weights_stale = bool(meta.get("weights_stale", False))
    for name, value in arrays.items():
        if name in _ARRAYS:
            setattr(project, name, value)
    for name, value in blobs.items():
        setattr(project, name, value)
    if project.weights is not None and (project.rig is None or project.weights.shape[1] != project.rig.n_handles):
        warnings.append(f"{source}: the stored weights do not match the rig's handles and were dropped")
        project.weights = None
        project.skinning_field = None
    return project
