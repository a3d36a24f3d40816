"""The app driven as a user would: offscreen Qt panel, polyscope's openGL_mock backend.

Clicks in the 3D view are given as the :class:`~fieldrig.gui.viewer.Pick` events the viewer
emits (the mock backend renders nothing, so polyscope cannot pick); everything from there
on — tools, document, undo stack, viewer buffers — is the real code path.
"""

import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PyQt6.QtCore import Qt  # noqa: E402

from fieldrig.draw.scene import JOINTS, MESH, posed_joints  # noqa: E402
from fieldrig.geometry.deform import dual_quaternion_skinning, linear_blend_skinning  # noqa: E402
from fieldrig.geometry.pose import pose_transforms  # noqa: E402
from fieldrig.gui.app import FieldrigApp  # noqa: E402
from fieldrig.gui.viewer import Pick  # noqa: E402

ASSETS = Path(__file__).resolve().parents[1] / "assets"
FINGER, FINGER_RIG = str(ASSETS / "finger.obj"), str(ASSETS / "finger.tgf")
JOB_TIMEOUT_MS = 60_000


def unexpected_question(title, text, choices):
    raise AssertionError(f"unexpected question {title!r}: {text!r}")


@pytest.fixture
def app(qtbot):
    fieldrig_app = FieldrigApp(backend="openGL_mock")
    fieldrig_app.window.ask_choice = unexpected_question  # a test that expects one answers it
    qtbot.addWidget(fieldrig_app.window)
    fieldrig_app.window.show()
    yield fieldrig_app
    fieldrig_app.shutdown()


def wait_idle(qtbot, app, timeout=JOB_TIMEOUT_MS):
    qtbot.waitUntil(lambda: not app.jobs.busy and not app.window._queue, timeout=timeout)
    app.tick()


def click(qtbot, widget):
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def button(parent, text):
    from PyQt6.QtWidgets import QPushButton

    matches = [b for b in parent.findChildren(QPushButton) if b.text() == text]
    assert len(matches) == 1, f"no single button {text!r}"
    return matches[0]


def ray_pick(x, structure=MESH, index=None):
    """A click whose camera ray runs down the -z axis through (x, 0) — through the finger's core."""
    return Pick(
        structure,
        "vertex" if index is not None else None,
        index,
        np.array([x, 0.0, 0.37]),
        None,
        np.array([x, 0.0, 5.0]),
        np.array([0.0, 0.0, -1.0]),
    )


def select_tab(app, name):
    tabs = app.window.tabs
    tabs.setCurrentIndex([tabs.tabText(i) for i in range(tabs.count())].index(name))


# ------------------------------------------------------------------------------------- opening
def test_open_mesh_shows_stats_and_problems(app, qtbot, monkeypatch, tmp_path):
    select_tab(app, "Mesh")
    monkeypatch.setattr(app.window, "ask_open", lambda title, filters: FINGER)  # the file dialog's answer
    click(qtbot, button(app.window.mesh_tab, "Open mesh…"))
    wait_idle(qtbot, app)
    stats = app.window.mesh_tab.stats
    assert stats["Vertices"].text() == "1,202" and stats["Faces"].text() == "2,400"
    assert stats["Surface"].text() == "closed" and stats["Components"].text() == "1"
    assert app.window.mesh_tab.warnings.item(0).text() == "No problems found."

    lines = Path(FINGER).read_text().splitlines()
    faces = [i for i, line in enumerate(lines) if line.startswith("f ")]
    holey = tmp_path / "holey.obj"
    holey.write_text("\n".join(line for i, line in enumerate(lines) if i not in faces[:3]) + "\n")
    app.controller.open_mesh(str(holey))
    wait_idle(qtbot, app)
    assert stats["Surface"].text() == "open" and stats["Holes"].text() == "1"
    problems = [app.window.mesh_tab.warnings.item(i).text() for i in range(app.window.mesh_tab.warnings.count())]
    assert any("hole" in text for text in problems)


def test_dropped_files_open_mesh_before_rig(app, qtbot):
    app.window.open_files([FINGER_RIG, FINGER])
    wait_idle(qtbot, app)
    assert app.document.mesh is not None and len(app.document.mesh.V) == 1202
    assert app.document.rig.handle_names == ["bone0", "bone1", "bone2"]
    assert app.window.errors == []


