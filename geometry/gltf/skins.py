"""Reading glTF 2.0 files the way the spec defines skinning: one
:class:`~fieldrig.geometry.skinned_asset.SkinnedAsset` per skin, and the file's geometry for
:func:`fieldrig.load_mesh`.

* Skinned meshes are the nodes of the default scene that have both ``mesh`` and ``skin``
  (nodes outside the scene are not drawn and are not read). Their stored ``POSITION`` and
  ``NORMAL`` values are the bind pose; the transforms of those nodes and of their parents
  are ignored, as the spec requires — only the joints' transforms act.
* Every primitive of every node bound to one skin is a part of that skin's asset, in scene
  order (body, eyes, teeth, clothes...): one field over all of them keeps touching parts
  consistent. A mesh instanced twice by one skin is one part; a mesh shared by two skins
  belongs to the first (the file can hold only one set of weights for it).
* Joint ``j`` is bound at ``inverse(inverseBindMatrices[j])``. A skin without inverse bind
  matrices means identity matrices by the spec, which in practice files use to say "the
  joints' current transforms are the bind pose": the joints' world transforms in the scene
  are taken as their bind transforms, with a warning.
* Joint parents are the nearest ancestor nodes that are joints of the same skin. Joint
  names are the nodes' names, made unique (``name_2``...) where a file repeats one.
* Faces: triangle lists, strips and fans; collapsed, zero-area and duplicate faces are
  dropped with a warning (vertices are kept). Point and line primitives are parts without
  faces (their vertices are weighted).
* Each animation is a :class:`~fieldrig.geometry.gltf.animation.GltfClip` of each skin.
* A skin written by fieldrig (``extras.fieldrig_rig``) gives back its rig as
  :attr:`~fieldrig.geometry.skinned_asset.SkinnedAsset.stored_rig`, and its bone-end joints
  do not deform.

Meshes without a skin are not part of any asset; :func:`gltf_geometry` (what ``load_mesh``
reads) places them by their nodes' world transforms, as static props.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from fieldrig.core.errors import InputError
from fieldrig.geometry.gltf.animation import GltfClip
from fieldrig.geometry.gltf.document import GltfDocument, PathLike, primitive_triangles
from fieldrig.geometry.gltf.weights import dense_weights
from fieldrig.geometry.mesh_io import clean_mesh
from fieldrig.geometry.skinned_asset import Skeleton, SkinnedAsset, SkinnedPart


@dataclass
class GltfSkinSource:
    """Where an asset came from in its glTF file (what the re-skin writer needs).

    Attributes
    ----------
    document : GltfDocument
    skin : int
        Index of the skin in the document.
    joint_nodes : list of int
        The skin's joint nodes, in skin order.
    """

    document: GltfDocument
    skin: int
    joint_nodes: List[int]


@dataclass
class GltfPartSource:
    """Where a part came from: the node that referenced it, its mesh and its primitive."""

    node: int
    mesh: int
    primitive: int


def read_gltf_assets(path: PathLike) -> List[SkinnedAsset]:
    """Every skin of a glTF file (``.glb`` or ``.gltf``), as the module docstring describes.

    Returns
    -------
    list of SkinnedAsset
        One per skin used by a mesh node of the default scene, in order of first use.

    Raises
    ------
    InputError
        An unreadable file, no skinned mesh, malformed skins or accessors.
    """
    doc = GltfDocument(path)
    source = str(doc.path)
    _refuse_compressed(doc)
    nodes = doc.nodes
    skinned = [i for i in doc.scene_nodes() if "mesh" in nodes[i] and "skin" in nodes[i]]
    if not skinned:
        raise InputError(source, "the file has no skin (no mesh node of its scene is bound to a skeleton)")
    skins = doc.json.get("skins", [])
    meshes = doc.json.get("meshes", [])
    owner: Dict[Tuple[int, int], int] = {}
    assets = []
    for skin_index in dict.fromkeys(nodes[i]["skin"] for i in skinned):
        if not isinstance(skin_index, int) or not 0 <= skin_index < len(skins):
            raise InputError(source, f"a node uses skin {skin_index!r}, which does not exist")
        warnings: List[str] = []
        skeleton, joint_nodes = _skeleton(doc, skin_index, warnings)
        parts = []
        for node in (i for i in skinned if nodes[i]["skin"] == skin_index):
            m = nodes[node]["mesh"]
            if not isinstance(m, int) or not 0 <= m < len(meshes):
                raise InputError(source, f"node {node} uses mesh {m!r}, which does not exist")
            for p, prim in enumerate(meshes[m].get("primitives", [])):
                if (m, p) in owner:  # instanced twice: one part (the file holds one set of weights)
                    if owner[(m, p)] != skin_index:
                        warnings.append(
                            f"mesh {_mesh_name(doc, m)!r} is bound to skin {owner[(m, p)]} and to skin "
                            f"{skin_index}; it is weighted for the first only"
                        )
                    continue
                owner[(m, p)] = skin_index
                part = _part(doc, node, m, p, prim, skeleton.n_joints, warnings)
                if part is not None:
                    parts.append(part)
        if not parts:
            warnings.append(f"skin {skin_index} has no readable primitive and was skipped")
            continue
        stored = _stored_rig(doc.json["skins"][skin_index], skeleton, source)
        if stored is not None:
            flags = np.zeros(skeleton.n_joints, bool)
            flags[: stored.n_handles] = stored.deform
            skeleton.deform = flags
        clips = _clips(doc, joint_nodes)
        assets.append(
            SkinnedAsset(source, skeleton, parts, clips, warnings, GltfSkinSource(doc, skin_index, joint_nodes), stored)
        )
    if not assets:
        raise InputError(source, "none of its skinned meshes has a readable primitive")
    return assets


def load_gltf_rig(path: PathLike):
    """The rig of a glTF file's first skin: the rig fieldrig stored there when it wrote the
    file, else the skin's joints as a skeleton rig (one column per joint).

    Returns
    -------
    Rig
    """
    return read_gltf_assets(path)[0].rig(stored=True)


def _refuse_compressed(doc: GltfDocument) -> None:
    if "KHR_draco_mesh_compression" in doc.json.get("extensionsRequired", []):
        raise InputError(str(doc.path), "Draco-compressed glTF is not supported; export it without mesh compression")


def _mesh_name(doc: GltfDocument, m: int) -> str:
    return str(doc.json["meshes"][m].get("name", f"mesh{m}"))


def unique_names(names: List[str], default: str) -> List[str]:
    """Names made distinct: an empty one becomes ``default<k>``, a repeated one ``name_2``, ``name_3``..."""
    out: List[str] = []
    taken = set()
    for k, name in enumerate(names):
        base = str(name) if name else f"{default}{k}"
        candidate, n = base, 1
        while candidate in taken:
            n += 1
            candidate = f"{base}_{n}"
        taken.add(candidate)
        out.append(candidate)
    return out


def _skeleton(doc: GltfDocument, skin_index: int, warnings: List[str]) -> Tuple[Skeleton, List[int]]:
    source = str(doc.path)
    nodes = doc.nodes
    skin = doc.json["skins"][skin_index]
    joints = skin.get("joints", [])
    if not joints or any(not isinstance(j, int) or not 0 <= j < len(nodes) for j in joints):
        raise InputError(source, f"skin {skin_index} lists no joints, or joints that are not nodes")
    if len(set(joints)) != len(joints):
        raise InputError(source, f"skin {skin_index} lists a joint node twice")
    raw = [nodes[j].get("name", "") for j in joints]
    names = unique_names(raw, "joint")
    if names != raw:
        renamed = sum(a != b for a, b in zip(raw, names))
        warnings.append(f"{renamed} joint(s) have an empty or repeated name; they are called e.g. {names[0]!r}")
    index = {n: k for k, n in enumerate(joints)}
    parent_of = doc.parent_of()
    parents = np.full(len(joints), -1, dtype=np.int64)
    for k, n in enumerate(joints):
        p = parent_of.get(n)
        while p is not None and p not in index:
            p = parent_of.get(p)
        parents[k] = -1 if p is None else index[p]
    if "inverseBindMatrices" in skin:
        ibm = doc.accessor(skin["inverseBindMatrices"]).astype(np.float64)
        if ibm.shape != (len(joints), 16):
            raise InputError(source, f"skin {skin_index}: {len(ibm)} inverse bind matrices for {len(joints)} joints")
        ibm = ibm.reshape(-1, 4, 4).transpose(0, 2, 1)
    else:
        world = doc.world_matrices()
        ibm = np.linalg.inv(np.stack([world[j] for j in joints]))
        warnings.append(
            f"skin {skin_index} has no inverse bind matrices: the joints' transforms in the scene are taken as "
            "their bind pose"
        )
    if not np.all(np.isfinite(ibm)) or np.any(np.abs(np.linalg.det(ibm[:, :3, :3])) <= 1e-300):
        raise InputError(source, f"skin {skin_index}: an inverse bind matrix is singular or not finite")
    return Skeleton(names, parents, ibm), [int(j) for j in joints]


def _primitive(doc: GltfDocument, prim: dict, where: str):
    """A primitive's positions, normals, faces (None for points and lines) and mode; None without POSITION."""
    attrs = prim.get("attributes", {})
    if "POSITION" not in attrs:
        return None
    P = doc.accessor(attrs["POSITION"])[:, :3].astype(np.float64)
    N = doc.accessor(attrs["NORMAL"])[:, :3].astype(np.float64) if "NORMAL" in attrs else None
    mode = prim.get("mode", 4)
    idx = doc.accessor(prim["indices"]).reshape(-1).astype(np.int64) if "indices" in prim else np.arange(len(P))
    if idx.size and (idx.min() < 0 or idx.max() >= len(P)):
        raise InputError(where, f"indices outside the primitive's 0..{len(P) - 1} vertices")
    F = primitive_triangles(idx, mode) if mode in (4, 5, 6) else None
    return P, N, F, mode, idx


