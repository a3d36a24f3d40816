"""A small skinned glTF character built in the tests, and an independent reading of the glTF
2.0 skinning rules straight from its JSON (numpy only, no fieldrig code).

The character has what real files have: an armature node above the joints, a skinned mesh
node with its own transform under a parent with another (both must be ignored), a body of
two primitives and a second mesh (eyes) on one skin, an unskinned prop, a joint at its
parent's position, a joint far outside the shape, a material with a texture image, a
morph target, extras, and two animations using LINEAR, STEP and CUBICSPLINE samplers
(plus a morph-weights channel).
"""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path

import numpy as np
import trimesh

# A 1×1 PNG, for the texture.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
JOINTS = ["root", "mid", "tip", "twist", "ik_target"]
PARENTS = [-1, 0, 1, 1, 0]


def _quat(axis, degrees):
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    h = np.radians(degrees) / 2
    return np.r_[axis * np.sin(h), np.cos(h)]  # glTF order x, y, z, w


def quat_matrix(q):
    x, y, z, w = np.asarray(q, float) / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def trs(t=(0, 0, 0), r=(0, 0, 0, 1), s=(1, 1, 1)):
    M = np.eye(4)
    M[:3, :3] = quat_matrix(r) * np.asarray(s, float)
    M[:3, 3] = t
    return M


def _decompose(M):
    """Translation, quaternion, scale of a rotation-times-positive-scale matrix."""
    s = np.linalg.norm(M[:3, :3], axis=0)
    R = M[:3, :3] / s
    w = np.sqrt(max(0.0, 1 + R[0, 0] + R[1, 1] + R[2, 2])) / 2
    q = np.array([(R[2, 1] - R[1, 2]) / (4 * w), (R[0, 2] - R[2, 0]) / (4 * w), (R[1, 0] - R[0, 1]) / (4 * w), w])
    return M[:3, 3].tolist(), (q / np.linalg.norm(q)).tolist(), s.tolist()


class _Blob:
    def __init__(self):
        self.data = bytearray()
        self.views, self.accessors = [], []

    def view(self, raw: bytes, target=None) -> int:
        while len(self.data) % 4:
            self.data.append(0)
        v = {"buffer": 0, "byteOffset": len(self.data), "byteLength": len(raw)}
        if target:
            v["target"] = target
        self.data.extend(raw)
        self.views.append(v)
        return len(self.views) - 1

    def accessor(self, array, type_, component, target=None, minmax=False, normalized=False) -> int:
        dtype = {5121: np.uint8, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}[component]
        array = np.ascontiguousarray(array, dtype=dtype)
        acc = {
            "bufferView": self.view(array.tobytes(), target),
            "componentType": component,
            "count": len(array),
            "type": type_,
        }
        if minmax:
            flat = array.reshape(len(array), -1)
            acc["min"], acc["max"] = flat.min(0).tolist(), flat.max(0).tolist()
        if normalized:
            acc["normalized"] = True
        self.accessors.append(acc)
        return len(self.accessors) - 1


