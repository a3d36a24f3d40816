"""New glTF 2.0 files with skins: a mesh with a fieldrig rig (:func:`write_skinned_gltf`), or
skinned assets that were not read from a glTF document, e.g. FBX (:func:`write_asset_gltf`).

Every skin's joints become nodes whose local rest transforms come from the bind matrices
(``inverse(bind[parent]) · bind[j]``, split into translation, rotation and scale), parented
as in the skeleton; every part becomes a mesh primitive (``POSITION``, ``NORMAL``,
``JOINTS_n``/``WEIGHTS_n``, triangle indices or points) on a mesh node at the scene root
without a transform (the spec ignores a skinned mesh node's transform); the inverse bind
matrices are the skeleton's. Each clip is sampled at its file's frame rate (30 frames per
second when it has none) and at its end into ``LINEAR`` translation, rotation and scale
channels of every joint, so the
animation plays; clips of the same name on several skins become one animation.

For a rig, the skeleton is one joint node per handle (column order), at the handle's pivot
and parented like :meth:`Rig.handle_parents`, plus a zero-weight end node at the far joint
of every bone that no child handle starts from, so the skeleton's shape survives the trip;
rest rotations are the identity, so each inverse bind matrix is a translation by minus
the pivot. The skin's ``extras.fieldrig_rig`` holds the rig itself (fieldrig's JSON rig
format), so the file reads back to the same rig, names and hierarchy included.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from fieldrig.core.errors import InputError
from fieldrig.geometry.gltf.document import (
    ARRAY_BUFFER,
    ELEMENT_ARRAY_BUFFER,
    BufferBuilder,
    PathLike,
    matrix_trs,
    write_gltf,
)
from fieldrig.geometry.gltf.weights import joint_component, skin_sets
from fieldrig.geometry.rig import Rig, rig_to_json
from fieldrig.geometry.skinned_asset import Skeleton, SkinnedAsset, SkinnedPart

#: Frames per second at which clips are sampled into glTF animations.
FPS = 30.0


def write_skinned_gltf(
    path: PathLike,
    V: np.ndarray,
    F: Optional[np.ndarray],
    rig: Rig,
    W: np.ndarray,
    max_influences: int = 4,
    normals: Optional[np.ndarray] = None,
) -> None:
    """Write a mesh with its rig's skeleton and its skin to ``.glb`` or ``.gltf``, atomically.

    Parameters
    ----------
    path : str or PathLike
        ``.glb`` (binary) or ``.gltf`` (one JSON file, buffer embedded).
    V : (n, 3) float
        Rest-pose vertex positions (written as float32).
    F : (m, 3) int or None
        Triangles; None writes a point cloud (primitive mode POINTS).
    rig : Rig
        The skeleton; one joint node per handle, see the module docstring.
    W : (n, H) float
        Weights, one column per handle of ``rig``.
    max_influences : int
        Influences kept per vertex: 4 fills ``JOINTS_0``/``WEIGHTS_0``; more adds sets.
    normals : (n, 3) float, optional
        Unit vertex normals; computed (area-weighted) for triangle meshes when omitted.
    """
    path = Path(path)
    V, F = _checked_geometry(V, F)
    W = np.asarray(W, dtype=np.float64)
    if W.shape != (len(V), rig.n_handles):
        raise InputError(
            "W", f"expected weights of shape ({len(V)}, {rig.n_handles}) (vertices × rig handles), got {W.shape}"
        )
    names, positions, parents = _skeleton_nodes(rig)
    ibm = np.tile(np.eye(4), (len(names), 1, 1))
    ibm[:, :3, 3] = -positions
    deform = np.zeros(len(names), bool)
    deform[: rig.n_handles] = True
    skeleton = Skeleton(names, parents, ibm, deform)
    asset = SkinnedAsset(str(path), skeleton, [SkinnedPart(path.stem, V, F, normals, None)])
    W_nodes = np.zeros((len(V), len(names)))
    W_nodes[:, : rig.n_handles] = W
    write_assets_gltf(path, [(asset, W_nodes)], max_influences, skin_extras=[{"fieldrig_rig": rig_to_json(rig)}])


def write_asset_gltf(path: PathLike, asset: SkinnedAsset, W: np.ndarray, max_influences: int = 4) -> None:
    """Write one skinned asset with new weights as a new glTF file (see the module docstring).

    Parameters
    ----------
    path : str or PathLike
        ``.glb`` or ``.gltf``.
    asset : SkinnedAsset
    W : (n, J) float
        Weights of the asset's vertices (parts in order), one column per skin joint.
    max_influences : int
    """
    write_assets_gltf(path, [(asset, W)], max_influences)


def write_assets_gltf(
    path: PathLike,
    items: Sequence[Tuple[SkinnedAsset, np.ndarray]],
    max_influences: int = 4,
    skin_extras: Optional[Sequence[Optional[dict]]] = None,
) -> None:
    """Write several skinned assets (one skin each) with new weights into one new glTF file.

    Parameters
    ----------
    path : str or PathLike
    items : sequence of (SkinnedAsset, (n, J) float)
        Each asset with the weights of its vertices, one column per skin joint.
    max_influences : int
    skin_extras : sequence of dict or None, optional
        ``extras`` of each skin.
    """
    path = Path(path)
    if path.suffix.lower() not in (".glb", ".gltf"):
        raise InputError(str(path), f"unknown glTF extension {path.suffix.lower()!r} (expected .glb or .gltf)")
    document: dict = {
        "asset": {"version": "2.0", "generator": "fieldrig"},
        "scene": 0,
        "scenes": [{"nodes": []}],
        "nodes": [],
        "meshes": [],
        "skins": [],
    }
    buf = BufferBuilder(document)
    joint_nodes: List[List[int]] = []
    for asset, _ in items:
        joint_nodes.append(_add_skeleton(document, asset.skeleton))
    mesh_nodes = []
    for s, (asset, W) in enumerate(items):
        W = _checked_weights(asset, W)
        offsets = asset.part_offsets
        for p, part in enumerate(asset.parts):
            document["meshes"].append(
                {
                    "name": part.name,
                    "primitives": [_primitive(buf, part, W[offsets[p] : offsets[p + 1]], max_influences)],
                }
            )
            mesh_nodes.append(len(document["nodes"]))
            document["nodes"].append({"name": part.name, "mesh": len(document["meshes"]) - 1, "skin": s})
        sk = asset.skeleton
        skin = {
            "joints": joint_nodes[s],
            "inverseBindMatrices": buf.add(sk.inverse_bind.transpose(0, 2, 1).reshape(-1, 16), "MAT4", 5126),
        }
        roots = [joint_nodes[s][j] for j in np.flatnonzero(sk.parents < 0)]
        if len(roots) == 1:
            skin["skeleton"] = roots[0]
        if skin_extras is not None and skin_extras[s] is not None:
            skin["extras"] = skin_extras[s]
        document["skins"].append(skin)
    document["scenes"][0]["nodes"] = mesh_nodes + [
        joint_nodes[s][j] for s, (asset, _) in enumerate(items) for j in np.flatnonzero(asset.skeleton.parents < 0)
    ]
    animations = _animations(buf, items, joint_nodes)
    if animations:
        document["animations"] = animations
    document["buffers"] = [{"byteLength": 0}]
    write_gltf(path, document, [buf.bytes()])


def _checked_geometry(V, F) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    V = np.asarray(V, dtype=np.float64)
    if V.ndim != 2 or V.shape[1] != 3 or len(V) == 0:
        raise InputError("V", f"expected (n, 3) vertex positions with n ≥ 1, got shape {V.shape}")
    if F is not None:
        F = np.asarray(F, dtype=np.int64)
        if F.ndim != 2 or F.shape[1] != 3 or (F.size and (F.min() < 0 or F.max() >= len(V))):
            raise InputError("F", f"expected (m, 3) triangle indices into {len(V)} vertices")
    return V, F


def _checked_weights(asset: SkinnedAsset, W) -> np.ndarray:
    W = np.asarray(W, dtype=np.float64)
    expected = (asset.n_vertices, asset.skeleton.n_joints)
    if W.shape != expected:
        raise InputError("W", f"expected weights of shape {expected} (vertices × skin joints), got {W.shape}")
    return W


def _skeleton_nodes(rig: Rig) -> Tuple[List[str], np.ndarray, np.ndarray]:
    """Joint nodes for a rig: one per handle (column order), then bone end nodes.

    Returns
    -------
    names : list of str
    positions : (J, 3) float
        World rest position of each node.
    parents : (J,) int
        Parent node, -1 for roots.
    """
    names = list(rig.handle_names)
    pivots = rig.handle_pivots()
    positions = list(pivots)
    parents = list(rig.handle_parents())
    tiny = 1e-9 * rig.size
    for b, (_, end) in enumerate(rig.bones):
        h = int(rig.bone_handles[b])
        children = np.flatnonzero(np.asarray(parents[: rig.n_handles]) == h)
        tip = rig.joints[end]
        if any(np.linalg.norm(pivots[c] - tip) <= tiny for c in children):
            continue
        name = rig.joint_names[end]
        names.append(name if name not in names else f"{rig.bone_names[b]}_end")
        positions.append(tip)
        parents.append(h)
    return names, np.array(positions, dtype=np.float64).reshape(-1, 3), np.array(parents, dtype=np.int64)


def _add_skeleton(document: dict, skeleton: Skeleton) -> List[int]:
    """Append one node per joint (local rest transforms from the bind matrices); their indices."""
    first = len(document["nodes"])
    bind = skeleton.bind_world
    parents = skeleton.parents
    for j, name in enumerate(skeleton.names):
        local = bind[j] if parents[j] < 0 else np.linalg.inv(bind[parents[j]]) @ bind[j]
        node = {"name": name, **_trs_fields(*matrix_trs(local))}
        children = [first + int(c) for c in np.flatnonzero(parents == j)]
        if children:
            node["children"] = children
        document["nodes"].append(node)
    return list(range(first, first + skeleton.n_joints))


def _trs_fields(t: np.ndarray, r: np.ndarray, s: np.ndarray) -> dict:
    """A node's translation / rotation / scale, leaving out the identity parts."""
    out = {"translation": [float(x) for x in t]}
    if not np.allclose(r, [0, 0, 0, 1], rtol=0, atol=1e-12):
        out["rotation"] = [float(x) for x in r / np.linalg.norm(r)]
    if not np.allclose(s, 1.0, rtol=0, atol=1e-12):
        out["scale"] = [float(x) for x in s]
    return out


