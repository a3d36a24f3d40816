"""glTF 2.0 documents: reading (JSON, buffers, accessors, the node tree) and writing
(``.glb`` containers, ``.gltf`` files with embedded buffers, new buffer data).

A :class:`GltfDocument` keeps the file's JSON as parsed and the bytes of every buffer, so
writers can patch a document and put it back (:mod:`fieldrig.geometry.gltf.reskin`) or
build one from scratch (:mod:`fieldrig.geometry.gltf.writer`).
"""

from __future__ import annotations

import base64
import copy
import json
import os
import struct
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union
from urllib.parse import unquote

import numpy as np

from fieldrig.core.atomic import atomic_write_bytes, atomic_write_text
from fieldrig.core.errors import InputError
from fieldrig.geometry.rotations import matrix_to_quaternion, quaternion_to_matrix

PathLike = Union[str, os.PathLike]

GLB_MAGIC = 0x46546C67
CHUNK_JSON = 0x4E4F534A
CHUNK_BIN = 0x004E4942
COMPONENTS = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963


class GltfDocument:
    """A parsed glTF file: its JSON and its buffers' bytes.

    Parameters
    ----------
    path : str or PathLike
        ``.glb`` or ``.gltf`` (external buffers are read from beside it).

    Attributes
    ----------
    path : Path
    json : dict
        The document as parsed.
    buffers : list of bytes
        Every buffer's content, in order (the GLB binary chunk for a buffer without uri).
    """

    def __init__(self, path: PathLike):
        path = Path(path)
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

    @property
    def nodes(self) -> List[dict]:
        """The document's nodes."""
        return self.json.get("nodes", [])

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
            if kind == CHUNK_JSON and text is None:
                text = chunk
            elif kind == CHUNK_BIN and blob is None:
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
        external = self.path.parent / unquote(uri)
        if not external.is_file():
            raise InputError(str(self.path), f"buffer file {uri!r} not found beside it")
        return external.read_bytes()

    # ------------------------------------------------------------- accessors
    def accessor(self, index: int) -> np.ndarray:
        """Decode accessor ``index`` to a (count, width) array (normalised integers → float;
        sparse accessors applied).

        Raises
        ------
        InputError
            A malformed accessor, or one that reads past its buffer.
        """
        try:
            acc = self.json["accessors"][index]
            dtype = np.dtype(COMPONENTS[acc["componentType"]]).newbyteorder("<")
            width, count = WIDTH[acc["type"]], int(acc["count"])
            out = np.zeros((count, width), dtype=dtype)
            if "bufferView" in acc:
                out = self._view_rows(acc["bufferView"], acc.get("byteOffset", 0), count, dtype, width, index)
            if "sparse" in acc:
                sparse = acc["sparse"]
                k = int(sparse["count"])
                idx_dtype = np.dtype(COMPONENTS[sparse["indices"]["componentType"]]).newbyteorder("<")
                rows = self._view_rows(
                    sparse["indices"]["bufferView"], sparse["indices"].get("byteOffset", 0), k, idx_dtype, 1, index
                ).ravel()
                values = self._view_rows(
                    sparse["values"]["bufferView"], sparse["values"].get("byteOffset", 0), k, dtype, width, index
                )
                if rows.size and rows.max() >= count:
                    raise InputError(str(self.path), f"accessor {index}: a sparse index is out of range")
                out = out.copy()
                out[rows.astype(np.int64)] = values
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise InputError(str(self.path), f"accessor {index} is malformed ({exc!r})") from exc
        if acc.get("normalized") and dtype.kind in "iu":
            return np.maximum(out.astype(np.float64) / np.iinfo(dtype).max, -1.0)
        return out

    def _view_rows(self, view_index: int, offset: int, count: int, dtype, width: int, accessor: int) -> np.ndarray:
        view = self.json["bufferViews"][view_index]
        data = self.buffers[view["buffer"]]
        start = view.get("byteOffset", 0) + offset
        stride = view.get("byteStride") or dtype.itemsize * width
        needed = start + stride * (count - 1) + dtype.itemsize * width if count else start
        if needed > len(data) or needed > view.get("byteOffset", 0) + view["byteLength"]:
            raise InputError(str(self.path), f"accessor {accessor} reads past the end of its buffer view")
        if not count:
            return np.zeros((0, width), dtype=dtype)
        raw = np.frombuffer(data, dtype=np.uint8, count=needed - start, offset=start)
        rows = np.lib.stride_tricks.as_strided(raw, shape=(count, dtype.itemsize * width), strides=(stride, 1))
        return np.ascontiguousarray(rows).view(dtype).reshape(count, width)

    # ------------------------------------------------------------ node tree
    def parent_of(self) -> Dict[int, int]:
        """Parent node of every child node."""
        return {c: i for i, n in enumerate(self.nodes) for c in n.get("children", [])}

    def scene_nodes(self) -> List[int]:
        """Nodes of the default scene (else scene 0, else all parentless nodes), depth first,
        children in file order.

        Raises
        ------
        InputError
            A node listed twice or a child that does not exist (a broken tree).
        """
        nodes = self.nodes
        scenes = self.json.get("scenes", [])
        if scenes:
            scene = self.json.get("scene", 0)
            roots = list(scenes[scene if isinstance(scene, int) and 0 <= scene < len(scenes) else 0].get("nodes", []))
        else:
            children = {c for n in nodes for c in n.get("children", [])}
            roots = [i for i in range(len(nodes)) if i not in children]
        order: List[int] = []
        seen = set()
        stack = list(reversed(roots))
        while stack:
            i = stack.pop()
            if i in seen or not isinstance(i, int) or not 0 <= i < len(nodes):
                raise InputError(
                    str(self.path), f"node {i} is listed twice or does not exist (the node tree is broken)"
                )
            seen.add(i)
            order.append(i)
            stack.extend(reversed(nodes[i].get("children", [])))
        return order

    def world_matrices(self) -> Dict[int, np.ndarray]:
        """World transform of every node (its local transform after its ancestors')."""
        nodes = self.nodes
        parent = self.parent_of()
        world: Dict[int, np.ndarray] = {}

        def visit(i: int, depth: int = 0) -> np.ndarray:
            if i not in world:
                if depth > len(nodes):
                    raise InputError(str(self.path), "the node hierarchy has a cycle")
                p = parent.get(i)
                base = visit(p, depth + 1) if p is not None else np.eye(4)
                world[i] = base @ local_matrix(nodes[i])
            return world[i]

        for i in range(len(nodes)):
            visit(i)
        return world


