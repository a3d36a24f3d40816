"""Rigs: point handles and bones with a parent hierarchy, read from TGF or JSON.

Handle (weight column) order follows libigl's ``boundary_conditions``: first the point
handles (joints that belong to no bone), then the bones, each group in file order. For
``arm.tgf`` (4 bones, every joint on a bone) that gives 4 columns, one per bone.

JSON format (``.json``)::

    {
      "joints": [{"name": "shoulder", "position": [x, y, z]}, ...],
      "bones":  [{"name": "upper_arm", "joints": ["shoulder", "elbow"], "parent": null}, ...],
      "points": [{"name": "tip", "joint": "tip"}, ...],          # optional
      "painted": [{"handle": "upper_arm", "vertices": [0, 5, 9]}] # optional
    }

Joints may be referred to by name or by 0-based index; ``parent`` names a bone (or is
null); when ``parent`` is omitted it is derived from connectivity (the bone whose end
joint is this bone's start joint). ``points`` may be omitted: joints on no bone are then
point handles, as in TGF.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Sequence, Union

import numpy as np

from fieldrig.core.errors import InputError


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
    """A skeleton of joints, bones and point handles.

    Attributes
    ----------
    joints : (J, 3) float
        Joint positions.
    bones : (B, 2) int
        Start and end joint of each bone (the bone rotates about its start joint).
    point_handles : (P,) int
        Joints that act as point handles.
    bone_parents : (B,) int
        Parent bone of each bone, -1 for roots.
    joint_names : list of str
        One name per joint.
    bone_names : list of str
        One name per bone.
    painted : list of PaintedRegion
        Optional vertex sets with fixed weights.
    """

    joints: np.ndarray
    bones: np.ndarray
    point_handles: np.ndarray
    bone_parents: np.ndarray
    joint_names: List[str]
    bone_names: List[str]
    painted: List[PaintedRegion] = field(default_factory=list)

    # ------------------------------------------------------------------ views
    @property
    def n_handles(self) -> int:
        """Number of weight columns (point handles + bones)."""
        return len(self.point_handles) + len(self.bones)

    @property
    def handle_names(self) -> List[str]:
        """One name per weight column, in column order."""
        return [self.joint_names[j] for j in self.point_handles] + list(self.bone_names)

    def handle_segments(self) -> np.ndarray:
        """Each handle as a segment; a point handle is a zero-length segment.

        Returns
        -------
        (H, 2, 3) float
            Start and end point of every handle, in column order.
        """
        pts = self.joints[self.point_handles]
        seg_p = np.stack([pts, pts], axis=1)
        seg_b = self.joints[self.bones] if len(self.bones) else np.zeros((0, 2, 3))
        return np.concatenate([seg_p, seg_b], axis=0)

    def handle_parents(self) -> np.ndarray:
        """Parent handle column of every handle (-1 for roots), in column order.

        Returns
        -------
        (H,) int
            Point handles are roots; a bone's parent is its parent bone's column.
        """
        n_p = len(self.point_handles)
        parents = np.full(self.n_handles, -1, dtype=np.int64)
        for b, pb in enumerate(self.bone_parents):
            parents[n_p + b] = -1 if pb < 0 else n_p + pb
        return parents

    def handle_pivots(self) -> np.ndarray:
        """The point each handle rotates about: the joint of a point handle, a bone's start.

        Returns
        -------
        (H, 3) float
        """
        return self.handle_segments()[:, 0, :]

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
    ) -> "Rig":
        """Build and validate a rig from arrays.

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
            Defaults ``joint0..``, ``bone0..``.
        painted : sequence of PaintedRegion
        source : str
            Name used in error messages (a file path).
        """
        joints = np.asarray(joints, dtype=np.float64)
        if joints.ndim != 2 or joints.shape[1] != 3:
            raise InputError(source, f"joint positions must be an (n, 3) array, got shape {joints.shape}")
        if not np.all(np.isfinite(joints)):
            raise InputError(source, "joint positions contain NaN or infinite values")
        bones = np.zeros((0, 2), np.int64) if bones is None or len(bones) == 0 else np.asarray(bones, dtype=np.int64)
        if bones.ndim != 2 or bones.shape[1] != 2:
            raise InputError(source, f"bones must be an (n, 2) array of joint indices, got shape {bones.shape}")
        n_j = len(joints)
        if bones.size and (bones.min() < 0 or bones.max() >= n_j):
            raise InputError(source, f"a bone refers to a joint index outside 0..{n_j - 1}")
        for b, (a, c) in enumerate(bones):
            if a == c:
                raise InputError(source, f"bone {b} starts and ends at the same joint {a}")
            if np.linalg.norm(joints[a] - joints[c]) <= 1e-9 * max(1.0, np.abs(joints).max()):
                raise InputError(source, f"bone {b} (joints {a}-{c}) has zero length")
        if point_handles is None:
            on_bone = np.zeros(n_j, bool)
            on_bone[bones.ravel()] = True
            point_handles = np.flatnonzero(~on_bone)
        point_handles = np.asarray(point_handles, dtype=np.int64).reshape(-1)
        if point_handles.size and (point_handles.min() < 0 or point_handles.max() >= n_j):
            raise InputError(source, f"a point handle refers to a joint index outside 0..{n_j - 1}")
        if len(point_handles) + len(bones) == 0:
            raise InputError(source, "the rig has no handles (no bones and no point handles)")
        if bone_parents is None:
            bone_parents = _parents_from_connectivity(bones)
        bone_parents = np.asarray(bone_parents, dtype=np.int64).reshape(-1)
        if len(bone_parents) != len(bones):
            raise InputError(source, f"{len(bone_parents)} bone parents given for {len(bones)} bones")
        _check_acyclic(bone_parents, source)
        joint_names = list(joint_names) if joint_names is not None else [f"joint{i}" for i in range(n_j)]
        bone_names = list(bone_names) if bone_names is not None else [f"bone{b}" for b in range(len(bones))]
        if len(joint_names) != n_j or len(bone_names) != len(bones):
            raise InputError(source, "the number of names does not match the number of joints or bones")
        rig = cls(joints, bones, point_handles, bone_parents, joint_names, bone_names, list(painted))
        for region in rig.painted:
            if not 0 <= region.handle < rig.n_handles:
                raise InputError(source, f"a painted region names handle {region.handle}, the rig has {rig.n_handles}")
        return rig


def _parents_from_connectivity(bones: np.ndarray) -> np.ndarray:
    """Parent bone = the bone whose end joint is this bone's start joint (libigl's rule)."""
    parents = np.full(len(bones), -1, dtype=np.int64)
    for b, (start, _) in enumerate(bones):
        hits = np.flatnonzero(bones[:, 1] == start)
        if len(hits):
            parents[b] = hits[0]
    return parents


def _check_acyclic(parents: np.ndarray, source: str) -> None:
    n = len(parents)
    for b in range(n):
        seen, p = 0, b
        while p >= 0:
            if p >= n:
                raise InputError(source, f"bone {b} has parent index {p}, outside 0..{n - 1}")
            p = parents[p]
            seen += 1
            if seen > n:
                raise InputError(source, f"the bone hierarchy has a cycle through bone {b}")


# ---------------------------------------------------------------------- files
def load_rig(path: Union[str, os.PathLike]) -> Rig:
    """Read a rig from a libigl TGF file or a fieldrig JSON file.

    Parameters
    ----------
    path : str or PathLike
        ``.tgf``, ``.json``, or a rigged ``.gltf`` / ``.glb`` (joints from its skin, read
        by :func:`fieldrig.geometry.gltf.load_gltf_rig`).

    Returns
    -------
    Rig
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "rig file not found")
    suffix = path.suffix.lower()
    if suffix in (".gltf", ".glb"):
        from fieldrig.geometry.gltf import load_gltf_rig

        return load_gltf_rig(path)
    from fieldrig.core.files import read_json, read_text

    if suffix == ".json":
        return rig_from_json(read_json(path, "rig"), str(path))
    if suffix != ".tgf":
        raise InputError(str(path), f"unknown rig format {suffix!r} (expected .tgf, .json, .gltf or .glb)")
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