def test_bad_files_become_dialogs_and_change_nothing(app, qtbot, tmp_path):
    app.controller.open_mesh(FINGER)
    wait_idle(qtbot, app)
    mesh = app.document.mesh
    bad = tmp_path / "broken.obj"
    bad.write_text("v 0 0 0\nv 1 0 zero\nf 1 2 3\n")
    app.controller.open_mesh(str(bad))
    wait_idle(qtbot, app)
    assert app.document.mesh is mesh
    title, message = app.window.errors[-1]
    assert "broken.obj" in message
    assert app.window._dialogs and app.window._dialogs[-1].isVisible()
    app.controller.open_rig(str(tmp_path / "missing.tgf"))
    wait_idle(qtbot, app)
    assert "missing.tgf" in app.window.errors[-1][1] and "not found" in app.window.errors[-1][1]


# ------------------------------------------------------------------------------------- rigging
def test_build_rig_by_clicking_move_joint_and_undo_redo(app, qtbot):
    app.controller.open_mesh(FINGER)
    wait_idle(qtbot, app)
    select_tab(app, "Rig")
    rig_tab, doc = app.window.rig_tab, app.document
    click(qtbot, [b for b in rig_tab.tool_buttons.buttons() if b.objectName() == "bone"][0])
    rig_tab.placement.setCurrentIndex(rig_tab.placement.findData("volume"))
    for x in (0.0, 1.2, 2.1):  # start, then two bones chained
        app.viewer.picked.emit(ray_pick(x))
    rig = doc.rig
    assert rig.handle_names == ["bone0", "bone1"] and rig.bone_parents.tolist() == [-1, 0]
    # inside the volume: the middle of the finger along the ray, i.e. on its axis (y = z = 0)
    np.testing.assert_allclose(rig.joints, [[0, 0, 0], [1.2, 0, 0], [2.1, 0, 0]], atol=0.02)

    click(qtbot, [b for b in rig_tab.tool_buttons.buttons() if b.objectName() == "select"][0])
    app.viewer.picked.emit(ray_pick(2.1, JOINTS, 2))  # select the tip joint
    assert doc.selected_joint == 2 and doc.selected_handle == 1
    app.tick()
    G = app.viewer.gizmo.get_transform().copy()
    G[:3, 3] = [2.5, 0.1, 0.0]  # drag the gizmo...
    app.viewer.gizmo.set_transform(G)
    app.tick()
    G[:3, 3] = [2.8, 0.2, 0.0]  # ...over two frames: one undo step
    app.viewer.gizmo.set_transform(G)
    app.tick()
    np.testing.assert_allclose(doc.rig.joints[2], [2.8, 0.2, 0.0])
    rig_tab.name.setText("distal")
    rig_tab.name.editingFinished.emit()
    assert doc.rig.handle_names == ["bone0", "distal"]

    stack = doc.undo_stack
    assert [stack.text(i) for i in range(stack.count())] == ["Add bone", "Add bone", "Move joint2", "Rename bone1"]
    stack.undo()
    stack.undo()
    np.testing.assert_allclose(doc.rig.joints[2], [2.1, 0, 0], atol=0.02)
    assert doc.rig.handle_names == ["bone0", "bone1"]
    stack.undo()
    assert doc.rig.n_handles == 1
    stack.redo()
    stack.redo()
    stack.redo()
    assert doc.rig.handle_names == ["bone0", "distal"]
    np.testing.assert_allclose(doc.rig.joints[2], [2.8, 0.2, 0.0])
    app.tick()
    np.testing.assert_allclose(posed_joints(doc.rig, None), doc.rig.joints)


def test_point_handles_delete_and_reparent(app, qtbot):
    app.controller.open_mesh(FINGER)
    app.window.queue_actions([lambda: app.controller.open_rig(FINGER_RIG)])
    wait_idle(qtbot, app)
    select_tab(app, "Rig")
    doc, rig_tab = app.document, app.window.rig_tab
    click(qtbot, [b for b in rig_tab.tool_buttons.buttons() if b.objectName() == "point"][0])
    rig_tab.placement.setCurrentIndex(rig_tab.placement.findData("surface"))
    app.viewer.picked.emit(ray_pick(3.0))
    assert doc.rig.handle_names[0] == "point0" and doc.selected_handle == 0
    np.testing.assert_allclose(doc.rig.joints[doc.rig.point_handles[0]], [3.0, 0.0, 0.37])
    rig_tab.tree.select(3)  # bone2
    rig_tab.parent_combo.setCurrentIndex(rig_tab.parent_combo.findData(-1))
    rig_tab.parent_combo.activated.emit(rig_tab.parent_combo.currentIndex())
    assert doc.rig.bone_parents.tolist() == [-1, 0, -1]
    click(qtbot, button(rig_tab, "Delete handle"))
    assert doc.rig.handle_names == ["point0", "bone0", "bone1"]
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert doc.rig.bone_parents.tolist() == [-1, 0, 1]


