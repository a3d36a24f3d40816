"""FBX skinned assets, read through ufbx: meshes, skeleton, skin clusters, bind pose, animation stacks.

:func:`read_fbx_assets` returns one :class:`~fieldrig.geometry.skinned_asset.SkinnedAsset`
per skeleton. What is read, and how it maps onto the skinned-asset model:

* **Space.** ufbx converts the scene to glTF's convention on load: right-handed, Y up,
  metres (``target_axes``, ``target_unit_meters``, ``space_conversion=ADJUST_TRANSFORMS``;
  inherit modes other than normal are compensated). The bind space of an asset is that
  world space *at bind time*. The glTF that assimp converts from the same FBX keeps the
  file's units and its mesh node's space, so the two agree up to one similarity transform.
* **Vertices** are a mesh's control points, in control-point order (FBX weights are per
  control point); parts follow the file's mesh order. Polygons are triangulated (quads along
  the shorter diagonal, larger polygons by ear clipping in their plane); point and line
  faces are dropped with a warning. Normals are not read (FBX stores them per polygon
  corner).
* **Bind.** Cluster ``k`` of a mesh maps its geometry into its bone's space at bind
  (``geometry_to_bone``, geometric transform included), and its bone was bound at
  ``bind_to_world`` (the bind pose, else the cluster's TransformLink). A vertex's bind
  position ``bind_to_world · geometry_to_bone · v`` is the same for every cluster of a
  consistent file; each vertex takes its dominant cluster's, and the reader warns when
  clusters disagree by more than 1e-4 of the diagonal. ``inverse_bind[j] =
  inverse(bind_to_world[j])``, so skinning reproduces FBX's ``Σ_k w_k · G_k(t) ·
  geometry_to_bone_k · v`` exactly.
* **Skeleton.** The joints are the bones that have a skin cluster (one weight column each),
  in scene order; a joint's parent is its nearest ancestor that is a joint. Meshes whose
  bones hang under the same top-level node (an armature, or a root bone) share one asset.
* **Weights** are as stored (FBX rows often sum to 0.94 … 1.4; its default link mode
  normalises them when skinning); the reader warns when rows do not sum to 1.
* **Clips.** One per animation stack; ``joint_world(t)`` composes the nodes' local
  transforms that ufbx evaluates at ``time_begin + t`` from the scene root down.

ufbx 0.0.5's Python binding hands out borrowed references to the scene's elements (each
access of ``scene.nodes[i]``, ``cluster.bone_node``, ... returns an object it does not own a
reference to), which crashes CPython once such an object is released. Everything here goes
through :class:`_Ref`, which takes one more reference to every native object it is handed;
the price is that a file's ufbx scene stays in memory for the life of the process.
"""

from __future__ import annotations

import ctypes
from collections import defaultdict
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Union

import numpy as np

from fieldrig.core.errors import InputError
from fieldrig.geometry.rotations import quaternion_to_matrix
from fieldrig.geometry.skinned_asset import Clip, Skeleton, SkinnedAsset, SkinnedPart

PathLike = Union[str, Path]

BIND_TOLERANCE = 1e-4
"""Clusters whose bind positions of a vertex differ by more than this share of the part's
bounding-box diagonal are reported."""


class _Ref:
    """A native ufbx object, held with a reference of our own; attribute and item access
    wrap native results the same way (see the module notes)."""

    __slots__ = ("raw",)

    def __init__(self, raw):
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(raw))
        self.raw = raw

    def __getattr__(self, name):
        return _wrapped(getattr(self.raw, name))

    def __getitem__(self, index):
        return _wrapped(self.raw[index])

    def __len__(self):
        return len(self.raw)

    def __iter__(self):
        return (self[i] for i in range(len(self.raw)))


def _wrapped(value):
    return _Ref(value) if type(value).__module__ == "ufbx" else value


def _matrix(m) -> np.ndarray:
    """ufbx Matrix (four column vectors) → (4, 4)."""
    A = np.eye(4)
    A[:3, :] = np.array([m.c0, m.c1, m.c2, m.c3], dtype=np.float64).T
    return A


