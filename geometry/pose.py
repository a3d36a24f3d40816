"""Poses: per-handle local rotations and translations, and forward kinematics.

A :class:`Pose` holds, for some handles of a rig (by name), a rotation ``R`` about the
handle's rest pivot (a bone's start joint, a point handle's joint) and a translation ``t``.
Handles it does not mention stay at rest. Forward kinematics follows libigl's
``forward_kinematics``: with ``p`` the rest pivot and ``T_parent`` the parent handle's
absolute transform (identity for roots),

    T_h(x) = T_parent( R (x - p) + p + t )

so rotations are expressed in the rest frame and a child's pivot moves with its parent.
Translating a non-root bone detaches it from its parent, as in libigl; rigs normally
translate only root bones and point handles.

JSON file format (``.json``, written atomically by :meth:`Pose.save`)::

    {
      "format": "fieldrig.pose",
      "version": 1,
      "handles": {
        "forearm": {"rotation": [[1, 0, 0], [0, 0, -1], [0, 1, 0]]},
        "hand":    {"axis_angle_deg": [0, 0, 1, 45]},
        "root":    {"quaternion": [1, 0, 0, 0], "translation": [0.0, 0.1, 0.0]}
      }
    }

Each entry may give at most one of ``rotation`` (3×3 row-major, orthonormal, det +1),
``axis_angle_deg`` (axis x, y, z and an angle in degrees) or ``quaternion`` (w, x, y, z),
and optionally ``translation``. :meth:`Pose.save` writes ``rotation`` and ``translation``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple, Union

import numpy as np

from fieldrig.core.atomic import atomic_write_text
from fieldrig.core.errors import InputError
from fieldrig.geometry.rig import Rig
from fieldrig.geometry.rotations import axis_angle_matrix, is_rotation, nearest_rotation, quaternion_to_matrix

__all__ = ["Pose", "pose_transforms", "axis_angle_matrix"]

PathLike = Union[str, os.PathLike]
_FORMAT = "fieldrig.pose"


@dataclass
class Pose:
    """Local transforms of some handles, keyed by handle name (others stay at rest).

    Attributes
    ----------
    rotations : dict of str → (3, 3) float
        Rotation about the handle's rest pivot, in the rest frame.
    translations : dict of str → (3,) float
        Translation applied after the rotation.
    """

    rotations: Dict[str, np.ndarray] = field(default_factory=dict)
    translations: Dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def identity(cls) -> "Pose":
        """The rest pose."""
        return cls()

    @property
    def handles(self) -> list:
        """Names of the handles the pose moves."""
        return sorted(set(self.rotations) | set(self.translations))

    def set(
        self, handle: str, rotation: Optional[np.ndarray] = None, translation: Optional[np.ndarray] = None
    ) -> "Pose":
        """Set a handle's rotation and/or translation (others left as they are).

        Parameters
        ----------
        handle : str
            Handle name (see :attr:`Rig.handle_names`).
        rotation : (3, 3) float, optional
            A rotation matrix; build one with :func:`axis_angle_matrix`.
        translation : (3,) float, optional

        Returns
        -------
        Pose
            ``self``, for chaining.
        """
        if rotation is not None:
            self.rotations[str(handle)] = _rotation(rotation, f"rotation of {handle!r}")
        if translation is not None:
            t = np.asarray(translation, dtype=np.float64).reshape(-1)
            if t.shape != (3,) or not np.all(np.isfinite(t)):
                raise InputError(
                    f"translation of {handle!r}", f"expected 3 finite numbers, got {np.asarray(translation).tolist()!r}"
                )
            self.translations[str(handle)] = t
        return self

    # --------------------------------------------------------------- arrays
    @classmethod
    def from_arrays(cls, rig: Rig, rotations: np.ndarray, translations: Optional[np.ndarray] = None) -> "Pose":
        """A pose from per-column arrays.

        Parameters
        ----------
        rig : Rig
        rotations : (H, 3, 3) float
            One rotation per weight column.
        translations : (H, 3) float, optional

        Returns
        -------
        Pose
            Identity entries are left out.
        """
        H = rig.n_handles
        R = np.asarray(rotations, dtype=np.float64)
        if R.shape != (H, 3, 3):
            raise InputError("rotations", f"expected shape ({H}, 3, 3) for a rig with {H} handles, got {R.shape}")
        t = np.zeros((H, 3)) if translations is None else np.asarray(translations, dtype=np.float64)
        if t.shape != (H, 3):
            raise InputError("translations", f"expected shape ({H}, 3) for a rig with {H} handles, got {t.shape}")
        pose = cls()
        for h, name in enumerate(rig.handle_names):
            pose.set(
                name,
                rotation=None if np.allclose(R[h], np.eye(3), atol=1e-12) else R[h],
                translation=t[h] if np.any(t[h]) else None,
            )
        return pose

    def local_arrays(self, rig: Rig) -> Tuple[np.ndarray, np.ndarray]:
        """Per-column local rotations and translations for ``rig``.

        Returns
        -------
        R : (H, 3, 3) float
        t : (H, 3) float

        Raises
        ------
        InputError
            The pose names a handle the rig does not have, or a name the rig uses twice.
        """
        names = rig.handle_names
        R = np.tile(np.eye(3), (len(names), 1, 1))
        t = np.zeros((len(names), 3))
        for key, table in (("rotation", self.rotations), ("translation", self.translations)):
            for name, value in table.items():
                hits = [h for h, n in enumerate(names) if n == name]
                if not hits:
                    raise InputError("pose", f"unknown handle {name!r} (the rig has: {', '.join(names)})")
                if len(hits) > 1:
                    raise InputError(
                        "pose", f"the rig has {len(hits)} handles named {name!r}; rename them to pose them"
                    )
                if key == "rotation":
                    R[hits[0]] = value
                else:
                    t[hits[0]] = value
        return R, t

    # ----------------------------------------------------------------- JSON
    def to_json(self) -> dict:
        """The JSON-serialisable form (the module's file format)."""
        entries: Dict[str, dict] = {}
        for name in self.handles:
            entry = {}
            if name in self.rotations:
                entry["rotation"] = self.rotations[name].tolist()
            if name in self.translations:
                entry["translation"] = self.translations[name].tolist()
            entries[name] = entry
        return {"format": _FORMAT, "version": 1, "handles": entries}

    @classmethod
    def from_json(cls, data: dict, source: str = "pose") -> "Pose":
        """Parse the module's JSON format (already decoded)."""
        if not isinstance(data, dict) or not isinstance(data.get("handles"), dict):
            raise InputError(source, "a pose needs a top-level object with a 'handles' object")
        if data.get("format", _FORMAT) != _FORMAT:
            raise InputError(source, f"not a fieldrig pose (format {data.get('format')!r})")
        pose = cls()
        for name, entry in data["handles"].items():
            rotation, translation = _parse_entry(entry, f"{source}: handle {name!r}")
            pose.set(name, rotation=rotation, translation=translation)
        return pose

    def save(self, path: PathLike) -> None:
        """Write the pose as JSON, atomically."""
        atomic_write_text(path, json.dumps(self.to_json(), indent=2) + "\n")

    @classmethod
    def load(cls, path: PathLike) -> "Pose":
        """Read a pose JSON file."""
        from fieldrig.core.files import read_json

        return cls.from_json(read_json(path, "pose"), str(path))


def pose_transforms(rig: Rig, pose: Optional[Pose] = None) -> np.ndarray:
    """Absolute transforms of every handle by forward kinematics.

    Parameters
    ----------
    rig : Rig
    pose : Pose, optional
        None is the rest pose.

    Returns
    -------
    T : (H, 4, 4) float
        One affine transform per weight column (point handles, then bones), mapping rest
        positions to posed positions; feed it to
        :func:`~fieldrig.geometry.deform.linear_blend_skinning`.
    """
    R, t = (pose or Pose()).local_arrays(rig)
    pivots = rig.handle_pivots()
    parents = rig.handle_parents()
    local = np.tile(np.eye(4), (rig.n_handles, 1, 1))
    local[:, :3, :3] = R
    local[:, :3, 3] = pivots + t - np.einsum("hij,hj->hi", R, pivots)
    T = np.empty_like(local)
    done = np.zeros(rig.n_handles, bool)
    while not done.all():  # parents first; the rig guarantees no cycles
        ready = ~done & ((parents < 0) | done[np.maximum(parents, 0)])
        for h in np.flatnonzero(ready):
            T[h] = local[h] if parents[h] < 0 else T[parents[h]] @ local[h]
        done |= ready
    return T


def _parse_entry(entry, where: str) -> Tuple[Optional[np.ndarray], Optional[np.ndarray]]:
    """Rotation and translation of one JSON handle entry (InputErrors name ``where``)."""
    if not isinstance(entry, dict):
        raise InputError(where, "expected an object with rotation/axis_angle_deg/quaternion/translation")
    unknown = set(entry) - {"rotation", "axis_angle_deg", "quaternion", "translation"}
    if unknown:
        raise InputError(where, f"unknown key(s) {sorted(unknown)}")
    given = [k for k in ("rotation", "axis_angle_deg", "quaternion") if k in entry]
    if len(given) > 1:
        raise InputError(where, f"give one of rotation, axis_angle_deg, quaternion, not {given}")
    shapes = {"rotation": (3, 3), "axis_angle_deg": (4,), "quaternion": (4,), "translation": (3,)}
    values = {}
    for key in entry:
        try:
            values[key] = np.asarray(entry[key], dtype=np.float64)
        except (TypeError, ValueError):
            values[key] = None
        if values[key] is None or values[key].shape != shapes[key] or not np.all(np.isfinite(values[key])):
            raise InputError(
                where,
                f"{key} must be {shapes[key][0]}{'×3' if key == 'rotation' else ''} finite numbers, got {entry[key]!r}",
            )
    rotation = None
    if "rotation" in values:
        rotation = values["rotation"]
        if not is_rotation(rotation):
            raise InputError(where, "rotation is not a rotation matrix (orthonormal, determinant +1)")
    elif "axis_angle_deg" in values:
        axis, degrees = values["axis_angle_deg"][:3], values["axis_angle_deg"][3]
        if not np.linalg.norm(axis) > 0:
            raise InputError(where, "axis_angle_deg has a zero axis")
        rotation = axis_angle_matrix(axis, degrees)
    elif "quaternion" in values:
        if not np.linalg.norm(values["quaternion"]) > 0:
            raise InputError(where, "quaternion is all zeros")
        rotation = quaternion_to_matrix(values["quaternion"])
    return rotation, values.get("translation")


def _rotation(R, source: str) -> np.ndarray:
    R = np.asarray(R, dtype=np.float64)
    if R.shape != (3, 3) or not is_rotation(R):
        raise InputError(source, "expected a 3×3 rotation matrix (orthonormal, determinant +1)")
    return nearest_rotation(R)
