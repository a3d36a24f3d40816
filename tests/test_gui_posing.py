"""Posing in the panel and the 3D view: typed axis and angle, world-axis turns through 90°,
translating any handle (its subtree follows), the gizmo on a child, Blender's R and G with
axis keys and typed numbers, cancel, mirror and reset — each checked against an independent
LBS of the pose the document holds."""

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from test_gui import app, click, select_tab, wait_idle  # noqa: E402, F401 (the app fixture)

from fieldrig.geometry.deform import linear_blend_skinning  # noqa: E402
from fieldrig.geometry.pose import pose_transforms  # noqa: E402
from fieldrig.geometry.posing import axis_angle, handle_frame, mirror_rotation  # noqa: E402
from fieldrig.geometry.rotations import axis_angle_matrix  # noqa: E402

ASSETS = Path(__file__).resolve().parents[1] / "assets"
CAMERA = np.array([0.0, 1.0, 6.0])
LOOK = np.array([0.0, 0.0, -1.0])


@pytest.fixture
def legs(app, qtbot):  # noqa: F811
    gui = app
    gui.controller.open_mesh(str(ASSETS / "legs.obj"))
    gui.window.queue_actions([lambda: gui.controller.open_rig(str(ASSETS / "legs.json"))])
    wait_idle(qtbot, gui)
    doc = gui.document
    W = np.random.default_rng(0).random((len(doc.mesh.V), doc.rig.n_handles)) ** 4
    doc.set_weights(W / W.sum(axis=1, keepdims=True), None, "Import weights")
    select_tab(gui, "Pose")
    return gui


def check_shown(gui):
    doc = gui.document
    gui.tick()
    idx = np.arange(0, len(doc.mesh.V), 3)
    expected = linear_blend_skinning(doc.mesh.V, doc.weights, pose_transforms(doc.rig, doc.pose))
    np.testing.assert_allclose(gui.viewer.read_displayed_positions(idx), expected[idx], atol=1e-5)


def select(gui, name):
    gui.window.pose_tab.tree.select(gui.document.rig.handle_names.index(name))


def ray_to(point):
    return CAMERA, np.asarray(point, float) - CAMERA


def test_typed_rotations_turns_and_translations(legs, qtbot):
    gui, doc, tab = legs, legs.document, legs.window.pose_tab
    select(gui, "thigh_l")
    assert tab.box.isEnabled() and tab.translation.isEnabled()  # a child: it translates too
    tab.axis.set_value([1, 0, 0])
    tab.angle.setValue(40)
    np.testing.assert_allclose(doc.pose.rotations["thigh_l"], axis_angle_matrix([1, 0, 0], 40), atol=1e-12)
    check_shown(gui)
    for _ in range(2):
        click(qtbot, tab.turn_buttons["+Z"])  # 15° steps about the world's z
    R = axis_angle_matrix([0, 0, 1], 30) @ axis_angle_matrix([1, 0, 0], 40)
    np.testing.assert_allclose(doc.pose.rotations["thigh_l"], R, atol=1e-12)
    axis, degrees = axis_angle(R)
    assert tab.angle.value() == pytest.approx(degrees, abs=0.01)
    np.testing.assert_allclose(tab.axis.value(), axis, atol=1e-3)
    tab.step.setValue(20)
    for _ in range(6):  # 120° about y, through 90°: no lock
        click(qtbot, tab.turn_buttons["+Y"])
    R = axis_angle_matrix([0, 1, 0], 120) @ R
    np.testing.assert_allclose(doc.pose.rotations["thigh_l"], R, atol=1e-12)
    check_shown(gui)

    # the child turns about the world's axes as it is posed, whatever its parent does
    select(gui, "shin_l")
    click(qtbot, tab.turn_buttons["−X"])
    T = pose_transforms(doc.rig, doc.pose)
    shin = doc.rig.handle_names.index("shin_l")
    np.testing.assert_allclose(T[shin, :3, :3], axis_angle_matrix([1, 0, 0], -20) @ R, atol=1e-12)

    # translating a child: it leaves its joint, its own child follows it rigidly
    select(gui, "thigh_l")
    before = pose_transforms(doc.rig, doc.pose)
    tab.translation.boxes[1].setValue(0.1)
    after = pose_transforms(doc.rig, doc.pose)
    thigh = doc.rig.handle_names.index("thigh_l")
    np.testing.assert_allclose(doc.pose.translations["thigh_l"], [0, 0.1, 0])
    M = after[thigh] @ np.linalg.inv(before[thigh])
    np.testing.assert_allclose(after[shin], M @ before[shin], atol=1e-12)
    np.testing.assert_allclose(M[:3, 3], [0, 0.1, 0], atol=1e-12)  # the parent (pelvis) is at rest
    check_shown(gui)

    # reset one handle, then the pose; undo brings them back
    click(qtbot, [b for b in tab.findChildren(type(tab.turn_buttons["+X"])) if b.text() == "Reset handle"][0])
    assert "thigh_l" not in doc.pose.rotations and "shin_l" in doc.pose.rotations
    tab.reset_pose()
    check_shown(gui)
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    np.testing.assert_allclose(doc.pose.rotations["thigh_l"], R, atol=1e-12)


