"""Skinned glTF files read by the spec (bind pose, skins, parts, clips), re-skinned with only
their skin attributes replaced, and skinned assets written as new files — each checked
against an independent reading of the glTF 2.0 rules (tests/gltf_build.py)."""

import copy
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from gltf_build import JOINTS, PARENTS, accessor, character, read_document, skinned_positions

from fieldrig.core.errors import InputError
from fieldrig.geometry.deform import linear_blend_skinning
from fieldrig.geometry.gltf import prune_weights, read_gltf_assets, reskin_gltf, write_asset_gltf
from fieldrig.geometry.mesh_io import load_mesh
from fieldrig.geometry.rig import load_rig
from fieldrig.geometry.skinned_asset import SkinnedAsset, load_skinned_assets


@pytest.fixture
def char(tmp_path):
    path = tmp_path / "char.glb"
    return path, character(path)


def test_bind_pose_is_the_stored_positions_whatever_the_skinned_nodes_transforms(char):
    path, info = char
    (asset,) = read_gltf_assets(path)
    assert [p.name for p in asset.parts] == ["Body[0]", "Body[1]", "Eyes"]  # two primitives and a second mesh
    stored = np.vstack(info["body_V"] + [info["eyes_V"]])
    np.testing.assert_allclose(asset.V, stored, atol=1e-6)  # no node transform applied
    assert asset.skeleton.names == JOINTS and asset.skeleton.parents.tolist() == PARENTS
    np.testing.assert_allclose(asset.skeleton.bind_positions, info["positions"], atol=1e-5)
    np.testing.assert_allclose(asset.artist_weights, info["artist"], atol=1e-6)
    assert [c.name for c in asset.clips] == ["Bend", "Wave"] and asset.warnings == []
    # load_mesh sees the same bind pose (so --rig char.glb lines up), and the prop where its node puts it.
    mesh = load_mesh(path)
    np.testing.assert_allclose(mesh.V[: len(stored)], stored, atol=1e-6)
    np.testing.assert_allclose(mesh.V[len(stored) :], info["prop_V"], atol=1e-6)
    rig = load_rig(path)
    assert rig.is_skeleton and rig.handle_names == JOINTS
    np.testing.assert_allclose(rig.handle_pivots(), info["positions"], atol=1e-5)


@pytest.mark.parametrize("animation", [0, 1])
def test_clips_skin_like_an_independent_reading_of_the_spec(char, animation):
    path, _ = char
    (asset,) = read_gltf_assets(path)
    doc, blob = read_document(path)
    clip = asset.clips[animation]
    assert clip.duration == pytest.approx([1.0, 1.5][animation])
    for t in (-0.3, 0.0, 0.1, 0.2, 0.33, 0.5, 0.61, 0.8, 1.0, 1.4, 2.0):
        X = linear_blend_skinning(asset.V, asset.artist_weights, clip.skinning_transforms(asset.skeleton, t))
        expected = np.vstack(skinned_positions(doc, blob, animation, t))
        np.testing.assert_allclose(X, expected, atol=2e-5, err_msg=f"t = {t}")
    # The clip really moves the character (the test can fail).
    T0, T1 = clip.skinning_transforms(asset.skeleton, 0.0), clip.skinning_transforms(asset.skeleton, 0.9)
    moved = linear_blend_skinning(asset.V, asset.artist_weights, T1) - linear_blend_skinning(
        asset.V, asset.artist_weights, T0
    )
    assert np.abs(moved).max() > 0.1


def test_without_inverse_bind_matrices_the_scene_pose_is_the_bind_pose(tmp_path):
    info = character(tmp_path / "noibm.glb", inverse_bind=False)
    (asset,) = read_gltf_assets(tmp_path / "noibm.glb")
    assert any("no inverse bind matrices" in w for w in asset.warnings)
    rest = np.einsum("ij,njk->nik", info["armature"], info["bind"])
    np.testing.assert_allclose(asset.skeleton.bind_world, rest, atol=1e-5)


