"""What a batch computes: its assets, read from a manifest or a folder, and checked.

An asset's name becomes a folder of the output folder (``OUTDIR/NAME/``), so a name is one
plain folder name (:func:`check_name`): never a path that could lead out of ``OUTDIR``.
Everything a manifest says is checked before any work, so that a typo fails in a second
with one line naming the manifest, the asset and the problem.
"""

from __future__ import annotations

import errno
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

from fieldrig.core.errors import InputError
from fieldrig.core.vocabulary import (
    DEFAULT_SKINNING_PRESET,
    MESH_INPUT_SUFFIXES,
    POINT_CLOUD_SUFFIXES,
    RIG_FILE_SUFFIXES,
    SKINNING_PRESET_NAMES,
    WEIGHT_OUTPUT_SUFFIXES,
)
from fieldrig.geometry.skinned_asset import SKINNED_SUFFIXES

PathLike = Union[str, os.PathLike]

#: Files of a folder that become assets (a point cloud has no surface to skin in a batch).
MESH_SUFFIXES = tuple(s for s in MESH_INPUT_SUFFIXES if s not in POINT_CLOUD_SUFFIXES)
#: Output formats of an asset (``formats`` in a manifest, ``--formats``).
FORMATS = tuple(s.lstrip(".") for s in WEIGHT_OUTPUT_SUFFIXES)
#: Settings of an asset, with their defaults.
DEFAULTS = {
    "preset": DEFAULT_SKINNING_PRESET,
    "formats": ["npy", "glb"],
    "seed": 0,
    "device": "auto",
    "max_influences": 4,
    "save_field": False,
}
#: The summary's file in OUTDIR; no asset may be named so.
SUMMARY = "summary.json"
#: Longest asset name: its files' temporary names (``.NAME.field.~PID.XXXXXXXX.field``) stay
#: under the 255 bytes of a file name.
MAX_NAME_BYTES = 200
_WINDOWS_DEVICES = re.compile(r"^(con|prn|aux|nul|com[1-9]|lpt[1-9])(\..*)?$", re.IGNORECASE)
_MANIFEST_KEYS = ("defaults", "assets")
_ENTRY_KEYS = ("name", "mesh", "rig")


@dataclass
class Asset:
    """One mesh and its rig, with the settings to compute its weights with.

    Attributes
    ----------
    name : str
        Unique; names the output folder ``OUTDIR/name`` (see :func:`check_name`).
    mesh : str
        Mesh path.
    rig : str
        Rig path (TGF, JSON, or a rigged GLB/GLTF/FBX — possibly the mesh itself).
    settings : dict
        preset, formats, seed, device, max_influences, save_field.
    """

    name: str
    mesh: str
    rig: str
    settings: Dict = field(default_factory=lambda: dict(DEFAULTS))


