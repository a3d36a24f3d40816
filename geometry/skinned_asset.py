"""Skinned assets: meshes bound to one skeleton, as the glTF 2.0 and FBX specs define them.

A :class:`SkinnedAsset` is one skin of a file: every mesh part bound to it (body, eyes,
teeth, clothes...), the skin's joints and its animation clips. Everything is expressed in
the skin's *bind space*, the space the stored vertex positions live in:

* a part's vertices ``V`` are its bind-pose positions (glTF: the stored POSITION
  values; the transform of the node that references a skinned mesh is ignored, as the
  spec requires);
* joint ``j`` is bound at ``bind_world[j] = inverse(inverse_bind[j])`` (glTF's
  ``inverseBindMatrices``), so its bind position is that matrix's origin;
* skinning a vertex at time ``t`` is ``v' = Σ_j w_j · G_j(t) · inverse_bind[j] · v`` with
  ``G_j(t)`` the joint's world matrix (:meth:`Clip.joint_world`); in the bind pose
  ``G_j = bind_world[j]`` and every vertex stays where it is stored.

Readers for each format fill these classes (:func:`load_skinned_assets` picks one by the
file's suffix); writers use them to put weights back. The rig of an asset
(:meth:`SkinnedAsset.rig`) has one weight column per skin joint, in skin order.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, List, Optional, Union

import numpy as np

from fieldrig.core.errors import InputError


@dataclass
class Skeleton:
    """The joints of one skin, in skin order (one weight column per joint).

    Attributes
    ----------
    names : list of str
        One name per joint.
    parents : (J,) int
        Parent joint within the skin, -1 for a root (the nearest ancestor node that is a
        joint of this skin; nodes that are not joints are skipped).
    inverse_bind : (J, 4, 4) float
        Bind space → joint space, per joint (glTF ``inverseBindMatrices``).
    deform : (J,) bool or None
        Joints that deform the mesh; None: all of them (a file may mark helper joints,
        e.g. the bone-end nodes fieldrig writes, as not deforming).
    """

    names: List[str]
    parents: np.ndarray
    inverse_bind: np.ndarray
    deform: Optional[np.ndarray] = None

    @property
    def n_joints(self) -> int:
        """Number of joints (weight columns)."""
        return len(self.names)

    @property
    def bind_world(self) -> np.ndarray:
        """(J, 4, 4) float: each joint's transform in bind space (inverse of ``inverse_bind``)."""
        return np.linalg.inv(self.inverse_bind)

    @property
    def bind_positions(self) -> np.ndarray:
        """(J, 3) float: each joint's bind position (origin of its bind transform)."""
        return self.bind_world[:, :3, 3]

    @property
    def deform_flags(self) -> np.ndarray:
        """(J,) bool: :attr:`deform`, all True when None."""
        return np.ones(self.n_joints, bool) if self.deform is None else np.asarray(self.deform, dtype=bool)


class Clip:
    """An animation clip of a skin: world transforms of its joints over time.

    Subclasses (one per file format) implement :meth:`joint_world`.

    Attributes
    ----------
    name : str
    duration : float
        Seconds; times run from 0 to ``duration``.
    frame_rate : float or None
        The file's frames per second when it has one (FBX time modes); None when the clip
        is defined by its own key times (glTF).
    """

    def __init__(self, name: str, duration: float, frame_rate: Optional[float] = None):
        self.name = name
        self.duration = float(duration)
        self.frame_rate = None if frame_rate is None else float(frame_rate)

    def joint_world(self, t: float) -> np.ndarray:
        """World transforms of the skin's joints at time ``t`` (seconds, clamped to the clip).

        Returns
        -------
        (J, 4, 4) float
        """
        raise NotImplementedError

    def skinning_transforms(self, skeleton: Skeleton, t: float) -> np.ndarray:
        """Per-joint skinning matrices ``G_j(t) · inverse_bind[j]`` at time ``t``.

        Returns
        -------
        (J, 4, 4) float
            Feed to :func:`fieldrig.geometry.deform.linear_blend_skinning` with weights
            whose columns are the skin's joints.
        """
        return self.joint_world(t) @ skeleton.inverse_bind


@dataclass
class SkinnedPart:
    """One mesh primitive bound to the skin.

    Attributes
    ----------
    name : str
        The mesh's (or node's) name, for messages.
    V : (n, 3) float
        Bind-space vertex positions.
    F : (m, 3) int or None
        Triangles into ``V``; None for points.
    N : (n, 3) float or None
        Bind-space unit normals when the file has them.
    weights : (n, J) float or None
        The file's own skin weights, one column per skeleton joint (rows as stored; not
        renormalised), None when the file gives none.
    source : object
        Where the part came from in its file (format-specific; writers use it).
    cleanup : MeshCleanup or None
        The faces the reader dropped (collapsed, zero-area, duplicate), when it counted them.
    """

    name: str
    V: np.ndarray
    F: Optional[np.ndarray]
    N: Optional[np.ndarray]
    weights: Optional[np.ndarray]
    source: Any = None
    cleanup: Any = None