def test_several_skins_are_several_assets(char, tmp_path):
    path, _ = char
    doc, blob = read_document(path)
    doc["skins"].append(copy.deepcopy(doc["skins"][0]))
    doc["nodes"][9]["skin"] = 1  # the eyes on a second skin
    from fieldrig.geometry.gltf.document import write_gltf

    write_gltf(tmp_path / "two.glb", doc, [bytes(blob)])
    first, second = load_skinned_assets(tmp_path / "two.glb")
    assert [p.name for p in first.parts] == ["Body[0]", "Body[1]"] and [p.name for p in second.parts] == ["Eyes"]


def _skin_arrays(doc, blob, prim, n_joints):
    W = np.zeros((len(accessor(doc, blob, prim["attributes"]["POSITION"])), n_joints))
    s = 0
    while f"JOINTS_{s}" in prim["attributes"]:
        J = accessor(doc, blob, prim["attributes"][f"JOINTS_{s}"]).astype(int)
        w = accessor(doc, blob, prim["attributes"][f"WEIGHTS_{s}"]).astype(float)
        np.add.at(W, (np.repeat(np.arange(len(J)), 4), J.ravel()), w.ravel())
        s += 1
    return W, s


def _random_weights(n, J, seed=0):
    W = np.random.default_rng(seed).random((n, J)) ** 3
    W[:, 4] = 0  # one joint with no weight anywhere
    return W / W.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("out_name, influences", [("out.glb", 4), ("out.gltf", 8)])
def test_reskin_changes_only_the_skin_attributes(char, tmp_path, out_name, influences):
    path, _ = char
    (asset,) = read_gltf_assets(path)
    W = _random_weights(asset.n_vertices, asset.skeleton.n_joints)
    out = tmp_path / out_name
    reskin_gltf(out, [(asset, W)], max_influences=influences)
    a, a_blob = read_document(path)
    b, b_blob = read_document(out)
    skin_keys = {f"{k}_{s}" for k in ("JOINTS", "WEIGHTS") for s in range(4)}
    for key in set(a) | set(b):
        if key in ("accessors", "bufferViews", "buffers", "meshes"):
            continue
        assert a.get(key) == b.get(key), key  # nodes, skins, animations, materials, images, extras...
    for ma, mb in zip(a["meshes"], b["meshes"]):
        assert {k: v for k, v in ma.items() if k != "primitives"} == {k: v for k, v in mb.items() if k != "primitives"}
        for pa, pb in zip(ma["primitives"], mb["primitives"]):
            strip = lambda p: {**p, "attributes": {k: v for k, v in p["attributes"].items() if k not in skin_keys}}  # noqa: E731
            assert strip(pa) == strip(pb)
    assert len(a["meshes"]) == len(b["meshes"]) and b["accessors"][: len(a["accessors"])] == a["accessors"]
    for i in range(len(a["accessors"])):  # every existing accessor decodes to the same data
        np.testing.assert_array_equal(accessor(a, a_blob, i), accessor(b, b_blob, i))
    view = a["images"][0]["bufferView"]
    assert (
        bytes(a_blob)[a["bufferViews"][view]["byteOffset"] :][: a["bufferViews"][view]["byteLength"]]
        == bytes(b_blob)[b["bufferViews"][view]["byteOffset"] :][: b["bufferViews"][view]["byteLength"]]
    )
    # The new weights are the pruned W, in as many sets as asked for, on every skinned primitive.
    joints, kept = prune_weights(W, influences)
    W_pruned = np.zeros_like(W)
    np.add.at(W_pruned, (np.repeat(np.arange(len(W)), joints.shape[1]), joints.ravel()), kept.ravel())
    rows = []
    for mesh in b["meshes"][:2]:
        for prim in mesh["primitives"]:
            W_file, sets = _skin_arrays(b, b_blob, prim, len(JOINTS))
            assert sets == influences // 4 and f"JOINTS_{sets}" not in prim["attributes"]
            rows.append(W_file)
    np.testing.assert_allclose(np.vstack(rows), W_pruned, atol=1e-6)
    assert "JOINTS_0" not in b["meshes"][2]["primitives"][0]["attributes"]  # the prop is untouched
    # The file plays its animation with the new weights, as the spec skins it.
    clip = asset.clip("Bend")
    X = linear_blend_skinning(asset.V, W_pruned, clip.skinning_transforms(asset.skeleton, 0.4))
    np.testing.assert_allclose(np.vstack(skinned_positions(b, b_blob, 0, 0.4)), X, atol=2e-5)
    # Re-skinning the re-skinned file with fewer influences drops the extra sets.
    (again,) = read_gltf_assets(out)
    reskin_gltf(tmp_path / "back.glb", [(again, W)], max_influences=4)
    c, _ = read_document(tmp_path / "back.glb")
    assert all("JOINTS_1" not in p["attributes"] for m in c["meshes"] for p in m["primitives"])