def _trs(transforms) -> np.ndarray:
    """ufbx Transforms (translation, unit quaternion xyzw, scale) → (k, 4, 4) = T · R · S."""
    t = np.array([x.translation for x in transforms], dtype=np.float64).reshape(-1, 3)
    q = np.array([x.rotation for x in transforms], dtype=np.float64).reshape(-1, 4)
    s = np.array([x.scale for x in transforms], dtype=np.float64).reshape(-1, 3)
    M = np.zeros((len(t), 4, 4))
    M[:, :3, :3] = quaternion_to_matrix(q[:, [3, 0, 1, 2]]) * s[:, None, :]
    M[:, :3, 3] = t
    M[:, 3, 3] = 1.0
    return M


def _compose(local: np.ndarray, parents) -> np.ndarray:
    """World matrices (k, 4, 4) from local ones, parents listed before their children."""
    world = local.copy()
    for i, p in enumerate(parents):
        if p >= 0:
            world[i] = world[p] @ local[i]
    return world


class FbxClip(Clip):
    """An FBX animation stack, evaluated by ufbx.

    The scene's frames per second (FBX time mode) is the clip's ``frame_rate``.

    Native ufbx objects do not pickle, so a clip pickles as where it comes from (file, skin,
    stack): unpickling — in another process — reads it from the file again, once per file.
    """

    def __init__(
        self, name: str, begin: float, end: float, anim, chain: list, chain_parents, joint_rows, frame_rate, origin
    ):
        super().__init__(name, max(0.0, end - begin), frame_rate)
        self._origin = origin  # (file, skin index, clip index)
        self._begin = begin
        self._anim = anim
        self._chain = chain  # raw ufbx nodes, parents first: every joint and its ancestors
        self._chain_parents = chain_parents
        self._joint_rows = joint_rows

    def joint_world(self, t: float) -> np.ndarray:
        """World transforms of the skin's joints at time ``t`` (seconds from the stack's
        start, clamped to it).

        Returns
        -------
        (J, 4, 4) float
        """
        import ufbx

        time = self._begin + min(max(float(t), 0.0), self.duration)
        local = _trs([ufbx.evaluate_transform(self._anim, node, time) for node in self._chain])
        return _compose(local, self._chain_parents)[self._joint_rows]

    def __reduce__(self):
        return (_clip_from_file, self._origin)


@lru_cache(maxsize=8)
def _assets_of(source: str, mtime_ns: int) -> List[SkinnedAsset]:
    return read_fbx_assets(source)


def _clip_from_file(source: str, asset_index: int, clip_index: int) -> "FbxClip":
    """Clip ``clip_index`` of skin ``asset_index`` of an FBX file (how a pickled clip comes back)."""
    return _assets_of(source, Path(source).stat().st_mtime_ns)[asset_index].clips[clip_index]


def read_fbx_assets(path: PathLike) -> List[SkinnedAsset]:
    """Every skin of an FBX file, as skinned assets (see the module notes for the semantics).

    Parameters
    ----------
    path : str or Path
        A binary or ASCII FBX file.

    Returns
    -------
    list of SkinnedAsset
        One per skeleton, parts in the file's mesh order. Unskinned meshes are not returned
        (a warning counts them).

    Raises
    ------
    InputError
        The file is missing, ufbx cannot read it, or it has no skinned mesh.
    """
    import ufbx

    source = str(path)
    if not Path(path).is_file():
        raise InputError(source, "no such file")
    try:
        scene = _Ref(
            ufbx.load_file(
                source,
                target_axes=ufbx.axes_right_handed_y_up,
                target_unit_meters=1.0,
                space_conversion=ufbx.SpaceConversion.ADJUST_TRANSFORMS,
                inherit_mode_handling=ufbx.InheritModeHandling.COMPENSATE,
            )
        )
    except ufbx.UfbxError as e:
        raise InputError(source, f"cannot be read as FBX ({e})") from None

    nodes = list(scene.nodes)
    order = {n.element_id: i for i, n in enumerate(nodes)}
    parent = np.array([order[n.parent.element_id] if n.parent is not None else -1 for n in nodes])
    skinned, unskinned = [], 0
    for mesh in scene.meshes:
        if len(mesh.skin_deformers):
            skinned.append(mesh)
        elif mesh.num_faces:
            unskinned += 1
    if not skinned:
        raise InputError(source, "has no skinned mesh (no skin clusters)")

    groups = _group_by_skeleton(skinned, order, parent)
    file_warnings = [f"{unskinned} mesh(es) without a skin were left out"] if unskinned else []
    assets = []
    for index, meshes in enumerate(groups):
        asset = _asset(source, index, meshes, nodes, order, parent, scene)
        asset.warnings[:0] = file_warnings
        assets.append(asset)
    return assets