def check_name(name, source: str, remedy: str = "give it another 'name'") -> str:
    """``name`` when it is a safe asset name, else an error saying why.

    A name is one folder name: a non-empty string without ``/``, ``\\`` or control
    characters, not starting with ``.`` (which also excludes ``.`` and ``..``), not a
    Windows device name (``CON``, ``NUL``, ``COM1``, ...), not ``summary.json``, and at
    most :data:`MAX_NAME_BYTES` bytes.

    Parameters
    ----------
    name : object
        The name to check.
    source : str
        Where it comes from (the manifest and asset, a file of a folder), for the message.
    remedy : str
        What the message tells the user to do.

    Raises
    ------
    InputError
    """
    rule = "an asset name is one folder name inside OUTDIR"
    if not isinstance(name, str):
        raise InputError(source, f"the asset name must be a string, got {name!r}")
    problem = None
    if not name.strip():
        problem = "is empty"
    elif "/" in name or "\\" in name:
        problem = "contains a path separator"
    elif any(ord(c) < 32 or ord(c) == 127 for c in name):
        problem = "contains a control character"
    elif name.startswith("."):
        problem = "starts with '.' (a hidden, parent or current folder)"
    elif _WINDOWS_DEVICES.match(name) or name.lower() == SUMMARY:
        problem = "is reserved"
    elif len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        problem = f"is longer than {MAX_NAME_BYTES} bytes"
    if problem:
        raise InputError(source, f"the asset name {name!r} {problem}: {rule}; {remedy}")
    return name


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

    Raises
    ------
    InputError
        No such file or folder, a bad manifest, a folder without meshes, unsafe or
        duplicate names.
    """
    source = Path(source)
    settings = {**DEFAULTS, **(defaults or {})}
    check_settings(settings, "settings")
    if source.is_dir():
        assets = []
        for mesh in sorted(p for p in source.iterdir() if p.suffix.lower() in MESH_SUFFIXES and p.is_file()):
            rigs = [mesh.with_suffix(s) for s in RIG_FILE_SUFFIXES if mesh.with_suffix(s).is_file()]
            if not rigs:  # a skinned file is its own rig; a lone mesh fails as missing its first rig kind
                rigs = [mesh if mesh.suffix.lower() in SKINNED_SUFFIXES else mesh.with_suffix(RIG_FILE_SUFFIXES[0])]
            rig = rigs[0]
            name = check_name(mesh.stem, str(mesh), "rename the file, or name it in a manifest")
            assets.append(Asset(name, str(mesh), str(rig), dict(settings)))
        if not assets:
            raise InputError(str(source), f"no meshes ({', '.join(MESH_SUFFIXES)}) in this folder")
        check_unique(assets, str(source))
        return assets
    if source.is_file():
        return read_manifest(source, settings)
    raise InputError(str(source), f"{missing_file_cause(source)}: give a manifest JSON or a folder of assets")


def read_manifest(path: PathLike, defaults: Optional[Dict] = None) -> List[Asset]:
    """Read and check a batch manifest.

    Format (JSON; paths relative to the manifest's folder)::

        {"defaults": {"preset": "fast", "formats": ["glb", "npy"], "seed": 0},
         "assets": [{"name": "finger", "mesh": "finger.obj", "rig": "finger.tgf"},
                    {"mesh": "legs.obj", "rig": "legs.json", "preset": "high"}]}

    A bare list of assets is accepted too. ``name`` defaults to the mesh's stem; ``rig``
    to the mesh itself for glTF and FBX files (their own skin). Settings: preset, formats,
    seed, device, max_influences, save_field; an asset's own override the manifest's
    ``defaults``, which override ``defaults``.

    Raises
    ------
    InputError
        Naming the manifest (and the asset): invalid JSON, unknown keys, values of the
        wrong type, unsafe or duplicate names, mesh or rig files that are missing, folders
        or symbolic link loops.
    """
    from fieldrig.core.files import read_json

    path = Path(path)
    data = read_json(path, "manifest")
    if isinstance(data, list):
        data = {"assets": data}
    if not isinstance(data, dict):
        raise InputError(str(path), f"a manifest is a JSON object or list, not {_json_type(data)}")
    unknown = sorted(set(data) - set(_MANIFEST_KEYS))
    if unknown:
        raise InputError(str(path), f"unknown keys {unknown} (known: {', '.join(_MANIFEST_KEYS)})")
    if not isinstance(data.get("assets"), list) or not data["assets"]:
        raise InputError(str(path), "a manifest needs a non-empty 'assets' list")
    manifest_defaults = data.get("defaults", {})
    if not isinstance(manifest_defaults, dict):
        raise InputError(str(path), f"'defaults' must be an object, not {_json_type(manifest_defaults)}")
    base = {**DEFAULTS, **(defaults or {}), **manifest_defaults}
    check_settings(base, f"{path}: defaults")
    assets = []
    for i, entry in enumerate(data["assets"]):
        where = f"{path}: asset {i}"
        if not isinstance(entry, dict):
            raise InputError(where, f"an asset is an object with a 'mesh' path, not {_json_type(entry)}")
        unknown = sorted(set(entry) - set(DEFAULTS) - set(_ENTRY_KEYS))
        if unknown:
            raise InputError(where, f"unknown keys {unknown} (known: {', '.join(_ENTRY_KEYS + tuple(DEFAULTS))})")
        if "mesh" not in entry:
            raise InputError(where, "needs a 'mesh' path")
        mesh = _input_file(path, where, "mesh", entry["mesh"])
        if entry.get("rig") is None and mesh.suffix.lower() not in SKINNED_SUFFIXES:
            raise InputError(where, f"({entry['mesh']}) needs a 'rig' path")
        rig = mesh if entry.get("rig") is None else _input_file(path, where, "rig", entry["rig"])
        settings = {**base, **{k: v for k, v in entry.items() if k in DEFAULTS}}
        check_settings(settings, where)
        name = check_name(entry.get("name", mesh.stem), where)
        assets.append(Asset(name, str(mesh), str(rig), settings))
    check_unique(assets, str(path))
    return assets


def _input_file(manifest: Path, where: str, key: str, value) -> Path:
    """The manifest's ``key`` path, relative to its folder, checked to be a readable file."""
    if not isinstance(value, str) or not value.strip():
        raise InputError(where, f"{key!r} must be a file path (a non-empty string), got {value!r}")
    path = manifest.parent / value
    if path.is_dir():
        raise InputError(where, f"{key} {str(path)!r} is a folder, not a file")
    if not path.is_file():
        raise InputError(where, f"{key} {str(path)!r}: {missing_file_cause(path)}")
    return path


def missing_file_cause(path: PathLike) -> str:
    """Why ``path`` names no file or folder, in words: a symbolic link loop, a broken
    symbolic link, no permission, not found."""
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link loop"
        if exc.errno == errno.EACCES:
            return "no permission to read it"
        if os.path.islink(path):
            return f"a broken symbolic link (to {os.readlink(path)!r})"
        return "not found"
    return "neither a regular file nor a folder"


def check_settings(settings: Dict, source: str) -> None:
    """Refuse unknown settings and values of the wrong type or out of range.

    Raises
    ------
    InputError
        Naming ``source`` and the setting.
    """
    unknown = sorted(set(settings) - set(DEFAULTS))
    if unknown:
        raise InputError(source, f"unknown settings {unknown} (known: {', '.join(DEFAULTS)})")
    formats = settings["formats"]
    if not isinstance(formats, list) or not all(isinstance(f, str) for f in formats):
        raise InputError(source, f"'formats' must be a list of names such as ['npy', 'glb'], got {formats!r}")
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise InputError(source, f"unknown output formats {bad} (expected some of {', '.join(FORMATS)})")
    if settings["preset"] not in SKINNING_PRESET_NAMES:
        raise InputError(
            source, f"unknown preset {settings['preset']!r} (expected one of {', '.join(SKINNING_PRESET_NAMES)})"
        )
    for key in ("seed", "max_influences"):
        value = settings[key]
        if not isinstance(value, int) or isinstance(value, bool) or (key == "max_influences" and value < 1):
            kind = "a positive integer" if key == "max_influences" else "an integer"
            raise InputError(source, f"{key!r} must be {kind}, got {value!r}")
    if not isinstance(settings["device"], str) or not settings["device"]:
        raise InputError(source, f"'device' must be a torch device name such as 'cpu', got {settings['device']!r}")
    if not isinstance(settings["save_field"], bool):
        raise InputError(source, f"'save_field' must be true or false, got {settings['save_field']!r}")


def check_unique(assets: Sequence[Asset], source: str) -> None:
    """Refuse two assets of one name (they would write one folder), case aside (on a
    case-insensitive disk ``Arm`` and ``arm`` are one folder too)."""
    seen: Dict[str, str] = {}
    for a in assets:
        other = seen.get(a.name.casefold())
        if other is not None:
            same = f"named {a.name!r}" if other == a.name else f"named {other!r} and {a.name!r}"
            raise InputError(source, f"two assets are {same}; give them distinct names")
        seen[a.name.casefold()] = a.name


def _json_type(value) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")
