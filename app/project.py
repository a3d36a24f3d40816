"""Project files: a :class:`~fieldrig.session.Session` in one ``.fieldrig`` file, written
atomically.

A project file is a ZIP archive with

- ``project.json`` — format name and version; the referenced files (mesh, and the files
  the rig and cage were loaded from) as absolute path, path relative to the project file,
  SHA-256 and size; the rig itself (the JSON rig format, so edits made in the app are
  kept); the weight sets (name, origin, stale), which is active and which two are compared
  (A/B); the locked handles' names; the names of the posed handles; the animation clip,
  time, loop and speed; the mode, settings and camera;
- one ``.npy`` member per array (each weight set's weights and, for painted sets, the
  vertices painted by hand; cage vertices/faces, deformed cage, coordinates, pose
  rotations and translations), read back with
  ``allow_pickle=False``, so numbers come back bit for bit;
- the trained fields (``skinning_field_<k>.bin`` for weight set k,
  ``barycentric_field.bin``) as written by their own ``save`` methods, when there are.

The mesh is referenced, not copied; a skinned file is referenced with the skin the
session works on (``skin``), and reopens as that skin's bind-pose parts, so its weights
and exports (re-skinning the file) line up again. :func:`load_project` looks for it beside
the project first (so a folder moved as a whole still opens), then at its absolute path.
A missing mesh is an error that names the file; a mesh whose content changed loads with a
warning, and per-vertex arrays that no longer match its vertex count are dropped with a
warning, never silently reused. The rig and the cage are stored in the project, so a
missing or changed rig/cage source file only gives a warning.

Format versions: 3 (this one) adds the painted vertices of each weight set
(``painted_<k>.npy``) and the locked handles (``locked``); 2 stored weight sets without
them (read with none painted, none locked), and the A/B pair and playback settings as
optional entries; 1 stored one table of weights
(``weights.npy``, ``skinning_field.bin``, ``weights_stale``), read as one weight set —
"computed" when its field was stored, else "skin" for a skinned file's mesh and
"imported" for a plain one.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

from fieldrig.core.atomic import atomic_path
from fieldrig.core.errors import InputError
from fieldrig.core.files import file_sha256, user_path
from fieldrig.core.vocabulary import PROJECT_SUFFIX
from fieldrig.geometry.mesh_io import load_mesh
from fieldrig.geometry.pose import Pose
from fieldrig.geometry.rig import rig_from_json, rig_to_json
from fieldrig.session import AnimationState, CageState, RigState, Session, WeightSet

PathLike = Union[str, os.PathLike]

FORMAT_NAME = "fieldrig-project"
FORMAT_VERSION = 3

#: Cage arrays: CageState attribute -> member name.
_CAGE_ARRAYS = {
    "vertices": "cage_vertices",
    "faces": "cage_faces",
    "deformed": "cage_pose",
    "coordinates": "coordinates",
}


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
def save_project(session: Session, path: PathLike) -> None:
    """Write ``session`` to ``path`` (a ``.fieldrig`` ZIP), atomically.

    Parameters
    ----------
    session : Session
        Its caches (previews) are not stored; ``asset_index`` says which skin of a skinned
        mesh file it works on.
    path : str or PathLike
        Ends in ``.fieldrig``.
    """
    path = Path(path)
    if path.suffix.lower() != PROJECT_SUFFIX:
        raise InputError(str(path), f"project files end in {PROJECT_SUFFIX!r}")
    project_dir = path.parent
    rs, cs = session.rig_state, session.cage_state
    pose = rs.pose if rs.rig is not None else None
    meta: Dict[str, Any] = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "mesh": _file_reference(session.mesh.path if session.mesh is not None else None, project_dir),
        "vertex_count": None if session.mesh is None else int(len(session.mesh.V)),
        "skin": session.asset_index,
        "rig": None if rs.rig is None else rig_to_json(rs.rig),
        "rig_source": _file_reference(rs.rig_source, project_dir),
        "weight_sets": [{"name": ws.name, "origin": ws.origin, "stale": bool(ws.stale)} for ws in rs.weight_sets],
        "active_weights": int(rs.active),
        "locked": list(rs.locked),
        "pose": None if pose is None else {"rotations": list(pose.rotations), "translations": list(pose.translations)},
        "compare": list(rs.compare),
        "animation": {
            "clip": session.animation.clip,
            "time": float(session.animation.time),
            "loop": bool(session.animation.loop),
            "speed": float(session.animation.speed),
        },
        "cage_source": _file_reference(cs.source, project_dir),
        "coordinates_kind": cs.coordinates_kind,
        "mode": session.mode,
        "settings": session.settings,
        "camera": session.camera,
        "arrays": [],
        "blobs": [],
    }
    arrays = {f"weights_{k}": ws.weights for k, ws in enumerate(rs.weight_sets)}
    arrays.update({f"painted_{k}": ws.painted_vertices for k, ws in enumerate(rs.weight_sets)})
    arrays.update({member: getattr(cs, name) for name, member in _CAGE_ARRAYS.items()})
    if pose is not None:  # stored as arrays: bit-exact, unlike decimal JSON
        arrays["pose_rotations"] = np.array(list(pose.rotations.values())).reshape(-1, 3, 3)
        arrays["pose_translations"] = np.array(list(pose.translations.values())).reshape(-1, 3)
    blobs = {f"skinning_field_{k}": ws.skinning_field for k, ws in enumerate(rs.weight_sets)}
    blobs["barycentric_field"] = cs.barycentric_field
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            for name, value in arrays.items():
                if value is not None:
                    buffer = io.BytesIO()
                    np.lib.format.write_array(buffer, np.ascontiguousarray(value), allow_pickle=False)
                    zf.writestr(f"{name}.npy", buffer.getvalue())
                    meta["arrays"].append(name)
            for name, value in blobs.items():
                if value is not None:
                    zf.writestr(f"{name}.bin", value)
                    meta["blobs"].append(name)
            zf.writestr("project.json", json.dumps(meta, indent=2))


# ----------------------------------------------------------------------- loading
def _read_archive(path: Path) -> Tuple[dict, Dict[str, np.ndarray], Dict[str, bytes]]:
    """``project.json``, the arrays and the blobs of a project file (any version)."""
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
            blobs = {name: zf.read(f"{name}.bin") for name in meta.get("blobs", [])}
    except zipfile.BadZipFile as exc:
        raise InputError(source, f"not a fieldrig project or damaged ({exc})") from exc
    except KeyError as exc:
        raise InputError(source, f"damaged project: member {exc} is missing") from exc
    except (json.JSONDecodeError, ValueError, TypeError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(source, f"damaged project ({exc})") from exc
    if int(meta.get("version", 0)) < 2:
        _upgrade_version_1(meta, arrays, blobs)
    return meta, arrays, blobs


def _upgrade_version_1(meta: dict, arrays: Dict[str, np.ndarray], blobs: Dict[str, bytes]) -> None:
    """A version-1 project's one table of weights as one weight set, its mode out of its settings."""
    if "weights" in arrays:
        computed = "skinning_field" in blobs
        name = "computed" if computed else "skin" if meta.get("skin") is not None else "imported"
        meta["weight_sets"] = [
            {"name": name, "origin": "computed" if computed else "file", "stale": meta.get("weights_stale", False)}
        ]
        arrays["weights_0"] = arrays.pop("weights")
        if computed:
            blobs["skinning_field_0"] = blobs.pop("skinning_field")
    settings = dict(meta.get("settings") or {})
    meta["mode"] = settings.pop("mode", "rig")
    meta["settings"] = settings