def _top_level(i: int, parent: np.ndarray) -> int:
    """The ancestor of node ``i`` just below the scene root (``i`` itself at top level)."""
    while parent[i] >= 0 and parent[parent[i]] >= 0:
        i = parent[i]
    return i


def _group_by_skeleton(meshes: list, order: Dict[int, int], parent: np.ndarray) -> List[list]:
    """Meshes whose cluster bones hang under a common top-level node, in file order."""
    label = list(range(len(meshes)))

    def find(a):
        while label[a] != a:
            label[a] = label[label[a]]
            a = label[a]
        return a

    first_mesh_of_top: Dict[int, int] = {}
    for m, mesh in enumerate(meshes):
        for cluster in mesh.skin_deformers[0].clusters:
            if cluster.bone_node is None:
                continue
            top = _top_level(order[cluster.bone_node.element_id], parent)
            other = first_mesh_of_top.setdefault(top, m)
            label[find(m)] = find(other)
    groups: Dict[int, list] = defaultdict(list)
    for m, mesh in enumerate(meshes):
        groups[find(m)].append(mesh)
    return list(groups.values())


def _asset(source: str, index: int, meshes: list, nodes: list, order, parent, scene) -> SkinnedAsset:
    warnings: List[str] = []
    # joints: bones with a cluster, in scene order; the bind matrix of each from its first cluster
    bind_of: Dict[int, np.ndarray] = {}
    for mesh in meshes:
        skin = mesh.skin_deformers[0]
        if len(mesh.skin_deformers) > 1:
            warnings.append(f"{_part_name(mesh)}: only the first of its {len(mesh.skin_deformers)} skins is read")
        if int(skin.skinning_method) not in (0, 1):  # LINEAR, RIGID
            warnings.append(f"{_part_name(mesh)}: its skin blends dual quaternions; it is read as linear blending")
        for cluster in skin.clusters:
            if cluster.bone_node is not None:
                bind_of.setdefault(order[cluster.bone_node.element_id], _matrix(cluster.bind_to_world))
    joint_nodes = sorted(bind_of)
    column = {n: j for j, n in enumerate(joint_nodes)}
    bind = np.stack([bind_of[n] for n in joint_nodes])
    names = [nodes[n].name for n in joint_nodes]
    dupes = sorted({x for x in names if names.count(x) > 1})
    if dupes:
        warnings.append(f"joint names used twice: {', '.join(dupes)}")
    skeleton = Skeleton(names, _joint_parents(joint_nodes, column, parent), np.linalg.inv(bind))

    parts = [_part(mesh, order, column, bind, warnings) for mesh in meshes]
    clips = _clips(scene, nodes, joint_nodes, parent, (source, index))
    warnings += [f"animation {c.name!r} has no time span; it is read as a still pose" for c in clips if c.duration == 0]
    _check_rest_composition(nodes, joint_nodes, parent, warnings)
    sk = {"format": "fbx", "skins": [m.skin_deformers[0].name for m in meshes], "space": "right-handed, Y up, metres"}
    return SkinnedAsset(source, skeleton, parts, clips, warnings, sk)


def _joint_parents(joint_nodes: list, column: Dict[int, int], parent: np.ndarray) -> np.ndarray:
    out = np.full(len(joint_nodes), -1, dtype=np.int64)
    for j, n in enumerate(joint_nodes):
        p = parent[n]
        while p >= 0 and p not in column:
            p = parent[p]
        out[j] = column.get(p, -1)
    return out


def _part_name(mesh) -> str:
    return mesh.instances[0].name if len(mesh.instances) else mesh.name


