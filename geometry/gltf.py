"""glTF 2.0 skins: read a rig from a rigged ``.glb``/``.gltf``, write a mesh with its skeleton
and skinning weights.

Writing (:func:`write_skinned_gltf`) maps a :class:`~fieldrig.geometry.rig.Rig` onto glTF
nodes: one joint node per handle (weight column), placed at the handle's pivot (a bone's
start joint, a point handle's joint) and parented like :meth:`Rig.handle_parents`, plus a
zero-weight end node at the far joint of every bone that no child bone starts from, so the
skeleton's shape survives the trip. Rest rotations are the identity, so each inverse bind
matrix is the inverse of its joint's world rest transform, a translation by minus the pivot.
Every vertex keeps its ``max_influences`` largest weights (renormalised; sorted, largest
first) in ``JOINTS_0``/``WEIGHTS_0`` (and ``JOINTS_1``/``WEIGHTS_1``... beyond 4), following
the Khronos rules: weights ≥ 0 summing to 1 in float32, no joint twice in a vertex's
non-zero weights, unused slots joint 0 with weight 0.

The skin's ``extras.fieldrig_rig`` holds the rig itself (fieldrig's JSON rig format), so
files written here read back to the same rig, names and hierarchy included.

Reading (:func:`load_gltf_rig`, :func:`read_gltf_skin`) takes the first skin (the one a
mesh node uses, when there is one); a skin written by fieldrig gives back its stored rig.
For any other skin, its joints are the skin's joint nodes at their bind pose
(inverse of the inverse bind matrix, taken to the frame of the mesh node that uses the skin;
the nodes' world transforms when the file has no inverse bind matrices). Bones are the
parent → child pairs among the skin's joints, named after the parent node (``parent->child``
when a node has several children); children at the parent's position are skipped, as are
siblings at the same position. A leaf node that carries skin weights gets a bone of half its
parent segment's length in the same direction (as Blender's importer guesses leaf bones).
"""

from __future__ import annotations

import base64
import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import numpy as np

from fieldrig.core.atomic import atomic_write_bytes, atomic_write_text
from fieldrig.core.errors import InputError
from fieldrig.geometry.rig import Rig, rig_from_json, rig_to_json

PathLike = Union[str, os.PathLike]

_GLB_MAGIC = 0x46546C67
_CHUNK_JSON = 0x4E4F534A
_CHUNK_BIN = 0x004E4942
_COMPONENTS = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}


