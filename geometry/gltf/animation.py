"""glTF 2.0 animations as clips of a skin: the joints' world transforms at any time.

A channel animates the translation, rotation or scale of one node; a sampler holds key
times and values with ``LINEAR`` (rotations by spherical linear interpolation along the
shorter arc), ``STEP`` or ``CUBICSPLINE`` (Hermite with the file's in/out tangents scaled
by the key interval; rotations renormalised) interpolation. Times outside a sampler's keys
take its first or last value. A joint's world transform is the product of the animated
local transforms of every node on its path to the scene root (joints and the nodes above
them, e.g. an armature node). ``weights`` (morph target) channels do not move joints and
are skipped.
"""

from __future__ import annotations

from typing import Dict, List, Sequence

import numpy as np

from fieldrig.core.errors import InputError
from fieldrig.geometry.gltf.document import GltfDocument, local_matrix, node_trs, trs_matrix
from fieldrig.geometry.skinned_asset import Clip

_PATHS = {"translation": 0, "rotation": 1, "scale": 2}
_WIDTHS = {"translation": 3, "rotation": 4, "scale": 3}


class _Sampler:
    """One animation sampler's keys, evaluated at a time."""

    def __init__(self, times: np.ndarray, values: np.ndarray, interpolation: str, path: str, where: str):
        times = np.asarray(times, dtype=np.float64).reshape(-1)
        width = _WIDTHS[path]
        k = len(times)
        cubic = interpolation == "CUBICSPLINE"
        if interpolation not in ("LINEAR", "STEP", "CUBICSPLINE"):
            raise InputError(where, f"unknown interpolation {interpolation!r}")
        if k == 0 or not np.all(np.isfinite(times)) or np.any(np.diff(times) < 0):
            raise InputError(where, "key times must be finite and increasing")
        values = np.asarray(values, dtype=np.float64)
        if values.shape[1:] != (width,) or len(values) != (3 * k if cubic else k):
            raise InputError(where, f"{len(values)} output values of width {values.shape[1]} for {k} keys")
        self.times, self.interpolation, self.rotation = times, interpolation, path == "rotation"
        self.values = values.reshape(k, 3, width) if cubic else values

    @property
    def end(self) -> float:
        return float(self.times[-1])

    def __call__(self, t: float) -> np.ndarray:
        times, k = self.times, len(self.times)
        cubic = self.interpolation == "CUBICSPLINE"
        key = (lambda i: self.values[i, 1]) if cubic else (lambda i: self.values[i])
        if k == 1 or t <= times[0]:
            return self._unit(key(0))
        if t >= times[-1]:
            return self._unit(key(k - 1))
        i = int(np.clip(np.searchsorted(times, t, side="right") - 1, 0, k - 2))
        dt = times[i + 1] - times[i]
        u = (t - times[i]) / dt if dt > 0 else 0.0
        if self.interpolation == "STEP":
            return self._unit(key(i))
        if cubic:
            a, b = self.values[i + 1, 0], self.values[i, 2]
            v0, v1 = self.values[i, 1], self.values[i + 1, 1]
            u2, u3 = u * u, u * u * u
            p = (2 * u3 - 3 * u2 + 1) * v0 + dt * (u3 - 2 * u2 + u) * b + (-2 * u3 + 3 * u2) * v1 + dt * (u3 - u2) * a
            return self._unit(p)
        v0, v1 = self.values[i], self.values[i + 1]
        return _slerp(v0, v1, u) if self.rotation else (1 - u) * v0 + u * v1

    def _unit(self, v: np.ndarray) -> np.ndarray:
        return v / max(float(np.linalg.norm(v)), np.finfo(float).tiny) if self.rotation else v


def _slerp(q0: np.ndarray, q1: np.ndarray, u: float) -> np.ndarray:
    """Spherical linear interpolation of unit quaternions along the shorter arc."""
    q0 = q0 / np.linalg.norm(q0)
    q1 = q1 / np.linalg.norm(q1)
    d = float(np.dot(q0, q1))
    if d < 0:
        q1, d = -q1, -d
    if d > 1 - 1e-9:
        q = (1 - u) * q0 + u * q1
    else:
        theta = np.arccos(d)
        q = (np.sin((1 - u) * theta) * q0 + np.sin(u * theta) * q1) / np.sin(theta)
    return q / np.linalg.norm(q)


class GltfClip(Clip):
    """One animation of a glTF file, as world transforms of one skin's joints.

    Parameters
    ----------
    doc : GltfDocument
    animation : int
        Index into the document's ``animations``.
    joint_nodes : sequence of int
        The skin's joint nodes, in skin order.
    name : str
        The clip's name (the animation's, made unique by the reader).
    """

    def __init__(self, doc: GltfDocument, animation: int, joint_nodes: Sequence[int], name: str):
        where = f"{doc.path}: animation {name!r}"
        anim = doc.json["animations"][animation]
        parent = doc.parent_of()
        order: List[int] = []
        for j in joint_nodes:
            path, p = [], int(j)
            while p is not None and p not in order and p not in path:
                path.append(p)
                p = parent.get(p)
            order.extend(reversed(path))
        self.joint_nodes = [int(j) for j in joint_nodes]
        self.order = order
        self.parent = {n: parent.get(n) for n in order}
        nodes = doc.nodes
        self.rest_local = {n: local_matrix(nodes[n]) for n in order}
        self.rest_trs = {n: node_trs(nodes[n]) for n in order}
        self.channels: Dict[int, Dict[int, _Sampler]] = {}
        samplers = anim.get("samplers", [])
        duration = 0.0
        built: Dict[int, tuple] = {}
        for c, channel in enumerate(anim.get("channels", [])):
            target = channel.get("target", {})
            path, node = target.get("path"), target.get("node")
            try:
                sampler = samplers[channel["sampler"]]
            except (KeyError, IndexError, TypeError):
                raise InputError(where, f"channel {c} names no valid sampler") from None
            if channel["sampler"] not in built:
                built[channel["sampler"]] = (
                    doc.accessor(sampler["input"]).astype(np.float64).reshape(-1),
                    doc.accessor(sampler["output"]).astype(np.float64),
                )
            times, values = built[channel["sampler"]]
            if len(times):
                duration = max(duration, float(np.max(times)))
            if path not in _PATHS or node not in self.rest_local:
                continue  # morph weights, pointers, or nodes that do not move the skin's joints
            self.channels.setdefault(node, {})[_PATHS[path]] = _Sampler(
                times, values, sampler.get("interpolation", "LINEAR"), path, f"{where}, channel {c}"
            )
        super().__init__(name, duration)

    def local(self, node: int, t: float) -> np.ndarray:
        """A node's local transform at time ``t``, (4, 4)."""
        animated = self.channels.get(node)
        if not animated:
            return self.rest_local[node]
        trs = [animated[k](t) if k in animated else self.rest_trs[node][k] for k in range(3)]
        return trs_matrix(*trs)

    def joint_world(self, t: float) -> np.ndarray:
        """World transforms of the skin's joints at time ``t`` (seconds), (J, 4, 4)."""
        world: Dict[int, np.ndarray] = {}
        for n in self.order:
            p = self.parent[n]
            local = self.local(n, float(t))
            world[n] = local if p is None else world[p] @ local
        return np.stack([world[j] for j in self.joint_nodes])
