"""Editing weights in the app, and the panel's menus, prompts and windows.

The brush is driven through the real input path: mouse events go into ImGui (polyscope's
mock backend runs its frames and camera without drawing), the viewer turns them into rays,
and the brush, the document, the undo stack and the viewer's buffers do the rest.
"""

import gc
import json
import shutil

import numpy as np
import polyscope as ps
import polyscope.imgui as psim
import pytest

pytest.importorskip("pytestqt")
import test_gui  # noqa: E402
from PyQt6.QtCore import Qt  # noqa: E402
from test_gui import FINGER, FINGER_RIG, button, select_tab, wait_idle  # noqa: E402

from fieldrig.draw.colours import VIRIDIS_STOPS, handle_palette  # noqa: E402
from fieldrig.draw.scene import MESH, WEIGHT_QUANTITY, screen_points  # noqa: E402
from fieldrig.geometry.weight_edit import BrushStroke  # noqa: E402
from fieldrig.gui.app import side_by_side  # noqa: E402
from fieldrig.gui.jobs import compute_process  # noqa: E402

app = test_gui.app  # the app as test_gui drives it: polyscope's mock backend, the panel offscreen


def finger_with_file_weights(app, qtbot):
    """The finger, its rig, and imported weights all on bone0 (a "file" set), in a 3D view
    wide enough that the finger is clear of polyscope's own panel on the left."""
    ps.set_window_size(1280, 720)
    app.controller.open_mesh(FINGER)
    app.window.queue_actions([lambda: app.controller.open_rig(FINGER_RIG)])
    wait_idle(qtbot, app)
    doc = app.document
    W = np.zeros((len(doc.mesh.V), 3))
    W[:, 0] = 1.0
    doc.set_weights(W, None, "Import weights", name="imported", origin="file")
    select_tab(app, "Weights")
    app.tick()
    return doc, W


def drag(app, path):
    """Press at the first pixel, move through the others, release (one frame each)."""
    io = psim.GetIO()
    io.AddMousePosEvent(*path[0])
    app.tick()
    io.AddMouseButtonEvent(0, True)
    app.tick()
    for xy in path[1:]:
        io.AddMousePosEvent(*xy)
        app.tick()
    io.AddMouseButtonEvent(0, False)
    app.tick()
    app.tick()


