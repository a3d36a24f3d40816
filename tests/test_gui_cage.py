"""Cage mode in the app: the mesh bound at once by mean value coordinates, trained
coordinates swapped in under a moved cage, several cage vertices dragged together, the
automatic cage's resolution, and undo/redo of all of it.

Offscreen Qt panel and polyscope's openGL_mock backend, as in test_gui.py: clicks in the 3D
view are the Pick events the viewer emits, the gizmo is moved as a drag would move it, and
everything after that is the app's real code path (compute process included).
"""

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from test_gui import FINGER, app, button, click, select_tab, wait_idle  # noqa: E402, F401 (the app fixture)

from fieldrig.geometry.cage import Cage  # noqa: E402
from fieldrig.geometry.mvc import mean_value_coordinates  # noqa: E402
from fieldrig.geometry.rotations import axis_angle_matrix  # noqa: E402
from fieldrig.gui.viewer import CAGE_VERTICES, Pick  # noqa: E402
from fieldrig.session import MEAN_VALUE  # noqa: E402

#: Every 9th of the finger's 1,202 vertices: what is read back from the viewer.
SAMPLE = np.arange(0, 1202, 9)

BOX = np.array(
    [[-1.0, -0.6, -0.6], [3.6, -0.6, -0.6], [-1.0, 0.6, -0.6], [3.6, 0.6, -0.6]]
    + [[-1.0, -0.6, 0.6], [3.6, -0.6, 0.6], [-1.0, 0.6, 0.6], [3.6, 0.6, 0.6]]
)
BOX_FACES = [[1, 3, 2], [2, 3, 4], [5, 6, 7], [6, 8, 7], [1, 2, 5], [2, 6, 5]]
BOX_FACES += [[3, 7, 4], [4, 7, 8], [1, 5, 3], [3, 5, 7], [2, 4, 6], [4, 8, 6]]


def write_cage(path, V, faces=BOX_FACES) -> str:
    lines = [f"v {x} {y} {z}" for x, y, z in V] + [f"f {a} {b} {c}" for a, b, c in faces]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def caged_finger(app, qtbot, tmp_path, V=BOX):  # noqa: F811
    """The finger in cage mode with a cage file opened from the Cage tab."""
    app.controller.open_mesh(FINGER)
    wait_idle(qtbot, app)
    select_tab(app, "Cage")
    app.controller.open_cage(write_cage(tmp_path / "cage.obj", V))
    wait_idle(qtbot, app)
    assert app.window.errors == []
    return app.document


def cage_click(app, vertex, shift=False):  # noqa: F811
    position = app.document.cage_pose[vertex]
    app.viewer.picked.emit(
        Pick(CAGE_VERTICES, "vertex", vertex, position, None, np.zeros(3), np.array([0, 0, -1.0]), shift)
    )
    app.tick()


def drag_gizmo(app, M):  # noqa: F811
    """One gizmo drag that ends at ``M`` @ (the gizmo's transform when it began), in two frames."""
    start = app.viewer.gizmo.get_transform().copy()
    halfway = start.copy()
    halfway[:3, 3] += 0.5 * (M @ start - start)[:3, 3]
    for G in (halfway, M @ start):
        app.viewer.gizmo.set_transform(G)
        app.tick()
    app.document.end_interaction()  # the mouse button is released
    app.tick()


def shown(app):  # noqa: F811
    return app.viewer.read_displayed_positions(SAMPLE)


# ------------------------------------------------------------------------------ binding
def test_a_loaded_cage_binds_the_mesh_at_once_by_mean_value_coordinates(app, qtbot, tmp_path):  # noqa: F811
    doc = caged_finger(app, qtbot, tmp_path)
    cage = doc.cage_state
    Phi = mean_value_coordinates(Cage.from_arrays(cage.vertices, cage.faces), doc.mesh.V)
    assert cage.coordinates_kind == MEAN_VALUE and cage.barycentric_field is None and doc.coordinates_usable()
    np.testing.assert_allclose(cage.coordinates, Phi, atol=1e-12)
    tab = app.window.cage_tab
    assert tab.in_use.text() == "Mean value (closed form)" and not tab.note.isVisibleTo(tab)  # a box: convex

    moved = doc.cage_pose.copy()
    moved[[3, 7]] += [0.5, 0.4, 0.0]
    doc.set_cage_pose(moved, "Move")
    app.tick()
    np.testing.assert_allclose(shown(app), (Phi @ moved)[SAMPLE], atol=1e-4)
    assert np.abs(shown(app) - doc.mesh.V[SAMPLE]).max() > 0.1

    doc.undo_stack.undo()  # the move
    doc.undo_stack.undo()  # the cage, with its binding: no cage, no coordinates
    app.tick()
    assert doc.cage_state.vertices is None and doc.cage_state.coordinates is None and tab.in_use.text() == "none"
    np.testing.assert_allclose(shown(app), doc.mesh.V[SAMPLE], atol=1e-5)
    doc.undo_stack.redo()
    assert doc.cage_state is cage