# ================================================================ transforms
def quaternion_matrix(q) -> np.ndarray:
    """Rotation matrices of glTF quaternions ``(x, y, z, w)`` ((..., 4) → (..., 3, 3), normalised first)."""
    q = np.asarray(q, dtype=np.float64)
    return quaternion_to_matrix(np.concatenate([q[..., 3:], q[..., :3]], axis=-1))


def trs_matrix(translation, rotation, scale) -> np.ndarray:
    """``T · R · S`` from translations (..., 3), glTF quaternions ``(x, y, z, w)`` (..., 4) and
    scales (..., 3): (..., 4, 4)."""
    t = np.asarray(translation, dtype=np.float64)
    M = np.zeros(t.shape[:-1] + (4, 4))
    M[..., :3, :3] = quaternion_matrix(rotation) * np.asarray(scale, dtype=np.float64)[..., None, :]
    M[..., :3, 3] = t
    M[..., 3, 3] = 1.0
    return M


def node_trs(node: dict) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A node's rest translation, rotation ``(x, y, z, w)`` and scale (from ``matrix`` when given)."""
    if "matrix" in node:
        return matrix_trs(np.asarray(node["matrix"], dtype=np.float64).reshape(4, 4).T)
    return (
        np.asarray(node.get("translation", [0.0, 0.0, 0.0]), dtype=np.float64),
        np.asarray(node.get("rotation", [0.0, 0.0, 0.0, 1.0]), dtype=np.float64),
        np.asarray(node.get("scale", [1.0, 1.0, 1.0]), dtype=np.float64),
    )


def local_matrix(node: dict) -> np.ndarray:
    """A node's local transform, (4, 4)."""
    if "matrix" in node:
        return np.asarray(node["matrix"], dtype=np.float64).reshape(4, 4).T
    return trs_matrix(*node_trs(node))


