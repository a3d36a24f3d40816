"""The app on a skinned character: opened in its bind pose with its skeleton and its own
weights, joints switched off in the Rig tab, weights computed for the deforming joints, the
file exported re-skinned, and kept in projects."""

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from gltf_build import JOINTS, character, read_document  # noqa: E402
from test_gui import app, wait_idle  # noqa: E402, F401 (the app fixture)

from fieldrig.draw.scene import posed_joints  # noqa: E402
from fieldrig.geometry.gltf import read_gltf_assets  # noqa: E402


def test_a_skinned_file_opens_in_its_bind_pose_and_exports_re_skinned(app, qtbot, tmp_path):  # noqa: F811
    info = character(tmp_path / "char.glb")
    app.controller.open_mesh(str(tmp_path / "char.glb"))
    wait_idle(qtbot, app)
    doc = app.document
    (asset,) = read_gltf_assets(tmp_path / "char.glb")
    np.testing.assert_allclose(doc.mesh.V, asset.V)  # the parts bound to the skin, stored positions
    assert doc.asset is not None and doc.rig.is_skeleton and doc.rig.handle_names == JOINTS
    np.testing.assert_allclose(posed_joints(doc.rig, None), info["positions"], atol=1e-5)  # where it belongs
    np.testing.assert_allclose(doc.weights, info["artist"], atol=1e-6)  # the file's own weights
    assert app.window.mesh_tab.stats["Skin"].text() == "5 joints, 3 part(s), 2 animation(s)"
    problems = [app.window.rig_tab.problems.item(i).text() for i in range(app.window.rig_tab.problem_count())]
    assert any("'ik_target' lies outside the shape" in p for p in problems)

    # Switch the IK target off in the Rig tab: it keeps a zero column when weights are computed.
    doc.set_setting("preset", "fast")
    app.window.rig_tab.tree.set_deform(JOINTS.index("ik_target"), False)
    assert doc.rig.deform.tolist() == [True, True, True, True, False] and doc.rig_state.weights_stale
    assert app.controller.compute_weights()
    wait_idle(qtbot, app)
    assert app.window.errors == []
    W = doc.weights
    assert W.shape == (len(asset.V), 5) and np.all(W[:, 4] == 0)
    np.testing.assert_allclose(W.sum(axis=1), 1.0, atol=1e-9)

    # The file's weights stay beside the computed ones: a weight set each, the computed one in use.
    combo = app.window.weights_tab.weight_set
    assert [combo.itemText(i) for i in range(combo.count())] == [
        "skin (file)",
        "computed",
    ]  # the origin, unless the name says it
    assert combo.currentIndex() == 1 and combo.isEnabled()
    doc.select_weight_set(0)
    np.testing.assert_allclose(doc.weights, info["artist"], atol=1e-6)
    assert combo.currentIndex() == 0 and doc.rig_state.weights_stale  # the joints' deform flags changed since
    doc.undo_stack.undo()
    assert doc.weights is W and combo.currentIndex() == 1

    assert app.controller.export_gltf(str(tmp_path / "out.glb"))
    wait_idle(qtbot, app)
    assert app.window.errors == []
    a, _ = read_document(tmp_path / "char.glb")
    b, _ = read_document(tmp_path / "out.glb")
    for key in ("nodes", "skins", "animations", "materials", "images"):
        assert a[key] == b[key], key
    (out,) = read_gltf_assets(tmp_path / "out.glb")
    assert np.all(out.artist_weights[:, 4] == 0) and np.abs(out.artist_weights - W).max() < 0.5

    # A project keeps the skin: it reopens as the same bind pose, with the asset to export.
    app.controller.save_project(str(tmp_path / "char.fieldrig"))
    wait_idle(qtbot, app)
    app.controller.open_project(str(tmp_path / "char.fieldrig"))
    wait_idle(qtbot, app)
    assert doc.asset is not None and doc.reskinnable()
    np.testing.assert_allclose(doc.mesh.V, asset.V)
    np.testing.assert_allclose(doc.weights, W)
    assert [(ws.name, ws.origin) for ws in doc.rig_state.weight_sets] == [("skin", "file"), ("computed", "computed")]
    np.testing.assert_allclose(doc.rig_state.weight_sets[0].weights, info["artist"], atol=1e-6)
    assert doc.rig_state.preview is not None  # built in the compute process, for the set in use


def test_a_dropped_fbx_opens_as_a_character(app, qtbot, tmp_path):  # noqa: F811
    """FBX is among what the app opens (the file dialog's filter, dropped files): as a
    skinned character, with its skeleton and weights."""
    pytest.importorskip("ufbx")
    import fbx_fixture as fx

    from fieldrig.core import vocabulary as vocab

    assert "*.fbx" in vocab.MESH_OPEN_FILTER.split("(")[1]
    fx.write_fbx(fx.character(), tmp_path / "char.fbx")
    app.window.open_files([str(tmp_path / "char.fbx")])
    wait_idle(qtbot, app)
    doc = app.document
    assert app.window.errors == []
    assert doc.asset is not None and doc.rig.is_skeleton and doc.weights_usable()
    assert [(ws.name, ws.origin) for ws in doc.rig_state.weight_sets] == [("skin", "file")]