def _part(doc: GltfDocument, node: int, m: int, p: int, prim: dict, n_joints: int, warnings: List[str]):
    name = _mesh_name(doc, m) + (f"[{p}]" if len(doc.json["meshes"][m].get("primitives", [])) > 1 else "")
    where = f"{doc.path}: mesh {name!r}"
    read = _primitive(doc, prim, where)
    if read is None:
        warnings.append(f"mesh {name!r} has a primitive without positions; it was skipped")
        return None
    P, N, F, mode, _ = read
    if mode in (1, 2, 3):
        warnings.append(f"mesh {name!r}: a line primitive; its vertices are weighted, its lines ignored")
    P, _, _ = clean_mesh(P, None, where)
    cleanup = None
    if F is not None:
        try:
            _, F, cleanup = clean_mesh(P, F, where)
            warnings.extend(f"mesh {name!r}: {note}" for note in cleanup.notes())
        except InputError as exc:
            warnings.append(f"mesh {name!r}: {exc.problem}; its vertices are weighted as points")
            F = None
    if N is not None:
        length = np.linalg.norm(N, axis=1)
        N = N / length[:, None] if len(N) == len(P) and np.all(np.isfinite(length)) and np.all(length > 0) else None
    W = dense_weights(doc, prim.get("attributes", {}), len(P), n_joints, where)
    if W is None:
        warnings.append(f"mesh {name!r} is on a skinned node but has no JOINTS_0/WEIGHTS_0")
    return SkinnedPart(name, P, F, N, W, GltfPartSource(node, m, p), cleanup)