def test_reskin_refuses_wrong_weights(char, tmp_path):
    path, _ = char
    (asset,) = read_gltf_assets(path)
    with pytest.raises(InputError, match="expected weights of shape"):
        reskin_gltf(tmp_path / "x.glb", [(asset, np.ones((3, 5)))])
    with pytest.raises(InputError, match="no weight at all"):
        reskin_gltf(tmp_path / "x.glb", [(asset, np.zeros((asset.n_vertices, 5)))])
    assert not (tmp_path / "x.glb").exists()


def test_an_asset_from_elsewhere_becomes_a_new_file_that_plays_its_clips(char, tmp_path):
    path, _ = char
    (read,) = read_gltf_assets(path)
    # The same skin as another reader (FBX) would give it: no glTF document behind it.
    asset = SkinnedAsset("char.fbx", read.skeleton, read.parts, read.clips)
    W = _random_weights(asset.n_vertices, asset.skeleton.n_joints, seed=3)
    write_asset_gltf(tmp_path / "new.glb", asset, W)
    (back,) = read_gltf_assets(tmp_path / "new.glb")
    assert back.skeleton.names == asset.skeleton.names and back.skeleton.parents.tolist() == PARENTS
    np.testing.assert_allclose(back.skeleton.inverse_bind, asset.skeleton.inverse_bind, atol=1e-5)
    np.testing.assert_allclose(back.V, asset.V, atol=1e-6)
    joints, kept = prune_weights(W, 4)
    W_pruned = np.zeros_like(W)
    np.add.at(W_pruned, (np.repeat(np.arange(len(W)), 4), joints.ravel()), kept.ravel())
    np.testing.assert_allclose(back.artist_weights, W_pruned, atol=1e-6)
    doc, blob = read_document(tmp_path / "new.glb")
    assert all(not n.get("translation") or "mesh" not in n for n in doc["nodes"])  # mesh nodes carry no transform
    for name in ("Bend", "Wave"):
        k = [c.name for c in back.clips].index(name)
        for frame in (0, 7, 15, 30):  # sampled at 30 fps: exact at the frames
            t = frame / 30
            X = linear_blend_skinning(asset.V, W_pruned, asset.clip(name).skinning_transforms(asset.skeleton, t))
            np.testing.assert_allclose(np.vstack(skinned_positions(doc, blob, k, t)), X, atol=1e-4)


def _validator():
    """(node, environment) when node can load the Khronos gltf-validator package, else None."""
    import os

    node = shutil.which("node")
    if node is None:
        return None
    env = dict(os.environ)
    npm = shutil.which("npm")
    if npm is not None:
        root = subprocess.run([npm, "root", "-g"], capture_output=True, text=True).stdout.strip()
        env["NODE_PATH"] = os.pathsep.join(p for p in (env.get("NODE_PATH"), root) if p)
    probe = subprocess.run([node, "-e", "require('gltf-validator')"], capture_output=True, env=env)
    return (node, env) if probe.returncode == 0 else None


VALIDATE = """
const v = require('gltf-validator'); const fs = require('fs');
v.validateBytes(new Uint8Array(fs.readFileSync(process.argv[1])), {maxIssues: 0}).then(r => {
  console.log(JSON.stringify({errors: r.issues.numErrors, messages: r.issues.messages.filter(m => m.severity === 0)}));
});
"""