def rig_from_json(data, source: str = "rig") -> Rig:
    """A rig from the parsed JSON form (the inverse of :func:`rig_to_json`)."""
    if not isinstance(data, dict) or "joints" not in data:
        raise InputError(source, "a rig JSON needs a top-level object with a 'joints' list")
    try:
        jnames = [str(j.get("name", f"joint{i}")) for i, j in enumerate(data["joints"])]
        joints = np.array([j["position"] for j in data["joints"]], dtype=np.float64).reshape(-1, 3)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(source, f"every joint needs a 3-number 'position' ({exc})") from exc

    def joint_index(ref) -> int:
        if isinstance(ref, str):
            if ref not in jnames:
                raise InputError(source, f"unknown joint {ref!r}")
            return jnames.index(ref)
        return int(ref)

    bones_in = data.get("bones", [])
    try:
        bones = np.array([[joint_index(r) for r in b["joints"]] for b in bones_in], dtype=np.int64).reshape(-1, 2)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(source, f"every bone needs 'joints': [start, end] ({exc})") from exc
    bnames = [str(b.get("name", f"bone{i}")) for i, b in enumerate(bones_in)]
    parents = None
    if any("parent" in b for b in bones_in):
        parents = []
        for b in bones_in:
            p = b.get("parent")
            if p is None:
                parents.append(-1)
            elif isinstance(p, str):
                if p not in bnames:
                    raise InputError(source, f"unknown parent bone {p!r}")
                parents.append(bnames.index(p))
            else:
                parents.append(int(p))
    points = None
    if "points" in data:
        points = [joint_index(p["joint"] if isinstance(p, dict) else p) for p in data["points"]]
    rig = Rig.from_arrays(joints, bones, points, parents, jnames, bnames, source=source)
    names = rig.handle_names
    for region in data.get("painted", []):
        h = region.get("handle")
        h = names.index(h) if isinstance(h, str) and h in names else h
        if not isinstance(h, int):
            raise InputError(source, f"painted region names unknown handle {region.get('handle')!r}")
        rig.painted.append(PaintedRegion(h, np.asarray(region.get("vertices", []), dtype=np.int64)))
    return Rig.from_arrays(
        rig.joints,
        rig.bones,
        rig.point_handles,
        rig.bone_parents,
        rig.joint_names,
        rig.bone_names,
        rig.painted,
        source=source,
    )


def rig_to_json(rig: Rig) -> dict:
    """The JSON-serialisable form of a rig (the format :func:`load_rig` reads)."""
    names = rig.handle_names
    return {
        "joints": [{"name": n, "position": [float(x) for x in p]} for n, p in zip(rig.joint_names, rig.joints)],
        "bones": [
            {
                "name": rig.bone_names[b],
                "joints": [rig.joint_names[i] for i in rig.bones[b]],
                "parent": None if rig.bone_parents[b] < 0 else rig.bone_names[rig.bone_parents[b]],
            }
            for b in range(len(rig.bones))
        ],
        "points": [{"name": rig.joint_names[j], "joint": rig.joint_names[j]} for j in rig.point_handles],
        "painted": [{"handle": names[p.handle], "vertices": p.vertices.tolist()} for p in rig.painted],
    }


def save_rig(rig: Rig, path: Union[str, os.PathLike]) -> None:
    """Write a rig as JSON (``.json``) or TGF (``.tgf``), atomically.

    TGF cannot hold names, parents that differ from connectivity or painted regions;
    use JSON to keep them.
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