def _stored_rig(skin: dict, skeleton: Skeleton, source: str):
    """The rig fieldrig stored in the skin's extras, when it still matches the skin's joints
    (names and bind positions: an editor may have kept the extras but moved the joints)."""
    from fieldrig.geometry.rig import rig_from_json

    extras = skin.get("extras")
    stored = extras.get("fieldrig_rig") if isinstance(extras, dict) else None
    if stored is None:
        return None
    try:
        rig = rig_from_json(stored, source)
    except InputError:
        return None
    H = rig.n_handles
    positions = skeleton.bind_positions
    if skeleton.names[:H] != rig.handle_names or len(positions) < H:
        return None
    tolerance = 1e-5 * max(rig.size, float(np.abs(positions).max()), np.finfo(float).tiny)
    return rig if np.abs(rig.handle_pivots() - positions[:H]).max() <= tolerance else None


def _clips(doc: GltfDocument, joint_nodes: List[int]) -> List[GltfClip]:
    animations = doc.json.get("animations", [])
    names = unique_names([a.get("name", "") for a in animations], "animation")
    return [GltfClip(doc, a, joint_nodes, names[a]) for a in range(len(animations))]


def gltf_geometry(path: PathLike) -> Tuple[np.ndarray, Optional[np.ndarray], Optional[np.ndarray], List[str]]:
    """The triangles (or points) of a glTF file, for :func:`fieldrig.load_mesh`.

    Mesh nodes of the default scene, depth first, children and primitives in file order:
    skinned ones in their bind pose (stored positions, as :func:`read_gltf_assets` reads
    them, so a rig read from the same file lines up), others placed by their node's world
    transform. ``POINTS`` primitives form a point cloud when the file has no triangles.

    Returns
    -------
    V : (n, 3) float
    F : (m, 3) int or None
    N : (n, 3) float or None
    notes : list of str
    """
    doc = GltfDocument(path)
    _refuse_compressed(doc)
    world = doc.world_matrices()
    tri_parts: List[Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]] = []
    point_parts: List[np.ndarray] = []
    skipped, seen = 0, set()
    meshes = doc.json.get("meshes", [])
    for node_index in doc.scene_nodes():
        node = doc.nodes[node_index]
        if "mesh" not in node:
            continue
        m = node["mesh"]
        if not isinstance(m, int) or not 0 <= m < len(meshes):
            raise InputError(str(doc.path), f"node {node_index} uses mesh {m!r}, which does not exist")
        skinned = "skin" in node
        M = np.eye(4) if skinned else world[node_index]
        for p, prim in enumerate(meshes[m].get("primitives", [])):
            if skinned:
                if (m, p) in seen:
                    continue
                seen.add((m, p))
            read = _primitive(doc, prim, f"{doc.path}: mesh {_mesh_name(doc, m)!r}")
            if read is None:
                continue
            P, N, F, mode, idx = read
            P = P @ M[:3, :3].T + M[:3, 3]
            if N is not None:
                N = N @ np.linalg.inv(M[:3, :3])
            if mode == 0:
                point_parts.append(P[idx])
            elif F is not None:
                tri_parts.append((P, F, N))
            else:
                skipped += 1
    notes = [f"{skipped} line primitives ignored"] if skipped else []
    if tri_parts:
        if point_parts:
            notes.append(f"{len(point_parts)} point primitives ignored (the file also has triangles)")
        offsets = np.cumsum([0] + [len(p) for p, _, _ in tri_parts])
        V = np.concatenate([p for p, _, _ in tri_parts])
        F = np.concatenate([f + o for (_, f, _), o in zip(tri_parts, offsets)])
        N = np.concatenate([n for _, _, n in tri_parts]) if all(n is not None for _, _, n in tri_parts) else None
        return V, F, N, notes
    V = np.concatenate(point_parts) if point_parts else np.zeros((0, 3))
    return V, None, None, notes


def is_skinned_gltf(path: PathLike) -> bool:
    """True when a glTF file's default scene has a mesh node bound to a skin (nothing is decoded)."""
    try:
        doc = GltfDocument(Path(path))
    except InputError:
        return False
    return any("mesh" in doc.nodes[i] and "skin" in doc.nodes[i] for i in doc.scene_nodes())
