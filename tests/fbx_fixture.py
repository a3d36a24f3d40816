"""A small skinned character written as an ASCII FBX 7.4 file, with its known answer.

The scene (:func:`character`) is a scaled, rotated armature (a Null) holding three bones,
a skinned column mesh with its own node transform and a geometric transform, a second mesh
on the same bones (a pentagon cap), an unskinned prop, a bind pose that differs from the
bones' stored transforms, and one animation stack with keys at 0, 0.5 and 1 s. Optionally
a second character on its own armature, Z-up axes, or no skin at all.

:func:`write_fbx` writes it the way exporters do (objects, ``Connections``, a cluster's
``TransformLink`` = its bone at bind and ``Transform`` = the mesh node in that bone's space
at bind, a ``BindPose``), and :func:`expected_positions`
computes, with plain numpy and FBX SDK semantics, where every control point of a mesh
goes at a key time: ``Σ_k ŵ_k · Bone_k(t) · TransformLink_k⁻¹ · Transform · Geometric · v``
(ŵ the normalised weights), converted to glTF's convention (Y up, metres) as the reader does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np

TICKS = 46186158000  # FBX time units per second
KEY_TIMES = (0.0, 0.5, 1.0)


@dataclass
class Node:
    name: str
    kind: str  # "Null", "LimbNode" or "Mesh"
    parent: Optional[str]
    T: Tuple[float, float, float] = (0.0, 0.0, 0.0)
    R: Tuple[float, float, float] = (0.0, 0.0, 0.0)  # degrees, Euler XYZ
    S: Tuple[float, float, float] = (1.0, 1.0, 1.0)
    bind: Optional[Dict[str, Tuple[float, float, float]]] = None  # T/R/S at bind where not the stored ones
    geometric: Optional[Dict[str, Tuple[float, float, float]]] = None  # GeometricTranslation/Rotation/Scaling
    keys: Dict[str, List[Tuple[float, float, float]]] = field(default_factory=dict)  # "T"/"R"/"S" per KEY_TIMES


@dataclass
class Mesh:
    node: str
    V: np.ndarray  # (n, 3) control points in geometry space
    polygons: List[List[int]]
    clusters: Dict[str, Tuple[np.ndarray, np.ndarray]]  # bone → (control points, weights)


@dataclass
class Scene:
    nodes: List[Node]
    meshes: List[Mesh]
    up: str = "Y"
    disagree: float = 0.0  # cm by which the body's head cluster misplaces its mesh at bind

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)


def _rot(deg) -> np.ndarray:
    x, y, z = np.radians(deg)
    Rx = np.array([[1, 0, 0], [0, np.cos(x), -np.sin(x)], [0, np.sin(x), np.cos(x)]])
    Ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    Rz = np.array([[np.cos(z), -np.sin(z), 0], [np.sin(z), np.cos(z), 0], [0, 0, 1]])
    return Rz @ Ry @ Rx  # FBX's eEulerXYZ: X first


def trs(T, R, S) -> np.ndarray:
    M = np.eye(4)
    M[:3, :3] = _rot(R) * np.asarray(S, dtype=float)[None, :]
    M[:3, 3] = T
    return M


def local(node: Node, when) -> np.ndarray:
    """A node's local matrix: ``when`` is "rest" (stored), "bind" or a key index."""
    values = {"T": node.T, "R": node.R, "S": node.S}
    if when == "bind" and node.bind:
        values.update(node.bind)
    elif isinstance(when, int):
        values.update({k: v[when] for k, v in node.keys.items()})
    return trs(values["T"], values["R"], values["S"])


def world(scene: Scene, name: str, when) -> np.ndarray:
    node = scene.node(name)
    M = local(node, when)
    return M if node.parent is None else world(scene, node.parent, when) @ M


def geometric(node: Node) -> np.ndarray:
    g = node.geometric or {}
    return trs(g.get("T", (0, 0, 0)), g.get("R", (0, 0, 0)), g.get("S", (1, 1, 1)))