def test_a_mesh_outside_the_cage_is_not_bound_and_the_dialog_says_why(app, qtbot, tmp_path):  # noqa: F811
    app.controller.open_mesh(FINGER)
    wait_idle(qtbot, app)
    small = BOX * [0.3, 1.0, 1.0]  # the finger's tip sticks out
    app.controller.open_cage(write_cage(tmp_path / "small.obj", small))
    wait_idle(qtbot, app)
    doc = app.document
    assert doc.cage_state.vertices is not None and doc.cage_state.coordinates is None
    title, message = app.window.errors[-1]
    assert title == "Load cage small.obj" and "cannot be bound" in message and "outside" in message
    click(qtbot, button(app.window.cage_tab, "Use mean value"))
    wait_idle(qtbot, app)
    assert "cannot be bound" in app.window.errors[-1][1] and doc.cage_state.coordinates is None


def test_a_new_mesh_drops_the_binding_and_use_mean_value_binds_it_again(app, qtbot, tmp_path, monkeypatch):  # noqa: F811
    doc = caged_finger(app, qtbot, tmp_path)
    asked = []
    monkeypatch.setattr(app.window, "ask_choice", lambda title, text, choices: asked.append(title) or "Discard")
    app.controller.open_mesh(FINGER)
    wait_idle(qtbot, app)
    assert asked == ["Unsaved changes"]  # the moved cage is not saved
    assert doc.cage_state.vertices is not None and doc.cage_state.coordinates is None
    assert "not bound" in app.window.cage_tab.status.text()
    moved = doc.cage_pose + 0.1
    doc.set_cage_pose(moved, "Move")
    click(qtbot, button(app.window.cage_tab, "Use mean value"))
    wait_idle(qtbot, app)
    Phi = mean_value_coordinates(Cage.from_arrays(doc.cage_state.vertices, doc.cage_state.faces), doc.mesh.V)
    np.testing.assert_allclose(doc.cage_state.coordinates, Phi, atol=1e-12)
    np.testing.assert_array_equal(doc.cage_pose, moved)
    np.testing.assert_allclose(shown(app), (Phi @ moved)[SAMPLE], atol=1e-4)


# ------------------------------------------------------------------------------ training
def test_trained_coordinates_replace_mean_value_under_the_moved_cage(app, qtbot, tmp_path):  # noqa: F811
    from fieldrig import BarycentricField
    from fieldrig.gui.work import loaded_from_bytes

    doc = caged_finger(app, qtbot, tmp_path)
    mvc = doc.cage_state.coordinates
    cage_select = [1, 3]
    doc.select_cage_vertices(cage_select)
    app.tick()
    drag_gizmo(app, np.array([[1, 0, 0, 0.6], [0, 1, 0, 0.3], [0, 0, 1, 0], [0, 0, 0, 1.0]]))
    moved = doc.cage_pose
    assert not np.array_equal(moved, doc.cage_state.vertices)

    doc.set_setting("preset", "fast")
    events = []
    app.jobs.progressed.connect(events.append)
    click(qtbot, button(app.window.cage_tab, "Compute coordinates"))
    wait_idle(qtbot, app)
    assert app.window.errors == []
    cage = doc.cage_state
    assert cage.coordinates_kind == "dirichlet" and cage.barycentric_field is not None
    assert app.window.cage_tab.in_use.text().startswith("Trained: Dirichlet")
    assert doc.cage_pose is moved  # the deformed cage stays
    field = loaded_from_bytes(cage.barycentric_field, lambda p: BarycentricField.load(p, cage=(BOX, cage.faces)))
    np.testing.assert_allclose(cage.coordinates, field.evaluate(doc.mesh.V), atol=1e-9)
    assert cage.coordinates.min() >= 0 and not np.allclose(cage.coordinates, mvc, atol=1e-3)
    np.testing.assert_allclose(shown(app), (cage.coordinates @ moved)[SAMPLE], atol=1e-4)
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert events[-1].stage.startswith("evaluating at 1,202 vertices")

    doc.undo_stack.undo()  # back to mean value coordinates, the cage still moved
    app.tick()
    assert doc.cage_state.coordinates is mvc and doc.cage_state.coordinates_kind == MEAN_VALUE
    np.testing.assert_array_equal(doc.cage_pose, moved)
    np.testing.assert_allclose(shown(app), (mvc @ moved)[SAMPLE], atol=1e-4)
    doc.undo_stack.redo()
    app.tick()
    np.testing.assert_allclose(shown(app), (cage.coordinates @ moved)[SAMPLE], atol=1e-4)