def load_project(path: PathLike) -> Tuple[Session, List[str]]:
    """Read a project file and the mesh it refers to.

    Parameters
    ----------
    path : str or PathLike
        A project of this format version or an older one.

    Returns
    -------
    session : Session
    warnings : list of str
        Referenced files that are missing or changed, and what was dropped because it no
        longer fits the mesh, the rig or the skinned file.

    Raises
    ------
    InputError
        The project file is missing, not a fieldrig project, damaged, or the mesh it refers
        to cannot be found or read; the message names the file.
    """
    path = user_path(path)
    source = str(path)
    meta, arrays, blobs = _read_archive(path)
    project_dir = path.parent
    warnings: List[str] = []

    mesh, asset, asset_index = None, None, None
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
            mesh, asset, asset_index = subjects[skin].mesh, subjects[skin].asset, skin
        else:
            mesh = load_mesh(mesh_path)
        saved_n = meta.get("vertex_count")
        if saved_n is not None and saved_n != len(mesh.V):
            warnings.append(
                f"{mesh_path}: has {len(mesh.V)} vertices, the project was "
                f"saved with {saved_n}; its weights and coordinates were dropped"
            )
            meta["weight_sets"] = []
            arrays.pop("coordinates", None)
            blobs.pop("barycentric_field", None)

    sources = {}
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
            sources[key] = ref.get("path")
        else:
            if ref.get("sha256") and file_sha256(found) != ref["sha256"]:
                warnings.append(
                    f"{found}: the {what} file changed since the project "
                    f"was saved; the project's own copy of the {what} is used"
                )
            sources[key] = str(found)

    rig = None if meta.get("rig") is None else rig_from_json(meta["rig"], source + ":rig")
    pose = Pose()
    if meta.get("pose") is not None and rig is not None:
        pose = Pose(
            dict(zip(meta["pose"]["rotations"], arrays.get("pose_rotations", []))),
            dict(zip(meta["pose"]["translations"], arrays.get("pose_translations", []))),
        )
        try:
            pose.local_arrays(rig)
        except InputError as exc:
            warnings.append(f"{source}: the stored pose does not fit the rig ({exc.problem}); the rest pose is used")
            pose = Pose()
    try:
        rig_state = _weight_sets(
            meta, arrays, blobs, RigState(rig, sources.get("rig_source"), pose=pose), source, warnings
        )
    except InputError as exc:  # a bad origin, duplicate names
        raise InputError(source, f"damaged project ({exc.problem})") from exc
    cage_state = CageState(
        source=sources.get("cage_source"),
        barycentric_field=blobs.get("barycentric_field"),
        coordinates_kind=meta.get("coordinates_kind") if arrays.get("coordinates") is not None else None,
        **{name: arrays.get(member) for name, member in _CAGE_ARRAYS.items()},
    )
    session = Session(
        mesh=mesh,
        asset=asset,
        asset_index=asset_index,
        rig_state=rig_state,
        cage_state=cage_state,
        animation=_animation(meta.get("animation"), asset, source, warnings),
        settings=dict(meta.get("settings") or {}),
        mode=str(meta.get("mode") or "rig"),
        camera=meta.get("camera"),
    )
    return session, warnings