def test_gizmo_moves_a_child_and_r_g_work_like_blender(legs):
    gui, doc, viewer = legs, legs.document, legs.viewer
    select(gui, "shin_r")
    gui.tick()
    assert viewer.gizmo.get_enabled() and viewer.gizmo.get_allow_translation()
    G = viewer.gizmo.get_transform().copy()
    G[:3, 3] += [0.05, 0.1, 0.0]
    G[:3, :3] = axis_angle_matrix([0, 0, 1], 25) @ G[:3, :3]
    viewer.gizmo.set_transform(G)
    gui.tick()
    shin = doc.rig.handle_names.index("shin_r")
    np.testing.assert_allclose(handle_frame(doc.rig, pose_transforms(doc.rig, doc.pose), shin), G, atol=1e-6)
    check_shown(gui)
    doc.end_interaction()

    # G: the pivot follows the mouse on the plane facing the camera, then along x only, then typed
    select(gui, "thigh_r")
    thigh = doc.rig.handle_names.index("thigh_r")
    pivot = handle_frame(doc.rig, doc.handle_transforms(), thigh)[:3, 3]
    steps = doc.undo_stack.count()
    tool = viewer.tool
    assert tool.start("grab", *ray_to(pivot), LOOK)
    assert not viewer.start_tool("rotate", (10, 10))  # one at a time
    tool.move(*ray_to(pivot + [0.1, 0.05, 0.0]))

    def pivot_now():
        return handle_frame(doc.rig, pose_transforms(doc.rig, doc.pose), thigh)[:3, 3]

    np.testing.assert_allclose(pivot_now(), pivot + [0.1, 0.05, 0.0], atol=1e-9)
    tool.constrain("x")
    np.testing.assert_allclose(pivot_now(), pivot + [0.1, 0.0, 0.0], atol=1e-9)
    for key in "0.25":
        tool.type_key(key)
    np.testing.assert_allclose(pivot_now(), pivot + [0.25, 0.0, 0.0], atol=1e-12)
    assert "0.25 (typed)" in tool.status()
    tool.confirm()
    check_shown(gui)
    assert doc.undo_stack.count() == steps + 1 and doc.undo_stack.text(steps) == "Grab thigh_r"

    # R: the angle the mouse sweeps about the pivot, about the view axis; typed; cancelled
    R0 = doc.pose.rotations.get("thigh_r", np.eye(3))
    assert tool.start("rotate", *ray_to(pivot_now() + [0.2, 0.0, 0.0]), LOOK)
    tool.move(*ray_to(pivot_now() + [0.0, 0.2, 0.0]))  # a quarter turn, counter-clockwise on screen
    np.testing.assert_allclose(doc.pose.rotations["thigh_r"], axis_angle_matrix([0, 0, 1], 90) @ R0, atol=1e-9)
    tool.constrain("y")  # about y: the same sweep, about y
    np.testing.assert_allclose(doc.pose.rotations["thigh_r"], axis_angle_matrix([0, 1, 0], 90) @ R0, atol=1e-9)
    for key in "-30":
        tool.type_key(key)
    np.testing.assert_allclose(doc.pose.rotations["thigh_r"], axis_angle_matrix([0, 1, 0], -30) @ R0, atol=1e-12)
    tool.cancel()
    np.testing.assert_array_equal(doc.pose.rotations.get("thigh_r", np.eye(3)), R0)
    assert doc.undo_stack.count() == steps + 1  # a cancelled move leaves no step
    check_shown(gui)

    # with a rotation typed, the translation is kept; nothing starts without a selection
    assert tool.start("rotate", *ray_to(pivot_now()), LOOK)
    for key in "45":
        tool.type_key(key)
    tool.confirm()
    np.testing.assert_allclose(doc.pose.translations["thigh_r"], [0.25, 0, 0], atol=1e-12)
    doc.select_handle(None)
    assert not tool.start("grab", *ray_to(pivot), LOOK)
    select(gui, "thigh_r")
    assert tool.start("grab", *ray_to(pivot), LOOK)
    select_tab(gui, "Weights")  # another mode: the move ends where it is
    assert not tool.active


def test_mirror_the_pose(legs, qtbot):
    gui, doc, tab = legs, legs.document, legs.window.pose_tab
    select(gui, "thigh_l")
    assert tab.mirror_note.text() == "Partner: thigh_r."
    tab.axis.set_value([1, 0.3, 0])
    tab.angle.setValue(50)
    R = doc.pose.rotations["thigh_l"].copy()
    click(qtbot, tab.mirror_one)  # this handle's pose onto its partner
    np.testing.assert_allclose(doc.pose.rotations["thigh_r"], mirror_rotation(R), atol=1e-12)
    check_shown(gui)
    select(gui, "pelvis")
    assert not tab.mirror_one.isEnabled() and "centre" in tab.mirror_note.text()
    tab.axis.set_value([0, 1, 0])
    tab.angle.setValue(30)
    click(qtbot, tab.mirror_all)
    np.testing.assert_allclose(doc.pose.rotations["pelvis"], axis_angle_matrix([0, 1, 0], -30), atol=1e-12)
    np.testing.assert_allclose(doc.pose.rotations["thigh_l"], R, atol=1e-12)  # the two sides exchanged
    # the mirrored rig is the rig's mirror image (legs.json is symmetric across x = 0)
    A = np.diag([-1.0, 1, 1, 1])
    T = pose_transforms(doc.rig, doc.pose)
    doc.undo_stack.undo()
    T_before = pose_transforms(doc.rig, doc.pose)
    names = doc.rig.handle_names
    for h, name in enumerate(names):
        m = names.index(name.replace("_l", "_r") if name.endswith("_l") else name.replace("_r", "_l"))
        np.testing.assert_allclose(T[m], A @ T_before[h] @ A, atol=1e-9)