# ------------------------------------------------------------------------- weights and posing
def test_compute_weights_then_pose_moves_vertices_as_lbs_says(app, qtbot, tmp_path):
    app.controller.open_mesh(FINGER)
    app.window.queue_actions([lambda: app.controller.open_rig(FINGER_RIG)])
    wait_idle(qtbot, app)
    select_tab(app, "Weights")
    weights_tab, doc = app.window.weights_tab, app.document
    weights_tab.preset.setCurrentText("fast")
    assert doc.settings["preset"] == "fast"
    click(qtbot, weights_tab.compute)
    wait_idle(qtbot, app, timeout=120_000)
    assert app.window.errors == []
    W = doc.weights
    assert W.shape == (1202, 3)
    np.testing.assert_allclose(W.sum(axis=1), 1.0, atol=1e-6)
    assert W.min() >= -1e-9
    assert weights_tab.device_label.text().endswith(("last training ran on cpu", "last training ran on cuda:0"))
    weights_tab.show_vertex(0)
    assert weights_tab.readout.rowCount() == 4
    # the trained field goes into projects and comes back able to evaluate
    app.controller.save_project(str(tmp_path / "trained.fieldrig"))
    wait_idle(qtbot, app)
    app.controller.open_project(str(tmp_path / "trained.fieldrig"))
    wait_idle(qtbot, app)
    assert app.window.errors == []
    from fieldrig import SkinningField
    from fieldrig.gui.work import loaded_from_bytes

    field = loaded_from_bytes(doc.rig_state.skinning_field, SkinningField.load)
    np.testing.assert_allclose(field.evaluate(doc.mesh.V), W, atol=1e-6)
    W = doc.weights

    select_tab(app, "Pose")
    pose_tab = app.window.pose_tab
    pose_tab.tree.select(1)  # bone1, the middle phalanx
    pose_tab.axis.set_value([0, 0, 1])  # rotate about z by 50°, typed as axis and angle
    pose_tab.angle.setValue(50)
    app.tick()
    T = pose_transforms(doc.rig, doc.pose)
    expected = linear_blend_skinning(doc.mesh.V, W, T)
    idx = np.arange(0, 1202, 7)
    shown = app.viewer.read_displayed_positions(idx)
    np.testing.assert_allclose(shown, expected[idx], atol=1e-4)
    assert np.abs(shown - doc.mesh.V[idx]).max() > 0.3  # it really bent
    # the child (bone2) follows its parent: its joints moved by bone1's transform
    X = posed_joints(doc.rig, T)
    np.testing.assert_allclose(X[3], T[1, :3, :3] @ doc.rig.joints[3] + T[1, :3, 3])

    # the gizmo on the root rotates the whole chain; one undo step per drag
    pose_tab.tree.select(0)
    app.tick()
    T_before = T
    G = app.viewer.gizmo.get_transform().copy()
    Rz = np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1.0]])
    G[:3, :3] = Rz @ G[:3, :3]
    app.viewer.gizmo.set_transform(G)
    app.tick()
    app.tick()
    T = pose_transforms(doc.rig, doc.pose)
    np.testing.assert_allclose(T[0, :3, :3], Rz, atol=1e-9)
    for h in (1, 2):  # the descendants turned with the root
        np.testing.assert_allclose(T[h, :3, :3], Rz @ T_before[h, :3, :3], atol=1e-9)
    assert len([i for i in range(doc.undo_stack.count()) if doc.undo_stack.text(i) == "Pose bone0"]) == 1
    np.testing.assert_allclose(
        app.viewer.read_displayed_positions(idx), linear_blend_skinning(doc.mesh.V, W, T)[idx], atol=1e-4
    )

    pose_tab.method.setCurrentIndex(pose_tab.method.findData("dqs"))
    app.tick()
    np.testing.assert_allclose(
        app.viewer.read_displayed_positions(idx), dual_quaternion_skinning(doc.mesh.V, W, T)[idx], atol=1e-4
    )
    click(qtbot, button(pose_tab, "Reset pose"))
    app.tick()
    np.testing.assert_allclose(app.viewer.read_displayed_positions(idx), doc.mesh.V[idx], atol=1e-5)
    doc.undo_stack.undo()  # reset undone: the bent pose is back
    assert "bone0" in doc.pose.rotations and "bone1" in doc.pose.rotations