def character(path, *, container=None, inverse_bind=True) -> dict:
    """Write the character to ``path`` (.glb or .gltf); returns facts the tests check against.

    Returns
    -------
    dict with ``bind`` (J, 4, 4) bind transforms, ``positions`` (J, 3) bind positions,
    ``armature`` (4, 4), ``body_V`` / ``eyes_V`` stored positions, ``prop_V`` world
    positions of the prop, ``artist`` (n, J) weights of body then eyes.
    """
    path = Path(path)
    blob = _Blob()
    # Bind transforms of the joints, in the space the vertices are stored in.
    bind = np.stack(
        [
            trs((0, 0, 0), _quat([0, 0, 1], 10)),
            trs((1, 0, 0), _quat([0, 0, 1], -10)),
            trs((2, 0, 0)),
            trs((1, 0, 0), _quat([1, 0, 0], 30)),  # twist: at its parent's position
            trs((1, 4, 0)),  # an IK target far outside the body
        ]
    )
    armature = trs((0.5, -0.2, 3.0), _quat([1, 0, 0], -90), (2, 2, 2))
    rest_world = np.einsum("ij,njk->nik", armature, bind)  # the rest pose: the bind pose, moved by the armature

    capsule = trimesh.creation.capsule(height=2.0, radius=0.35, count=[10, 10])
    body_V = capsule.vertices[:, [2, 1, 0]] + [1.0, 0, 0]
    body_F = capsule.faces[:, [0, 2, 1]]
    halves = [body_F[: len(body_F) // 2], body_F[len(body_F) // 2 :]]
    eyes = trimesh.creation.icosphere(subdivisions=1, radius=0.08)
    eyes_V = eyes.vertices + [1.95, 0.22, 0.0]
    eyes_F = eyes.faces

    def artist(V):
        x = np.clip(V[:, 0] / 2, 0, 1)
        W = np.zeros((len(V), len(JOINTS)))
        W[:, 0] = np.clip(1 - 2 * x, 0, 1)
        W[:, 2] = np.clip(2 * x - 1, 0, 1)
        W[:, 1] = 1 - W[:, 0] - W[:, 2]
        return W

    def skin_attrs(W):
        order = np.argsort(-W, axis=1)[:, :4]
        w = np.take_along_axis(W, order, axis=1)
        order[w == 0] = 0
        return (
            blob.accessor(order, "VEC4", 5121, 34962),
            blob.accessor(w.astype(np.float32), "VEC4", 5126, 34962),
        )

    primitives = []
    for half in halves:
        used = np.unique(half)
        remap = np.full(len(body_V), -1)
        remap[used] = np.arange(len(used))
        j, w = skin_attrs(artist(body_V[used]))
        primitives.append(
            {
                "attributes": {
                    "POSITION": blob.accessor(body_V[used], "VEC3", 5126, 34962, minmax=True),
                    "NORMAL": blob.accessor(
                        body_V[used] / np.linalg.norm(body_V[used], axis=1, keepdims=True), "VEC3", 5126, 34962
                    ),
                    "TEXCOORD_0": blob.accessor(body_V[used][:, :2] * 0.1, "VEC2", 5126, 34962),
                    "JOINTS_0": j,
                    "WEIGHTS_0": w,
                },
                "indices": blob.accessor(remap[half].reshape(-1), "SCALAR", 5125, 34963),
                "material": 0,
                "_used": used,
            }
        )
    for prim in primitives:  # one morph target (every primitive of a mesh has the same targets)
        n = len(prim["_used"])
        prim["targets"] = [
            {"POSITION": blob.accessor(np.tile([0.0, 0.05, 0.0], (n, 1)), "VEC3", 5126, 34962, minmax=True)}
        ]
    body_parts = [body_V[p.pop("_used")] for p in primitives]
    j, w = skin_attrs(artist(eyes_V))
    eyes_prim = {
        "attributes": {
            "POSITION": blob.accessor(eyes_V, "VEC3", 5126, 34962, minmax=True),
            "JOINTS_0": j,
            "WEIGHTS_0": w,
        },
        "indices": blob.accessor(eyes_F.reshape(-1), "SCALAR", 5125, 34963),
    }
    box = trimesh.creation.box()
    prop_prim = {
        "attributes": {"POSITION": blob.accessor(box.vertices, "VEC3", 5126, 34962, minmax=True)},
        "indices": blob.accessor(box.faces.reshape(-1), "SCALAR", 5125, 34963),
        "material": 1,
    }
    ibm = blob.accessor(np.linalg.inv(bind).transpose(0, 2, 1).reshape(-1, 16), "MAT4", 5126)
    image_view = blob.view(PNG)

    # Nodes: 0 scene root, 1 armature, 2.. joints, then the mesh group, body, eyes, prop.
    nodes = [{"name": "Scene Root", "children": [1, 7, 10]}]
    t, r, s = _decompose(armature)
    nodes.append({"name": "Armature", "translation": t, "rotation": r, "scale": s, "children": [2]})
    for k, name in enumerate(JOINTS):
        parent_world = armature if PARENTS[k] < 0 else rest_world[PARENTS[k]]
        t, r, s = _decompose(np.linalg.inv(parent_world) @ rest_world[k])
        node = {"name": name, "translation": t, "rotation": r, "scale": s}
        children = [2 + c for c in range(len(JOINTS)) if PARENTS[c] == k]
        if children:
            node["children"] = children
        nodes.append(node)
    nodes[2]["extras"] = {"note": "keep me"}
    nodes.append(
        {"name": "Mesh Group", "translation": [5, 0, 0], "rotation": _quat([0, 1, 0], 40).tolist(), "children": [8, 9]}
    )
    nodes.append(
        {
            "name": "Body",
            "mesh": 0,
            "skin": 0,
            "translation": [0, 1, 2],
            "rotation": _quat([0, 0, 1], -90).tolist(),
            "weights": [0.0],
        }
    )
    nodes.append({"name": "Eyes", "mesh": 1, "skin": 0})
    prop_world = trs((3, 0, 1), _quat([0, 1, 0], 25), (0.5, 0.5, 0.5))
    t, r, s = _decompose(prop_world)
    nodes.append({"name": "Prop", "mesh": 2, "translation": t, "rotation": r, "scale": s})

    animations = []
    times = blob.accessor(np.array([[0.0], [0.5], [1.0]]), "SCALAR", 5126, minmax=True)
    bend = blob.accessor(np.stack([_quat([0, 0, 1], a) for a in (0, 45, 80)]), "VEC4", 5126)
    two = blob.accessor(np.array([[0.2], [0.8]]), "SCALAR", 5126, minmax=True)
    step = blob.accessor(np.array([[0.5, -0.2, 3.0], [0.7, 0.0, 3.0]]), "VEC3", 5126)
    # CUBICSPLINE scale: in-tangent, value, out-tangent per key.
    cubic = blob.accessor(
        np.array([[0, 0, 0], [1, 1, 1], [0.5, 0, 0], [0, 0.3, 0], [1.2, 1, 1], [0, 0, 0]], float), "VEC3", 5126
    )
    morph = blob.accessor(np.array([[0.0], [1.0]]), "SCALAR", 5126)
    animations.append(
        {
            "name": "Bend",
            "samplers": [
                {"input": times, "output": bend, "interpolation": "LINEAR"},
                {"input": two, "output": step, "interpolation": "STEP"},
                {"input": two, "output": cubic, "interpolation": "CUBICSPLINE"},
                {"input": two, "output": morph},
            ],
            "channels": [
                {"sampler": 0, "target": {"node": 3, "path": "rotation"}},
                {"sampler": 1, "target": {"node": 1, "path": "translation"}},
                {"sampler": 2, "target": {"node": 2, "path": "scale"}},
                {"sampler": 3, "target": {"node": 8, "path": "weights"}},
            ],
        }
    )
    wave_times = blob.accessor(np.array([[0.0], [1.5]]), "SCALAR", 5126, minmax=True)
    wave = blob.accessor(
        np.stack(
            [
                np.zeros(4),
                _quat([0, 1, 0], 0),
                np.r_[0, 0.4, 0, 0],
                np.r_[0, 0.2, 0, 0],
                _quat([0, 1, 0], 60),
                np.zeros(4),
            ]
        ),
        "VEC4",
        5126,
    )
    animations.append(
        {
            "name": "Wave",
            "samplers": [{"input": wave_times, "output": wave, "interpolation": "CUBICSPLINE"}],
            "channels": [{"sampler": 0, "target": {"node": 4, "path": "rotation"}}],
        }
    )
    skin = {"name": "Skin", "joints": [2 + k for k in range(len(JOINTS))], "skeleton": 2}
    if inverse_bind:
        skin["inverseBindMatrices"] = ibm
    document = {
        "asset": {"version": "2.0", "generator": "fieldrig tests", "extras": {"author": "tests"}},
        "scene": 0,
        "scenes": [{"name": "Main", "nodes": [0], "extras": {"lights": "off"}}],
        "nodes": nodes,
        "meshes": [
            {"name": "Body", "primitives": primitives, "weights": [0.0], "extras": {"targetNames": ["bulge"]}},
            {"name": "Eyes", "primitives": [eyes_prim]},
            {"name": "Prop", "primitives": [prop_prim]},
        ],
        "skins": [skin],
        "animations": animations,
        "materials": [
            {"name": "Skin", "pbrMetallicRoughness": {"baseColorTexture": {"index": 0}}},
            {"name": "Plastic", "pbrMetallicRoughness": {"baseColorFactor": [0.2, 0.4, 0.9, 1.0]}},
        ],
        "textures": [{"sampler": 0, "source": 0}],
        "samplers": [{"magFilter": 9729, "minFilter": 9729}],
        "images": [{"bufferView": image_view, "mimeType": "image/png", "name": "dot"}],
        "accessors": blob.accessors,
        "bufferViews": blob.views,
        "buffers": [{"byteLength": len(blob.data)}],
    }
    data = bytes(blob.data) + b"\0" * (-len(blob.data) % 4)
    if (container or path.suffix.lower()) == ".gltf":
        document["buffers"][0]["uri"] = "data:application/octet-stream;base64," + base64.b64encode(data).decode()
        path.write_text(json.dumps(document))
    else:
        text = json.dumps(document).encode()
        text += b" " * (-len(text) % 4)
        body = struct.pack("<II", len(text), 0x4E4F534A) + text + struct.pack("<II", len(data), 0x004E4942) + data
        path.write_bytes(struct.pack("<III", 0x46546C67, 2, 12 + len(body)) + body)
    return {
        "bind": bind,
        "positions": bind[:, :3, 3],
        "armature": armature,
        "body_V": body_parts,
        "eyes_V": eyes_V,
        "prop_V": box.vertices @ prop_world[:3, :3].T + prop_world[:3, 3],
        "artist": np.vstack([artist(v) for v in body_parts] + [artist(eyes_V)]),
    }


# ------------------------------------------------------------- the spec, independently
def read_document(path):
    """(json, binary chunk or the embedded buffer)."""
    data = Path(path).read_bytes()
    if data[:4] == b"glTF":
        n = struct.unpack_from("<I", data, 12)[0]
        doc = json.loads(data[20 : 20 + n])
        m = struct.unpack_from("<I", data, 20 + n)[0]
        return doc, data[28 + n : 28 + n + m]
    doc = json.loads(data)
    return doc, base64.b64decode(doc["buffers"][0]["uri"].split(",", 1)[1])


def accessor(doc, blob, index):
    """Decode a tightly packed accessor (every accessor these tests write is)."""
    acc = doc["accessors"][index]
    view = doc["bufferViews"][acc["bufferView"]]
    dtype = {5121: np.uint8, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}[acc["componentType"]]
    width = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}[acc["type"]]
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    return np.frombuffer(blob, dtype=dtype, count=acc["count"] * width, offset=start).reshape(acc["count"], width)


def _sample(times, values, interpolation, t, rotation):
    k = len(times)
    if interpolation == "CUBICSPLINE":
        values = values.reshape(k, 3, -1)
        key = values[:, 1]
    else:
        key = values
    if t <= times[0]:
        out = key[0]
    elif t >= times[-1]:
        out = key[-1]
    else:
        i = np.searchsorted(times, t) - 1
        d = times[i + 1] - times[i]
        u = (t - times[i]) / d
        if interpolation == "STEP":
            out = key[i]
        elif interpolation == "LINEAR" and rotation:
            a, b = key[i] / np.linalg.norm(key[i]), key[i + 1] / np.linalg.norm(key[i + 1])
            if a @ b < 0:
                b = -b
            th = np.arccos(np.clip(a @ b, -1, 1))
            out = a if th < 1e-12 else (np.sin((1 - u) * th) * a + np.sin(u * th) * b) / np.sin(th)
        elif interpolation == "LINEAR":
            out = (1 - u) * key[i] + u * key[i + 1]
        else:
            p0, m0 = values[i, 1], d * values[i, 2]
            p1, m1 = values[i + 1, 1], d * values[i + 1, 0]
            out = (
                (2 * u**3 - 3 * u**2 + 1) * p0
                + (u**3 - 2 * u**2 + u) * m0
                + (-2 * u**3 + 3 * u**2) * p1
                + (u**3 - u**2) * m1
            )
    return out / np.linalg.norm(out) if rotation else out


def node_worlds(doc, blob, animation=None, t=0.0):
    """World matrix of every node at time ``t`` of ``animation`` (its index) or at rest."""
    nodes = doc["nodes"]
    local_trs = [
        [np.array(n.get("translation", [0, 0, 0]), float), np.array(n.get("rotation", [0, 0, 0, 1]), float),
         np.array(n.get("scale", [1, 1, 1]), float)]
        for n in nodes
    ]  # fmt: skip
    if animation is not None:
        anim = doc["animations"][animation]
        for ch in anim["channels"]:
            path = ch["target"]["path"]
            if path == "weights":
                continue
            smp = anim["samplers"][ch["sampler"]]
            times = accessor(doc, blob, smp["input"]).astype(float).ravel()
            values = accessor(doc, blob, smp["output"]).astype(float)
            slot = {"translation": 0, "rotation": 1, "scale": 2}[path]
            local_trs[ch["target"]["node"]][slot] = _sample(
                times, values, smp.get("interpolation", "LINEAR"), t, path == "rotation"
            )
    parent = {c: i for i, n in enumerate(nodes) for c in n.get("children", [])}
    world = {}

    def visit(i):
        if i not in world:
            M = trs(*local_trs[i])
            world[i] = M if i not in parent else visit(parent[i]) @ M
        return world[i]

    return [visit(i) for i in range(len(nodes))]


def skinned_positions(doc, blob, animation=None, t=0.0, weights=None):
    """Every skinned primitive's vertices skinned by the spec: Σ_j w_j · G_j(t) · IBM_j · v.

    ``weights`` replaces the file's own (a list of (n, J) arrays, one per primitive in scene
    order); the skinned mesh nodes' transforms are ignored, as the spec says.
    """
    world = node_worlds(doc, blob, animation, t)
    out = []
    order = []
    stack = list(reversed(doc["scenes"][doc.get("scene", 0)]["nodes"]))
    while stack:
        i = stack.pop()
        order.append(i)
        stack.extend(reversed(doc["nodes"][i].get("children", [])))
    k = 0
    for i in order:
        node = doc["nodes"][i]
        if "skin" not in node:
            continue
        skin = doc["skins"][node["skin"]]
        ibm = accessor(doc, blob, skin["inverseBindMatrices"]).astype(float).reshape(-1, 4, 4).transpose(0, 2, 1)
        M = np.stack([world[j] for j in skin["joints"]]) @ ibm
        for prim in doc["meshes"][node["mesh"]]["primitives"]:
            a = prim["attributes"]
            V = accessor(doc, blob, a["POSITION"]).astype(float)
            if weights is None:
                W = np.zeros((len(V), len(M)))
                s = 0
                while f"JOINTS_{s}" in a:
                    J = accessor(doc, blob, a[f"JOINTS_{s}"]).astype(int)
                    w = accessor(doc, blob, a[f"WEIGHTS_{s}"]).astype(float)
                    np.add.at(W, (np.repeat(np.arange(len(V)), 4), J.ravel()), w.ravel())
                    s += 1
            else:
                W = weights[k]
            k += 1
            out.append(np.einsum("nj,jab,nb->na", W, M, np.c_[V, np.ones(len(V))])[:, :3])
    return out