def _primitive(buf: BufferBuilder, part: SkinnedPart, W: np.ndarray, max_influences: int) -> dict:
    V, F = _checked_geometry(part.V, part.F)
    attributes = {"POSITION": buf.add(V, "VEC3", 5126, ARRAY_BUFFER, minmax=True)}
    normals = part.N
    if normals is None and F is not None and len(F):
        normals = _vertex_normals(V, F)
    if normals is not None:
        normals = np.asarray(normals, dtype=np.float64)
        if normals.shape != V.shape:
            raise InputError("normals", f"expected shape {V.shape}, got {normals.shape}")
        attributes["NORMAL"] = buf.add(normals, "VEC3", 5126, ARRAY_BUFFER)
    component = joint_component(W.shape[1])
    sets = skin_sets(W, max_influences)
    for s, (joints, _) in enumerate(sets):
        attributes[f"JOINTS_{s}"] = buf.add(joints, "VEC4", component, ARRAY_BUFFER)
    for s, (_, weights) in enumerate(sets):
        attributes[f"WEIGHTS_{s}"] = buf.add(weights, "VEC4", 5126, ARRAY_BUFFER)
    primitive = {"attributes": attributes, "mode": 0}
    if F is not None:
        primitive["indices"] = buf.add(F.reshape(-1), "SCALAR", 5125, ELEMENT_ARRAY_BUFFER)
        primitive["mode"] = 4
    return primitive