def matrix_trs(M: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Translation, rotation ``(x, y, z, w)`` and scale of an affine (4, 4) matrix.

    The linear part is split by its polar decomposition ``R · S``; the scale is the
    diagonal of ``Rᵀ A`` (exact for the rotation-and-axis-scale matrices TRS nodes make;
    shear, which TRS cannot express, is dropped).
    """
    from scipy.linalg import polar

    A = np.asarray(M, dtype=np.float64)[:3, :3]
    R, _ = polar(A)
    if np.linalg.det(R) < 0:  # a mirror: put it in the scale
        R = -R
    scale = np.einsum("ji,ji->i", R, A)
    w, x, y, z = matrix_to_quaternion(R)
    return np.asarray(M, dtype=np.float64)[:3, 3].copy(), np.array([x, y, z, w]), scale


# =================================================================== writing
class BufferBuilder:
    """Accumulates binary data for new accessors and buffer views, 4-byte aligned.

    Parameters
    ----------
    document : dict
        The glTF JSON whose ``accessors`` and ``bufferViews`` lists receive the new
        entries (created when absent).
    buffer : int
        Index of the buffer the new bytes belong to.
    base : bytes
        That buffer's existing bytes: new data is appended after them.
    """

    def __init__(self, document: dict, buffer: int = 0, base: bytes = b""):
        self.document = document
        self.buffer = buffer
        self.blob = bytearray(base)
        document.setdefault("accessors", [])
        document.setdefault("bufferViews", [])

    def add(
        self,
        array: np.ndarray,
        type_: str,
        component: int,
        target: Optional[int] = None,
        minmax: bool = False,
        normalized: bool = False,
    ) -> int:
        """Append one accessor (and its own buffer view); returns the accessor's index."""
        array = np.ascontiguousarray(array, dtype=COMPONENTS[component])
        while len(self.blob) % 4:
            self.blob.append(0)
        view = {"buffer": self.buffer, "byteOffset": len(self.blob), "byteLength": array.nbytes}
        if target is not None:
            view["target"] = target
        self.blob.extend(array.tobytes())
        self.document["bufferViews"].append(view)
        accessor = {
            "bufferView": len(self.document["bufferViews"]) - 1,
            "componentType": component,
            "count": int(array.shape[0]),
            "type": type_,
        }
        if normalized:
            accessor["normalized"] = True
        if minmax:
            flat = array.reshape(array.shape[0], -1)
            accessor["min"] = [_number(v) for v in flat.min(axis=0)]
            accessor["max"] = [_number(v) for v in flat.max(axis=0)]
        self.document["accessors"].append(accessor)
        return len(self.document["accessors"]) - 1

    def bytes(self) -> bytes:
        """The buffer's content, padded to a multiple of 4."""
        return bytes(self.blob) + b"\0" * (-len(self.blob) % 4)


def _number(v):
    return int(v) if np.issubdtype(type(v), np.integer) else float(v)


def write_gltf(path: PathLike, document: dict, buffers: List[bytes], source_dir: Optional[Path] = None) -> None:
    """Write a document and its buffers, atomically: ``.glb`` (buffer 0 in the binary chunk)
    or ``.gltf`` (buffers without an external file embedded as data URIs).

    Parameters
    ----------
    path : str or PathLike
    document : dict
        The glTF JSON (not modified; ``buffers[i].byteLength`` and URIs are set on a copy).
    buffers : list of bytes
        Content of every buffer.
    source_dir : Path, optional
        Folder relative URIs of the document (external buffers, images) refer to; they are
        rewritten relative to the output's folder.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".glb", ".gltf"):
        raise InputError(str(path), f"unknown glTF extension {suffix!r} (expected .glb or .gltf)")
    doc = copy.deepcopy(document)
    for item in doc.get("buffers", []) + doc.get("images", []):
        if "uri" in item and source_dir is not None:
            item["uri"] = _relocated(item["uri"], source_dir, path.parent)
    glb = suffix == ".glb"
    for i, (item, data) in enumerate(zip(doc.get("buffers", []), buffers)):
        external = "uri" in item and not item["uri"].startswith("data:")
        if glb and i == 0:
            item.pop("uri", None)
        elif not external:
            item["uri"] = "data:application/octet-stream;base64," + base64.b64encode(data).decode()
        item["byteLength"] = len(data)
    if not glb:
        atomic_write_text(path, json.dumps(doc, indent=1) + "\n")
        return
    text = json.dumps(doc, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)
    blob = buffers[0] + b"\0" * (-len(buffers[0]) % 4) if buffers else b""
    chunks = [struct.pack("<II", len(text), CHUNK_JSON), text]
    if buffers:
        chunks += [struct.pack("<II", len(blob), CHUNK_BIN), blob]
    body = b"".join(chunks)
    atomic_write_bytes(path, struct.pack("<III", GLB_MAGIC, 2, 12 + len(body)) + body)


def _relocated(uri: str, source_dir: Path, target_dir: Path) -> str:
    """A relative file URI of a document in ``source_dir`` as seen from ``target_dir``."""
    from urllib.parse import quote, urlparse

    if uri.startswith("data:") or urlparse(uri).scheme or uri.startswith("/"):
        return uri
    target = (Path(source_dir) / unquote(uri)).resolve()
    return quote(os.path.relpath(target, Path(target_dir).resolve()).replace(os.sep, "/"))


def primitive_triangles(idx: np.ndarray, mode: int) -> np.ndarray:
    """Triangles of a glTF primitive's index list: mode 4 = list, 5 = strip, 6 = fan.

    Parameters
    ----------
    idx : (k,) int
    mode : int

    Returns
    -------
    (t, 3) int
    """
    if mode == 4:
        return idx[: len(idx) // 3 * 3].reshape(-1, 3)
    k = np.arange(max(len(idx) - 2, 0))
    if mode == 6:
        return np.stack([np.full_like(k, idx[0]), idx[k + 1], idx[k + 2]], axis=1)
    odd = k % 2 == 1  # strips alternate winding
    return np.stack([idx[k], np.where(odd, idx[k + 2], idx[k + 1]), np.where(odd, idx[k + 1], idx[k + 2])], axis=1)