# ============================================================================ pruning
def prune_weights(W: np.ndarray, max_influences: int = 4) -> Tuple[np.ndarray, np.ndarray]:
    """Keep each vertex's largest weights and renormalise them.

    Parameters
    ----------
    W : (n, H) float
        Non-negative weights (values down to -1e-6 are treated as 0).
    max_influences : int
        How many weights each vertex keeps.

    Returns
    -------
    joints : (n, k) int
        Column indices, largest weight first; ``k = 4 * ceil(max_influences / 4)``. Slots
        beyond the kept influences, and kept influences of weight 0, hold column 0.
    weights : (n, k) float
        Matching weights, each row summing to 1 (float64).
    """
    if int(max_influences) != max_influences or max_influences < 1:
        raise InputError("max_influences", f"expected a positive integer, got {max_influences!r}")
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2 or W.shape[1] == 0:
        raise InputError("W", f"expected an (n, H) weight matrix with H ≥ 1, got shape {W.shape}")
    if not np.all(np.isfinite(W)):
        raise InputError("W", "weights contain NaN or infinite values")
    if W.size and W.min() < -1e-6:
        raise InputError("W", f"weights must be non-negative (minimum {W.min():.3g})")
    W = np.clip(W, 0.0, None)
    n, H = W.shape
    keep = min(int(max_influences), H)
    order = np.argsort(-W, axis=1, kind="stable")[:, :keep]
    kept = np.take_along_axis(W, order, axis=1)
    total = kept.sum(axis=1)
    if np.any(total <= 0):
        bad = np.flatnonzero(total <= 0)
        raise InputError("W", f"{len(bad)} vertices have no weight at all (first: vertex {bad[0]})")
    kept /= total[:, None]
    order[kept == 0] = 0
    k = 4 * -(-int(max_influences) // 4)
    joints = np.zeros((n, k), dtype=np.int64)
    weights = np.zeros((n, k), dtype=np.float64)
    joints[:, :keep], weights[:, :keep] = order, kept
    return joints, weights


def pruned_mass(W: np.ndarray, max_influences: int = 4) -> np.ndarray:
    """The share of each vertex's weight that :func:`prune_weights` drops.

    Parameters
    ----------
    W : (n, H) float
        Non-negative weights.
    max_influences : int

    Returns
    -------
    (n,) float
        1 − (sum of the ``max_influences`` largest weights) / (sum of all weights).
    """
    W = np.clip(np.asarray(W, dtype=np.float64), 0.0, None)
    kept = -np.sort(-W, axis=1)[:, :max_influences].sum(axis=1)
    return 1.0 - kept / np.maximum(W.sum(axis=1), np.finfo(float).tiny)


def _float32_normalised(weights: np.ndarray) -> np.ndarray:
    """Cast to float32 and put the rounding residual on the largest (first) weight."""
    w32 = weights.astype(np.float32)
    residual = 1.0 - w32.astype(np.float64).sum(axis=1)
    w32[:, 0] = (w32[:, 0].astype(np.float64) + residual).astype(np.float32)
    return w32


# ============================================================================ writing
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
    positions = list(rig.handle_pivots())
    parents = list(rig.handle_parents())
    n_p = len(rig.point_handles)
    pivots = rig.handle_pivots()
    scale = max(1.0, float(np.abs(rig.joints).max()))
    for b, (_, end) in enumerate(rig.bones):
        h = n_p + b
        children = np.flatnonzero(np.asarray(parents[: rig.n_handles]) == h)
        tip = rig.joints[end]
        if any(np.linalg.norm(pivots[c] - tip) <= 1e-9 * scale for c in children):
            continue
        name = rig.joint_names[end]
        names.append(name if name not in names else f"{rig.bone_names[b]}_end")
        positions.append(tip)
        parents.append(h)
    return names, np.array(positions, dtype=np.float64).reshape(-1, 3), np.array(parents, dtype=np.int64)


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


class _BufferBuilder:
    """Accumulates accessors into one binary buffer, 4-byte aligned."""

    def __init__(self):
        self.blob = bytearray()
        self.views: List[dict] = []
        self.accessors: List[dict] = []

    def add(
        self, array: np.ndarray, type_: str, component: int, target: Optional[int] = None, minmax: bool = False
    ) -> int:
        array = np.ascontiguousarray(array, dtype=_COMPONENTS[component])
        while len(self.blob) % 4:
            self.blob.append(0)
        view = {"buffer": 0, "byteOffset": len(self.blob), "byteLength": array.nbytes}
        if target is not None:
            view["target"] = target
        self.blob.extend(array.tobytes())
        self.views.append(view)
        accessor = {
            "bufferView": len(self.views) - 1,
            "componentType": component,
            "count": int(array.shape[0]),
            "type": type_,
        }
        if minmax:
            flat = array.reshape(array.shape[0], -1)
            accessor["min"] = [float(v) for v in flat.min(axis=0)]
            accessor["max"] = [float(v) for v in flat.max(axis=0)]
        self.accessors.append(accessor)
        return len(self.accessors) - 1


def write_skinned_gltf(
    path: PathLike,
    V: np.ndarray,
    F: Optional[np.ndarray],
    rig: Rig,
    W: np.ndarray,
    max_influences: int = 4,
    normals: Optional[np.ndarray] = None,
) -> None:
    """Write a mesh with its skeleton and skin to ``.glb`` (binary) or ``.gltf`` (one JSON
    file, buffer embedded), atomically.

    Parameters
    ----------
    path : str or PathLike
        ``.glb`` or ``.gltf``.
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
    suffix = path.suffix.lower()
    if suffix not in (".glb", ".gltf"):
        raise InputError(str(path), f"unknown glTF extension {suffix!r} (expected .glb or .gltf)")
    V = np.asarray(V, dtype=np.float64)
    if V.ndim != 2 or V.shape[1] != 3 or len(V) == 0:
        raise InputError("V", f"expected (n, 3) vertex positions with n ≥ 1, got shape {V.shape}")
    if F is not None:
        F = np.asarray(F, dtype=np.int64)
        if F.ndim != 2 or F.shape[1] != 3 or (F.size and (F.min() < 0 or F.max() >= len(V))):
            raise InputError("F", f"expected (m, 3) triangle indices into {len(V)} vertices")
    W = np.asarray(W, dtype=np.float64)
    if W.shape != (len(V), rig.n_handles):
        raise InputError(
            "W", f"expected weights of shape ({len(V)}, {rig.n_handles}) (vertices × rig handles), got {W.shape}"
        )
    joints, weights = prune_weights(W, max_influences)
    names, positions, parents = _skeleton_nodes(rig)
    if len(names) > 65536:
        raise InputError("rig", f"{len(names)} joints exceed glTF's 65,536 joints per skin")

    buf = _BufferBuilder()
    attributes = {"POSITION": buf.add(V, "VEC3", 5126, 34962, minmax=True)}
    if normals is None and F is not None and len(F):
        normals = _vertex_normals(V, F)
    if normals is not None:
        normals = np.asarray(normals, dtype=np.float64)
        if normals.shape != V.shape:
            raise InputError("normals", f"expected shape {V.shape}, got {normals.shape}")
        attributes["NORMAL"] = buf.add(normals, "VEC3", 5126, 34962)
    joint_type = 5121 if len(names) <= 256 else 5123
    w32 = _float32_normalised(weights)
    for s in range(joints.shape[1] // 4):
        attributes[f"JOINTS_{s}"] = buf.add(joints[:, 4 * s : 4 * s + 4], "VEC4", joint_type, 34962)
    for s in range(joints.shape[1] // 4):
        attributes[f"WEIGHTS_{s}"] = buf.add(w32[:, 4 * s : 4 * s + 4], "VEC4", 5126, 34962)
    primitive = {"attributes": attributes, "mode": 0}
    if F is not None:
        primitive["indices"] = buf.add(F.reshape(-1), "SCALAR", 5125, 34963)
        primitive["mode"] = 4
    ibm = np.tile(np.eye(4), (len(names), 1, 1))
    ibm[:, :3, 3] = -positions
    ibm_accessor = buf.add(ibm.transpose(0, 2, 1).reshape(len(names), 16), "MAT4", 5126)

    nodes = []
    for j, (name, pos, parent) in enumerate(zip(names, positions, parents)):
        local = pos - positions[parent] if parent >= 0 else pos
        node = {"name": name, "translation": [float(x) for x in local]}
        children = [int(c) for c in np.flatnonzero(parents == j)]
        if children:
            node["children"] = children
        nodes.append(node)
    mesh_node = len(nodes)
    nodes.append({"name": path.stem, "mesh": 0, "skin": 0})
    roots = [int(r) for r in np.flatnonzero(parents < 0)]
    skin = {
        "joints": list(range(len(names))),
        "inverseBindMatrices": ibm_accessor,
        "extras": {"fieldrig_rig": rig_to_json(rig)},
    }
    if len(roots) == 1:
        skin["skeleton"] = roots[0]
    document = {
        "asset": {"version": "2.0", "generator": "fieldrig"},
        "scene": 0,
        "scenes": [{"nodes": [mesh_node] + roots}],
        "nodes": nodes,
        "meshes": [{"name": path.stem, "primitives": [primitive]}],
        "skins": [skin],
        "accessors": buf.accessors,
        "bufferViews": buf.views,
        "buffers": [{"byteLength": len(buf.blob)}],
    }
    if suffix == ".gltf":
        document["buffers"][0]["uri"] = (
            "data:application/octet-stream;base64," + base64.b64encode(bytes(buf.blob)).decode()
        )
        atomic_write_text(path, json.dumps(document, indent=1) + "\n")
        return
    text = json.dumps(document, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)
    blob = bytes(buf.blob) + b"\0" * (-len(buf.blob) % 4)
    total = 12 + 8 + len(text) + 8 + len(blob)
    atomic_write_bytes(
        path,
        b"".join(
            [
                struct.pack("<III", _GLB_MAGIC, 2, total),
                struct.pack("<II", len(text), _CHUNK_JSON),
                text,
                struct.pack("<II", len(blob), _CHUNK_BIN),
                blob,
            ]
        ),
    )


# ============================================================================ reading
class GltfDocument:
    """A parsed glTF file: its JSON and its buffers' bytes."""

    def __init__(self, path: Path):
        self.path = path
        if not path.is_file():
            raise InputError(str(path), "glTF file not found")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(str(path), f"cannot read file ({exc.strerror})") from exc
        glb_blob = None
        if data[:4] == b"glTF":
            text, glb_blob = self._split_glb(data)
        else:
            text = data
        try:
            self.json = json.loads(text.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(str(path), f"not a glTF file: its JSON does not parse ({exc})") from exc
        if not isinstance(self.json, dict) or not str(self.json.get("asset", {}).get("version", "")).startswith("2"):
            raise InputError(str(path), "not a glTF 2.0 file (asset.version must be 2.x)")
        self.buffers = [self._buffer_bytes(b, glb_blob) for b in self.json.get("buffers", [])]

    def _split_glb(self, data: bytes) -> Tuple[bytes, Optional[bytes]]:
        if len(data) < 20:
            raise InputError(str(self.path), "truncated GLB file")
        _, version, length = struct.unpack_from("<III", data, 0)
        if version != 2:
            raise InputError(str(self.path), f"GLB container version {version}, expected 2")
        text, blob, offset = None, None, 12
        while offset + 8 <= min(length, len(data)):
            size, kind = struct.unpack_from("<II", data, offset)
            chunk = data[offset + 8 : offset + 8 + size]
            if len(chunk) != size:
                raise InputError(str(self.path), "truncated GLB file (a chunk runs past the end)")
            if kind == _CHUNK_JSON and text is None:
                text = chunk
            elif kind == _CHUNK_BIN and blob is None:
                blob = chunk
            offset += 8 + size
        if text is None:
            raise InputError(str(self.path), "GLB file has no JSON chunk")
        return text, blob

    def _buffer_bytes(self, buffer: dict, glb_blob: Optional[bytes]) -> bytes:
        uri = buffer.get("uri")
        if uri is None:
            if glb_blob is None:
                raise InputError(str(self.path), "a buffer has no uri and the file has no binary chunk")
            return glb_blob
        if uri.startswith("data:"):
            try:
                return base64.b64decode(uri.split(",", 1)[1])
            except (IndexError, ValueError) as exc:
                raise InputError(str(self.path), "a buffer's data URI is not valid base64") from exc
        from urllib.parse import unquote

        external = self.path.parent / unquote(uri)
        if not external.is_file():
            raise InputError(str(self.path), f"buffer file {uri!r} not found beside it")
        return external.read_bytes()

    def accessor(self, index: int) -> np.ndarray:
        """Decode accessor ``index`` to an (count, width) array (normalised ints → float)."""
        try:
            acc = self.json["accessors"][index]
            dtype = np.dtype(_COMPONENTS[acc["componentType"]]).newbyteorder("<")
            width, count = _WIDTH[acc["type"]], int(acc["count"])
            out = np.zeros((count, width), dtype=dtype)
            if "bufferView" in acc:
                view = self.json["bufferViews"][acc["bufferView"]]
                data = self.buffers[view["buffer"]]
                start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
                stride = view.get("byteStride") or dtype.itemsize * width
                needed = start + stride * (count - 1) + dtype.itemsize * width if count else start
                if needed > len(data):
                    raise InputError(str(self.path), f"accessor {index} reads past the end of its buffer")
                raw = (
                    np.frombuffer(data, dtype=np.uint8, count=needed - start, offset=start)
                    if count
                    else np.zeros(0, np.uint8)
                )
                if count:
                    rows = np.lib.stride_tricks.as_strided(
                        raw, shape=(count, dtype.itemsize * width), strides=(stride, 1)
                    )
                    out = np.ascontiguousarray(rows).view(dtype).reshape(count, width)
            if "sparse" in acc:
                raise InputError(str(self.path), f"accessor {index} is sparse, which fieldrig does not read")
        except (KeyError, IndexError, TypeError) as exc:
            raise InputError(str(self.path), f"accessor {index} is malformed ({exc!r})") from exc
        if acc.get("normalized") and dtype.kind in "iu":
            return np.maximum(out.astype(np.float64) / np.iinfo(dtype).max, -1.0)
        return out

    def node_world_matrices(self) -> Dict[int, np.ndarray]:
        """World transform of every node reachable from the scenes' roots."""
        nodes = self.json.get("nodes", [])
        parent = {c: i for i, n in enumerate(nodes) for c in n.get("children", [])}
        world: Dict[int, np.ndarray] = {}

        def visit(i: int, depth: int = 0) -> np.ndarray:
            if i not in world:
                if depth > len(nodes):
                    raise InputError(str(self.path), "the node hierarchy has a cycle")
                p = parent.get(i)
                base = visit(p, depth + 1) if p is not None else np.eye(4)
                world[i] = base @ _local_matrix(nodes[i])
            return world[i]

        for i in range(len(nodes)):
            visit(i)
        return world


def _local_matrix(node: dict) -> np.ndarray:
    if "matrix" in node:
        return np.asarray(node["matrix"], dtype=np.float64).reshape(4, 4).T
    x, y, z, w = node.get("rotation", [0.0, 0.0, 0.0, 1.0])
    R = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )
    M = np.eye(4)
    M[:3, :3] = R * np.asarray(node.get("scale", [1.0, 1.0, 1.0]))[None, :]
    M[:3, 3] = node.get("translation", [0.0, 0.0, 0.0])
    return M


@dataclass
class GltfSkin:
    """A glTF skin read as a rig, with the file's own skin weights.

    Attributes
    ----------
    rig : Rig
    joint_names : list of str
        The skin's joint nodes, in skin order.
    handle_joints : (H,) int
        Skin joint driving each rig handle (the parent node of a bone).
    weights : (n, J) float or None
        Skin weights of the skinned primitive per skin joint, when the file has exactly
        one skinned primitive; None otherwise.
    """

    rig: Rig
    joint_names: List[str]
    handle_joints: np.ndarray
    weights: Optional[np.ndarray]

    def handle_weights(self) -> np.ndarray:
        """The file's skin weights as rig columns, (n, H) float.

        A joint that drives several bones (a node with several children) gives its weight
        to the first of them.
        """
        if self.weights is None:
            raise InputError("glTF", "the file has no single skinned primitive to read weights from")
        W = np.zeros((len(self.weights), self.rig.n_handles))
        taken = set()
        for h, j in enumerate(self.handle_joints):
            if j not in taken:
                W[:, h] = self.weights[:, j]
                taken.add(j)
        return W


def read_gltf_skin(path: PathLike) -> GltfSkin:
    """Read the first skin of a glTF file (``.glb`` or ``.gltf``) as a rig.

    Parameters
    ----------
    path : str or PathLike

    Returns
    -------
    GltfSkin
        See the module docstring for how joints, bones and point handles are derived.
    """
    path = Path(path)
    doc = GltfDocument(path)
    skins = doc.json.get("skins") or []
    if not skins:
        raise InputError(str(path), "the file has no skin (no skeleton bound to a mesh)")
    nodes = doc.json.get("nodes", [])
    users = [i for i, n in enumerate(nodes) if "skin" in n and "mesh" in n]
    skin_index = nodes[users[0]]["skin"] if users else 0
    skin = skins[skin_index]
    joints = [int(j) for j in skin.get("joints", [])]
    if not joints or any(not 0 <= j < len(nodes) for j in joints):
        raise InputError(str(path), "the skin lists no joints, or joints that are not nodes")
    names = [str(nodes[j].get("name", f"joint{k}")) for k, j in enumerate(joints)]
    world = doc.node_world_matrices()
    if "inverseBindMatrices" in skin:
        ibm = doc.accessor(skin["inverseBindMatrices"]).astype(np.float64).reshape(-1, 4, 4).transpose(0, 2, 1)
        if len(ibm) != len(joints):
            raise InputError(str(path), f"{len(ibm)} inverse bind matrices for {len(joints)} joints")
        try:
            bind = np.linalg.inv(ibm)
        except np.linalg.LinAlgError as exc:
            raise InputError(str(path), "an inverse bind matrix is singular") from exc
        frame = world[users[0]] if users else np.eye(4)
        positions = (frame @ bind)[:, :3, 3]
    else:
        positions = np.array([world[j][:3, 3] for j in joints])

    weights = _skin_weights(doc, users, skin_index, len(joints))
    node_to_joint = {n: k for k, n in enumerate(joints)}
    parent_node = {c: i for i, n in enumerate(nodes) for c in n.get("children", [])}
    skin_parent = np.full(len(joints), -1)
    for k, n in enumerate(joints):
        p = parent_node.get(n)
        while p is not None and p not in node_to_joint:
            p = parent_node.get(p)
        skin_parent[k] = -1 if p is None else node_to_joint[p]
    own = _own_rig(skin, names, positions, str(path))
    if own is not None:
        return GltfSkin(own, names, np.arange(own.n_handles), weights)
    carries = weights.sum(axis=0) > 0 if weights is not None else np.ones(len(joints), bool)
    rig, handle_joints = _rig_from_skeleton(names, positions, skin_parent, carries, str(path))
    return GltfSkin(rig, names, handle_joints, weights)


def _own_rig(skin: dict, names: List[str], positions: np.ndarray, source: str) -> Optional[Rig]:
    """The rig fieldrig stored in the skin's extras, when it still matches the skin's joints
    (names and bind positions: an editor may have kept the extras but moved the joints)."""
    stored = skin.get("extras", {}).get("fieldrig_rig") if isinstance(skin.get("extras"), dict) else None
    if stored is None:
        return None
    try:
        rig = rig_from_json(stored, source)
    except InputError:
        return None
    H = rig.n_handles
    if names[:H] != rig.handle_names or len(positions) < H:
        return None
    tolerance = 1e-5 * max(1.0, float(np.abs(positions).max()))
    return rig if np.abs(rig.handle_pivots() - positions[:H]).max() <= tolerance else None


def load_gltf_rig(path: PathLike) -> Rig:
    """Read the rig of a glTF file's first skin (see :func:`read_gltf_skin`).

    Parameters
    ----------
    path : str or PathLike
        ``.glb`` or ``.gltf``.

    Returns
    -------
    Rig
    """
    return read_gltf_skin(path).rig


def _skin_weights(doc: GltfDocument, users: List[int], skin_index: int, n_joints: int) -> Optional[np.ndarray]:
    """Dense (n, J) weights when exactly one primitive uses the skin, else None."""
    prims = [
        p
        for u in users
        if doc.json["nodes"][u]["skin"] == skin_index
        for p in doc.json["meshes"][doc.json["nodes"][u]["mesh"]].get("primitives", [])
    ]
    prims = [p for p in prims if "JOINTS_0" in p.get("attributes", {})]
    if len(prims) != 1:
        return None
    attrs = prims[0]["attributes"]
    W = None
    s = 0
    while f"JOINTS_{s}" in attrs and f"WEIGHTS_{s}" in attrs:
        J = doc.accessor(attrs[f"JOINTS_{s}"]).astype(np.int64)
        w = doc.accessor(attrs[f"WEIGHTS_{s}"]).astype(np.float64)
        if W is None:
            W = np.zeros((len(J), n_joints))
        if J.shape != w.shape or len(J) != len(W) or (J.size and (J.min() < 0 or J.max() >= n_joints)):
            raise InputError(str(doc.path), f"JOINTS_{s}/WEIGHTS_{s} do not match the skin's {n_joints} joints")
        np.add.at(W, (np.repeat(np.arange(len(J)), J.shape[1]), J.ravel()), w.ravel())
        s += 1
    return W


def _rig_from_skeleton(
    names: List[str], positions: np.ndarray, parent: np.ndarray, carries: np.ndarray, source: str
) -> Tuple[Rig, np.ndarray]:
    """Bones from parent → child joint pairs (see the module docstring)."""
    n = len(names)
    scale = max(1.0, float(np.abs(positions).max()))
    eps = 1e-7 * scale
    children = [np.flatnonzero(parent == k) for k in range(n)]
    joints = [p for p in positions]
    joint_names = list(names)
    bones: List[Tuple[int, int]] = []
    bone_names: List[str] = []
    bone_joint: List[int] = []
    for k in range(n):
        ends: List[int] = []
        for c in children[k]:
            if np.linalg.norm(positions[c] - positions[k]) <= eps:
                continue
            if any(np.linalg.norm(positions[c] - positions[e]) <= eps for e in ends):
                continue
            ends.append(int(c))
        if not len(children[k]) and parent[k] >= 0 and carries[k]:
            direction = positions[k] - positions[parent[k]]
            if np.linalg.norm(direction) > eps:
                joints.append(positions[k] + 0.5 * direction)
                joint_names.append(f"{names[k]}_tip")
                ends.append(len(joints) - 1)
        for e in ends:
            bones.append((k, e))
            bone_names.append(names[k] if len(ends) == 1 else f"{names[k]}->{joint_names[e]}")
            bone_joint.append(k)
    joints = np.array(joints, dtype=np.float64).reshape(-1, 3)
    # Parent bone of a bone starting at joint k: the bone from k's parent that ends at k's
    # position; failing that, the first bone of the nearest ancestor that has one.
    bone_parents = []
    for start, _ in bones:
        p, found = parent[start], -1
        while p >= 0 and found < 0:
            mine = [b for b, (s, _) in enumerate(bones) if s == p]
            hit = [b for b in mine if np.linalg.norm(joints[bones[b][1]] - positions[start]) <= eps]
            found = hit[0] if hit else (mine[0] if mine else -1)
            p = parent[p]
        bone_parents.append(found)
    on_bone = np.zeros(len(joints), bool)
    for s, e in bones:
        on_bone[[s, e]] = True
    seg = np.array([[joints[s], joints[e]] for s, e in bones]).reshape(-1, 2, 3)
    points = [
        k
        for k in range(n)
        if not on_bone[k] and carries[k] and not (len(seg) and _segment_distance(positions[k], seg).min() <= eps)
    ]
    for i, a in enumerate(points):
        for b in points[i + 1 :]:
            if np.linalg.norm(positions[a] - positions[b]) <= eps:
                raise InputError(
                    source,
                    f"skin joints {names[a]!r} and {names[b]!r} sit at the same place with no "
                    "bone between them: their weights cannot be told apart",
                )
    rig = Rig.from_arrays(
        joints,
        np.array(bones, dtype=np.int64).reshape(-1, 2),
        points,
        bone_parents,
        joint_names,
        bone_names,
        source=source,
    )
    return rig, np.array(points + bone_joint, dtype=np.int64)


def _segment_distance(x: np.ndarray, seg: np.ndarray) -> np.ndarray:
    a, b = seg[:, 0], seg[:, 1]
    ab = b - a
    t = np.clip(((x - a) * ab).sum(1) / np.maximum((ab * ab).sum(1), 1e-300), 0.0, 1.0)
    return np.linalg.norm(a + t[:, None] * ab - x, axis=1)