# ----------------------------------------------------------------------------- selection
def test_shift_click_selects_several_cage_vertices_and_the_gizmo_moves_them_together(app, qtbot, tmp_path):  # noqa: F811
    doc = caged_finger(app, qtbot, tmp_path)
    Phi, rest = doc.cage_state.coordinates, doc.cage_pose.copy()
    cage_click(app, 1)
    for v in (3, 5, 7):
        cage_click(app, v, shift=True)
    cage_click(app, 5, shift=True)  # Shift+click on a selected vertex takes it out
    assert doc.cage_selection == (1, 3, 7)
    assert app.window.cage_tab.selected.text() == "3 vertices (1, 3, 7)"
    centroid = rest[[1, 3, 7]].mean(axis=0)
    np.testing.assert_allclose(app.viewer.gizmo.get_transform()[:3, 3], centroid)
    np.testing.assert_allclose(app.window.cage_tab.position.value(), centroid)

    steps = doc.undo_stack.count()
    drag_gizmo(app, np.array([[1, 0, 0, 0.7], [0, 1, 0, 0.2], [0, 0, 1, -0.1], [0, 0, 0, 1.0]]))
    assert doc.undo_stack.count() == steps + 1  # one drag, one undo step
    expected = rest.copy()
    expected[[1, 3, 7]] += [0.7, 0.2, -0.1]
    np.testing.assert_allclose(doc.cage_pose, expected, atol=1e-6)
    np.testing.assert_allclose(shown(app), (Phi @ doc.cage_pose)[SAMPLE], atol=1e-4)

    # a second drag turns the selection about its centroid (30° about z) and halves it
    R = axis_angle_matrix([0, 0, 1], 30)
    c = expected[[1, 3, 7]].mean(axis=0)
    M = np.eye(4)
    M[:3, :3] = 0.5 * R
    M[:3, 3] = c - 0.5 * R @ c
    drag_gizmo(app, M)
    assert doc.undo_stack.count() == steps + 2
    turned = expected.copy()
    turned[[1, 3, 7]] = (expected[[1, 3, 7]] - c) @ (0.5 * R).T + c
    np.testing.assert_allclose(doc.cage_pose, turned, atol=1e-6)  # the gizmo holds float32
    np.testing.assert_array_equal(doc.cage_pose[[0, 2, 4, 5, 6]], rest[[0, 2, 4, 5, 6]])
    np.testing.assert_allclose(shown(app), (Phi @ turned)[SAMPLE], atol=1e-4)

    doc.undo_stack.undo()
    app.tick()
    np.testing.assert_allclose(doc.cage_pose, expected, atol=1e-6)
    np.testing.assert_allclose(app.viewer.gizmo.get_transform()[:3, 3], expected[[1, 3, 7]].mean(axis=0))
    doc.undo_stack.undo()
    app.tick()
    np.testing.assert_array_equal(doc.cage_pose, rest)
    np.testing.assert_allclose(shown(app), doc.mesh.V[SAMPLE], atol=1e-4)
    doc.undo_stack.redo()
    doc.undo_stack.redo()
    app.tick()
    np.testing.assert_allclose(doc.cage_pose, turned, atol=1e-6)  # the gizmo holds float32


def test_typed_position_moves_the_selection_by_the_offset_of_its_centroid(app, qtbot, tmp_path):  # noqa: F811
    doc = caged_finger(app, qtbot, tmp_path)
    rest = doc.cage_pose.copy()
    tab = app.window.cage_tab
    doc.select_cage_vertices([0, 2])
    target = rest[[0, 2]].mean(axis=0) + [-0.3, 0.0, 0.2]
    tab.position.boxes[0].setValue(target[0])
    tab.position.boxes[2].setValue(target[2])
    expected = rest.copy()
    expected[[0, 2]] += [-0.3, 0.0, 0.2]
    np.testing.assert_allclose(doc.cage_pose, expected, atol=1e-9)
    assert doc.undo_stack.undoText() == "Move 2 cage vertices"
    doc.select_cage_vertex(6)  # one vertex: the boxes are its position
    tab.position.boxes[1].setValue(0.9)
    assert doc.cage_pose[6][1] == 0.9 and np.array_equal(doc.cage_pose[6][[0, 2]], rest[6][[0, 2]])
    click(qtbot, button(tab, "Select all"))
    assert doc.cage_selection == tuple(range(8))
    click(qtbot, button(tab, "Select none"))
    assert doc.cage_selection == () and not tab.position.isEnabled()


