"""The FBX reader against a character the tests write themselves (tests/fbx_fixture.py) and
compute independently with FBX SDK semantics."""

import fbx_fixture as fx
import numpy as np
import pytest

from fieldrig.core.errors import InputError
from fieldrig.geometry.fbx import read_fbx_assets
from fieldrig.geometry.skin_compare import skinned_positions

pytest.importorskip("ufbx")


def _read(tmp_path, **kw):
    scene = fx.character(**kw)
    path = tmp_path / "character.fbx"
    fx.write_fbx(scene, path)
    return scene, read_fbx_assets(path)


def _mesh(scene, name):
    return next(m for m in scene.meshes if m.node == name)


@pytest.mark.parametrize("up", ["Y", "Z"])
def test_bind_pose_is_reproduced_in_gltf_space(tmp_path, up):
    # a Z-up centimetre file comes out Y-up in metres; every control point in order
    scene, (asset,) = _read(tmp_path, up=up)
    assert [p.name for p in asset.parts] == ["body", "cap"]
    for part in asset.parts:
        assert np.allclose(part.V, fx.mesh_bind_world(scene, _mesh(scene, part.name)), atol=1e-9)
    C = fx.conversion(scene)
    expected = np.stack([C @ fx.world(scene, j, "bind") for j in asset.skeleton.names])
    assert np.allclose(asset.skeleton.bind_world, expected, atol=1e-9)
    # the first key is the bind pose (the bones' stored transforms are not): identity per joint
    T = asset.clip().skinning_transforms(asset.skeleton, 0.0)
    assert np.allclose(T, np.eye(4), atol=1e-9)


@pytest.mark.parametrize("up", ["Y", "Z"])
def test_deformation_at_each_key_matches_fbx_skinning(tmp_path, up):
    scene, (asset,) = _read(tmp_path, up=up)
    clip = asset.clip("walk")
    assert clip.duration == pytest.approx(1.0)
    offsets = asset.part_offsets
    moved = 0.0
    for k, t in enumerate(fx.KEY_TIMES):
        X = skinned_positions(asset.V, asset.artist_weights, clip.skinning_transforms(asset.skeleton, t))
        for p, part in enumerate(asset.parts):
            got = X[offsets[p] : offsets[p + 1]]
            assert np.allclose(got, fx.expected_positions(scene, _mesh(scene, part.name), k), atol=1e-9)
            moved = max(moved, np.abs(got - part.V).max())
    assert moved > 0.1  # the keys do move the character (it is ~1 m tall)


def test_skeleton_is_the_clustered_bones_with_the_armature_folded_in(tmp_path):
    scene, (asset,) = _read(tmp_path)
    assert asset.skeleton.names == ["hip", "spine", "head"]
    assert asset.skeleton.parents.tolist() == [-1, 0, 1]
    W = asset.artist_weights
    assert W.shape == (len(asset.V), 3)
    body = _mesh(scene, "body")
    idx, w = body.clusters["spine"]
    assert np.allclose(asset.parts[0].weights[idx, 1], w)  # as stored, not renormalised
    assert any("do not sum to 1" in m for m in asset.warnings)
    assert any("1 mesh(es) without a skin" in m for m in asset.warnings)


def test_two_armatures_give_two_assets(tmp_path):
    scene, assets = _read(tmp_path, second=True)
    assert [[p.name for p in a.parts] for a in assets] == [["body", "cap"], ["sleeve"]]
    sleeve = assets[1]
    assert sleeve.skeleton.names == ["arm", "hand"]
    X = skinned_positions(sleeve.V, sleeve.artist_weights, sleeve.clip().skinning_transforms(sleeve.skeleton, 1.0))
    assert np.allclose(X, fx.expected_positions(scene, _mesh(scene, "sleeve"), 2), atol=1e-9)


