"""Rigs: handles (weight columns) made of segments and points, with a parent hierarchy.

A handle has a set of segments (one or several; a point handle is a single point), a
pivot joint it rotates about, a parent handle and a *deform* flag (a handle that does not
deform keeps its weight column at zero). Rigs come in two layouts:

* **Bone rigs** (TGF, fieldrig JSON, rigs built in the app). Columns follow libigl's
  ``boundary_conditions``: first the point handles (joints that belong to no bone), then
  the bones, each group in file order; a bone rotates about its start joint and its
  parent is its parent bone. For ``arm.tgf`` (4 bones) that gives 4 columns.
* **Skeleton rigs** (a skin's joints, :meth:`Rig.from_skeleton`). One column per joint,
  in skin order. Joint ``j``'s handle is the set of segments from ``j`` to each of its
  children at a distinct position, or a point at ``j`` when it has none (a leaf, or a
  joint whose children all sit at its own position); its pivot is ``j`` and its parent
  the parent joint.

Tolerances are relative to the rig's size (the diagonal of its joints' bounding box), so
a rig in millimetres and the same rig in kilometres are equally valid.

JSON format (``.json``), bone rigs::

    {
      "joints": [{"name": "shoulder", "position": [x, y, z]}, ...],
      "bones":  [{"name": "upper_arm", "joints": ["shoulder", "elbow"], "parent": null,
                  "deform": true}, ...],
      "points": [{"name": "tip", "joint": "tip", "deform": false}, ...],   # optional
      "painted": [{"handle": "upper_arm", "vertices": [0, 5, 9]}]          # optional
    }

Joints may be referred to by name or by 0-based integer index; ``parent`` names a bone
(or is null); when ``parent`` is omitted it is derived from connectivity (the bone whose
end joint is this bone's start joint). ``points`` may be omitted: joints on no bone are
then point handles, as in TGF. ``deform`` (default true) may be given per bone and point.

Skeleton rigs are written as ``{"layout": "skeleton", "joints": [{"name", "position",
"parent": joint name or null, "deform": bool}], "painted": [...]}``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Union

import numpy as np

from fieldrig.core.errors import InputError

#: A bone shorter than this fraction of the rig's size has zero length.
ZERO_LENGTH = 1e-9
#: In a skeleton, a child closer than this fraction of the rig's size sits at its parent's position.
SAME_POSITION = 1e-6


@dataclass
class PaintedRegion:
    """Mesh vertices whose weights are fixed to one handle (weight 1 there, 0 elsewhere).

    Attributes
    ----------
    handle : int
        Column index of the handle the vertices belong to.
    vertices : (k,) int
        Vertex indices into the mesh the rig is applied to.
    """

    handle: int
    vertices: np.ndarray


@dataclass
class Rig:
    """Joints, and handles made of segments (bones) and points.

    Build rigs with :meth:`from_arrays` (bone rigs) or :meth:`from_skeleton` (skeleton
    rigs); both validate their input.

    Attributes
    ----------
    joints : (J, 3) float
        Joint positions.
    bones : (B, 2) int
        Segments: start and end joint of each.
    point_handles : (P,) int
        Joints that are point handles (handles without segments).
    bone_parents : (B,) int
        Parent bone of each bone, -1 for none (bone rigs: the hierarchy itself; skeleton
        rigs: the first segment of the parent joint's handle).
    joint_names : list of str
        One name per joint.
    bone_names : list of str
        One name per bone.
    painted : list of PaintedRegion
        Optional vertex sets with fixed weights.
    handle_names : list of str
        One name per weight column, in column order.
    bone_handles : (B,) int
        Column of each bone.
    point_columns : (P,) int
        Column of each point handle.
    pivot_joints : (H,) int
        The joint each handle rotates about.
    parents : (H,) int
        Parent column of each handle, -1 for roots.
    deform : (H,) bool
        False for handles whose column stays zero (they do not deform the mesh).
    joint_parents : (J,) int or None
        Skeleton rigs: the parent joint of every joint; None for bone rigs.
    """

    joints: np.ndarray
    bones: np.ndarray
    point_handles: np.ndarray
    bone_parents: np.ndarray
    joint_names: List[str]
    bone_names: List[str]
    painted: List[PaintedRegion]
    handle_names: List[str]
    bone_handles: np.ndarray
    point_columns: np.ndarray
    pivot_joints: np.ndarray
    parents: np.ndarray
    deform: np.ndarray
    joint_parents: Optional[np.ndarray] = None

    # ------------------------------------------------------------------ views
    @property
    def n_handles(self) -> int:
        """Number of weight columns."""
        return len(self.handle_names)

    @property
    def is_skeleton(self) -> bool:
        """True for a skeleton rig (one column per joint)."""
        return self.joint_parents is not None

    @property
    def size(self) -> float:
        """The diagonal of the joints' bounding box (what the rig's tolerances are relative to)."""
        return _extent(self.joints)

    def handle_segments(self) -> np.ndarray:
        """Every segment of every handle; a point handle is a zero-length segment.

        Returns
        -------
        (S, 2, 3) float
            Point handles first (in :attr:`point_handles` order), then the bones. For a
            bone rig that is one segment per handle, in column order.
        """
        pts = self.joints[self.point_handles]
        seg_b = self.joints[self.bones] if len(self.bones) else np.zeros((0, 2, 3))
        return np.concatenate([np.stack([pts, pts], axis=1), seg_b], axis=0)

    def segment_handles(self) -> np.ndarray:
        """(S,) int: the column of each segment of :meth:`handle_segments`."""
        return np.concatenate([self.point_columns, self.bone_handles]).astype(np.int64)

    def handle_parents(self) -> np.ndarray:
        """(H,) int: parent column of every handle (-1 for roots)."""
        return self.parents.copy()

    def handle_pivots(self) -> np.ndarray:
        """(H, 3) float: the point each handle rotates about."""
        return self.joints[self.pivot_joints]

    def handle_kind(self, handle: int) -> str:
        """``"point"`` for a handle without segments, ``"bone"`` otherwise."""
        return "bone" if np.any(self.bone_handles == handle) else "point"

    def copy(self) -> "Rig":
        """Deep copy."""
        return Rig(
            self.joints.copy(),
            self.bones.copy(),
            self.point_handles.copy(),
            self.bone_parents.copy(),
            list(self.joint_names),
            list(self.bone_names),
            [PaintedRegion(p.handle, p.vertices.copy()) for p in self.painted],
            list(self.handle_names),
            self.bone_handles.copy(),
            self.point_columns.copy(),
            self.pivot_joints.copy(),
            self.parents.copy(),
            self.deform.copy(),
            None if self.joint_parents is None else self.joint_parents.copy(),
        )

    def with_deform(self, deform) -> "Rig":
        """The same rig with other deform flags ((H,) bool)."""
        deform = np.asarray(deform, dtype=bool).reshape(-1)
        if deform.shape != (self.n_handles,):
            raise InputError("deform", f"expected {self.n_handles} flags, got {deform.shape[0]}")
        rig = self.copy()
        rig.deform = deform.copy()
        return rig

    def rebuilt(self, source: str = "rig", **changes) -> "Rig":
        """A validated rig of the same layout with some of its defining arrays replaced.

        Bone rigs take ``joints, bones, point_handles, bone_parents, joint_names,
        bone_names, painted, deform``; skeleton rigs ``joints, joint_parents, joint_names,
        painted, deform``.
        """
        if self.is_skeleton:
            given = dict(
                joints=self.joints,
                joint_parents=self.joint_parents,
                joint_names=self.joint_names,
                painted=self.painted,
                deform=self.deform,
            )
            unknown = set(changes) - set(given)
            if unknown:
                raise InputError(source, f"a skeleton rig's {sorted(unknown)} follow from its joints")
            given.update(changes)
            return Rig.from_skeleton(
                given["joints"],
                given["joint_parents"],
                given["joint_names"],
                deform=given["deform"],
                painted=given["painted"],
                source=source,
            )
        given = dict(
            joints=self.joints,
            bones=self.bones,
            point_handles=self.point_handles,
            bone_parents=self.bone_parents,
            joint_names=self.joint_names,
            bone_names=self.bone_names,
            painted=self.painted,
            deform=self.deform,
        )
        given.update(changes)
        return Rig.from_arrays(
            np.array(given["joints"], dtype=np.float64),
            np.array(given["bones"], dtype=np.int64).reshape(-1, 2),
            np.array(given["point_handles"], dtype=np.int64),
            np.array(given["bone_parents"], dtype=np.int64),
            list(given["joint_names"]),
            list(given["bone_names"]),
            [PaintedRegion(p.handle, p.vertices.copy()) for p in given["painted"]],
            source=source,
            deform=given["deform"],
        )

    # ------------------------------------------------------------- building
    @classmethod
    def from_arrays(
        cls,
        joints: np.ndarray,
        bones: np.ndarray | None = None,
        point_handles: Sequence[int] | None = None,
        bone_parents: Sequence[int] | None = None,
        joint_names: Sequence[str] | None = None,
        bone_names: Sequence[str] | None = None,
        painted: Sequence[PaintedRegion] = (),
        source: str = "rig",
        deform: Sequence[bool] | None = None,
    ) -> "Rig":
        """Build and validate a bone rig from arrays.

        Parameters
        ----------
        joints : (J, 3) float
        bones : (B, 2) int or None
            Joint index pairs; None for a rig of point handles only.
        point_handles : sequence of int or None
            None makes every joint that is on no bone a point handle.
        bone_parents : (B,) int or None
            None derives parents from connectivity.
        joint_names, bone_names : sequence of str or None
            Defaults ``joint0..``, ``bone0..``. Joint names must be distinct, and so must
            the handle names (point handles' joint names and bone names).
        painted : sequence of PaintedRegion
        source : str
            Name used in error messages (a file path).
        deform : (H,) bool or None
            Deform flag per column; None: every handle deforms.
        """
        joints = _checked_joints(joints, source)
        bones = np.zeros((0, 2), np.int64) if bones is None or len(bones) == 0 else np.asarray(bones)
        bones = _integers(bones, source, "bones").reshape(-1, 2) if bones.size else np.zeros((0, 2), np.int64)
        n_j = len(joints)
        if bones.size and (bones.min() < 0 or bones.max() >= n_j):
            raise InputError(source, f"a bone refers to a joint index outside 0..{n_j - 1}")
        tiny = ZERO_LENGTH * _extent(joints)
        for b, (a, c) in enumerate(bones):
            if a == c:
                raise InputError(source, f"bone {b} starts and ends at the same joint {a}")
            if np.linalg.norm(joints[a] - joints[c]) <= tiny:
                raise InputError(source, f"bone {b} (joints {a}-{c}) has zero length")
        if point_handles is None:
            on_bone = np.zeros(n_j, bool)
            on_bone[bones.ravel()] = True
            point_handles = np.flatnonzero(~on_bone)
        point_handles = _integers(np.asarray(point_handles).reshape(-1), source, "point handles")
        if point_handles.size and (point_handles.min() < 0 or point_handles.max() >= n_j):
            raise InputError(source, f"a point handle refers to a joint index outside 0..{n_j - 1}")
        n_p, n_b = len(point_handles), len(bones)
        if n_p + n_b == 0:
            raise InputError(source, "the rig has no handles (no bones and no point handles)")
        if bone_parents is None:
            bone_parents = _parents_from_connectivity(bones)
        bone_parents = _integers(np.asarray(bone_parents).reshape(-1), source, "bone parents")
        if len(bone_parents) != n_b:
            raise InputError(source, f"{len(bone_parents)} bone parents given for {n_b} bones")
        _check_acyclic(bone_parents, source, "bone")
        joint_names = list(joint_names) if joint_names is not None else [f"joint{i}" for i in range(n_j)]
        bone_names = list(bone_names) if bone_names is not None else [f"bone{b}" for b in range(n_b)]
        if len(joint_names) != n_j or len(bone_names) != n_b:
            raise InputError(source, "the number of names does not match the number of joints or bones")
        _check_distinct(joint_names, source, "joints")
        handle_names = [joint_names[j] for j in point_handles] + bone_names
        _check_distinct(handle_names, source, "handles")
        parents = np.concatenate([np.full(n_p, -1), np.where(bone_parents < 0, -1, bone_parents + n_p)])
        pivots = np.concatenate([point_handles, bones[:, 0]]).astype(np.int64)
        rig = cls(
            joints,
            bones,
            point_handles,
            bone_parents,
            joint_names,
            bone_names,
            list(painted),
            handle_names,
            np.arange(n_p, n_p + n_b, dtype=np.int64),
            np.arange(n_p, dtype=np.int64),
            pivots,
            parents.astype(np.int64),
            _deform_flags(deform, n_p + n_b, source),
        )
        _check_painted(rig, source)
        return rig

    @classmethod
    def from_skeleton(
        cls,
        positions: np.ndarray,
        parents: Sequence[int],
        names: Sequence[str],
        deform: Sequence[bool] | None = None,
        painted: Sequence[PaintedRegion] = (),
        source: str = "skeleton",
    ) -> "Rig":
        """A skeleton rig: one weight column per joint, in the order given.

        Joint ``j``'s handle is the set of segments from ``j`` to each child at a distinct
        position (children at ``j``'s position, or at the position of an earlier sibling,
        add no segment), or a point at ``j`` when there is none; its pivot is ``j``, its
        parent handle the parent joint.

        Parameters
        ----------
        positions : (J, 3) float
            Joint positions (a skin's bind positions).
        parents : (J,) int
            Parent joint, -1 for roots.
        names : sequence of J str
            Distinct joint names (the columns' names).
        deform : (J,) bool or None
            Deform flag per joint; None: every joint deforms.
        painted : sequence of PaintedRegion
        source : str
            Name used in error messages.
        """
        joints = _checked_joints(positions, source)
        n = len(joints)
        parents = _integers(np.asarray(parents).reshape(-1), source, "joint parents")
        if len(parents) != n:
            raise InputError(source, f"{len(parents)} joint parents given for {n} joints")
        if parents.size and (parents.min() < -1 or parents.max() >= n):
            raise InputError(source, f"a joint's parent is outside -1..{n - 1}")
        _check_acyclic(parents, source, "joint")
        names = [str(s) for s in names]
        if len(names) != n:
            raise InputError(source, f"{len(names)} names given for {n} joints")
        _check_distinct(names, source, "joints")
        same = SAME_POSITION * _extent(joints)
        bones: List[List[int]] = []
        bone_names: List[str] = []
        for j in range(n):
            ends: List[int] = []
            for c in np.flatnonzero(parents == j):
                if np.linalg.norm(joints[c] - joints[j]) <= same:
                    continue
                if any(np.linalg.norm(joints[c] - joints[e]) <= same for e in ends):
                    continue
                ends.append(int(c))
            for e in ends:
                bones.append([j, e])
                bone_names.append(names[j] if len(ends) == 1 else f"{names[j]}->{names[e]}")
        bones_a = np.array(bones, dtype=np.int64).reshape(-1, 2)
        owner = bones_a[:, 0].copy()
        points = np.setdiff1d(np.arange(n), owner).astype(np.int64)
        first_of = {int(h): b for b, h in reversed(list(enumerate(owner)))}
        bone_parents = np.array([first_of.get(int(parents[h]), -1) for h in owner], dtype=np.int64)
        rig = cls(
            joints,
            bones_a,
            points,
            bone_parents,
            names,
            bone_names,
            list(painted),
            list(names),
            owner,
            points.copy(),
            np.arange(n, dtype=np.int64),
            parents.copy(),
            _deform_flags(deform, n, source),
            parents.copy(),
        )
        _check_painted(rig, source)
        return rig


def _extent(points: np.ndarray) -> float:
    """Diagonal of the bounding box of (k, 3) points (0 for none)."""
    return float(np.linalg.norm(np.ptp(points, axis=0))) if len(points) else 0.0


def _checked_joints(joints, source: str) -> np.ndarray:
    try:
        joints = np.asarray(joints, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(source, f"joint positions must be numbers ({exc})") from exc
    if joints.ndim != 2 or joints.shape[1] != 3:
        raise InputError(source, f"joint positions must be an (n, 3) array, got shape {joints.shape}")
    if not np.all(np.isfinite(joints)):
        raise InputError(source, "joint positions contain NaN or infinite values")
    return joints


def _integers(values: np.ndarray, source: str, what: str) -> np.ndarray:
    """int64 copy of ``values``, refusing non-integers (1.5) and booleans."""
    values = np.asarray(values)
    if values.dtype == bool or not (
        np.issubdtype(values.dtype, np.integer)
        or (
            np.issubdtype(values.dtype, np.floating)
            and np.all(np.isfinite(values))
            and np.all(values == np.round(values))
        )
    ):
        if values.size:
            raise InputError(source, f"{what} must be integer indices, got {values.ravel()[:6].tolist()}")
    return values.astype(np.int64)


def _check_distinct(names: Sequence[str], source: str, what: str) -> None:
    seen = set()
    for name in names:
        if name in seen:
            raise InputError(source, f"two {what} are named {name!r}; names must be distinct")
        seen.add(name)


def _deform_flags(deform, n: int, source: str) -> np.ndarray:
    if deform is None:
        return np.ones(n, bool)
    flags = np.asarray(deform)
    if flags.dtype != bool or flags.shape != (n,):
        raise InputError(source, f"expected {n} true/false deform flags, got {flags.ravel()[:6].tolist()}")
    return flags.copy()


def _check_painted(rig: Rig, source: str) -> None:
    for region in rig.painted:
        if not 0 <= region.handle < rig.n_handles:
            raise InputError(source, f"a painted region names handle {region.handle}, the rig has {rig.n_handles}")


def _parents_from_connectivity(bones: np.ndarray) -> np.ndarray:
    """Parent bone = the bone whose end joint is this bone's start joint (libigl's rule)."""
    parents = np.full(len(bones), -1, dtype=np.int64)
    for b, (start, _) in enumerate(bones):
        hits = np.flatnonzero(bones[:, 1] == start)
        if len(hits):
            parents[b] = hits[0]
    return parents


def _check_acyclic(parents: np.ndarray, source: str, what: str) -> None:
    n = len(parents)
    for b in range(n):
        seen, p = 0, b
        while p >= 0:
            if p >= n:
                raise InputError(source, f"{what} {b} has parent index {p}, outside 0..{n - 1}")
            p = parents[p]
            seen += 1
            if seen > n:
                raise InputError(source, f"the {what} hierarchy has a cycle through {what} {b}")


# ---------------------------------------------------------------------- files
def load_rig(path: Union[str, os.PathLike]) -> Rig:
    """Read a rig from a libigl TGF file, a fieldrig JSON file or a skinned glTF/FBX file.

    Parameters
    ----------
    path : str or PathLike
        ``.tgf``, ``.json``, or a skinned ``.gltf`` / ``.glb`` / ``.fbx`` (the rig of its
        first skin, see :func:`fieldrig.geometry.skinned_asset.load_skinned_assets`; a skin
        written by fieldrig gives back the rig it was written from).

    Returns
    -------
    Rig
    """
    from fieldrig.core.files import user_path

    path = user_path(path)
    if not path.is_file():
        raise InputError(str(path), "rig file not found")
    suffix = path.suffix.lower()
    if suffix in (".gltf", ".glb", ".fbx"):
        from fieldrig.geometry.skinned_asset import load_skinned_assets

        return load_skinned_assets(path)[0].rig(stored=True)
    from fieldrig.core.files import read_json, read_text

    if suffix == ".json":
        return rig_from_json(read_json(path, "rig"), str(path))
    if suffix != ".tgf":
        raise InputError(str(path), f"unknown rig format {suffix!r} (expected .tgf, .json, .gltf, .glb or .fbx)")
    return _parse_tgf(read_text(path, "rig"), str(path))


def _parse_tgf(text: str, source: str) -> Rig:
    joints, edges, section = [], [], 0
    for lineno, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s:
            continue
        if s.startswith("#"):
            section += 1
            continue
        parts = s.split()
        try:
            if section == 0:
                joints.append([float(v) for v in parts[1:4]])
                if len(parts) < 4:
                    raise ValueError
            elif section == 1:
                a, b = int(parts[0]) - 1, int(parts[1]) - 1
                # A third column, when present, is libigl's "is bone" flag.
                is_bone = int(parts[2]) if len(parts) > 2 else 1
                if is_bone:
                    edges.append((a, b))
        except ValueError:
            raise InputError(
                source, f"line {lineno} is not a valid TGF {'joint' if section == 0 else 'edge'} line: {s[:60]!r}"
            ) from None
    if not joints:
        raise InputError(source, "no joints found in TGF file")
    return Rig.from_arrays(np.array(joints), np.array(edges, dtype=np.int64).reshape(-1, 2), source=source)


def _index(ref, names: List[str], source: str, what: str) -> int:
    """A name or a 0-based integer index into ``names`` (1.5, true, "x" unknown are refused)."""
    if isinstance(ref, str):
        if ref not in names:
            raise InputError(source, f"unknown {what} {ref!r}")
        return names.index(ref)
    if isinstance(ref, bool) or not isinstance(ref, (int, float)) or ref != int(ref):
        raise InputError(source, f"a {what} must be a name or an integer index, got {ref!r}")
    return int(ref)


def _flag(entry, source: str, where: str) -> bool:
    value = entry.get("deform", True) if isinstance(entry, dict) else True
    if not isinstance(value, bool):
        raise InputError(source, f"{where}: 'deform' must be true or false, got {value!r}")
    return value


def rig_from_json(data, source: str = "rig") -> Rig:
    """A rig from the parsed JSON form (the inverse of :func:`rig_to_json`)."""
    if not isinstance(data, dict) or not isinstance(data.get("joints"), list):
        raise InputError(source, "a rig JSON needs a top-level object with a 'joints' list")
    try:
        jnames = [str(j.get("name", f"joint{i}")) for i, j in enumerate(data["joints"])]
        joints = np.array([j["position"] for j in data["joints"]], dtype=np.float64).reshape(-1, 3)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(source, f"every joint needs a 3-number 'position' ({exc})") from exc
    _check_distinct(jnames, source, "joints")
    layout = data.get("layout", "bones")
    if layout == "skeleton":
        parents = [
            -1 if j.get("parent") is None else _index(j["parent"], jnames, source, "parent joint")
            for j in data["joints"]
        ]
        deform = [_flag(j, source, f"joint {jnames[i]!r}") for i, j in enumerate(data["joints"])]
        rig = Rig.from_skeleton(joints, parents, jnames, deform=np.array(deform, bool), source=source)
    elif layout == "bones":
        rig = _bone_rig_from_json(data, joints, jnames, source)
    else:
        raise InputError(source, f"unknown rig layout {layout!r} (expected 'bones' or 'skeleton')")
    painted = []
    for region in data.get("painted", []):
        if not isinstance(region, dict):
            raise InputError(source, f"a painted region must be an object, got {region!r}")
        h = _index(region.get("handle"), rig.handle_names, source, "painted handle")
        vertices = region.get("vertices", [])
        if not isinstance(vertices, list) or any(isinstance(v, bool) or not isinstance(v, int) for v in vertices):
            raise InputError(source, f"painted region of {rig.handle_names[h]!r}: vertices must be integer indices")
        painted.append(PaintedRegion(h, np.asarray(vertices, dtype=np.int64)))
    return rig.rebuilt(source, painted=painted) if painted else rig


def _bone_rig_from_json(data: dict, joints: np.ndarray, jnames: List[str], source: str) -> Rig:
    bones_in = data.get("bones", [])
    try:
        bones = np.array(
            [[_index(r, jnames, source, "joint") for r in b["joints"]] for b in bones_in], dtype=np.int64
        ).reshape(-1, 2)
    except InputError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(source, f"every bone needs 'joints': [start, end] ({exc})") from exc
    bnames = [str(b.get("name", f"bone{i}")) for i, b in enumerate(bones_in)]
    parents = None
    if any("parent" in b for b in bones_in):
        parents = [
            -1 if b.get("parent") is None else _index(b["parent"], bnames, source, "parent bone") for b in bones_in
        ]
    points, point_flags = None, None
    if "points" in data:
        points = [_index(p["joint"] if isinstance(p, dict) else p, jnames, source, "joint") for p in data["points"]]
        point_flags = [_flag(p, source, f"point {jnames[j]!r}") for p, j in zip(data["points"], points)]
    bone_flags = [_flag(b, source, f"bone {bnames[i]!r}") for i, b in enumerate(bones_in)]
    rig = Rig.from_arrays(joints, bones, points, parents, jnames, bnames, source=source)
    flags = np.concatenate([point_flags or np.ones(len(rig.point_handles), bool), bone_flags]).astype(bool)
    return rig.with_deform(flags) if not flags.all() else rig


def rig_to_json(rig: Rig) -> dict:
    """The JSON-serialisable form of a rig (the format :func:`load_rig` reads)."""
    names = rig.handle_names
    painted = [{"handle": names[p.handle], "vertices": p.vertices.tolist()} for p in rig.painted]
    if rig.is_skeleton:
        joints = []
        for j, (n, p) in enumerate(zip(rig.joint_names, rig.joints)):
            entry = {"name": n, "position": [float(x) for x in p]}
            entry["parent"] = None if rig.joint_parents[j] < 0 else rig.joint_names[rig.joint_parents[j]]
            if not rig.deform[j]:
                entry["deform"] = False
            joints.append(entry)
        return {"layout": "skeleton", "joints": joints, "painted": painted}
    bones = []
    for b in range(len(rig.bones)):
        entry = {
            "name": rig.bone_names[b],
            "joints": [rig.joint_names[i] for i in rig.bones[b]],
            "parent": None if rig.bone_parents[b] < 0 else rig.bone_names[rig.bone_parents[b]],
        }
        if not rig.deform[rig.bone_handles[b]]:
            entry["deform"] = False
        bones.append(entry)
    points = []
    for i, j in enumerate(rig.point_handles):
        entry = {"name": rig.joint_names[j], "joint": rig.joint_names[j]}
        if not rig.deform[rig.point_columns[i]]:
            entry["deform"] = False
        points.append(entry)
    return {
        "joints": [{"name": n, "position": [float(x) for x in p]} for n, p in zip(rig.joint_names, rig.joints)],
        "bones": bones,
        "points": points,
        "painted": painted,
    }


def save_rig(rig: Rig, path: Union[str, os.PathLike]) -> None:
    """Write a rig as JSON (``.json``) or TGF (``.tgf``), atomically.

    TGF holds joints and bones only: names, parents that differ from connectivity, deform
    flags, painted regions and a skeleton rig's one-column-per-joint layout are lost (TGF
    reads back as a bone rig); use JSON to keep them.
    """
    from fieldrig.core.atomic import atomic_write_text

    path = Path(path)
    if path.suffix.lower() == ".tgf":
        lines = [f"{i + 1} {p[0]:.9g} {p[1]:.9g} {p[2]:.9g}" for i, p in enumerate(rig.joints)]
        lines.append("#")
        lines += [f"{a + 1} {b + 1}" for a, b in rig.bones]
        lines.append("#")
        atomic_write_text(path, "\n".join(lines) + "\n")
    else:
        atomic_write_text(path, json.dumps(rig_to_json(rig), indent=2) + "\n")