# -------------------------------------------------------------------------------- the brush
def test_a_stroke_paints_a_copy_as_one_undo_step_and_the_view_follows(app, qtbot, monkeypatch):
    doc, W = finger_with_file_weights(app, qtbot)
    V = doc.mesh.V
    ps.look_at((1.5, 0.0, 4.0), (1.5, 0.0, 0.0))
    app.tick()
    view = ps.get_view_camera_parameters().get_view_mat()
    xy, depth = screen_points(V)
    front = V[:, 2] > 0.3  # the side facing the camera
    start, end = (np.argmin(np.where(front, np.abs(V[:, 0] - x), np.inf)) for x in (1.0, 2.0))
    path = np.linspace(xy[start], xy[end], 12)

    count = doc.undo_stack.count()
    drag(app, path)  # without the brush a drag turns the camera
    assert not np.allclose(ps.get_view_camera_parameters().get_view_mat(), view) and doc.undo_stack.count() == count
    ps.look_at((1.5, 0.0, 4.0), (1.5, 0.0, 0.0))
    app.tick()

    doc.select_handle(1)
    app.window.toggle_paint()  # P
    assert app.brush.active and app.window.paint_action.isChecked() and app.window.weights_tab.paint_button.isChecked()
    app.brush.set_settings(mode="add", value=1.0, strength=1.0, falloff="constant", radius=0.15)
    stack_before = doc.undo_stack.count()
    dabs = []
    dab = BrushStroke.dab
    monkeypatch.setattr(BrushStroke, "dab", lambda self, centre: dabs.append(centre) or dab(self, centre))
    camera = []  # the camera's own mouse handling: off at the press on the mesh, on at the release
    set_camera = ps.set_do_default_mouse_interaction
    monkeypatch.setattr(ps, "set_do_default_mouse_interaction", lambda on: camera.append(on) or set_camera(on))
    drag(app, path)
    assert camera == [False, True]
    np.testing.assert_array_equal(ps.get_view_camera_parameters().get_view_mat(), view)  # it stayed put

    rs = doc.rig_state
    assert [(s.name, s.origin) for s in rs.weight_sets] == [("imported", "file"), ("imported (painted)", "painted")]
    assert rs.active == 1 and np.array_equal(rs.weight_sets[0].weights, W)  # the original is kept
    painted = rs.active_set.painted_vertices
    # the dabs run from the first picked point to the last, a quarter radius apart...
    centres = np.array(dabs)
    assert np.linalg.norm(centres[0] - V[start]) < 0.05 and np.linalg.norm(centres[-1] - V[end]) < 0.15 / 4 + 0.05
    assert np.allclose(np.linalg.norm(np.diff(centres, axis=0), axis=1), 0.15 / 4, rtol=0.02)
    # ...and with a constant falloff at full strength they paint exactly the vertices within the radius
    reached = np.min([np.linalg.norm(V - d, axis=1) for d in centres], axis=0) < 0.15
    np.testing.assert_array_equal(painted, np.flatnonzero(reached))
    Wp = doc.weights
    np.testing.assert_allclose(Wp[painted], np.tile([0.0, 1.0, 0.0], (len(painted), 1)))
    untouched = np.setdiff1d(np.arange(len(V)), painted)
    np.testing.assert_array_equal(Wp[untouched], W[untouched])
    assert doc.undo_stack.count() == stack_before + 1 and doc.undo_stack.text(stack_before) == "Paint bone1"
    assert "Painted" in app.window.statusBar().currentMessage()

    # the colouring shows the new weights, updated in place
    assert app.viewer.weight_display.last_update == "rows" and doc.settings["colouring"] == "weight"
    values = ps.get_surface_mesh(MESH).get_quantity_buffer(WEIGHT_QUANTITY, "values")
    np.testing.assert_allclose([values.get_value(int(i)) for i in painted[:20]], 1.0)
    assert app.window.weights_tab.legend.kind == "field"

    doc.undo_stack.undo()  # the whole stroke, and the copy, go
    assert [s.name for s in doc.rig_state.weight_sets] == ["imported"]
    np.testing.assert_array_equal(doc.weights, W)
    doc.undo_stack.redo()
    np.testing.assert_array_equal(doc.weights, Wp)

    # a second stroke edits the painted set in place: same set, more painted vertices
    drag(app, path[::-1] + [0, 25])
    assert len(doc.rig_state.weight_sets) == 2 and len(doc.rig_state.active_set.painted_vertices) > len(painted)
    assert len(app.brush.dab_ms) > 10

    # refusals: a locked handle, no handle; the view turns instead
    doc.set_locked(["bone1"], "Lock bone1")
    count, strokes = doc.undo_stack.count(), len(camera)
    drag(app, path[:3])
    assert doc.undo_stack.count() == count and "bone1 is locked" in app.window.statusBar().currentMessage()
    doc.select_handle(None)
    drag(app, path[:3])
    assert doc.undo_stack.count() == count and "pick the handle" in app.window.statusBar().currentMessage()
    assert len(camera) == strokes  # refused presses leave the camera to turn
    app.window.shortcut("escape")
    assert not app.brush.active and app.viewer.painter is None