def _part(mesh, order: Dict[int, int], column: Dict[int, int], bind: np.ndarray, warnings: List[str]) -> SkinnedPart:
    name = _part_name(mesh)
    P = np.array(mesh.vertices.raw, dtype=np.float64).reshape(-1, 3)
    n = len(P)
    W = np.zeros((n, len(column)))
    clusters = []  # (control points, weights, geometry → bind map through the joint's bind matrix)
    for c in mesh.skin_deformers[0].clusters:
        if c.bone_node is None:
            continue
        j = column[order[c.bone_node.element_id]]
        idx = np.fromiter(c.vertices.raw, dtype=np.int64, count=len(c.vertices))
        w = np.fromiter(c.weights.raw, dtype=np.float64, count=len(c.weights))
        np.add.at(W[:, j], idx, w)
        clusters.append((idx, w, bind[j] @ _matrix(c.geometry_to_bone)))
    V = _bind_positions(P, clusters, name, warnings)
    F = _triangles(mesh, V, name, warnings)
    sums = W.sum(axis=1)
    none = int((sums < 1e-6).sum())
    if none:
        warnings.append(f"{name}: {none} of {n} vertices have no skin weight")
    off = (sums >= 1e-6) & (np.abs(sums - 1.0) > 1e-3)
    if off.any():
        warnings.append(
            f"{name}: {int(off.sum())} vertices' weights do not sum to 1 ({sums[off].min():.3g} … "
            f"{sums[off].max():.3g}); skinning normalises them"
        )
    return SkinnedPart(name, V, F, None, W, {"format": "fbx", "mesh": mesh.name})


def _bind_positions(P: np.ndarray, clusters: list, name: str, warnings: List[str]) -> np.ndarray:
    """Each control point through its dominant cluster's geometry → bind map (unweighted ones
    through the heaviest cluster's); warns where another cluster of the vertex places it elsewhere."""
    if not clusters:
        return P.copy()
    n = len(P)
    best, dominant = np.zeros(n), np.full(n, int(np.argmax([w.sum() for _, w, _ in clusters])))
    for k, (idx, w, _) in enumerate(clusters):
        heavier = w > best[idx]
        best[idx[heavier]] = w[heavier]
        dominant[idx[heavier]] = k

    def placed(A, rows):
        return P[rows] @ A[:3, :3].T + A[:3, 3]

    V = np.empty_like(P)
    for k, (_, _, A) in enumerate(clusters):
        rows = np.flatnonzero(dominant == k)
        V[rows] = placed(A, rows)
    spread = np.zeros(n)
    for idx, w, A in clusters:
        rows = idx[w > 0]
        np.maximum.at(spread, rows, np.linalg.norm(placed(A, rows) - V[rows], axis=1))
    diag = float(np.linalg.norm(V.max(axis=0) - V.min(axis=0))) or 1.0
    bad = spread > BIND_TOLERANCE * diag
    if bad.any():
        warnings.append(
            f"{name}: its skin clusters place {int(bad.sum())} vertices up to {100 * spread.max() / diag:.2g}% "
            "of the diagonal apart in the bind pose (their bind matrices disagree); each vertex follows its "
            "dominant joint's"
        )
    return V


def _triangles(mesh, V: np.ndarray, name: str, warnings: List[str]) -> np.ndarray:
    """The mesh's polygons as triangles of control points, polygons in file order."""
    faces = np.array(mesh.faces.raw, dtype=np.int64).reshape(-1, 2)  # (index_begin, num_indices)
    corners = np.fromiter(mesh.vertex_indices.raw, dtype=np.int64, count=len(mesh.vertex_indices))
    begin, count = faces[:, 0], faces[:, 1]
    dropped = int((count < 3).sum())
    if dropped:
        warnings.append(f"{name}: {dropped} point or line faces were left out")
    pieces = []
    tri = begin[count == 3]
    pieces.append(np.stack([corners[tri], corners[tri + 1], corners[tri + 2]], axis=1).reshape(-1, 3))
    quad = begin[count == 4]
    if len(quad):
        a, b, c, d = (corners[quad + i] for i in range(4))
        ac = np.linalg.norm(V[a] - V[c], axis=1) <= np.linalg.norm(V[b] - V[d], axis=1)
        along_ac = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)], axis=1)
        along_bd = np.concatenate([np.stack([a, b, d], 1), np.stack([b, c, d], 1)], axis=1)
        pieces.append(np.where(ac[:, None], along_ac, along_bd).reshape(-1, 3))
    for start, k in zip(begin[count > 4], count[count > 4]):
        pieces.append(_ear_clipped(V, corners[start : start + k]))
    # keep polygon order: sort the triangles by the polygon they came from
    polygon = np.concatenate(
        [
            np.flatnonzero(count == 3),
            np.repeat(np.flatnonzero(count == 4), 2),
            np.repeat(np.flatnonzero(count > 4), count[count > 4] - 2),
        ]
    )
    out = np.concatenate(pieces).astype(np.int64)
    return out[np.argsort(polygon, kind="stable")]


