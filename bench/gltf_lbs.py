"""An independent glTF 2.0 skinning player for the benches: JSON + buffers → skinned vertex positions.

It shares no code with fieldrig (only numpy and the standard library), so that what
fieldrig writes can be checked against the spec as a glTF viewer would play it: every
skinned primitive's POSITION, JOINTS_n / WEIGHTS_n (float or normalised integers), the
skin's inverse bind matrices, the node hierarchy (matrix or TRS) and one animation's
samplers (STEP, LINEAR with quaternion slerp, CUBICSPLINE), and linear blend skinning
``Σ w · G_joint · IBM · v`` with the mesh node's own transform ignored (spec §3.7.3).

    from gltf_lbs import GltfPlayer
    player = GltfPlayer("out.glb")
    X = player.skinned(time=0.5, animation=0)     # (n, 3), primitives in document order
"""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path
from typing import List, Optional

import numpy as np

_COMPONENTS = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}
_NORMALISER = {5120: 127.0, 5121: 255.0, 5122: 32767.0, 5123: 65535.0}


class GltfPlayer:
    """Reads a .glb or .gltf once; evaluates its skinned primitives at any time of any animation.

    Attributes
    ----------
    doc : dict
        The glTF JSON.
    primitives : list of dict
        One per skinned primitive, in document order (meshes, then primitives), of the
        nodes that use a skin: ``{"node", "skin", "V" (n, 3), "joints" (n, k), "weights" (n, k)}``.
    """

    def __init__(self, path):
        self.path = Path(path)
        self.doc, self._bin = _load(self.path)
        self.parent = np.full(len(self.doc.get("nodes", [])), -1)
        for i, node in enumerate(self.doc.get("nodes", [])):
            for c in node.get("children", []):
                self.parent[c] = i
        self.primitives = []
        for i, node in enumerate(self.doc.get("nodes", [])):
            if "skin" not in node or "mesh" not in node:
                continue
            for prim in self.doc["meshes"][node["mesh"]]["primitives"]:
                a = prim["attributes"]
                sets = sorted(int(k.split("_")[1]) for k in a if k.startswith("JOINTS_"))
                self.primitives.append(
                    {
                        "node": i,
                        "skin": node["skin"],
                        "V": self.accessor(a["POSITION"]).astype(np.float64),
                        "joints": np.hstack([self.accessor(a[f"JOINTS_{s}"]) for s in sets]).astype(np.int64),
                        "weights": np.hstack([self.accessor(a[f"WEIGHTS_{s}"]) for s in sets]).astype(np.float64),
                    }
                )

    def accessor(self, index: int) -> np.ndarray:
        """An accessor's elements as (count, width) (normalised integers as floats in [0, 1])."""
        acc = self.doc["accessors"][index]
        if "sparse" in acc:
            raise NotImplementedError(f"{self.path}: sparse accessor {index}")
        dtype = np.dtype(_COMPONENTS[acc["componentType"]]).newbyteorder("<")
        width = _WIDTH[acc["type"]]
        count = acc["count"]
        if "bufferView" not in acc:
            return np.zeros((count, width), dtype)
        view = self.doc["bufferViews"][acc["bufferView"]]
        data = self._bin[view["buffer"]]
        start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
        stride = view.get("byteStride") or dtype.itemsize * width
        rows = np.lib.stride_tricks.as_strided(
            np.frombuffer(data, dtype=np.uint8, offset=start, count=(count - 1) * stride + dtype.itemsize * width),
            shape=(count, dtype.itemsize * width),
            strides=(stride, 1),
        )
        out = np.ascontiguousarray(rows).view(dtype).reshape(count, width)
        if acc.get("normalized") and acc["componentType"] in _NORMALISER:
            return np.maximum(out.astype(np.float64) / _NORMALISER[acc["componentType"]], -1.0)
        return out

    def local(self, node: int, animation: Optional[int], time: float) -> np.ndarray:
        """A node's local matrix, its animated channels evaluated at ``time``."""
        n = self.doc["nodes"][node]
        if "matrix" in n:
            M = np.array(n["matrix"], dtype=np.float64).reshape(4, 4).T
        else:
            trs = {
                "translation": np.array(n.get("translation", [0, 0, 0]), np.float64),
                "rotation": np.array(n.get("rotation", [0, 0, 0, 1]), np.float64),
                "scale": np.array(n.get("scale", [1, 1, 1]), np.float64),
            }
            if animation is not None:
                anim = self.doc["animations"][animation]
                for ch in anim["channels"]:
                    if ch["target"].get("node") == node and ch["target"]["path"] in trs:
                        trs[ch["target"]["path"]] = self._sample(anim["samplers"][ch["sampler"]], ch, time)
            M = _compose(trs["translation"], trs["rotation"], trs["scale"])
        return M

    def world(self, animation: Optional[int], time: float) -> np.ndarray:
        """(nodes, 4, 4) world matrices at ``time``."""
        nodes = self.doc.get("nodes", [])
        out = [None] * len(nodes)

        def visit(i):
            if out[i] is None:
                L = self.local(i, animation, time)
                out[i] = L if self.parent[i] < 0 else visit(self.parent[i]) @ L
            return out[i]

        for i in range(len(nodes)):
            visit(i)
        return np.stack(out) if out else np.zeros((0, 4, 4))

    def skinned(self, time: float = 0.0, animation: Optional[int] = 0, normalise: bool = False) -> np.ndarray:
        """Every skinned primitive's vertices skinned at ``time`` of ``animation`` (None: the
        nodes' rest transforms), concatenated in document order → (n, 3).

        Weights are used as stored, as the spec requires them normalised; ``normalise``
        rescales each row to sum 1 first (for files that break that rule)."""
        G = self.world(animation, time)
        out = []
        for p in self.primitives:
            skin = self.doc["skins"][p["skin"]]
            joints = skin["joints"]
            if "inverseBindMatrices" in skin:
                ibm = self.accessor(skin["inverseBindMatrices"]).astype(np.float64).reshape(-1, 4, 4).transpose(0, 2, 1)
            else:
                ibm = np.tile(np.eye(4), (len(joints), 1, 1))
            S = G[joints] @ ibm  # (J, 4, 4)
            Vh = np.hstack([p["V"], np.ones((len(p["V"]), 1))])
            w = p["weights"]
            if normalise:
                w = w / np.maximum(w.sum(axis=1, keepdims=True), 1e-12)
            X = np.zeros((len(Vh), 4))
            for k in range(p["joints"].shape[1]):
                X += w[:, k : k + 1] * np.einsum("nab,nb->na", S[p["joints"][:, k]], Vh)
            out.append(X[:, :3])
        return np.concatenate(out) if out else np.zeros((0, 3))

    def rest_positions(self) -> np.ndarray:
        """Every skinned primitive's stored POSITION values, concatenated → (n, 3)."""
        return np.concatenate([p["V"] for p in self.primitives]) if self.primitives else np.zeros((0, 3))

    def animation_names(self) -> List[str]:
        return [a.get("name", f"animation {i}") for i, a in enumerate(self.doc.get("animations", []))]

    def key_times(self, animation: int) -> np.ndarray:
        """Every sampler input time of an animation, sorted, once each."""
        anim = self.doc["animations"][animation]
        return np.unique(np.concatenate([self.accessor(s["input"]).reshape(-1) for s in anim["samplers"]]))

    def duration(self, animation: int) -> float:
        anim = self.doc["animations"][animation]
        return max(float(self.accessor(s["input"]).max()) for s in anim["samplers"])

    def _sample(self, sampler: dict, channel: dict, time: float) -> np.ndarray:
        t = self.accessor(sampler["input"]).astype(np.float64).reshape(-1)
        v = self.accessor(sampler["output"]).astype(np.float64)
        mode = sampler.get("interpolation", "LINEAR")
        rotation = channel["target"]["path"] == "rotation"
        if mode == "CUBICSPLINE":
            v = v.reshape(len(t), 3, -1)
        if time <= t[0] or len(t) == 1:
            return v[0, 1] if mode == "CUBICSPLINE" else v[0]
        if time >= t[-1]:
            return v[-1, 1] if mode == "CUBICSPLINE" else v[-1]
        k = int(np.searchsorted(t, time, side="right")) - 1
        dt = t[k + 1] - t[k]
        s = (time - t[k]) / dt
        if mode == "STEP":
            return v[k]
        if mode == "CUBICSPLINE":
            p0, m0, p1, m1 = v[k, 1], dt * v[k, 2], v[k + 1, 1], dt * v[k + 1, 0]
            out = (
                (2 * s**3 - 3 * s**2 + 1) * p0
                + (s**3 - 2 * s**2 + s) * m0
                + (-2 * s**3 + 3 * s**2) * p1
                + (s**3 - s**2) * m1
            )
            return out / np.linalg.norm(out) if rotation else out
        if rotation:
            return _slerp(v[k], v[k + 1], s)
        return (1 - s) * v[k] + s * v[k + 1]


