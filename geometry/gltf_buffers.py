"""Reading glTF 2.0 files: accessors as numpy arrays, node world matrices in file order.

Shared by the mesh loader (:mod:`fieldrig.geometry.mesh_io`) and the glTF skin reader, so
both walk nodes and primitives in the same order and vertex rows line up:

- nodes: depth first from the roots of the default scene (``scene``, else scene 0; a file
  without scenes uses every node that is nobody's child), children in file order;
- within a node's mesh: primitives in file order.
"""
from __future__ import annotations

import base64
import os
import warnings
from pathlib import Path
from typing import Dict, List, Tuple, Union
from urllib.parse import unquote

import numpy as np

from fieldrig.geometry.errors import InputError
from fieldrig.geometry.rotations import quaternion_to_matrix

_COMPONENT_DTYPES = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16,
                     5125: np.uint32, 5126: np.float32}
_TYPE_SIZES = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}


class GltfFile:
    """A parsed glTF/GLB file with its buffers resolved.

    Parameters
    ----------
    path : str or PathLike
        ``.gltf`` (JSON with external or embedded buffers) or ``.glb``.

    Attributes
    ----------
    doc : pygltflib.GLTF2
        The parsed document.
    path : str
    """

    def __init__(self, path: Union[str, os.PathLike]):
        import pygltflib

        self.path = str(path)
        try:
            with warnings.catch_warnings():  # pygltflib warns before failing on junk
                warnings.simplefilter("ignore")
                self.doc = pygltflib.GLTF2().load(self.path)
        except Exception as exc:  # pygltflib raises whatever json/struct raise
            raise InputError(self.path, f"cannot read glTF file ({exc})") from exc
        if self.doc is None:
            raise InputError(self.path, "cannot read glTF file (not a glTF or GLB document)")
        self._buffers: Dict[int, bytes] = {}

    # ------------------------------------------------------------- buffers
    def buffer(self, index: int) -> bytes:
        """The bytes of buffer ``index`` (GLB binary chunk, data URI or external file)."""
        if index not in self._buffers:
            buf = self.doc.buffers[index]
            uri = buf.uri
            if uri is None:
                data = self.doc.binary_blob()
                if data is None:
                    raise InputError(self.path, f"buffer {index} has no data (missing GLB binary chunk)")
            elif uri.startswith("data:"):
                try:
                    data = base64.b64decode(uri.split(",", 1)[1])
                except (IndexError, ValueError) as exc:
                    raise InputError(self.path, f"buffer {index} has a malformed data URI") from exc
            else:
                file = Path(self.path).parent / unquote(uri)
                try:
                    data = file.read_bytes()
                except OSError as exc:
                    raise InputError(self.path, f"buffer file {uri!r} cannot be read ({exc.strerror})") from exc
            if len(data) < (buf.byteLength or 0):
                raise InputError(self.path, f"buffer {index} holds {len(data)} bytes, the file declares {buf.byteLength}")
            self._buffers[index] = data
        return self._buffers[index]

    def accessor(self, index: int) -> np.ndarray:
        """The data of accessor ``index`` as an array.

        Returns
        -------
        (count, k) array
            ``k`` components per element (1 for SCALAR, 3 for VEC3, 16 for MAT4 in the
            file's column-major order). Normalised integer accessors come back as floats
            in [0, 1] or [-1, 1]; others keep their integer type or become float64.
        """
        try:
            acc = self.doc.accessors[index]
            dtype = np.dtype(_COMPONENT_DTYPES[acc.componentType]).newbyteorder("<")
            k = _TYPE_SIZES[acc.type]
        except (IndexError, KeyError, TypeError) as exc:
            raise InputError(self.path, f"accessor {index} is missing or has an unknown type") from exc
        count = int(acc.count)
        if acc.bufferView is None:
            out = np.zeros((count, k), dtype=dtype)
        else:
            view = self.doc.bufferViews[acc.bufferView]
            data = np.frombuffer(self.buffer(view.buffer), dtype=np.uint8)
            item = dtype.itemsize * k
            stride = view.byteStride or item
            start = (view.byteOffset or 0) + (acc.byteOffset or 0)
            last = start + stride * (count - 1) + item if count else start
            if last > len(data):
                raise InputError(self.path, f"accessor {index} reads past the end of its buffer")
            rows = start + stride * np.arange(count)[:, None] + np.arange(item)[None, :]
            out = np.ascontiguousarray(data[rows]).view(dtype).reshape(count, k)
        if acc.sparse is not None:
            out = out.copy()
            sp = acc.sparse
            idx = self._sparse_part(sp.count, sp.indices.bufferView, sp.indices.byteOffset,
                                    _COMPONENT_DTYPES[sp.indices.componentType], 1).reshape(-1)
            vals = self._sparse_part(sp.count, sp.values.bufferView, sp.values.byteOffset, dtype, k)
            out[idx.astype(np.int64)] = vals
        if acc.normalized and np.issubdtype(out.dtype, np.integer):
            info = np.iinfo(out.dtype)
            return np.maximum(out.astype(np.float64) / info.max, -1.0)
        return out.astype(np.float64) if out.dtype == np.float32 else out

    def _sparse_part(self, count, view_index, offset, dtype, k) -> np.ndarray:
        view = self.doc.bufferViews[view_index]
        data = self.buffer(view.buffer)
        start = (view.byteOffset or 0) + (offset or 0)
        return np.frombuffer(data, dtype=np.dtype(dtype).newbyteorder("<"), count=count * k, offset=start).reshape(count, k)

    # --------------------------------------------------------------- nodes
    def node_world_matrices(self) -> List[Tuple[int, np.ndarray]]:
        """Every node reachable from the default scene with its world matrix.

        Returns
        -------
        list of (node index, (4, 4) float)
            Depth first, children in file order (the order described in the module).
        """
        nodes = self.doc.nodes or []
        scenes = self.doc.scenes or []
        if scenes:
            scene = scenes[self.doc.scene or 0] if (self.doc.scene or 0) < len(scenes) else scenes[0]
            roots = list(scene.nodes or [])
        else:
            children = {c for n in nodes for c in (n.children or [])}
            roots = [i for i in range(len(nodes)) if i not in children]
        out: List[Tuple[int, np.ndarray]] = []
        stack = [(r, np.eye(4)) for r in reversed(roots)]
        seen = set()
        while stack:
            i, parent = stack.pop()
            if i in seen or not 0 <= i < len(nodes):
                raise InputError(self.path, f"node {i} is referenced twice or does not exist (the node tree is broken)")
            seen.add(i)
            world = parent @ self.local_matrix(i)
            out.append((i, world))
            stack.extend((c, world) for c in reversed(nodes[i].children or []))
        return out

    def local_matrix(self, index: int) -> np.ndarray:
        """Node ``index``'s local transform (``matrix``, else T·R·S), (4, 4) float."""
        node = self.doc.nodes[index]
        if node.matrix is not None:
            return np.asarray(node.matrix, dtype=np.float64).reshape(4, 4).T
        M = np.eye(4)
        if node.scale is not None:
            M[:3, :3] = np.diag(np.asarray(node.scale, dtype=np.float64))
        if node.rotation is not None:
            x, y, z, w = node.rotation
            M[:3, :3] = quaternion_to_matrix(np.array([w, x, y, z])) @ M[:3, :3]
        if node.translation is not None:
            M[:3, 3] = node.translation
        return M