def _ear_clipped(V: np.ndarray, loop: np.ndarray) -> np.ndarray:
    """Ear clipping of one polygon (control-point loop) in its Newell plane → (k − 2, 3)."""
    P = V[loop]
    normal = np.cross(P, np.roll(P, -1, axis=0)).sum(axis=0)
    if not np.linalg.norm(normal) > 0:
        return np.stack([np.full(len(loop) - 2, loop[0]), loop[1:-1], loop[2:]], axis=1)
    normal /= np.linalg.norm(normal)
    u = np.cross(normal, [1.0, 0, 0] if abs(normal[0]) < 0.9 else [0, 1.0, 0])
    u /= np.linalg.norm(u)
    xy = np.stack([P @ u, P @ np.cross(normal, u)], axis=1)
    left = list(range(len(loop)))
    tris = []
    while len(left) > 3:
        m = len(left)
        for i in range(m):
            a, b, c = left[i - 1], left[i], left[(i + 1) % m]
            if _cross2(xy[b] - xy[a], xy[c] - xy[b]) <= 0:
                continue  # reflex or flat corner
            others = [q for q in left if q not in (a, b, c)]
            if others and _inside(xy[others], xy[a], xy[b], xy[c]).any():
                continue
            tris.append((a, b, c))
            del left[i]
            break
        else:  # no ear (self-intersecting loop): fan the rest
            tris.extend((left[0], left[i], left[i + 1]) for i in range(1, len(left) - 1))
            left = left[:0]
            break
    if len(left) == 3:
        tris.append(tuple(left))
    return loop[np.array(tris, dtype=np.int64)]


def _cross2(p: np.ndarray, q: np.ndarray) -> float:
    return float(p[0] * q[1] - p[1] * q[0])


def _inside(X: np.ndarray, a, b, c) -> np.ndarray:
    """(k,) bool: points of ``X`` (k, 2) inside or on the counter-clockwise triangle abc."""

    def side(p, q):
        return (q[0] - p[0]) * (X[:, 1] - p[1]) - (q[1] - p[1]) * (X[:, 0] - p[0])

    return (side(a, b) >= 0) & (side(b, c) >= 0) & (side(c, a) >= 0)


def _chain(nodes: list, joint_nodes: list, parent: np.ndarray):
    """Every joint and its ancestors, parents first → (scene indices, parent rows, joint rows)."""
    needed = set()
    for n in joint_nodes:
        while n >= 0 and n not in needed:
            needed.add(n)
            n = parent[n]
    chain = sorted(needed)  # ufbx lists parents before children
    row = {n: i for i, n in enumerate(chain)}
    return chain, np.array([row.get(parent[n], -1) for n in chain]), np.array([row[n] for n in joint_nodes])


def _clips(scene, nodes: list, joint_nodes: list, parent: np.ndarray, asset: tuple) -> List[Clip]:
    """The scene's animation stacks as clips of one skin (``asset``: its file and index)."""
    chain, chain_parents, joint_rows = _chain(nodes, joint_nodes, parent)
    raw = [nodes[n].raw for n in chain]
    fps = scene.settings.frames_per_second
    return [
        FbxClip(s.name, s.time_begin, s.time_end, s.anim.raw, raw, chain_parents, joint_rows, fps, (*asset, c))
        for c, s in enumerate(scene.anim_stacks)
    ]


def _check_rest_composition(nodes: list, joint_nodes: list, parent: np.ndarray, warnings: List[str]) -> None:
    """Warn if composing local transforms from the root does not give ufbx's own world
    transforms (an inherit mode ufbx could not compensate): the clips would then be off."""
    chain, chain_parents, joint_rows = _chain(nodes, joint_nodes, parent)
    world = _compose(_trs([nodes[n].local_transform for n in chain]), chain_parents)
    for r, n in zip(joint_rows, joint_nodes):
        expected = _matrix(nodes[n].node_to_world)
        if not np.allclose(world[r], expected, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(expected).max())):
            warnings.append(
                f"joint {nodes[n].name}: its world transform is not the product of its ancestors' "
                "(an inherit mode ufbx could not compensate); its animation may be off"
            )
            return