def test_smooth_and_subtract_strokes_stay_normalised(app, qtbot):
    doc, _ = finger_with_file_weights(app, qtbot)
    V = doc.mesh.V
    W = np.c_[V[:, 0] < 1.5, V[:, 0] >= 1.5, np.zeros(len(V))].astype(float)  # a hard step at x = 1.5
    doc.set_weights(W, None, "Import weights", name="step", origin="file")
    ps.look_at((1.5, 0.0, 4.0), (1.5, 0.0, 0.0))
    app.tick()
    xy, _ = screen_points(V)
    front = V[:, 2] > 0.3
    centre = np.argmin(np.where(front, np.abs(V[:, 0] - 1.5), np.inf))
    app.window.weights_tab.mode.setCurrentIndex(app.window.weights_tab.mode.findData("smooth"))
    assert app.brush.settings.mode == "smooth"
    app.window.weights_tab.paint_button.click()
    assert app.brush.active
    wiggle = xy[centre] + np.c_[12 * np.sin(np.linspace(0, 6 * np.pi, 40)), np.zeros(40)]
    drag(app, wiggle)  # back and forth over the step: smoothing accumulates
    Ws = doc.weights
    assert np.allclose(Ws.sum(axis=1), 1.0) and Ws.min() >= 0
    edges = doc.mesh.F[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    near = np.all(np.linalg.norm(V[edges] - V[centre], axis=2) < 0.5 * app.brush.settings.radius, axis=1)
    jump = lambda W: np.abs(W[edges[near, 0], 0] - W[edges[near, 1], 0]).max()  # noqa: E731
    assert jump(W) == 1.0 and jump(Ws) < 0.5  # the step became a ramp under the brush
    assert doc.undo_stack.text(doc.undo_stack.count() - 1) == "Smooth weights"


# -------------------------------------------------------------------------------- the tools
def test_weight_tools_locks_and_the_vertex_table(app, qtbot, tmp_path, monkeypatch):
    doc, _ = finger_with_file_weights(app, qtbot)
    tab = app.window.weights_tab
    W = np.random.default_rng(3).random((len(doc.mesh.V), 3)) ** 4
    W /= W.sum(axis=1, keepdims=True)
    doc.set_weights(W, None, "Import weights", name="noisy", origin="file")

    tab.tree.set_locked(2, True)  # the Locked box of bone2
    assert doc.rig_state.locked == ("bone2",) and doc.undo_stack.text(doc.undo_stack.count() - 1) == "Lock bone2"
    tab.prune_threshold.setValue(0.2)
    button(tab, "Prune <").click()
    Wp = doc.weights
    assert doc.rig_state.active_set.name == "noisy (painted)"
    np.testing.assert_array_equal(Wp[:, 2], W[:, 2])  # locked
    assert np.all((Wp[:, :2] == 0) | (Wp[:, :2] >= 0.2) | (Wp[:, :2] == Wp[:, :2].max(axis=1, keepdims=True)))
    np.testing.assert_allclose(Wp.sum(axis=1), 1.0)
    tab.max_influences.setValue(1)
    button(tab, "Limit to").click()
    assert np.all((doc.weights > 0).sum(axis=1) <= 1 + (W[:, 2] > 0))
    texts = [doc.undo_stack.text(i) for i in range(doc.undo_stack.count())]
    assert texts[-2:] == ["Prune weights below 0.2", "Limit to 1 influences"]
    doc.undo_stack.undo()
    np.testing.assert_array_equal(doc.weights, Wp)

    # the vertex table: a typed weight sets it and rescales the unlocked others; locked cells are read-only
    v = int(np.flatnonzero((Wp[:, 0] > 0.1) & (Wp[:, 1] > 0.1) & (Wp[:, 2] < 0.5))[0])
    app.tools.probed.emit(v)
    item = tab.weight_item(0)
    assert item.flags() & Qt.ItemFlag.ItemIsEditable and not tab.weight_item(2).flags() & Qt.ItemFlag.ItemIsEditable
    row = doc.weights[v].copy()
    item.setText("0.3")
    qtbot.waitUntil(lambda: doc.weights[v, 0] == pytest.approx(0.3))
    new = doc.weights[v]
    assert new[2] == row[2] and new.sum() == pytest.approx(1.0)
    assert doc.undo_stack.text(doc.undo_stack.count() - 1) == f"Set bone0 at vertex {v}"
    assert v in doc.rig_state.active_set.painted_vertices
    assert tab.readout.item(1, 1).text() == f"{np.sort(new)[::-1][0]:.4f}"  # the table shows what is held
    tab.weight_item(1).setText("lots")
    qtbot.waitUntil(lambda: "expected a number" in app.window.statusBar().currentMessage())
    np.testing.assert_array_equal(doc.weights[v], new)
    alone = int(np.flatnonzero((Wp[:, 1] == 0) & (Wp[:, 0] > 0.5))[0])  # bone0's weight has nowhere to go
    app.tools.probed.emit(alone)
    tab.weight_item(0).setText("0.1")
    qtbot.waitUntil(lambda: "other handles are locked or have no weight" in app.window.statusBar().currentMessage())
    np.testing.assert_array_equal(doc.weights[alone], Wp[alone])

    # normalise after an import that does not sum to one
    doubled = W * [2.0, 2.0, 1.0]
    doc.set_weights(doubled, None, "Import weights", name="unnormalised", origin="file")
    button(tab, "Normalize").click()
    np.testing.assert_allclose(doc.weights.sum(axis=1), 1.0)
    np.testing.assert_array_equal(doc.weights[:, 2], W[:, 2])  # bone2 is still locked
    np.testing.assert_allclose(doc.weights[:, :2], W[:, :2])  # the others rescaled back

    # locks and painted vertices go into the project and come back
    edited = doc.rig_state
    app.controller.save_project(str(tmp_path / "edited.fieldrig"))
    wait_idle(qtbot, app)
    doc.set_locked([], "Unlock")
    monkeypatch.setattr(app.window, "ask_choice", lambda title, text, choices: "Discard")
    app.controller.open_project(str(tmp_path / "edited.fieldrig"))
    wait_idle(qtbot, app)
    assert app.window.errors == [] and doc.rig_state.locked == ("bone2",)
    assert [s.name for s in doc.rig_state.weight_sets] == [s.name for s in edited.weight_sets]
    for a, b in zip(doc.rig_state.weight_sets, edited.weight_sets):
        np.testing.assert_array_equal(a.weights, b.weights)
        assert (a.painted_vertices is None) == (b.painted_vertices is None)
    assert tab.tree._items[2].checkState(tab.tree.lock_column) == Qt.CheckState.Checked

    assert not tab.resolve.isEnabled() and "trained field" in tab.resolve.toolTip()

    from fieldrig.gui.rig_edit import rename_handle

    doc.edit_rig(rename_handle(doc.rig, 2, "tip"), "Rename bone2", renamed={"bone2": "tip"})
    assert doc.rig_state.locked == ("tip",) and doc.rig_state.locked_mask().tolist() == [False, False, True]


def test_resolve_keeps_the_paint_and_refits_the_rest_undoably(app, qtbot, tmp_path, monkeypatch):
    app.controller.open_mesh(FINGER)
    app.window.queue_actions([lambda: app.controller.open_rig(FINGER_RIG)])
    wait_idle(qtbot, app)
    select_tab(app, "Weights")
    doc, tab = app.document, app.window.weights_tab
    tab.preset.setCurrentText("fast")
    assert not tab.resolve.isEnabled() and "Compute weights" in tab.resolve.toolTip()
    tab.compute.click()
    wait_idle(qtbot, app, timeout=120_000)
    computed = doc.rig_state.active_set
    assert not tab.resolve.isEnabled() and "Paint" in tab.resolve.toolTip()

    # a stroke of bone2 over the middle of the finger, as the brush makes it
    V = doc.mesh.V
    stroke = BrushStroke(computed.weights, V, 2, "add", 1.0, radius=0.4, strength=0.8)
    for x in (1.2, 1.5, 1.8):
        stroke.dab(np.array([x, 0.0, 0.37]))
    doc.edit_weights(stroke.weights, "Paint bone2", painted=stroke.painted)
    painted = doc.rig_state.active_set
    assert painted.origin == "painted" and painted.skinning_field == computed.skinning_field
    assert tab.resolve.isEnabled()

    stages = []
    app.jobs.progressed.connect(lambda event: stages.append(event.stage))
    count = doc.undo_stack.count()
    tab.resolve.click()
    wait_idle(qtbot, app)
    assert app.window.errors == []
    resolved = doc.rig_state.active_set
    assert resolved.name == painted.name and doc.undo_stack.count() == count + 1
    assert doc.undo_stack.text(count) == "Re-solve weights"
    ids = painted.painted_vertices
    np.testing.assert_array_equal(resolved.painted_vertices, ids)
    np.testing.assert_allclose(resolved.weights[ids], painted.weights[ids], atol=1e-6)  # the paint is kept
    assert resolved.weights.min() >= 0.0
    np.testing.assert_allclose(resolved.weights.sum(axis=1), 1.0, atol=1e-9)
    rest = np.setdiff1d(np.arange(len(V)), ids)
    assert np.abs(resolved.weights[rest] - painted.weights[rest]).max() > 0.01  # recomputed around the paint
    assert resolved.skinning_field != painted.skinning_field and resolved.preview is not None
    assert not any("rebuilding" in stage for stage in stages)  # the compute process kept the fit's system
    assert "Re-solved around" in app.window.statusBar().currentMessage()

    doc.undo_stack.undo()
    np.testing.assert_array_equal(doc.weights, painted.weights)
    doc.undo_stack.redo()
    np.testing.assert_array_equal(doc.weights, resolved.weights)

    # from a project the field comes back without its solver state: the fit is replayed first
    app.controller.save_project(str(tmp_path / "painted.fieldrig"))
    wait_idle(qtbot, app)
    monkeypatch.setattr(app.window, "ask_choice", lambda title, text, choices: "Discard")
    compute_process().stop()  # a new session: the next job starts a fresh compute process
    app.controller.open_project(str(tmp_path / "painted.fieldrig"))
    wait_idle(qtbot, app)
    assert doc.rig_state.active_set.skinning_field == resolved.skinning_field
    stages.clear()
    tab.resolve.click()
    wait_idle(qtbot, app, timeout=120_000)
    assert app.window.errors == [] and any("rebuilding" in stage for stage in stages)
    np.testing.assert_allclose(doc.weights[ids], painted.weights[ids], atol=1e-6)
    np.testing.assert_allclose(doc.weights, resolved.weights, atol=1e-6)
    doc.undo_stack.undo()  # the project's field again: its rebuilt state was kept
    stages.clear()
    tab.resolve.click()
    wait_idle(qtbot, app)
    assert app.window.errors == [] and stages and not any("rebuilding" in stage for stage in stages)


def test_mirror_swaps_left_and_right_by_name(app, qtbot, tmp_path):
    import trimesh

    capsule = trimesh.creation.capsule(height=2.4, radius=0.4, count=[16, 16])
    V = np.asarray(capsule.vertices)[:, [2, 1, 0]]  # along x, symmetric about x = 0
    trimesh.Trimesh(V, capsule.faces, process=False).export(tmp_path / "bar.obj")
    rig = {
        "joints": [{"name": n, "position": p} for n, p in (("c", [0, 0, 0]), ("l", [1.2, 0, 0]), ("r", [-1.2, 0, 0]))],
        "bones": [
            {"name": "arm.L", "joints": ["c", "l"], "parent": None},
            {"name": "arm.R", "joints": ["c", "r"], "parent": None},
        ],
    }
    (tmp_path / "bar.json").write_text(json.dumps(rig))
    app.controller.open_mesh(str(tmp_path / "bar.obj"))
    app.window.queue_actions([lambda: app.controller.open_rig(str(tmp_path / "bar.json"))])
    wait_idle(qtbot, app)
    doc = app.document
    assert doc.rig.handle_names == ["arm.L", "arm.R"]
    V = doc.mesh.V
    W = np.c_[V[:, 0] > 0.2, V[:, 0] <= 0.2].astype(float)  # asymmetric: the seam is off the middle
    doc.set_weights(W, None, "Import weights", name="lopsided", origin="file")
    select_tab(app, "Weights")
    tab = app.window.weights_tab
    tab.mirror_axis.setCurrentIndex(tab.mirror_axis.findData("X"))
    tab.mirror_direction.setCurrentIndex(tab.mirror_direction.findData(True))  # + side onto − side
    button(tab, "Mirror").click()
    out = doc.weights
    mirror = np.array([np.argmin(np.linalg.norm(V - v * [-1, 1, 1], axis=1)) for v in V])
    np.testing.assert_allclose(out, out[mirror][:, [1, 0]], atol=1e-12)  # symmetric, left and right swapped
    right = V[:, 0] > 1e-6
    np.testing.assert_array_equal(out[right], W[right])  # the source side is untouched
    message = app.window.statusBar().currentMessage()
    assert "across X = 0" in message and "1 left/right pairs" in message and "no mirror vertex" not in message


# ------------------------------------------------------------------------------------- legend
def test_weight_legend_shows_viridis_and_the_handle_colours(app, qtbot):
    doc, _ = finger_with_file_weights(app, qtbot)
    legend = app.window.weights_tab.legend
    doc.set_setting("colouring", "dominant")
    assert legend.kind == "dominant" and [n for n, _ in legend.entries][:3] == doc.rig.handle_names
    image = legend.grab().toImage()
    swatch = image.pixelColor(8 + 5, 18 + 7)
    np.testing.assert_allclose([swatch.redF(), swatch.greenF(), swatch.blueF()], handle_palette(3)[0], atol=0.01)
    doc.select_handle(1)
    assert doc.settings["colouring"] == "weight" and legend.kind == "field" and "bone1" in legend.title
    image = legend.grab().toImage()
    x, y, w, h = legend.bar_rect()
    for at, rgb in ((x + 1, VIRIDIS_STOPS[0]), (x + w - 2, VIRIDIS_STOPS[-1])):
        c = image.pixelColor(at, y + h // 2)
        np.testing.assert_allclose([c.redF(), c.greenF(), c.blueF()], rgb, atol=0.03)


def test_screen_points_are_where_the_camera_rays_go(app):
    ps.look_at((2.0, 1.0, 5.0), (0.5, 0.0, 0.0))
    X = np.array([[0.0, 0.0, 0.0], [1.0, 0.5, -0.3], [-0.7, 0.2, 0.4]])
    xy, depth = screen_points(X)
    assert np.all(depth > 0)
    for p, pixel in zip(X, xy):
        origin, direction = app.viewer.mouse_ray(tuple(pixel))
        d = direction / np.linalg.norm(direction)
        offset = p - origin
        assert np.linalg.norm(offset - (offset @ d) * d) < 1e-4 * np.linalg.norm(offset)


# ------------------------------------------------------------------------ menus and prompts
def test_edit_menu_keeps_undo_redo_and_paint(app, qtbot):
    gc.collect()
    menus = {m.text(): m.menu() for m in app.window.menuBar().actions()}
    edit = [a.text() for a in menus["&Edit"].actions()]
    assert edit[:2] == ["Undo", "Redo"] and "Paint weights" in edit
    app.controller.open_mesh(FINGER)
    wait_idle(qtbot, app)
    app.tools.place_point_handle([0.5, 0.0, 0.0])
    assert app.window.undo_action.isEnabled() and app.window.undo_action.text() == "Undo Add point handle"
    app.window.activateWindow()
    qtbot.waitUntil(lambda: app.qt.activeWindow() is app.window)
    qtbot.keyClick(app.window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # Ctrl+Z with the panel focused
    assert app.document.rig is None
    qtbot.keyClick(app.window, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert app.document.rig is not None


def test_a_new_mesh_asks_what_to_do_with_the_rig(app, qtbot, tmp_path, monkeypatch):
    doc, W = finger_with_file_weights(app, qtbot)
    app.controller.save_project(str(tmp_path / "finger.fieldrig"))  # nothing unsaved: only the rig question
    wait_idle(qtbot, app)
    asked = []

    def answer(choice):
        def ask(title, text, choices):
            asked.append((title, text, list(choices)))
            return choice

        monkeypatch.setattr(app.window, "ask_choice", ask)

    moved = tmp_path / "finger-moved.obj"  # the same vertices, moved a little: the weights fit
    lines = [
        "v " + " ".join(f"{float(c) * 1.01:.6f}" for c in line.split()[1:]) if line.startswith("v ") else line
        for line in open(FINGER).read().splitlines()
    ]
    moved.write_text("\n".join(lines) + "\n")
    rig = doc.rig
    answer(None)  # Cancel
    app.controller.open_mesh(str(moved))
    wait_idle(qtbot, app)
    assert asked[-1][2] == ["Keep rig and weights", "Keep rig", "Discard rig", "Cancel"]
    assert doc.mesh.path == FINGER and doc.rig is rig  # nothing changed
    answer("Keep rig and weights")
    app.controller.open_mesh(str(moved))
    wait_idle(qtbot, app)
    assert doc.mesh.path == str(moved) and doc.rig is rig
    np.testing.assert_array_equal(doc.weights, W)

    shutil.copy("assets/legs.obj", tmp_path / "legs.obj")  # other vertices: the weights cannot stay
    answer("Keep rig")
    app.controller.open_mesh(str(tmp_path / "legs.obj"))
    wait_idle(qtbot, app)
    title, text, choices = asked[-1]
    assert choices == ["Keep rig", "Discard rig", "Cancel"] and "do not fit" in text
    assert doc.rig is rig and doc.weights is None

    from fieldrig.geometry.rig import rig_to_json

    big = rig_to_json(rig)  # a rig a thousand times too big: discarding it is offered first
    for joint in big["joints"]:
        joint["position"] = [1000 * c for c in joint["position"]]
    (tmp_path / "big.json").write_text(json.dumps(big))
    app.controller.open_rig(str(tmp_path / "big.json"))
    wait_idle(qtbot, app)
    app.controller.save_project(str(tmp_path / "big.fieldrig"))
    wait_idle(qtbot, app)
    answer("Discard rig")
    app.controller.open_mesh(FINGER)
    wait_idle(qtbot, app)
    title, text, choices = asked[-1]
    assert choices[0] == "Discard rig" and "the size of the new mesh" in text
    assert doc.rig is None and doc.mesh.path == FINGER


def test_unsaved_changes_are_asked_about_before_quit_and_open(app, qtbot, tmp_path, monkeypatch):
    app.controller.open_mesh(FINGER)
    wait_idle(qtbot, app)
    app.tools.place_point_handle([0.5, 0.0, 0.0])
    asked = []
    monkeypatch.setattr(
        app.window, "ask_choice", lambda title, text, choices: asked.append((text, list(choices))) and None
    )
    quit_action = [a for a in app.window.menuBar().actions()[0].menu().actions() if a.text() == "Quit"][0]
    quit_action.trigger()  # Cancel: the window stays
    assert asked[-1] == ("The project has unsaved changes. Save it before closing?", ["Save", "Discard", "Cancel"])
    assert app.window.isVisible()
    app.controller.open_project(str(tmp_path / "other.fieldrig"))  # Cancel: nothing starts
    app.controller.open_mesh(FINGER)
    assert [text for text, _ in asked[1:]] == [
        "The project has unsaved changes. Save it before opening a project?",
        "The project has unsaved changes. Save it before opening another mesh?",
    ]
    assert not app.jobs.busy and app.document.rig is not None and app.window.errors == []


def test_save_dialogs_add_the_filters_suffix(app, qtbot, tmp_path, monkeypatch):
    from PyQt6.QtWidgets import QFileDialog

    from fieldrig.core import vocabulary as vocab

    chosen = "Weights (*.npy *.csv *.dmat)"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "arm"), chosen))
    assert app.window.ask_save("Export weights", vocab.WEIGHTS_FILTER) == str(tmp_path / "arm.npy")
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "arm.v2.CSV"), chosen))
    assert app.window.ask_save("Export weights", vocab.WEIGHTS_FILTER) == str(tmp_path / "arm.v2.CSV")
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: ("", ""))
    assert app.window.ask_save("Export weights", vocab.WEIGHTS_FILTER) is None
    assert vocab.filter_suffixes(vocab.GLTF_FILTER + ";;" + vocab.WEIGHTS_FILTER)[:3] == (".glb", ".gltf", ".npy")
    assert vocab.with_default_suffix("shot", vocab.IMAGE_SAVE_FILTER) == "shot.png"


def test_the_panel_opens_beside_the_3d_view():
    view, panel = side_by_side((0, 0, 1920, 1080), (1280, 720), (520, 880))
    assert view == (1280, 720) and panel == (20 + 1280 + 12, 20, 520, 880)
    view, panel = side_by_side((0, 0, 1366, 768), (1280, 720), (520, 880))  # a small screen: the view shrinks
    x, y, w, h = panel
    assert 20 + view[0] <= x and x + w <= 1366 and y + h <= 768 and view[1] <= 768 - 20
    assert view[0] == 1366 - 20 - 12 - 520 - 8