def _vertex_normals(V: np.ndarray, F: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals; +z where a vertex has no non-degenerate face."""
    fn = np.cross(V[F[:, 1]] - V[F[:, 0]], V[F[:, 2]] - V[F[:, 0]])
    N = np.zeros_like(V)
    for c in range(3):
        np.add.at(N, F[:, c], fn)
    length = np.linalg.norm(N, axis=1)
    N[length <= 0] = (0.0, 0.0, 1.0)
    length[length <= 0] = 1.0
    return N / length[:, None]


def _animations(buf: BufferBuilder, items, joint_nodes: List[List[int]]) -> List[dict]:
    """Every clip sampled into TRS channels at its file's frame rate (:data:`FPS` when it has
    none), so a file's own keys are kept; clips of one name merged."""
    by_name: Dict[str, dict] = {}
    for s, (asset, _) in enumerate(items):
        parents = asset.skeleton.parents
        for clip in asset.clips:
            times = np.arange(0.0, clip.duration, 1.0 / (clip.frame_rate or FPS))
            times = np.append(times, clip.duration) if clip.duration > 0 else np.zeros(1)
            world = np.stack([clip.joint_world(t) for t in times])  # (k, J, 4, 4)
            local = world.copy()
            has_parent = parents >= 0
            local[:, has_parent] = np.linalg.inv(world[:, parents[has_parent]]) @ world[:, has_parent]
            anim = by_name.setdefault(clip.name, {"name": clip.name, "channels": [], "samplers": []})
            time_acc = buf.add(times.astype(np.float32)[:, None], "SCALAR", 5126, minmax=True)
            for j, node in enumerate(joint_nodes[s]):
                trs = [matrix_trs(local[k, j]) for k in range(len(times))]
                t = np.array([a for a, _, _ in trs])
                r = np.array([b for _, b, _ in trs])
                sc = np.array([c for _, _, c in trs])
                r /= np.linalg.norm(r, axis=1, keepdims=True)
                flip = np.cumprod(np.where(np.einsum("ki,ki->k", r[1:], r[:-1]) < 0, -1.0, 1.0))
                r[1:] *= flip[:, None]  # neighbouring keys on one hemisphere: slerp takes the short way
                for path, values, type_ in (("translation", t, "VEC3"), ("rotation", r, "VEC4"), ("scale", sc, "VEC3")):
                    anim["samplers"].append(
                        {"input": time_acc, "output": buf.add(values, type_, 5126), "interpolation": "LINEAR"}
                    )
                    anim["channels"].append(
                        {"sampler": len(anim["samplers"]) - 1, "target": {"node": node, "path": path}}
                    )
    return list(by_name.values())