def conversion(scene: Scene) -> np.ndarray:
    """File world → glTF convention (right-handed, Y up, metres) for this fixture's settings."""
    C = np.eye(4)
    C[:3, :3] *= 0.01  # UnitScaleFactor 1: centimetres
    if scene.up == "Z":
        C = C @ np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, 0], [0, 0, 0, 1.0]])
    return C


def mesh_bind_world(scene: Scene, mesh: Mesh) -> np.ndarray:
    """(n, 3) control points at bind, in glTF convention."""
    M = conversion(scene) @ world(scene, mesh.node, "bind") @ geometric(scene.node(mesh.node))
    return (np.c_[mesh.V, np.ones(len(mesh.V))] @ M.T)[:, :3]


def expected_positions(scene: Scene, mesh: Mesh, key: int) -> np.ndarray:
    """(n, 3) control points skinned at key ``key`` (FBX SDK semantics, normalised weights),
    in glTF convention."""
    n = len(mesh.V)
    Vh = np.c_[mesh.V, np.ones(n)]
    out = np.zeros((n, 4))
    total = np.zeros(n)
    mesh_bind = world(scene, mesh.node, "bind") @ geometric(scene.node(mesh.node))
    for bone, (idx, w) in mesh.clusters.items():
        M = world(scene, bone, key) @ np.linalg.inv(world(scene, bone, "bind")) @ mesh_bind
        np.add.at(out, idx, w[:, None] * (Vh[idx] @ M.T))
        np.add.at(total, idx, w)
    out = out / total[:, None]
    return (out @ conversion(scene).T)[:, :3]


def _column_mesh(node: str, scene_nodes: List[Node], scene_up: str, bones: List[str]) -> Mesh:
    """A square column along the bones: rings of 4 control points, quads between, a quad
    cap at each end; each ring weighted between the bones it sits between."""
    tmp = Scene(scene_nodes, [], scene_up)
    heads = [world(tmp, b, "bind")[:3, 3] for b in bones]
    axis = heads[-1] - heads[0]
    tail = heads[-1] + axis / (len(bones) - 1)
    stops = np.linspace(0, 1, 2 * len(bones) + 1)
    side = np.cross(axis, [0, 0, 1.0])
    side = 0.15 * np.linalg.norm(axis) * side / np.linalg.norm(side)
    up = np.cross(axis / np.linalg.norm(axis), side)
    ring = [side + up, -side + up, -side - up, side - up]
    W_world = np.array([heads[0] + s * (tail - heads[0]) + r for s in stops for r in ring])
    # store the control points in geometry space
    to_geometry = np.linalg.inv(world(tmp, node, "bind") @ geometric(tmp.node(node)))
    V = (np.c_[W_world, np.ones(len(W_world))] @ to_geometry.T)[:, :3]
    polys = []
    for r in range(len(stops) - 1):
        a, b = 4 * r, 4 * (r + 1)
        polys += [[a + i, a + (i + 1) % 4, b + (i + 1) % 4, b + i] for i in range(4)]
    polys += [[3, 2, 1, 0], [4 * (len(stops) - 1) + i for i in range(4)]]
    # weights: ring r at fraction s of the way, between bone floor(s·k) and the next
    clusters: Dict[str, Tuple[list, list]] = {b: ([], []) for b in bones}
    for r, s in enumerate(stops):
        x = s * (len(bones) - 1) if s < 1 else len(bones) - 1
        k = min(int(x), len(bones) - 2)
        f = x - k
        for i in range(4):
            for bone, w in ((bones[k], 1 - f), (bones[k + 1], f)):
                if w > 0:
                    clusters[bone][0].append(4 * r + i)
                    clusters[bone][1].append(w * (1.2 if i == 0 else 1.0))  # rows not summing to 1
    return Mesh(node, V, polys, {b: (np.array(i), np.array(w)) for b, (i, w) in clusters.items() if i})