def _weight_sets(meta, arrays, blobs, rig_state: RigState, source: str, warnings: List[str]) -> RigState:
    """The stored weight sets that fit the rig, the active one still active when it does."""
    rig, kept, active = rig_state.rig, [], 0
    for k, entry in enumerate(meta.get("weight_sets") or []):
        W = arrays.get(f"weights_{k}")
        name = str(entry.get("name", f"weights {k}"))
        if W is None:
            raise InputError(source, f"damaged project: the weights of {name!r} are missing")
        if rig is None or W.ndim != 2 or W.shape[1] != rig.n_handles:
            warnings.append(f"{source}: the stored weights {name!r} do not match the rig's handles and were dropped")
            continue
        if k == meta.get("active_weights", 0):
            active = len(kept)
        kept.append(
            WeightSet(
                name,
                W,
                str(entry.get("origin", "file")),
                bool(entry.get("stale", False)),
                blobs.get(f"skinning_field_{k}"),
                painted_vertices=arrays.get(f"painted_{k}"),
            )
        )
    compare = tuple(str(n) for n in meta.get("compare") or ())
    if compare and not set(compare) <= {ws.name for ws in kept}:
        warnings.append(f"{source}: the weight sets compared ({', '.join(compare)}) are not all there any more")
        compare = ()
    locked = meta.get("locked") or []
    if not isinstance(locked, list) or not all(isinstance(name, str) for name in locked):
        raise InputError(source, f"damaged project: locked handles must be a list of names, got {locked!r}")
    return replace(rig_state, weight_sets=tuple(kept), active=active, compare=compare).with_locked(locked)


def _animation(data: Optional[dict], asset, source: str, warnings: List[str]) -> AnimationState:
    """The stored clip (when the skinned file still has it), time, loop and speed."""
    data, defaults = data or {}, AnimationState()
    clip = None if data.get("clip") is None else str(data["clip"])
    if clip is not None and clip not in ([] if asset is None else [c.name for c in asset.clips]):
        warnings.append(f"{source}: the mesh has no animation {clip!r} any more; no clip plays")
        clip = None
    try:
        return AnimationState(
            clip,
            float(data.get("time", defaults.time)) if clip is not None else defaults.time,
            bool(data.get("loop", defaults.loop)),
            float(data.get("speed", defaults.speed)),
        )
    except (InputError, TypeError, ValueError) as exc:
        warnings.append(f"{source}: the stored playback settings are not usable ({exc}); the clip starts afresh")
        return AnimationState(clip)