@dataclass
class SkinnedAsset:
    """One skin of a file: its parts, its skeleton and its clips.

    Attributes
    ----------
    path : str
        The file read.
    skeleton : Skeleton
    parts : list of SkinnedPart
        In file order; their vertices are concatenated in that order by :attr:`V`.
    clips : list of Clip
    warnings : list of str
        Things found while reading that did not stop it.
    source : object
        Format-specific (e.g. the glTF skin index), for writers.
    stored_rig : Rig or None
        The rig a file written by fieldrig was made from (its handles are the first skin
        joints), when the file holds one that still matches its joints.
    """

    path: str
    skeleton: Skeleton
    parts: List[SkinnedPart]
    clips: List[Clip] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)
    source: Any = None
    stored_rig: Any = None

    @property
    def n_vertices(self) -> int:
        """Vertices of every part together."""
        return int(sum(len(p.V) for p in self.parts))

    @property
    def part_offsets(self) -> np.ndarray:
        """(P + 1,) int: part ``p``'s vertices are rows ``offsets[p]:offsets[p + 1]`` of :attr:`V`."""
        return np.concatenate([[0], np.cumsum([len(p.V) for p in self.parts])]).astype(np.int64)

    @property
    def V(self) -> np.ndarray:
        """(n, 3) float: every part's bind-space vertices, parts in order."""
        return np.concatenate([p.V for p in self.parts]).astype(np.float64)

    @property
    def F(self) -> Optional[np.ndarray]:
        """(m, 3) int or None: every part's triangles, re-indexed into :attr:`V`; None when no
        part has triangles."""
        offsets = self.part_offsets
        faces = [p.F + o for p, o in zip(self.parts, offsets) if p.F is not None and len(p.F)]
        return np.concatenate(faces).astype(np.int64) if faces else None

    @property
    def N(self) -> Optional[np.ndarray]:
        """(n, 3) float or None: normals when every part has them."""
        if any(p.N is None for p in self.parts):
            return None
        return np.concatenate([p.N for p in self.parts]).astype(np.float64)

    @property
    def artist_weights(self) -> Optional[np.ndarray]:
        """(n, J) float or None: the file's own weights of every part, when every part has them."""
        if any(p.weights is None for p in self.parts):
            return None
        return np.concatenate([p.weights for p in self.parts]).astype(np.float64)

    def rig(self, stored: bool = False):
        """The skin's joints as a skeleton rig: one weight column per joint, in skin order.

        Joint ``j``'s handle is the set of segments from its bind position to its children's
        (or a point), see :meth:`fieldrig.geometry.rig.Rig.from_skeleton`; joints whose
        :attr:`Skeleton.deform` flag is off do not deform.

        Parameters
        ----------
        stored : bool
            Return :attr:`stored_rig` instead when the file holds one (the TGF/JSON rig a
            fieldrig glTF was written from, with its own columns).

        Returns
        -------
        Rig
        """
        from fieldrig.geometry.rig import Rig

        if stored and self.stored_rig is not None:
            return self.stored_rig
        sk = self.skeleton
        return Rig.from_skeleton(sk.bind_positions, sk.parents, sk.names, deform=sk.deform_flags, source=self.path)

    def clip(self, name: Optional[str] = None) -> Clip:
        """The clip called ``name`` (the first clip when None).

        Raises
        ------
        InputError
            The asset has no clips, or none of that name.
        """
        if not self.clips:
            raise InputError(self.path, "has no animation clips")
        if name is None:
            return self.clips[0]
        for c in self.clips:
            if c.name == name:
                return c
        names = ", ".join(repr(c.name) for c in self.clips)
        raise InputError(self.path, f"has no animation {name!r} (it has {names})")


#: File suffixes :func:`load_skinned_assets` reads.
SKINNED_SUFFIXES = (".glb", ".gltf", ".fbx")


def load_skinned_assets(path: Union[str, os.PathLike]) -> List[SkinnedAsset]:
    """Every skin of a file, one :class:`SkinnedAsset` each, in the file's order.

    Parameters
    ----------
    path : str or PathLike
        ``.glb`` / ``.gltf`` (:func:`fieldrig.geometry.gltf.read_gltf_assets`) or ``.fbx``
        (``fieldrig.geometry.fbx.read_fbx_assets``).

    Returns
    -------
    list of SkinnedAsset
        At least one.

    Raises
    ------
    InputError
        The file is missing, unreadable, of another format, or has no skinned mesh.
    """
    from fieldrig.core.files import user_path

    path = user_path(path)
    suffix = path.suffix.lower()
    if suffix in (".glb", ".gltf"):
        from fieldrig.geometry.gltf import read_gltf_assets

        return read_gltf_assets(path)
    if suffix == ".fbx":
        try:
            from fieldrig.geometry.fbx import read_fbx_assets
        except ModuleNotFoundError as exc:
            if exc.name != "fieldrig.geometry.fbx":
                raise
            raise InputError(
                str(path), "this fieldrig has no FBX reader (fieldrig.geometry.fbx); convert to glTF"
            ) from exc
        return read_fbx_assets(path)
    raise InputError(
        str(path), f"not a skinned asset format {suffix!r} (expected one of {', '.join(SKINNED_SUFFIXES)})"
    )