def test_cancel_training_keeps_everything(app, qtbot):
    app.controller.open_mesh(FINGER)
    app.window.queue_actions([lambda: app.controller.open_rig(FINGER_RIG)])
    wait_idle(qtbot, app)
    doc = app.document
    doc.set_setting("preset", "fast")
    progress = []
    app.jobs.progressed.connect(progress.append)
    ticks_before = len(app.frame_gaps_ms)
    assert app.controller.compute_weights()
    qtbot.waitUntil(lambda: len(progress) > 0, timeout=JOB_TIMEOUT_MS)
    strip = app.window.progress
    assert strip.cancel.isEnabled() and strip.stage.text().startswith("Computing weights")
    assert not app.window.weights_tab.compute.isEnabled()
    click(qtbot, strip.cancel)
    wait_idle(qtbot, app)
    assert doc.weights is None
    assert app.window.errors == []
    assert "cancelled" in app.window.statusBar().currentMessage()
    assert strip.stage.text() == "Ready" and not strip.cancel.isEnabled() and app.window.weights_tab.compute.isEnabled()
    assert len(app.frame_gaps_ms) > ticks_before  # the view kept ticking meanwhile


def test_training_failures_are_clear_dialogs(app, qtbot):
    import torch

    app.controller.open_mesh(FINGER)
    wait_idle(qtbot, app)
    app.tools.place_point_handle([50.0, 50.0, 50.0])  # far outside the finger
    click(qtbot, app.window.weights_tab.compute)
    wait_idle(qtbot, app)
    title, message = app.window.errors[-1]
    assert title == "Computing weights" and "lies outside the shape" in message
    assert app.document.weights is None and app.document.rig.n_handles == 1
    if torch.cuda.is_available():
        return
    app.window.weights_tab.device.setCurrentText("cuda")
    click(qtbot, app.window.weights_tab.compute)
    wait_idle(qtbot, app)
    assert app.window.errors[-1] == (
        "Computing weights",
        "device: CUDA was requested but no CUDA GPU is available to torch",
    )


