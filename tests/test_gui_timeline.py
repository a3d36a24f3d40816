"""The timeline and the A/B comparison, driven in the panel: a skinned file's clips play on
the mesh with the weights in use (checked against the glTF spec's skinning of the file
itself), frames are skipped when the UI is slow, loop and speed, A/B swaps and the
difference view, weight sets renamed, duplicated and deleted (undoably)."""

import numpy as np
import pytest

pytest.importorskip("pytestqt")
import polyscope as ps  # noqa: E402
from gltf_build import character, read_document, skinned_positions  # noqa: E402
from test_gui import app, button, click, select_tab, wait_idle  # noqa: E402, F401 (the app fixture)

from fieldrig.draw.scene import DIFFERENCE_QUANTITY, MESH  # noqa: E402
from fieldrig.geometry.deform import dual_quaternion_skinning, linear_blend_skinning  # noqa: E402
from fieldrig.geometry.skin_compare import vertex_weight_l1  # noqa: E402


class Clock:
    """A clock the test moves by hand."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


@pytest.fixture
def character_app(app, qtbot, tmp_path):  # noqa: F811
    gui = app
    path = tmp_path / "char.glb"
    character(path)
    gui.controller.open_mesh(str(path))
    wait_idle(qtbot, gui)
    clock = Clock()
    gui.window.timeline.playback.clock = clock
    gltf, blob = read_document(path)
    return gui, clock, gltf, blob


def choose(combo, data):
    index = combo.findData(data)
    assert index >= 0, data
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


def shown(gui):
    return gui.viewer.read_displayed_positions(np.arange(len(gui.document.mesh.V)))


def test_clips_play_scrub_loop_and_drop_frames(character_app, qtbot):
    gui, clock, gltf, blob = character_app
    doc, strip, playback = gui.document, gui.window.timeline, gui.window.timeline.playback
    assert strip.isVisibleTo(gui.window) and strip.clip_row.isVisibleTo(strip)
    assert [strip.clip.itemText(i) for i in range(strip.clip.count())] == ["No clip — pose by hand", "Bend", "Wave"]
    select_tab(gui, "Pose")
    choose(strip.clip, "Bend")
    frames = doc.clip_frames()
    assert frames.n_frames == 31 and strip.slider.maximum() == 30
    assert "poses the rig" in gui.window.pose_tab.clip_note.text() and not gui.window.pose_tab.box.isEnabled()
    doc.select_handle(1)
    gui.tick()
    assert not gui.viewer.gizmo.get_enabled()  # the clip poses the rig: no gizmo, no R / G
    assert not gui.viewer.tool.start("rotate", np.zeros(3), np.array([0, 0, -1.0]), np.array([0, 0, -1.0]))

    strip.slider.setValue(12)  # scrub
    gui.tick()
    assert strip.time_label.text().startswith("0.40 s · frame 12 / 30")
    expected = np.concatenate(skinned_positions(gltf, blob, 0, 0.4))  # the spec's skinning of the file
    np.testing.assert_allclose(shown(gui), expected, atol=1e-5)

    click(qtbot, strip.play)
    assert playback.playing and strip.play.text() == "Pause"
    clock.now += 1 / 30  # one frame of real time: the next frame
    gui.tick()
    assert playback.frame == 13 and playback.dropped == 0
    clock.now += 10 / 30  # the UI stalled for ten frames: nine are skipped, none queued
    gui.tick()
    assert playback.frame == 23 and playback.dropped == 9 and playback.shown == 2
    np.testing.assert_allclose(shown(gui), np.concatenate(skinned_positions(gltf, blob, 0, 23 / 30)), atol=1e-5)
    clock.now += 10 / 30  # past the end: loops round
    gui.tick()
    assert playback.frame == 3 and playback.playing
    strip.speed.setValue(2.0)
    clock.now += 3 / 30  # twice as fast
    gui.tick()
    assert playback.frame == 9
    strip.loop.setChecked(False)
    clock.now += 1.0
    gui.tick()
    assert playback.frame == 30 and not playback.playing and strip.play.text() == "Play"  # stopped at the end
    assert doc.animation.speed == 2.0 and not doc.animation.loop

    click(qtbot, strip.back)
    assert playback.frame == 29
    gui.viewer.timeline_key.emit("frame_forward")  # Right in the 3D view
    gui.viewer.timeline_key.emit("frame_forward")
    assert playback.frame == 30  # no loop: stays at the end
    gui.viewer.timeline_key.emit("play")  # Space: an ended clip starts again
    assert playback.playing and playback.frame == 0

    doc.set_setting("method", "dqs")  # the existing method setting applies to the clip
    playback.pause()
    strip.slider.setValue(20)
    gui.tick()
    T = frames.transforms(20)
    np.testing.assert_allclose(shown(gui), dual_quaternion_skinning(doc.mesh.V, doc.weights, T), atol=1e-5)
    assert doc.undo_stack.count() == 0  # where one is in a clip is not an edit

    select_tab(gui, "Rig")  # the bind pose there
    gui.tick()
    np.testing.assert_allclose(shown(gui), doc.mesh.V, atol=1e-6)
    assert "bind pose" in strip.note.text()
    select_tab(gui, "Pose")
    choose(strip.clip, None)  # pose by hand again
    gui.tick()
    np.testing.assert_allclose(shown(gui), doc.mesh.V, atol=1e-6)
    assert gui.window.pose_tab.clip_note.text() == "" and doc.clip_frames() is None


def test_ab_swap_and_difference_while_playing(character_app, qtbot, monkeypatch):
    gui, clock, gltf, blob = character_app
    doc, strip, playback = gui.document, gui.window.timeline, gui.window.timeline.playback
    skin = doc.weights
    rng = np.random.default_rng(0)
    other = rng.random(skin.shape)
    other /= other.sum(axis=1, keepdims=True)
    doc.set_weights(other, text="Paint", name="painted", origin="painted")
    assert strip.ab_row.isVisibleTo(strip) and not strip.swap.isEnabled()
    choose(strip.set_a, "skin")
    choose(strip.set_b, "painted")
    assert doc.rig_state.compare == ("skin", "painted") and strip.swap.isEnabled()

    select_tab(gui, "Weights")
    choose(strip.clip, "Wave")
    click(qtbot, strip.play)
    clock.now += 0.5
    gui.tick()
    T = doc.clip_frames().transforms(15)
    np.testing.assert_allclose(shown(gui), linear_blend_skinning(doc.mesh.V, other, T), atol=1e-5)  # B in use
    click(qtbot, strip.swap)  # to A, while playing
    clock.now += 1 / 30
    gui.tick()
    T = doc.clip_frames().transforms(16)
    assert doc.rig_state.active_set.name == "skin" and playback.playing
    np.testing.assert_allclose(shown(gui), linear_blend_skinning(doc.mesh.V, skin, T), atol=1e-5)
    gui.viewer.timeline_key.emit("swap_ab")  # B in the 3D view
    gui.viewer.timeline_key.emit("swap_ab")
    assert doc.rig_state.active_set.name == "skin"
    doc.undo_stack.undo()  # the swaps in a row are one step
    assert doc.rig_state.active_set.name == "painted"

    strip.difference.setChecked(True)
    gui.tick()
    D = vertex_weight_l1(skin, other)
    values = ps.get_surface_mesh(MESH).get_quantity_buffer(DIFFERENCE_QUANTITY, "values")
    np.testing.assert_allclose([values.get_value(i) for i in range(0, len(D), 5)], D[::5], rtol=1e-6)
    assert f"{D.max():.3f}" in strip.legend.text() and f"mean {D.mean():.3f}" in strip.legend.text()
    np.testing.assert_allclose(doc.rig_state.weight_difference(), D)

    # weight sets: rename (the pair follows), duplicate, delete — each one undo step
    tools = gui.window.weights_tab.set_tools
    monkeypatch.setattr(tools, "ask_name", lambda title, current: "skin")
    tools.rename_active()
    assert "already a weight set 'skin'" in tools.message.text()
    monkeypatch.setattr(tools, "ask_name", lambda title, current: "brushed")
    tools.rename_active()
    assert doc.rig_state.compare == ("skin", "brushed") and strip.set_b.currentText() == "brushed"
    combo = gui.window.weights_tab.weight_set
    assert [combo.itemText(i) for i in range(combo.count())] == ["skin (file)", "brushed (painted)"]
    click(qtbot, tools.duplicate)
    assert doc.rig_state.set_names == ["skin", "brushed", "brushed copy"] and doc.weights is other
    click(qtbot, tools.delete)
    click(qtbot, tools.delete)  # the set that was compared: the pair goes
    assert doc.rig_state.set_names == ["skin"] and doc.rig_state.compare == ()
    assert not strip.ab_row.isVisibleTo(strip)
    for _ in range(3):
        doc.undo_stack.undo()
    assert doc.rig_state.set_names == ["skin", "brushed"] and doc.rig_state.compare == ("skin", "brushed")


def test_posed_mesh_export_is_the_clip_frame_shown(character_app, qtbot, tmp_path):
    from fieldrig.geometry.mesh_io import load_mesh

    gui, _, gltf, blob = character_app
    select_tab(gui, "Pose")
    choose(gui.window.timeline.clip, "Wave")
    gui.window.timeline.slider.setValue(9)
    gui.tick()
    assert gui.controller.export_posed_mesh(str(tmp_path / "frame.obj"))
    wait_idle(qtbot, gui)
    written = load_mesh(tmp_path / "frame.obj").V
    np.testing.assert_allclose(written, shown(gui), atol=1e-5)
    np.testing.assert_allclose(written, np.concatenate(skinned_positions(gltf, blob, 1, 9 / 30)), atol=1e-5)
    assert not np.allclose(written, gui.document.mesh.V, atol=1e-3)  # the frame, not the bind pose


def test_a_clip_in_a_scaled_world_is_framed_and_the_bind_pose_again_after(character_app):
    """The test character's skeleton sits under a scaled, moved node: its clips play twice the
    bind pose's size, 3 units away, so the view frames them, and the bind pose after."""
    from fieldrig.gui.viewer import box_extent

    gui, _, _, _ = character_app
    bind = box_extent(gui.document.mesh.V)
    np.testing.assert_allclose(gui.viewer.framed_extent[0], bind[0])
    select_tab(gui, "Pose")
    choose(gui.window.timeline.clip, "Bend")
    gui.tick()
    clip = box_extent(shown(gui))
    assert clip[1] > 1.5 * bind[1]  # the premise: the clip plays in a larger world
    np.testing.assert_allclose(gui.viewer.framed_extent[0], clip[0], atol=1e-5)
    np.testing.assert_allclose(gui.viewer.framed_extent[1], clip[1], rtol=1e-5)
    gui.window.timeline.slider.setValue(3)  # a frame nearby keeps the view
    gui.tick()
    np.testing.assert_allclose(gui.viewer.framed_extent[0], clip[0], atol=1e-5)
    choose(gui.window.timeline.clip, None)
    gui.tick()
    np.testing.assert_allclose(gui.viewer.framed_extent[0], bind[0], atol=1e-6)


def test_extent_jumped():
    from fieldrig.gui.viewer import extent_jumped

    framed = (np.zeros(3), 2.0)
    assert not extent_jumped(framed, (np.array([0.9, 0, 0]), 3.9))
    assert extent_jumped(framed, (np.zeros(3), 4.1)) and extent_jumped(framed, (np.zeros(3), 0.9))
    assert extent_jumped(framed, (np.array([0, 1.1, 0]), 2.0))
    assert not extent_jumped(None, framed)