def _load(path: Path):
    raw = path.read_bytes()
    if raw[:4] == b"glTF":
        _, _, length = struct.unpack_from("<III", raw, 0)
        offset, doc, chunks = 12, None, []
        while offset < length:
            size, kind = struct.unpack_from("<II", raw, offset)
            body = raw[offset + 8 : offset + 8 + size]
            if kind == 0x4E4F534A:
                doc = json.loads(body)
            elif kind == 0x004E4942:
                chunks.append(body)
            offset += 8 + size
        buffers = []
        for i, b in enumerate(doc.get("buffers", [])):
            buffers.append(chunks[0] if i == 0 and "uri" not in b else _uri(path, b["uri"]))
        return doc, buffers
    doc = json.loads(raw)
    return doc, [_uri(path, b["uri"]) for b in doc.get("buffers", [])]


def _uri(path: Path, uri: str) -> bytes:
    if uri.startswith("data:"):
        return base64.b64decode(uri.split(",", 1)[1])
    return (path.parent / uri).read_bytes()


def _compose(t, q, s) -> np.ndarray:
    x, y, z, w = q / np.linalg.norm(q)
    R = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )
    M = np.eye(4)
    M[:3, :3] = R * s[None, :]
    M[:3, 3] = t
    return M


def _slerp(a, b, s):
    d = float(a @ b)
    if d < 0:
        b, d = -b, -d
    if d > 0.9995:
        q = a + s * (b - a)
    else:
        th = np.arccos(d)
        q = (np.sin((1 - s) * th) * a + np.sin(s * th) * b) / np.sin(th)
    return q / np.linalg.norm(q)