def character(up: str = "Y", second: bool = False, skinned: bool = True, disagree: float = 0.0) -> Scene:
    """The fixture scene (see the module notes). ``disagree`` shifts the mesh matrix behind
    the body's ``head`` cluster by that many centimetres along x, so that its clusters no
    longer agree on where the vertices are at bind."""
    nodes = [
        Node("Armature", "Null", None, T=(50, 0, 20), R=(0, 0, 20), S=(2, 2, 2)),
        Node("hip", "LimbNode", "Armature", T=(0, 5, 0), keys={"R": [(0, 0, 0), (20, 0, 0), (0, 10, 0)]}),
        Node(
            "spine",
            "LimbNode",
            "hip",
            T=(0, 20, 0),
            R=(0, 0, 25),
            bind={"R": (0, 0, 10)},
            keys={"R": [(0, 0, 10), (0, 0, 40), (10, 0, 70)]},
        ),
        Node("head", "LimbNode", "spine", T=(0, 20, 0), keys={"T": [(0, 20, 0), (3, 22, 0), (0, 25, 2)]}),
        Node("body", "Mesh", None, T=(10, 0, 0), R=(0, 15, 0), geometric={"T": (0, 5, 0), "R": (0, 0, 5)}),
        Node("cap", "Mesh", "Armature", T=(0, 1, 0)),
        Node("prop", "Mesh", None, T=(-40, 0, 0)),
    ]
    if second:
        nodes += [
            Node("Rig2", "Null", None, T=(-200, 0, 0)),
            Node("arm", "LimbNode", "Rig2", keys={"R": [(0, 0, 0), (0, 0, 30), (0, 0, 60)]}),
            Node("hand", "LimbNode", "arm", T=(0, 30, 0)),
            Node("sleeve", "Mesh", None, T=(-200, 0, 0)),
        ]
    meshes = [_column_mesh("body", nodes, up, ["hip", "spine", "head"])]
    head = world(Scene(nodes, [], up), "head", "bind")
    to_cap = np.linalg.inv(world(Scene(nodes, [], up), "cap", "bind"))
    ang = np.radians(np.arange(5) * 72.0)
    pentagon = np.c_[8 * np.cos(ang), np.full(5, 12.0), 8 * np.sin(ang)]
    pentagon[1, [0, 2]] *= 0.3  # a concave corner (in the plane): a fan from vertex 0 would fold
    cap_world = (np.c_[pentagon, np.ones(5)] @ head.T)[:, :3]
    cap_world = np.vstack([cap_world, head[:3, 3]])
    cap_V = (np.c_[cap_world, np.ones(6)] @ to_cap.T)[:, :3]
    meshes.append(
        Mesh("cap", cap_V, [[0, 1, 2, 3, 4], [0, 4, 5]], {"head": (np.arange(6), np.ones(6)), "spine": ([5], [0.5])})
    )
    meshes.append(Mesh("prop", np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0.0]]), [[0, 1, 2]], {}))
    if second:
        meshes.append(_column_mesh("sleeve", nodes, up, ["arm", "hand"]))
    for m in meshes:
        m.clusters = {b: (np.asarray(i), np.asarray(w, dtype=float)) for b, (i, w) in m.clusters.items()}
        if not skinned:
            m.clusters = {}
    return Scene(nodes, meshes, up, disagree)


def _array(values, fmt="{:.17g}") -> str:
    values = list(values)
    return f"*{len(values)} {{\n\t\t\ta: " + ",".join(fmt.format(v) for v in values) + "\n\t\t}"


def _matrix(M: np.ndarray) -> str:
    return _array(np.asarray(M).T.reshape(-1))  # FBX stores the basis vectors as rows