def test_khronos_validator_finds_no_errors(char, tmp_path):
    found = _validator()
    if found is None:
        pytest.skip("node with the gltf-validator package is not installed (npm install -g gltf-validator)")
    node, env = found
    path, _ = char
    (asset,) = read_gltf_assets(path)
    W = _random_weights(asset.n_vertices, asset.skeleton.n_joints)
    outputs = [path]  # the test's own file is valid too, so every error would be ours
    for name, influences in (("re.glb", 4), ("re.gltf", 8)):
        reskin_gltf(tmp_path / name, [(asset, W)], influences)
        outputs.append(tmp_path / name)
    write_asset_gltf(tmp_path / "new.glb", SkinnedAsset("x.fbx", asset.skeleton, asset.parts, asset.clips), W)
    outputs.append(tmp_path / "new.glb")
    for out in outputs:
        run = subprocess.run([node, "-e", VALIDATE, str(out)], capture_output=True, text=True, env=env)
        report = json.loads(run.stdout)
        assert report["errors"] == 0, (out.name, report["messages"][:5])


def test_bad_skinned_files(tmp_path, char):
    path, _ = char
    doc, blob = read_document(path)
    from fieldrig.geometry.gltf.document import write_gltf

    broken = copy.deepcopy(doc)
    broken["skins"][0]["joints"].append(99)
    write_gltf(tmp_path / "bad.glb", broken, [bytes(blob)])
    with pytest.raises(InputError, match="bad.glb: skin 0 lists no joints, or joints that are not nodes"):
        read_gltf_assets(tmp_path / "bad.glb")
    plain = copy.deepcopy(doc)
    for n in plain["nodes"]:
        n.pop("skin", None)
    write_gltf(tmp_path / "plain.glb", plain, [bytes(blob)])
    with pytest.raises(InputError, match="plain.glb: the file has no skin"):
        read_gltf_assets(tmp_path / "plain.glb")
    (asset,) = read_gltf_assets(path)
    with pytest.raises(InputError, match=r"has no animation 'Run' \(it has 'Bend', 'Wave'\)"):
        asset.clip("Run")
    with pytest.raises(InputError, match="FBX reader|no such file|not found"):
        load_skinned_assets(Path(tmp_path / "missing.fbx"))


def test_sparse_and_normalised_accessors_decode(tmp_path):
    from fieldrig.geometry.gltf import GltfDocument
    from fieldrig.geometry.gltf.document import write_gltf

    base = np.arange(12, dtype=np.float32).reshape(4, 3)
    rows = np.array([1, 3], dtype=np.uint16)
    values = np.array([[9, 9, 9], [7, 7, 7]], dtype=np.float32)
    shorts = np.array([[0, 32767, -32767, -32768]], dtype=np.int16)
    blob = base.tobytes() + rows.tobytes() + values.tobytes() + shorts.tobytes()
    doc = {
        "asset": {"version": "2.0"},
        "buffers": [{"byteLength": len(blob)}],
        "bufferViews": [
            {"buffer": 0, "byteOffset": 0, "byteLength": 48},
            {"buffer": 0, "byteOffset": 48, "byteLength": 4},
            {"buffer": 0, "byteOffset": 52, "byteLength": 24},
            {"buffer": 0, "byteOffset": 76, "byteLength": 8},
        ],
        "accessors": [
            {
                "bufferView": 0,
                "componentType": 5126,
                "count": 4,
                "type": "VEC3",
                "sparse": {
                    "count": 2,
                    "indices": {"bufferView": 1, "componentType": 5123},
                    "values": {"bufferView": 2},
                },
            },
            {"componentType": 5126, "count": 2, "type": "SCALAR", "sparse": {
                "count": 1, "indices": {"bufferView": 1, "componentType": 5123}, "values": {"bufferView": 2}}},
            {"bufferView": 3, "componentType": 5122, "count": 1, "type": "VEC4", "normalized": True},
        ],
    }  # fmt: skip
    write_gltf(tmp_path / "s.glb", doc, [blob])
    read = GltfDocument(tmp_path / "s.glb")
    np.testing.assert_array_equal(read.accessor(0), [[0, 1, 2], [9, 9, 9], [6, 7, 8], [7, 7, 7]])
    np.testing.assert_array_equal(read.accessor(1), [[0], [9]])  # no buffer view: zeros, then the sparse values
    np.testing.assert_allclose(read.accessor(2), [[0, 1, -1, -1]])  # signed normalised: max(c / 32767, -1)
