"""glTF skins written from a mesh and a rig: what trimesh and pygltflib (independent readers)
see in our files, the Khronos skinning rules, inverse bind matrices, pruning, and rigs read
back from skins."""

import json
import struct

import numpy as np
import pygltflib
import pytest
import trimesh

from fieldrig.core.errors import InputError
from fieldrig.geometry.gltf import load_gltf_rig, prune_weights, pruned_mass, read_gltf_assets, write_skinned_gltf
from fieldrig.geometry.rig import Rig

_DTYPES = {5121: np.uint8, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
_WIDTH = {"SCALAR": 1, "VEC3": 3, "VEC4": 4, "MAT4": 16}


def read_accessor(g: pygltflib.GLTF2, index: int) -> np.ndarray:
    """Decode an accessor with pygltflib's document and blob only (tightly packed views)."""
    acc = g.accessors[index]
    view = g.bufferViews[acc.bufferView]
    blob = g.binary_blob()
    dtype, width = _DTYPES[acc.componentType], _WIDTH[acc.type]
    start = (view.byteOffset or 0) + (acc.byteOffset or 0)
    return np.frombuffer(blob, dtype=dtype, count=acc.count * width, offset=start).reshape(acc.count, width)


def node_world(g: pygltflib.GLTF2) -> dict:
    """World matrix per node (our files use translations only; checked)."""
    parent = {c: i for i, n in enumerate(g.nodes) for c in (n.children or [])}
    out = {}

    def world(i):
        if i not in out:
            n = g.nodes[i]
            assert n.rotation is None and n.scale is None and n.matrix is None
            M = np.eye(4)
            M[:3, 3] = n.translation or [0, 0, 0]
            out[i] = (world(parent[i]) if i in parent else np.eye(4)) @ M
        return out[i]

    for i in range(len(g.nodes)):
        world(i)
    return out


def dense_skin_weights(g: pygltflib.GLTF2, n_joints: int) -> np.ndarray:
    attrs = g.meshes[0].primitives[0].attributes
    sets = [
        (getattr(attrs, f"JOINTS_{s}"), getattr(attrs, f"WEIGHTS_{s}"))
        for s in range(4)
        if getattr(attrs, f"JOINTS_{s}", None) is not None
    ]
    W = None
    for j_acc, w_acc in sets:
        J, w = read_accessor(g, j_acc).astype(int), read_accessor(g, w_acc).astype(np.float64)
        W = np.zeros((len(J), n_joints)) if W is None else W
        np.add.at(W, (np.repeat(np.arange(len(J)), J.shape[1]), J.ravel()), w.ravel())
    return W


def khronos_skin_rules(g: pygltflib.GLTF2) -> None:
    """The glTF 2.0 rules for skinned primitives that the Khronos validator checks."""
    prim = g.meshes[0].primitives[0]
    skin = g.skins[0]
    J_all, w_all = [], []
    s = 0
    while getattr(prim.attributes, f"JOINTS_{s}", None) is not None:
        j_acc = g.accessors[getattr(prim.attributes, f"JOINTS_{s}")]
        w_acc = g.accessors[getattr(prim.attributes, f"WEIGHTS_{s}")]
        assert j_acc.type == "VEC4" and j_acc.componentType in (5121, 5123) and not j_acc.normalized
        assert w_acc.type == "VEC4" and w_acc.componentType == 5126
        J_all.append(read_accessor(g, getattr(prim.attributes, f"JOINTS_{s}")))
        w_all.append(read_accessor(g, getattr(prim.attributes, f"WEIGHTS_{s}")))
        s += 1
    assert s >= 1 and getattr(prim.attributes, f"WEIGHTS_{s}", None) is None
    J, w = np.hstack(J_all).astype(int), np.hstack(w_all)
    assert np.all(w >= 0)
    assert np.all(np.abs(w.astype(np.float64).sum(axis=1) - 1.0) < 2e-7 * w.shape[1])
    assert J.max() < len(skin.joints)
    for row_j, row_w in zip(J, w):
        used = row_j[row_w > 0]
        assert len(used) == len(set(used)), "a joint appears twice among a vertex's non-zero weights"
    pos = g.accessors[prim.attributes.POSITION]
    P = read_accessor(g, prim.attributes.POSITION)
    assert np.allclose(pos.min, P.min(axis=0)) and np.allclose(pos.max, P.max(axis=0))
    if prim.attributes.NORMAL is not None:
        assert np.allclose(np.linalg.norm(read_accessor(g, prim.attributes.NORMAL), axis=1), 1.0, atol=1e-5)
    ibm = read_accessor(g, skin.inverseBindMatrices).reshape(-1, 4, 4).transpose(0, 2, 1)
    assert len(ibm) == len(skin.joints)
    assert np.allclose(ibm[:, 3], [0, 0, 0, 1])


@pytest.fixture
def finger():
    """A capsule along x with a 3-bone chain plus a point handle at the tip: 4 handles."""
    mesh = trimesh.creation.capsule(height=2.4, radius=0.35, count=[12, 12])
    V = mesh.vertices[:, [2, 1, 0]] + [1.2, 0, 0]
    F = mesh.faces[:, [0, 2, 1]]
    rig = Rig.from_arrays(
        np.array([[0, 0, 0], [1.0, 0, 0], [1.8, 0, 0], [2.4, 0, 0], [2.5, 0, 0]]),
        np.array([[0, 1], [1, 2], [2, 3]]),
        point_handles=[4],
        joint_names=["base", "k1", "k2", "end", "nail"],
        bone_names=["p1", "p2", "p3"],
    )
    rng = np.random.default_rng(0)
    W = rng.random((len(V), rig.n_handles)) ** 4
    W[:10] = np.eye(rig.n_handles)[rng.integers(0, rig.n_handles, 10)]  # one-hot rows
    return V, F, rig, W / W.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("suffix", [".glb", ".gltf"])
def test_skinned_file_reads_back_in_trimesh_and_pygltflib(tmp_path, finger, suffix):
    V, F, rig, W = finger
    path = tmp_path / f"finger{suffix}"
    write_skinned_gltf(path, V, F, rig, W)
    scene = trimesh.load(path, process=False)
    geom = list(scene.geometry.values())[0]
    assert np.allclose(geom.vertices, V, atol=1e-6) and np.array_equal(geom.faces, F)

    g = pygltflib.GLTF2().load(str(path))
    if suffix == ".gltf":
        g.convert_buffers(pygltflib.BufferFormat.BINARYBLOB)
    khronos_skin_rules(g)
    skin = g.skins[0]
    names = [g.nodes[j].name for j in skin.joints]
    assert names[: rig.n_handles] == rig.handle_names  # one joint node per weight column
    # Weights rebuild W within the top-4 pruning: equal to the pruned W, and off by at most
    # the weight mass each vertex lost.
    W_file = dense_skin_weights(g, len(skin.joints))
    assert np.all(W_file[:, rig.n_handles :] == 0)  # bone-end nodes carry nothing
    W_file = W_file[:, : rig.n_handles]
    idx, kept = prune_weights(W, 4)
    W_pruned = np.zeros_like(W)
    np.add.at(W_pruned, (np.repeat(np.arange(len(W)), 4), idx.ravel()), kept.ravel())
    assert np.allclose(W_file, W_pruned, atol=1e-6)
    assert np.all(np.abs(W_file - W).sum(axis=1) <= 2 * pruned_mass(W, 4) + 1e-6)
    assert np.allclose(W_file[:10], W[:10], atol=1e-7)  # one-hot rows survive exactly


def test_inverse_bind_matrices_invert_the_joint_rest_transforms(tmp_path, finger):
    V, F, rig, W = finger
    write_skinned_gltf(tmp_path / "f.glb", V, F, rig, W)
    g = pygltflib.GLTF2().load(str(tmp_path / "f.glb"))
    world = node_world(g)
    ibm = read_accessor(g, g.skins[0].inverseBindMatrices).reshape(-1, 4, 4).transpose(0, 2, 1)
    for k, j in enumerate(g.skins[0].joints):
        assert np.allclose(world[j] @ ibm[k], np.eye(4), atol=1e-6)
    pivots = np.array([world[j][:3, 3] for j in g.skins[0].joints[: rig.n_handles]])
    assert np.allclose(pivots, rig.handle_pivots())
    # At rest, skinning by the file's own matrices leaves every vertex where it is.
    M = np.stack([world[j] @ ibm[k] for k, j in enumerate(g.skins[0].joints)])
    W_file = dense_skin_weights(g, len(M))
    Vh = np.c_[V, np.ones(len(V))]
    rest = np.einsum("nj,jab,nb->na", W_file, M, Vh)[:, :3]
    assert np.allclose(rest, V, atol=1e-5)


def test_more_influences_write_more_sets(tmp_path):
    rng = np.random.default_rng(2)
    V = rng.random((20, 3))
    rig = Rig.from_arrays(np.c_[np.arange(8.0), np.zeros(8), np.zeros(8)], np.c_[np.arange(7), np.arange(1, 8)])
    W = rng.random((20, 7)) + 0.01
    W /= W.sum(axis=1, keepdims=True)
    write_skinned_gltf(tmp_path / "p.glb", V, None, rig, W, max_influences=7)
    g = pygltflib.GLTF2().load(str(tmp_path / "p.glb"))
    khronos_skin_rules(g)
    assert g.meshes[0].primitives[0].mode == pygltflib.POINTS
    assert g.meshes[0].primitives[0].attributes.JOINTS_1 is not None
    assert np.allclose(dense_skin_weights(g, len(g.skins[0].joints))[:, :7], W, atol=1e-6)  # nothing pruned


def test_prune_weights():
    W = np.array([[0.1, 0.2, 0.3, 0.25, 0.15], [0, 0, 1, 0, 0]])
    idx, w = prune_weights(W, 2)
    assert idx.shape == (2, 4)
    assert list(idx[0, :2]) == [2, 3] and np.allclose(w[0], [0.3 / 0.55, 0.25 / 0.55, 0, 0])
    assert idx[1, 0] == 2 and np.allclose(w[1], [1, 0, 0, 0]) and np.all(idx[1, 1:] == 0)
    assert np.allclose(pruned_mass(W, 2), [0.45, 0.0]) and np.allclose(pruned_mass(W, 5), 0.0)
    with pytest.raises(InputError, match="non-negative"):
        prune_weights(-W, 4)
    with pytest.raises(InputError, match="no weight at all"):
        prune_weights(np.zeros((2, 3)), 4)
    with pytest.raises(InputError, match="positive integer"):
        prune_weights(W, 0)


def test_rig_round_trips_through_the_skin(tmp_path, finger):
    V, F, rig, W = finger
    write_skinned_gltf(tmp_path / "f.glb", V, F, rig, W)
    back = load_gltf_rig(tmp_path / "f.glb")
    assert back.handle_names == rig.handle_names
    assert np.allclose(back.handle_segments(), rig.handle_segments())
    assert np.array_equal(back.handle_parents(), rig.handle_parents())
    asset = read_gltf_assets(tmp_path / "f.glb")[0]
    n_joints = asset.skeleton.n_joints
    assert np.allclose(
        asset.artist_weights, dense_skin_weights(pygltflib.GLTF2().load(str(tmp_path / "f.glb")), n_joints)
    )
    # As an asset, the columns are the skin's joints; the bone-end nodes do not deform.
    assert asset.rig().n_handles == n_joints and asset.skeleton.deform_flags.tolist() == [True] * rig.n_handles + [
        False
    ] * (n_joints - rig.n_handles)


def _strip_extras(path):
    """Rewrite a GLB without fieldrig's stored rig, as another tool would export it."""
    data = path.read_bytes()
    n = struct.unpack_from("<I", data, 12)[0]
    doc = json.loads(data[20 : 20 + n])
    del doc["skins"][0]["extras"]
    text = json.dumps(doc).encode()
    text += b" " * (-len(text) % 4)
    rest = data[20 + n :]
    path.write_bytes(
        struct.pack("<III", 0x46546C67, 2, 20 + len(text) + len(rest))
        + struct.pack("<II", len(text), 0x4E4F534A)
        + text
        + rest
    )


def test_rig_from_a_foreign_skin_has_one_column_per_joint(tmp_path):
    """Branching skeleton, no stored rig: each joint's handle is its segments to its children."""
    joints = np.array([[0, 1.0, 0], [0, 1.4, 0], [-0.2, 0.9, 0], [-0.2, 0.5, 0], [0.2, 0.9, 0], [0.2, 0.5, 0]])
    rig = Rig.from_arrays(
        joints, np.array([[0, 1], [2, 3], [4, 5]]), bone_parents=[-1, 0, 0], bone_names=["pelvis", "leg_l", "leg_r"]
    )
    V = np.random.default_rng(0).random((12, 3))
    W = np.full((12, 3), 1 / 3)
    path = tmp_path / "legs.glb"
    write_skinned_gltf(path, V, None, rig, W)
    _strip_extras(path)
    back = load_gltf_rig(path)
    assert back.is_skeleton
    # Nodes: pelvis, leg_l, leg_r (the handles) and the end nodes of the three bones.
    assert back.handle_names[:3] == ["pelvis", "leg_l", "leg_r"] and back.n_handles == 6
    segments = {
        (back.handle_names[h], tuple(np.round(s.ravel(), 6)))
        for h, s in zip(back.segment_handles(), back.handle_segments())
    }
    expected = {
        (name, tuple(np.round(np.r_[a, b], 6)))
        for name, a, b in [
            ("pelvis", joints[0], joints[1]),  # the pelvis has three children: three segments
            ("pelvis", joints[0], joints[2]),
            ("pelvis", joints[0], joints[4]),
            ("leg_l", joints[2], joints[3]),
            ("leg_r", joints[4], joints[5]),
        ]
    }
    ends = {
        (back.handle_names[h], tuple(np.round(np.r_[joints[j], joints[j]], 6))) for h, j in zip(range(3, 6), (1, 3, 5))
    }
    assert segments == expected | ends  # the leaf end nodes are points
    assert back.handle_parents().tolist() == [-1, 0, 0, 0, 1, 2]
    assert np.allclose(back.handle_pivots()[:3], joints[[0, 2, 4]])


def test_coincident_joints_are_two_point_handles(tmp_path):
    rig = Rig.from_arrays(np.array([[0, 1.0, 0], [0, 1.0, 0]]), joint_names=["a", "b"])
    write_skinned_gltf(tmp_path / "two.glb", np.eye(3), None, rig, np.full((3, 2), 0.5))
    _strip_extras(tmp_path / "two.glb")
    back = load_gltf_rig(tmp_path / "two.glb")
    assert back.handle_names == ["a", "b"] and len(back.bones) == 0
    assert np.allclose(back.handle_pivots(), [[0, 1, 0], [0, 1, 0]])


def test_gltf_input_errors(tmp_path, finger):
    V, F, rig, W = finger
    with pytest.raises(InputError, match="expected weights of shape"):
        write_skinned_gltf(tmp_path / "a.glb", V, F, rig, W[:, :2])
    with pytest.raises(InputError, match="unknown glTF extension"):
        write_skinned_gltf(tmp_path / "a.fbx", V, F, rig, W)
    (tmp_path / "junk.glb").write_bytes(b"glTF\x02\x00\x00\x00")
    with pytest.raises(InputError, match="junk.glb"):
        load_gltf_rig(tmp_path / "junk.glb")
    trimesh.Trimesh(V, F).export(tmp_path / "plain.glb")
    with pytest.raises(InputError, match="no skin"):
        load_gltf_rig(tmp_path / "plain.glb")
    with pytest.raises(InputError, match="not found"):
        load_gltf_rig(tmp_path / "missing.glb")
    assert not (tmp_path / "a.glb").exists()