def write_fbx(scene: Scene, path) -> None:
    """Writes the scene as an ASCII FBX 7.4 file."""
    ids = {}

    def uid(key) -> int:
        return ids.setdefault(key, 1000 + len(ids))

    up_axis, front, front_sign = (1, 2, 1) if scene.up == "Y" else (2, 1, -1)
    out = [
        "; FBX 7.4.0 project file",
        'FBXHeaderExtension:  {\n\tFBXHeaderVersion: 1003\n\tFBXVersion: 7400\n\tCreator: "fieldrig tests"\n}',
        "GlobalSettings:  {\n\tVersion: 1000\n\tProperties70:  {",
        f'\t\tP: "UpAxis", "int", "Integer", "",{up_axis}',
        '\t\tP: "UpAxisSign", "int", "Integer", "",1',
        f'\t\tP: "FrontAxis", "int", "Integer", "",{front}',
        f'\t\tP: "FrontAxisSign", "int", "Integer", "",{front_sign}',
        '\t\tP: "CoordAxis", "int", "Integer", "",0',
        '\t\tP: "CoordAxisSign", "int", "Integer", "",1',
        '\t\tP: "UnitScaleFactor", "double", "Number", "",1',
        '\t\tP: "TimeMode", "enum", "", "",6',
        "\t}\n}",
        "Objects:  {",
    ]
    conns = []
    for node in scene.nodes:
        props = [
            f'\t\t\tP: "Lcl Translation", "Lcl Translation", "", "A",{",".join(map(str, node.T))}',
            f'\t\t\tP: "Lcl Rotation", "Lcl Rotation", "", "A",{",".join(map(str, node.R))}',
            f'\t\t\tP: "Lcl Scaling", "Lcl Scaling", "", "A",{",".join(map(str, node.S))}',
        ]
        for key, prop in (("T", "GeometricTranslation"), ("R", "GeometricRotation"), ("S", "GeometricScaling")):
            if node.geometric and key in node.geometric:
                props.append(f'\t\t\tP: "{prop}", "Vector3D", "Vector", "",{",".join(map(str, node.geometric[key]))}')
        out.append(f'\tModel: {uid(node.name)}, "Model::{node.name}", "{node.kind}" {{\n\t\tVersion: 232')
        out.append("\t\tProperties70:  {\n" + "\n".join(props) + "\n\t\t}\n\t}")
        conns.append((uid(node.name), uid(node.parent) if node.parent else 0, None))
        if node.kind == "LimbNode":
            out.append(f'\tNodeAttribute: {uid(("attr", node.name))}, "NodeAttribute::", "LimbNode" {{')
            out.append('\t\tTypeFlags: "Skeleton"\n\t}')
            conns.append((uid(("attr", node.name)), uid(node.name), None))
    for mesh in scene.meshes:
        flat = []
        for poly in mesh.polygons:
            flat += list(poly[:-1]) + [-poly[-1] - 1]
        out.append(f'\tGeometry: {uid(("geo", mesh.node))}, "Geometry::{mesh.node}", "Mesh" {{')
        out.append(f"\t\tVertices: {_array(mesh.V.reshape(-1))}")
        out.append(f"\t\tPolygonVertexIndex: {_array(flat, '{:d}')}")
        out.append("\t\tGeometryVersion: 124\n\t}")
        conns.append((uid(("geo", mesh.node)), uid(mesh.node), None))
        if not mesh.clusters:
            continue
        out.append(f'\tDeformer: {uid(("skin", mesh.node))}, "Deformer::", "Skin" {{\n\t\tVersion: 101\n\t}}')
        conns.append((uid(("skin", mesh.node)), uid(("geo", mesh.node)), None))
        mesh_bind = world(scene, mesh.node, "bind")
        for bone, (idx, w) in mesh.clusters.items():
            key = ("cluster", mesh.node, bone)
            out.append(f'\tDeformer: {uid(key)}, "SubDeformer::{bone}", "Cluster" {{\n\t\tVersion: 100')
            out.append(f"\t\tIndexes: {_array(idx, '{:d}')}")
            out.append(f"\t\tWeights: {_array(w)}")
            # as exporters write it (Blender, the FBX SDK; ufbx reads it so): the mesh in bone space at bind
            shift = np.eye(4)
            if mesh.node == "body" and bone == "head":
                shift[0, 3] = scene.disagree
            to_bone = np.linalg.inv(world(scene, bone, "bind")) @ shift @ mesh_bind
            out.append(f"\t\tTransform: {_matrix(to_bone)}")
            out.append(f"\t\tTransformLink: {_matrix(world(scene, bone, 'bind'))}\n\t}}")
            conns.append((uid(key), uid(("skin", mesh.node)), None))
            conns.append((uid(bone), uid(key), None))
    posed = [
        n for n in scene.nodes if n.kind == "LimbNode" or any(m.node == n.name and m.clusters for m in scene.meshes)
    ]
    if posed:
        out.append(f'\tPose: {uid("pose")}, "Pose::BIND_POSES", "BindPose" {{')
        out.append(f'\t\tType: "BindPose"\n\t\tVersion: 100\n\t\tNbPoseNodes: {len(posed)}')
        for n in posed:
            matrix = _matrix(world(scene, n.name, "bind"))
            out.append(f"\t\tPoseNode:  {{\n\t\t\tNode: {uid(n.name)}\n\t\t\tMatrix: {matrix}\n\t\t}}")
        out.append("\t}")
    out.append(f'\tAnimationStack: {uid("stack")}, "AnimStack::walk", "" {{\n\t\tProperties70:  {{')
    out.append('\t\t\tP: "LocalStart", "KTime", "Time", "",0')
    out.append(f'\t\t\tP: "LocalStop", "KTime", "Time", "",{TICKS}')
    out.append("\t\t}\n\t}")
    out.append(f'\tAnimationLayer: {uid("layer")}, "AnimLayer::Base", "" {{\n\t}}')
    conns.append((uid("layer"), uid("stack"), None))
    prop_name = {"T": "Lcl Translation", "R": "Lcl Rotation", "S": "Lcl Scaling"}
    for node in scene.nodes:
        for what, values in node.keys.items():
            cn = uid(("curvenode", node.name, what))
            out.append(f'\tAnimationCurveNode: {cn}, "AnimCurveNode::{what}", "" {{\n\t\tProperties70:  {{')
            out += [f'\t\t\tP: "d|{a}", "Number", "", "A",{values[0][i]}' for i, a in enumerate("XYZ")]
            out.append("\t\t}\n\t}")
            conns.append((cn, uid("layer"), None))
            conns.append((cn, uid(node.name), prop_name[what]))
            for i, a in enumerate("XYZ"):
                cid = uid(("curve", node.name, what, a))
                out.append(
                    f'\tAnimationCurve: {cid}, "AnimCurve::", "" {{\n\t\tDefault: {values[0][i]}\n\t\tKeyVer: 4008'
                )
                out.append(f"\t\tKeyTime: {_array([round(t * TICKS) for t in KEY_TIMES], '{:d}')}")
                out.append(f"\t\tKeyValueFloat: {_array([v[i] for v in values])}")
                out.append(f"\t\tKeyAttrFlags: {_array([4], '{:d}')}")  # linear interpolation
                out.append(f"\t\tKeyAttrDataFloat: {_array([0, 0, 0, 0])}")
                out.append(f"\t\tKeyAttrRefCount: {_array([len(KEY_TIMES)], '{:d}')}\n\t}}")
                conns.append((cid, cn, f"d|{a}"))
    out.append("}\nConnections:  {")
    for src, dst, prop in conns:
        out.append(f'\tC: "OO",{src},{dst}' if prop is None else f'\tC: "OP",{src},{dst}, "{prop}"')
    out.append("}")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