def test_polygons_become_triangles_covering_them_without_folds(tmp_path):
    scene, (asset,) = _read(tmp_path)
    body, cap = asset.parts
    assert len(body.F) == 2 * len(_mesh(scene, "body").polygons)  # all quads
    # the cap: a concave pentagon (3 triangles) and a triangle
    assert len(cap.F) == 4
    V, pent = cap.V, cap.F[:3]
    loop = V[[0, 1, 2, 3, 4]]
    newell = np.cross(loop, np.roll(loop, -1, axis=0)).sum(axis=0)  # twice the polygon's vector area
    normals = np.cross(V[pent[:, 1]] - V[pent[:, 0]], V[pent[:, 2]] - V[pent[:, 0]])
    assert np.all(normals @ newell > 0)  # all turn the polygon's way
    assert np.linalg.norm(normals, axis=1).sum() == pytest.approx(np.linalg.norm(newell))  # no overlap
    # quads split along their shorter diagonal
    for a, b in zip(body.F[0::2], body.F[1::2]):
        shared = sorted(set(a) & set(b))
        others = sorted(set(a) ^ set(b))
        d_shared = np.linalg.norm(body.V[shared[0]] - body.V[shared[1]])
        assert d_shared <= np.linalg.norm(body.V[others[0]] - body.V[others[1]]) + 1e-12


def test_clips_clamp_to_their_span(tmp_path):
    _, (asset,) = _read(tmp_path)
    clip = asset.clip()
    assert np.allclose(clip.joint_world(5.0), clip.joint_world(1.0))
    assert np.allclose(clip.joint_world(-1.0), clip.joint_world(0.0))


def test_clusters_that_disagree_on_the_bind_are_reported(tmp_path):
    scene, (asset,) = _read(tmp_path, disagree=3.0)
    assert any("apart in the bind pose" in m and m.startswith("body") for m in asset.warnings)
    # each vertex keeps its dominant cluster's bind position: the hip's vertices are where they were
    hip_only = np.flatnonzero(asset.parts[0].weights[:, 0] == 1)
    assert len(hip_only) and np.allclose(
        asset.parts[0].V[hip_only], fx.mesh_bind_world(scene, _mesh(scene, "body"))[hip_only]
    )


def test_consistent_files_are_not_reported(tmp_path):
    _, (asset,) = _read(tmp_path)
    assert not any("apart in the bind pose" in m for m in asset.warnings)


def test_a_file_without_skin_is_refused(tmp_path):
    with pytest.raises(InputError, match=r"character.fbx: has no skinned mesh"):
        _read(tmp_path, skinned=False)


def test_missing_and_unreadable_files_are_refused_in_one_line(tmp_path):
    with pytest.raises(InputError, match=r"nope.fbx: no such file"):
        read_fbx_assets(tmp_path / "nope.fbx")
    text = tmp_path / "notes.fbx"
    text.write_text("this is not an FBX file\n")
    with pytest.raises(InputError, match=r"notes.fbx: cannot be read as FBX"):
        read_fbx_assets(text)
    scene = fx.character()
    good = tmp_path / "good.fbx"
    fx.write_fbx(scene, good)
    cut = tmp_path / "cut.fbx"
    cut.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 3])
    with pytest.raises(InputError, match=r"cut.fbx: "):
        read_fbx_assets(cut)


def test_assets_pickle_with_their_clips(tmp_path):
    """An FBX asset crosses to another process (the app's compute process) whole: its clips
    come back from the file and give the same transforms."""
    import pickle

    scene = fx.character()
    fx.write_fbx(scene, tmp_path / "char.fbx")
    (asset,) = read_fbx_assets(tmp_path / "char.fbx")
    (again,) = pickle.loads(pickle.dumps([asset]))
    assert [c.name for c in again.clips] == [c.name for c in asset.clips] and asset.clips
    for a, b in zip(asset.clips, again.clips):
        for t in fx.KEY_TIMES:
            np.testing.assert_array_equal(b.joint_world(t), a.joint_world(t))
    np.testing.assert_array_equal(again.V, asset.V)