# ---------------------------------------------------------------------------- resolution
def test_the_automatic_cage_has_the_resolution_asked_for_and_bad_ones_become_dialogs(app, qtbot):  # noqa: F811
    app.controller.open_mesh(FINGER)
    wait_idle(qtbot, app)
    doc, tab = app.document, app.window.cage_tab
    assert tab.resolution.value() == 40  # a 3D mesh's default
    tab.resolution.setValue(12)
    assert doc.cage_state.vertices is None  # built on demand, not when the value changes
    click(qtbot, button(tab, "Automatic cage"))
    wait_idle(qtbot, app)
    assert app.window.errors == []
    twelve = doc.cage_state
    assert abs(len(twelve.vertices) - 12) <= 2 and twelve.coordinates_kind == MEAN_VALUE
    np.testing.assert_allclose(
        twelve.coordinates, mean_value_coordinates(Cage.from_arrays(twelve.vertices, twelve.faces), doc.mesh.V)
    )

    tab.resolution.setValue(3)  # below a tetrahedron
    click(qtbot, button(tab, "Automatic cage"))
    wait_idle(qtbot, app)
    title, message = app.window.errors[-1]
    assert title == "Building a cage" and message.startswith("vertices:") and "at least 4" in message
    assert doc.cage_state is twelve  # nothing changed

    tab.resolution.setValue(40)
    click(qtbot, button(tab, "Automatic cage"))
    wait_idle(qtbot, app)
    assert abs(len(doc.cage_state.vertices) - 40) <= 4
    doc.select_cage_vertices([0, 1])
    doc.undo_stack.undo()
    assert doc.cage_state is twelve and doc.cage_selection == ()  # another cage: its selection goes
    doc.undo_stack.redo()
    assert abs(len(doc.cage_state.vertices) - 40) <= 4 and doc.coordinates_usable()


def test_negative_mean_value_coordinates_are_noted_until_trained_ones_arrive(app, qtbot):  # noqa: F811
    app.controller.open_mesh(FINGER)
    wait_idle(qtbot, app)
    app.controller.make_auto_cage(40)
    wait_idle(qtbot, app)
    doc, tab = app.document, app.window.cage_tab
    low = doc.cage_state.coordinates.min()
    assert low < 0  # this non-convex cage's mean value coordinates dip below zero
    assert tab.note.isVisibleTo(tab) and f"{low:.2g}" in tab.note.text()
    doc.set_coordinates(np.clip(doc.cage_state.coordinates, 0, None), b"field", "Trained", "tv")
    assert not tab.note.isVisibleTo(tab) and tab.in_use.text() == "Trained: total variation (local)"


def test_the_gizmo_move_after_the_button_is_released_stays_in_the_drag(app, qtbot, tmp_path, monkeypatch):  # noqa: F811
    import fieldrig.gui.viewer as viewer_module

    doc = caged_finger(app, qtbot, tmp_path)
    doc.select_cage_vertices([1, 3])
    app.tick()
    gizmo, steps = app.viewer.gizmo, doc.undo_stack.count()
    released = {"now": False}
    monkeypatch.setattr(viewer_module.psim, "IsMouseReleased", lambda button: released["now"])

    def move(dx):
        G = gizmo.get_transform().copy()
        G[0, 3] += dx
        gizmo.set_transform(G)

    move(0.2)
    app.tick()
    released["now"] = True  # the button goes up; polyscope moves the gizmo once more after this frame's callback
    app.tick()
    released["now"] = False
    move(0.1)
    app.tick()
    assert doc.undo_stack.count() == steps + 1  # one drag, one undo step, its last move included
    np.testing.assert_allclose(doc.cage_pose[[1, 3], 0], BOX[[1, 3], 0] + 0.3, atol=1e-6)
    move(0.1)  # the next drag
    app.tick()
    assert doc.undo_stack.count() == steps + 2