# ---------------------------------------------------------------------------------- projects
def test_project_save_and_reload_gives_identical_state(app, qtbot, tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    for name in ("finger.obj", "finger.tgf"):
        shutil.copy(ASSETS / name, data / name)
    doc = app.document
    app.controller.open_mesh(str(data / "finger.obj"))
    app.window.queue_actions([lambda: app.controller.open_rig(str(data / "finger.tgf"))])
    wait_idle(qtbot, app)
    W = np.random.default_rng(1).random((1202, 3))
    doc.set_weights(W / W.sum(axis=1, keepdims=True), None, "Import weights")
    select_tab(app, "Pose")
    app.window.pose_tab.tree.select(2)
    app.window.pose_tab.axis.set_value([0, 1, 0])
    app.window.pose_tab.angle.setValue(-35)
    doc.set_setting("method", "dqs")
    cage_V = np.array(
        [[-1, -1, -1], [4, -1, -1], [-1, 1, -1], [4, 1, -1], [-1, -1, 1], [4, -1, 1], [-1, 1, 1], [4, 1, 1.0]]
    )
    from fieldrig.session import CageState

    cage_F = np.array(
        [
            [0, 2, 1],
            [1, 2, 3],
            [4, 5, 6],
            [5, 7, 6],
            [0, 1, 4],
            [1, 5, 4],
            [2, 6, 3],
            [3, 6, 7],
            [0, 4, 2],
            [2, 4, 6],
            [1, 3, 5],
            [3, 7, 5],
        ]
    )
    doc.set_cage_state(CageState(cage_V.astype(float), cage_F, None), "Cage")
    moved = doc.cage_pose.copy()
    moved[7] += [0.5, 0.5, 0.0]
    doc.set_cage_pose(moved, "Move cage vertex")
    select_tab(app, "Pose")
    path = tmp_path / "scene.fieldrig"
    monkeypatch.setattr(app.window, "ask_save", lambda title, filters: str(path))
    app.window.save_project()
    wait_idle(qtbot, app)
    assert path.is_file() and app.controller.project_path == str(path)
    assert not app.window.windowTitle().endswith("*")
    saved = dict(
        rig=doc.rig,
        weights=doc.weights,
        pose=doc.pose,
        settings=dict(doc.settings),
        mode=doc.mode,
        cage=doc.cage_state,
        cage_pose=doc.cage_pose,
    )

    click(qtbot, button(app.window.pose_tab, "Reset pose"))
    doc.set_setting("method", "lbs")
    doc.set_weights(np.full((1202, 3), 1 / 3), None)
    asked = []
    monkeypatch.setattr(app.window, "ask_choice", lambda title, text, choices: asked.append(title) or "Discard")
    app.controller.open_project(str(path))
    wait_idle(qtbot, app)
    assert app.window.errors == [] and asked == ["Unsaved changes"]
    np.testing.assert_array_equal(doc.rig.joints, saved["rig"].joints)
    np.testing.assert_array_equal(doc.rig.bones, saved["rig"].bones)
    assert doc.rig.handle_names == saved["rig"].handle_names
    np.testing.assert_array_equal(doc.weights, saved["weights"])
    assert doc.pose.rotations.keys() == saved["pose"].rotations.keys()
    for name, R in saved["pose"].rotations.items():
        np.testing.assert_array_equal(doc.pose.rotations[name], R)
    assert doc.settings == saved["settings"] and doc.mode == saved["mode"]
    np.testing.assert_array_equal(doc.cage_state.vertices, saved["cage"].vertices)
    np.testing.assert_array_equal(doc.cage_state.faces, saved["cage"].faces)
    np.testing.assert_array_equal(doc.cage_pose, saved["cage_pose"])
    assert doc.rig_state.rig_source == str((data / "finger.tgf").resolve())
    assert doc.undo_stack.count() == 0

    # a referenced file that disappeared: a dialog that names it, and the current state stays
    (data / "finger.obj").unlink()
    app.controller.open_project(str(path))
    wait_idle(qtbot, app)
    assert "finger.obj" in app.window.errors[-1][1] and "missing" in app.window.errors[-1][1]
    np.testing.assert_array_equal(doc.weights, saved["weights"])


def test_exports_from_the_panel(app, qtbot, tmp_path, monkeypatch):
    app.controller.open_mesh(FINGER)
    app.window.queue_actions([lambda: app.controller.open_rig(FINGER_RIG)])
    wait_idle(qtbot, app)
    doc = app.document
    W = np.random.default_rng(2).random((1202, 3))
    doc.set_weights(W / W.sum(axis=1, keepdims=True), None)
    from fieldrig.geometry.export import load_weights
    from fieldrig.geometry.mesh_io import load_mesh
    from fieldrig.geometry.pose import Pose, axis_angle_matrix

    doc.set_pose(Pose().set("bone0", rotation=axis_angle_matrix([0, 1, 0], 20)), "Pose")
    export_tab = app.window.export_tab
    for text, name in (
        ("Weights (NPY / CSV / DMAT)…", "w.csv"),
        ("glTF with skin…", "finger.glb"),
        ("Posed mesh (OBJ / PLY)…", "posed.obj"),
        ("Screenshot (PNG)…", "shot.png"),
    ):
        monkeypatch.setattr(app.window, "ask_save", lambda title, filters, name=name: str(tmp_path / name))
        click(qtbot, button(export_tab, text))
        wait_idle(qtbot, app)
    assert app.window.errors == []
    np.testing.assert_allclose(load_weights(tmp_path / "w.csv"), doc.weights, atol=1e-12)
    posed = load_mesh(tmp_path / "posed.obj")
    np.testing.assert_allclose(
        posed.V, linear_blend_skinning(doc.mesh.V, doc.weights, pose_transforms(doc.rig, doc.pose)), atol=1e-9
    )
    assert (tmp_path / "shot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the glTF comes back as mesh + skeleton + skin weights: one column per joint of its skin
    # (the three bones' joints, and the bone-end joint, which does not deform)
    W_before, names = doc.weights, doc.rig.handle_names
    monkeypatch.setattr(app.window, "ask_choice", lambda title, text, choices: "Discard")  # the unsaved edits
    app.window.open_files([str(tmp_path / "finger.glb")])
    wait_idle(qtbot, app)
    assert app.window.errors == []
    assert len(doc.mesh.V) == 1202 and doc.rig.handle_names[:3] == names and doc.rig.n_handles == 4
    assert doc.rig.deform.tolist() == [True, True, True, False]
    np.testing.assert_allclose(doc.weights[:, :3], W_before, atol=1e-6)  # 3 handles: nothing pruned, float32
    assert np.all(doc.weights[:, 3] == 0)


def test_point_cloud_handles_and_unweighted_vertices_stand_out(app, qtbot, tmp_path):
    import polyscope as ps

    V = np.loadtxt([line[2:] for line in Path(FINGER).read_text().splitlines() if line.startswith("v ")])
    cloud = tmp_path / "finger.xyz"
    np.savetxt(cloud, V)
    app.controller.open_mesh(str(cloud))
    wait_idle(qtbot, app)
    doc = app.document
    assert doc.mesh.F is None and app.window.mesh_tab.stats["Surface"].text() == "point cloud"
    select_tab(app, "Rig")
    rig_tab = app.window.rig_tab
    click(qtbot, [b for b in rig_tab.tool_buttons.buttons() if b.objectName() == "point"][0])
    rig_tab.placement.setCurrentIndex(rig_tab.placement.findData("volume"))
    for x in (0.3, 2.5):
        app.viewer.picked.emit(ray_pick(x))
    np.testing.assert_allclose(doc.rig.joints, [[0.3, 0, 0], [2.5, 0, 0]], atol=0.08)  # inside, on the axis
    W = np.zeros((len(V), 2))
    W[V[:, 0] < 1.4, 0] = 1.0
    W[V[:, 0] > 1.6, 1] = 1.0  # a band of vertices with no weight at all
    doc.set_weights(W, None, "Import weights")
    select_tab(app, "Weights")
    app.window.weights_tab.tree.select(1)  # a handle picked in the list...
    assert doc.settings["colouring"] == "weight"  # ...shows its weight field
    app.tick()
    assert ps.has_point_cloud("unweighted vertices")
    assert ps.get_point_cloud("unweighted vertices").n_points() == int(((V[:, 0] >= 1.4) & (V[:, 0] <= 1.6)).sum())
    app.tools.on_pick(Pick(MESH, "vertex", 5, V[5], 5, np.zeros(3), np.array([0, 0, -1.0])))
    readout = app.window.weights_tab.readout
    assert readout.item(0, 0).text() == "vertex 5" and readout.item(1, 1).text() == "1.0000"


def test_closing_with_unsaved_edits_offers_to_save(app, qtbot, tmp_path, monkeypatch):
    app.controller.open_mesh(FINGER)
    wait_idle(qtbot, app)
    assert app.window.maybe_save()  # nothing edited: nothing to ask
    app.tools.place_point_handle([0.0, 0.0, 0.0])
    assert app.window.windowTitle().endswith("*")
    answers = iter([None, "Save"])  # None: Cancel (or Esc)
    monkeypatch.setattr(app.window, "ask_choice", lambda title, text, choices: next(answers))
    monkeypatch.setattr(app.window, "ask_save", lambda title, filters: str(tmp_path / "keep.fieldrig"))
    assert not app.window.maybe_save()  # Cancel: stay open
    assert app.window.maybe_save()  # Save: written, then close
    assert (tmp_path / "keep.fieldrig").is_file() and app.document.undo_stack.isClean()
    app.viewer.shortcut.emit("undo")  # Ctrl+Z in the 3D view
    assert app.document.rig is None


BOX_CAGE = """\
v -1.0 -0.6 -0.6
v 3.6 -0.6 -0.6
v -1.0 0.6 -0.6
v 3.6 0.6 -0.6
v -1.0 -0.6 0.6
v 3.6 -0.6 0.6
v -1.0 0.6 0.6
v 3.6 0.6 0.6
f 1 3 2
f 2 3 4
f 5 6 7
f 6 8 7
f 1 2 5
f 2 6 5
f 3 7 4
f 4 7 8
f 1 5 3
f 3 5 7
f 2 4 6
f 4 8 6
"""


def test_cage_mode_train_then_drag_a_cage_vertex(app, qtbot, tmp_path, monkeypatch):
    from fieldrig.geometry.cage import Cage
    from fieldrig.geometry.mvc import mean_value_coordinates
    from fieldrig.gui.viewer import CAGE_VERTICES

    cage_file = tmp_path / "box.obj"
    cage_file.write_text(BOX_CAGE)
    app.controller.open_mesh(FINGER)
    wait_idle(qtbot, app)
    select_tab(app, "Cage")
    doc, cage_tab = app.document, app.window.cage_tab
    monkeypatch.setattr(app.window, "ask_open", lambda title, filters: str(cage_file))
    click(qtbot, button(cage_tab, "Open cage…"))
    wait_idle(qtbot, app)
    assert len(doc.cage_state.vertices) == 8
    bound = doc.cage_state.coordinates  # mean value coordinates, bound with the cage

    # training runs in the worker with progress, and Cancel stops it (the full training is
    # the coordinates module's to test; here: the wiring)
    doc.set_setting("preset", "fast")
    progress = []
    app.jobs.progressed.connect(progress.append)
    click(qtbot, button(cage_tab, "Compute coordinates"))
    qtbot.waitUntil(lambda: len(progress) > 0 or not app.jobs.busy, timeout=120_000)
    assert app.window.errors == [] and app.jobs.busy
    click(qtbot, app.window.progress.cancel)
    wait_idle(qtbot, app)
    assert app.window.errors == [] and doc.cage_state.coordinates is bound

    # the coordinates in use: the closed form's (mean value coordinates; the box is convex)
    Phi = mean_value_coordinates(Cage.from_arrays(doc.cage_state.vertices, doc.cage_state.faces), doc.mesh.V)
    np.testing.assert_allclose(bound, Phi, atol=1e-12)
    app.viewer.picked.emit(
        Pick(CAGE_VERTICES, "vertex", 7, np.array([3.6, 0.6, 0.6]), None, np.zeros(3), np.array([0, 0, -1.0]))
    )
    assert doc.selected_cage_vertex == 7
    app.tick()
    G = app.viewer.gizmo.get_transform().copy()
    G[:3, 3] += [0.8, 0.5, 0.0]  # drag the corner out
    app.viewer.gizmo.set_transform(G)
    app.tick()
    app.tick()
    np.testing.assert_allclose(doc.cage_pose[7], [4.4, 1.1, 0.6])
    idx = np.arange(0, 1202, 9)
    shown = app.viewer.read_displayed_positions(idx)
    np.testing.assert_allclose(shown, (Phi @ doc.cage_pose)[idx], atol=1e-4)
    assert np.abs(shown - doc.mesh.V[idx]).max() > 0.05
    doc.undo_stack.undo()
    app.tick()
    np.testing.assert_array_equal(doc.cage_pose, doc.cage_state.vertices)
    np.testing.assert_allclose(app.viewer.read_displayed_positions(idx), doc.mesh.V[idx], atol=1e-4)

    # a barycentric field (untrained: valid coordinates by construction) goes through a project
    from fieldrig import BarycentricField
    from fieldrig.gui.work import loaded_from_bytes, saved_bytes

    cage = Cage.from_arrays(doc.cage_state.vertices, doc.cage_state.faces)
    field = BarycentricField.create(cage, seed=3)
    doc.set_coordinates(field.evaluate(doc.mesh.V), saved_bytes(field), "Field coordinates")
    app.controller.save_project(str(tmp_path / "caged.fieldrig"))
    wait_idle(qtbot, app)
    app.controller.open_project(str(tmp_path / "caged.fieldrig"))
    wait_idle(qtbot, app)
    assert app.window.errors == [] and doc.mode == "cage"
    field = loaded_from_bytes(doc.cage_state.barycentric_field, lambda path: BarycentricField.load(path, cage=cage))
    np.testing.assert_allclose(field.evaluate(doc.mesh.V), doc.cage_state.coordinates, atol=1e-6)

    click(qtbot, button(cage_tab, "Automatic cage"))
    wait_idle(qtbot, app)
    assert app.window.errors == []
    assert doc.cage_state.vertices is not None and doc.coordinates_usable()
    lo, hi = doc.cage_state.vertices.min(axis=0), doc.cage_state.vertices.max(axis=0)
    assert np.all(lo <= doc.mesh.V.min(axis=0)) and np.all(hi >= doc.mesh.V.max(axis=0))
