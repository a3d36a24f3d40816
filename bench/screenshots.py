"""Run the real app (polyscope window + Qt panel) through a rigging session and save one
screenshot per panel tab and per tool, both windows side by side; print how smooth the UI
stayed while the field trained.

    xvfb-run -a -s "-screen 0 1600x1000x24" python bench/screenshots.py \\
        [--mesh assets/legs.obj --rig assets/legs.json] [--preset balanced] [--out DIR] \\
        [--readme docs/screenshot.png] [--paint-readme docs/paint.png] \\
        [--character /work/ext/chars/Testwuson.glb] [--docs docs] \\
        [--cage-mesh ../shared/data/spot.obj --cage-picture docs/cage-screenshot.png] [--shots rig character cage]

``--out`` defaults to a new temporary folder (printed). Steps, as a user does them, each
saving ``<out>/<step>.png`` (the panel at its own size beside the polyscope window, with
polyscope's own UI): open the mesh (``01-mesh``) and its rig (``02-rig``); compute weights,
the progress bar running while the 3D view turns (``03-training``); the dominant-handle
colours (``04-weights-dominant``) and one handle's weight field with a vertex read
(``05-weight-field``); bones bent in the Pose tab by typed axis and angle (``06-pose``);
back in the rest pose, a stroke of one handle's weight with the brush, dragged through the
3D view's input (``07-paint``); the weight tools: two influences per vertex at most, a
handle locked, the stroke mirrored across x = 0 (``08-weight-tools``); the Export tab
(``09-export``).
``--readme`` also writes the pose step's picture scaled to fit in 300 KB; ``--paint-readme``
the paint step's.

Then, on a skinned character (``--character``, skipped with a message when the file is not
there): fast-preset weights beside the file's own "skin" set, compared A/B while the file's
longest clip plays, stopped on a frame with the difference view on
(``10-timeline-difference``); then, with no clip, a few joints turned by typed angles and
the gizmo left on one of them (``11-pose-gizmo``). ``--docs`` writes those two as
``timeline.png`` and ``posing.png`` there.

Then the cage session (:meth:`Session.cage_steps`, on ``--cage-mesh``, default ``--mesh``):
``c1-cage`` … ``c4-trained``; ``--cage-picture`` writes the last one.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mesh", default=str(ROOT / "assets" / "legs.obj"))
    parser.add_argument("--rig", default=str(ROOT / "assets" / "legs.json"))
    parser.add_argument("--preset", default="balanced", choices=("fast", "balanced", "high"))
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--bend",
        nargs="*",
        default=["thigh_l:-45:0:0", "shin_l:80:0:0", "thigh_r:0:0:20", "shin_r:40:0:0"],
        metavar="HANDLE:RX:RY:RZ",
        help="bones to bend in the Pose tab (degrees)",
    )
    parser.add_argument("--out", help="the folder for the pictures (default: a new temporary one)")
    parser.add_argument("--readme", help="also write a side-by-side picture here (e.g. docs/screenshot.png)")
    parser.add_argument("--paint", default="shin_l", help="the handle whose weight the paint step paints")
    parser.add_argument("--paint-readme", help="also write the paint step's picture here (e.g. docs/paint.png)")
    parser.add_argument("--timeout", type=float, default=900.0, help="give up after this many seconds")
    parser.add_argument(
        "--character", default="/work/ext/chars/Testwuson.glb", help="a skinned glTF/FBX with clips, for the timeline"
    )
    parser.add_argument("--docs", help="also write timeline.png and posing.png (both windows) here, e.g. docs")
    parser.add_argument(
        "--shots",
        nargs="+",
        choices=("rig", "character", "cage"),
        default=["rig", "character", "cage"],
        help="which sessions to run",
    )
    parser.add_argument("--cage-mesh", help="the cage session's mesh (default: --mesh), e.g. ../shared/data/spot.obj")
    parser.add_argument("--cage-vertices", type=int, default=40, help="the cage session's automatic cage vertices")
    parser.add_argument(
        "--cage-picture", help="also write the cage session's two windows here, e.g. docs/cage-screenshot.png"
    )
    return parser.parse_args()


class Session:
    """The steps, as a generator: each ``yield`` returns a condition to wait for."""

    def __init__(self, app, args):
        self.app, self.args = app, args
        self.out = Path(args.out or tempfile.mkdtemp(prefix="fieldrig-screenshots-"))
        self.out.mkdir(parents=True, exist_ok=True)
        print(f"pictures in {self.out}", flush=True)
        self.figures = {}
        self.progress = []

    def idle(self):
        return not self.app.jobs.busy and not self.app.window._queue

    def frames(self, n):
        target = len(self.app.frame_gaps_ms) + n
        return lambda: len(self.app.frame_gaps_ms) >= target

    def shoot(self, step: str):
        """Save ``<out>/<step>.png``: the panel as it is beside the 3D view (with polyscope's
        own UI), top-aligned on white; returns the picture (a QImage)."""
        import polyscope as ps
        from PyQt6.QtCore import Qt
        from PyQt6.QtGui import QImage, QPainter

        view = np.ascontiguousarray(ps.screenshot_to_buffer(transparent_bg=False, include_UI=True)[:, :, :3])
        h, w, _ = view.shape
        view_image = QImage(view.data, w, h, 3 * w, QImage.Format.Format_RGB888)
        panel = self.app.window.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
        both = QImage(panel.width() + w, max(h, panel.height()), QImage.Format.Format_RGB888)
        both.fill(Qt.GlobalColor.white)
        painter = QPainter(both)
        painter.drawImage(0, 0, panel)
        painter.drawImage(panel.width(), 0, view_image)
        painter.end()
        both.save(str(self.out / f"{step}.png"))
        print(f"  saved {self.out / step}.png", flush=True)
        return both

    def select_tab(self, name):
        tabs = self.app.window.tabs
        tabs.setCurrentIndex([tabs.tabText(i) for i in range(tabs.count())].index(name))

    def steps(self):
        import polyscope as ps

        app, doc, window = self.app, self.app.document, self.app.window
        app.open_files(self.args.mesh, self.args.rig)
        yield self.idle
        if window.errors:
            raise RuntimeError(f"opening failed: {window.errors}")
        ps.look_at((1.6, 1.6, 3.4), (0.0, 0.75, 0.0))
        self.select_tab("Mesh")
        yield self.frames(10)
        self.shoot("01-mesh")
        self.select_tab("Rig")
        window.rig_tab.tree.select(doc.rig.n_handles - 1)
        yield self.frames(10)
        self.shoot("02-rig")

        # the 3D view turning, nothing else running: the frame rate to compare with
        start, gaps_before = time.perf_counter(), len(app.frame_gaps_ms)
        turn = 0

        def turned():
            nonlocal turn
            turn += 1
            ps.look_at((3.8 * np.sin(0.01 * turn), 1.6, 3.8 * np.cos(0.01 * turn)), (0.0, 0.75, 0.0))
            return time.perf_counter() - start > 5.0

        yield turned
        self.figures["idle"] = _gap_figures(list(app.frame_gaps_ms)[gaps_before:], time.perf_counter() - start)

        self.select_tab("Weights")
        window.weights_tab.preset.setCurrentText(self.args.preset)
        window.weights_tab.device.setCurrentText(self.args.device)
        app.jobs.progressed.connect(self.progress.append)
        gaps_before = len(app.frame_gaps_ms)
        start = time.perf_counter()
        window.weights_tab.compute.click()

        def training_done():
            turned()
            return self.idle()

        yield lambda: len(self.progress) > 3
        self.shoot("03-training")
        yield training_done
        seconds = time.perf_counter() - start
        if window.errors or doc.weights is None:
            raise RuntimeError(f"training failed: {window.errors}")
        self.figures["training_s"] = seconds
        self.figures["training"] = _gap_figures(list(app.frame_gaps_ms)[gaps_before:], seconds)
        ps.look_at((1.6, 1.6, 3.4), (0.0, 0.75, 0.0))
        window.weights_tab.show_dominant.setChecked(True)
        yield self.frames(10)
        self.shoot("04-weights-dominant")
        window.weights_tab.tree.select(doc.rig.handle_names.index("shin_l") if "shin_l" in doc.rig.handle_names else 0)
        window.weights_tab.show_weight.setChecked(True)
        app.tools.probed.emit(
            int(np.argmax(doc.weights[:, doc.selected_handle] * (doc.weights[:, doc.selected_handle] < 0.6)))
        )
        yield self.frames(10)
        self.shoot("05-weight-field")

        window.weights_tab.show_dominant.setChecked(True)
        self.select_tab("Pose")
        for spec in self.args.bend:
            name, *angles = spec.split(":")
            window.pose_tab.tree.select(doc.rig.handle_names.index(name))
            type_rotation(window.pose_tab, *(float(a) for a in angles))
            doc.end_interaction()
            yield self.frames(3)
        self.figures["preview_ms_last_frame"] = app.viewer.last_deform_ms
        ps.look_at((2.0, 1.8, 2.8), (0.0, 0.6, 0.0))
        yield self.frames(10)
        picture = self.shoot("06-pose")
        if self.args.readme:
            self.readme_picture(picture, Path(self.args.readme))
        yield from self.paint_steps()

    def paint_steps(self):
        """Paint a stroke of one handle's weight across the other leg's thigh with the brush,
        dragged in the 3D view (mouse events into its ImGui input, as GLFW gives them): the
        weight field with its colour bar and legend, the brush outline, the painted copy."""
        import polyscope as ps
        import polyscope.imgui as psim

        from fieldrig.draw.scene import screen_points
        from fieldrig.geometry.pose import Pose

        app, doc, window = self.app, self.app.document, self.app.window
        doc.set_pose(Pose(), "Rest pose")
        self.select_tab("Weights")
        names = doc.rig.handle_names
        window.weights_tab.tree.select(names.index(self.args.paint) if self.args.paint in names else 0)
        window.weights_tab.show_weight.setChecked(True)
        ps.look_at((0.9, 1.2, 3.0), (0.0, 0.7, 0.0))
        yield self.frames(5)
        window.weights_tab.paint_button.click()
        size = float(np.linalg.norm(np.ptp(doc.mesh.V, axis=0)))
        app.brush.set_settings(mode="add", value=1.0, strength=1.0, falloff="smooth", radius=0.06 * size)
        V = doc.mesh.V
        xy, depth = screen_points(V)
        # along the front of the thigh on the other side: the front-most vertices there, top to bottom
        side = V[:, 0] > 0.1 if self.args.paint.endswith("_l") else V[:, 0] < -0.1
        band = side & (V[:, 1] > 0.45) & (V[:, 1] < 0.95)
        front = band & (V[:, 2] > np.quantile(V[band, 2], 0.8))
        top, bottom = (np.flatnonzero(front)[f(V[front, 1])] for f in (np.argmax, np.argmin))
        path = np.linspace(xy[top], xy[bottom], 40)
        io = psim.GetIO()
        camera = ps.get_view_camera_parameters().get_view_mat()
        io.AddMousePosEvent(*map(float, path[0]))
        yield self.frames(2)
        io.AddMouseButtonEvent(0, True)
        yield self.frames(2)
        for point in path[1:]:
            io.AddMousePosEvent(*map(float, point))
            yield self.frames(1)
        io.AddMouseButtonEvent(0, False)
        yield self.frames(3)
        io.AddMousePosEvent(*map(float, path[-1] + [40, -10]))  # the brush outline beside the stroke
        yield self.frames(10)
        if not np.allclose(ps.get_view_camera_parameters().get_view_mat(), camera):
            raise RuntimeError("the camera turned while the brush painted")
        active = doc.rig_state.active_set
        if active.origin != "painted" or active.painted_vertices is None or not len(active.painted_vertices):
            raise RuntimeError(f"the stroke painted nothing: {window.statusBar().currentMessage()}")
        self.figures["painted"] = (active.name, len(active.painted_vertices), list(app.brush.dab_ms))
        picture = self.shoot("07-paint")
        if self.args.paint_readme:
            self.readme_picture(picture, Path(self.args.paint_readme))
        yield from self.tool_steps()
        self.select_tab("Export")
        yield self.frames(5)
        self.shoot("09-export")

    def tool_steps(self):
        """The weight tools after the stroke: two influences per vertex at most, the pelvis
        locked (its box in the list), the painted side mirrored across x = 0 onto the other
        (handles swapped by name); the mirrored handle's weight shown."""
        from PyQt6.QtCore import Qt
        from PyQt6.QtWidgets import QPushButton

        doc, tab = self.app.document, self.app.window.weights_tab
        self.app.brush.set_active(False)
        names = doc.rig.handle_names
        buttons = {b.text(): b for b in tab.findChildren(QPushButton)}
        tab.max_influences.setValue(2)
        buttons["Limit to"].click()
        yield self.frames(2)
        (pelvis,) = tab.tree.findItems(names[0], Qt.MatchFlag.MatchExactly | Qt.MatchFlag.MatchRecursive, 0)
        pelvis.setCheckState(tab.tree.lock_column, Qt.CheckState.Checked)
        yield self.frames(2)
        stroke_side_plus = self.args.paint.endswith("_l")  # the stroke went across the other leg's thigh
        tab.mirror_axis.setCurrentIndex(tab.mirror_axis.findData("X"))
        tab.mirror_direction.setCurrentIndex(tab.mirror_direction.findData(stroke_side_plus))
        buttons["Mirror"].click()
        yield self.frames(2)
        partner = self.args.paint[:-1] + ("r" if self.args.paint.endswith("_l") else "l")
        tab.tree.select(names.index(partner) if partner in names else 0)
        tab.show_weight.setChecked(True)
        tab.tree.scrollToItem(pelvis)  # its lock box in sight
        yield self.frames(10)
        if names[0] not in doc.rig_state.locked:
            raise RuntimeError(f"{names[0]} not locked: {self.app.window.statusBar().currentMessage()}")
        self.shoot("08-weight-tools")

    def character_steps(self):
        """The timeline with the A/B difference view, and the posing gizmo, on a skinned character."""
        import polyscope as ps

        from fieldrig.geometry.posing import handle_frame

        app, doc, window = self.app, self.app.document, self.app.window
        path = Path(self.args.character)
        if not path.is_file():
            print(f"  {path} not found: no timeline or gizmo shots", flush=True)
            return
        app.controller.open_mesh(str(path))
        yield self.idle
        if window.errors or doc.asset is None or not doc.clip_names():
            raise RuntimeError(f"{path}: not a skinned file with clips ({window.errors})")
        self.select_tab("Weights")
        window.weights_tab.preset.setCurrentText("fast")
        window.weights_tab.compute.click()
        yield self.idle
        if window.errors or len(doc.rig_state.weight_sets) < 2:
            raise RuntimeError(f"training failed: {window.errors}")
        strip = window.timeline
        for combo, name in ((strip.set_a, "skin"), (strip.set_b, "computed")):
            combo.setCurrentIndex(combo.findData(name))
            combo.activated.emit(combo.currentIndex())
        clip = max(doc.asset.clips, key=lambda c: c.duration).name
        strip.clip.setCurrentIndex(strip.clip.findData(clip))
        strip.clip.activated.emit(strip.clip.currentIndex())
        self.select_tab("Pose")
        ps.set_build_default_gui_panels(False)  # the character, the colour bar and the gizmo, not polyscope's lists
        V = doc.mesh.V
        centre, size = 0.5 * (V.min(axis=0) + V.max(axis=0)), float(np.linalg.norm(np.ptp(V, axis=0)))
        ps.look_at(centre + size * np.array([0.8, 0.3, 0.45]), centre)
        strip.play.click()
        start = time.perf_counter()
        yield lambda: time.perf_counter() - start > 1.2  # plays in real time, then stops on a frame
        strip.play.click()
        strip.difference.setChecked(True)
        yield self.frames(10)
        self.figures["timeline"] = (clip, strip.time_label.text(), strip.playback.shown, strip.playback.dropped)
        picture = self.shoot("10-timeline-difference")
        if self.args.docs:
            self.readme_picture(picture, Path(self.args.docs) / "timeline.png")

        strip.difference.setChecked(False)
        window.weights_tab.show_dominant.setChecked(True)
        strip.clip.setCurrentIndex(0)  # no clip: the pose by hand
        strip.clip.activated.emit(0)
        names = doc.rig.handle_names
        bends = [(n, 0.0, 0.0, 25.0) for n in names if "HindLeg_L_02" in n or "ForeLeg_R_02" in n]
        bends += [(n, 0.0, -30.0, 0.0) for n in names if n.startswith("Tail0") and n[-1] in "246"]
        for name, *angles in bends:
            window.pose_tab.tree.select(names.index(name))
            type_rotation(window.pose_tab, *angles)
            doc.end_interaction()
            yield self.frames(2)
        joint = next((n for n in names if "ForeLeg_L_03" in n), names[len(names) // 2])
        window.pose_tab.tree.select(names.index(joint))
        type_rotation(window.pose_tab, -35.0, 0.0, 0.0)
        doc.end_interaction()
        pivot = handle_frame(doc.rig, doc.handle_transforms(), names.index(joint))[:3, 3]
        ps.look_at(pivot + size * np.array([0.7, 0.25, 0.45]), pivot)
        yield self.frames(10)
        picture = self.shoot("11-pose-gizmo")
        if self.args.docs:
            self.readme_picture(picture, Path(self.args.docs) / "posing.png")

    def cage_steps(self):
        """Cage mode: build the automatic cage (the mesh follows it at once, by mean value
        coordinates), Shift+click a group of cage vertices, drag them with the gizmo (moved
        and turned about their centroid), then train coordinates, which swap in under the
        moved cage. Saves ``c1-cage``, ``c2-moved``, ``c3-training`` and ``c4-trained``."""
        import polyscope as ps

        from fieldrig.gui.viewer import CAGE_VERTICES, Pick

        app, doc, window = self.app, self.app.document, self.app.window
        app.open_files(self.args.cage_mesh or self.args.mesh)
        yield self.idle
        if window.errors:
            raise RuntimeError(f"opening failed: {window.errors}")
        yield self.frames(2)  # the viewer shows the mesh (and resets the camera to it)
        # y is up; the longer of x and z is the shape's length, seen from the side (the other)
        V = doc.mesh.V
        centre, diagonal = 0.5 * (V.min(axis=0) + V.max(axis=0)), float(np.linalg.norm(np.ptp(V, axis=0)))
        along = 0 if np.ptp(V[:, 0]) > np.ptp(V[:, 2]) else 2
        side = 2 - along
        eye = centre.copy()
        eye[side] += 1.5 * diagonal
        eye[along] -= 0.35 * diagonal
        eye[1] += 0.3 * diagonal
        right = np.cross(centre - eye, [0.0, 1.0, 0.0])
        shift = -0.12 * diagonal * right / np.linalg.norm(right)  # polyscope's own panel covers the left third
        ps.look_at(eye + shift, centre + shift)
        self.select_tab("Cage")
        start = time.perf_counter()
        window.cage_tab.resolution.setValue(self.args.cage_vertices)
        doc.set_setting("preset", self.args.preset)
        window.cage_tab.build.click()
        yield self.idle
        if window.errors or not doc.coordinates_usable():
            raise RuntimeError(f"the automatic cage failed: {window.errors}")
        self.figures["cage_bound_s"] = time.perf_counter() - start
        yield self.frames(10)
        self.shoot("c1-cage")

        # Shift+click a sixth of the cage vertices, at the end of the shape with its highest point (a head)
        P = doc.cage_pose
        end = np.sign(V[np.argmax(V[:, 1]), along] - centre[along]) or 1.0
        group = np.argsort(-end * P[:, along])[: max(2, len(P) // 6)]
        for k, vertex in enumerate(group):
            app.viewer.picked.emit(
                Pick(CAGE_VERTICES, "vertex", int(vertex), P[vertex], None, np.zeros(3), np.zeros(3), k > 0)
            )
            yield self.frames(2)
        # drag: lift by 12 % of the diagonal and turn 30° about the side axis, about the group's centroid
        from fieldrig.geometry.rotations import axis_angle_matrix

        gizmo = app.viewer.gizmo
        G0 = np.asarray(gizmo.get_transform(), dtype=np.float64)
        for t in np.linspace(0.1, 1.0, 10):
            G = G0.copy()
            G[:3, :3] = axis_angle_matrix(np.eye(3)[side], 30.0 * end * (1 if side == 0 else -1) * t) @ G0[:3, :3]
            G[1, 3] += 0.12 * diagonal * t
            gizmo.set_transform(G)
            yield self.frames(2)
        doc.end_interaction()
        yield self.frames(10)
        self.shoot("c2-moved")

        events = []
        app.jobs.progressed.connect(lambda event: events.append((time.perf_counter(), event)))
        start = time.perf_counter()
        window.cage_tab.compute.click()
        yield lambda: len(events) > 3
        self.shoot("c3-training")
        yield self.idle
        seconds = time.perf_counter() - start
        if window.errors or doc.cage_state.barycentric_field is None:
            raise RuntimeError(f"training failed: {window.errors}")
        self.figures["coordinates_s"] = seconds
        self.figures["eta"] = [
            next(
                ((e.fraction, e.eta_s, start + seconds - t) for t, e in events if e.fraction >= q and e.eta_s),
                None,
            )
            for q in (0.1, 0.5, 0.9)
        ]
        yield self.frames(10)
        picture = self.shoot("c4-trained")
        if self.args.cage_picture:
            self.readme_picture(picture, Path(self.args.cage_picture))

    def readme_picture(self, picture, path: Path):
        """A step's picture (:meth:`shoot`), scaled until the PNG is under 300 KB."""
        from PyQt6.QtCore import Qt

        from fieldrig.core.atomic import atomic_path

        scale = 1.0
        while True:
            image = picture.scaledToWidth(int(picture.width() * scale), Qt.TransformationMode.SmoothTransformation)
            with atomic_path(path) as tmp:
                image.save(str(tmp))
            if path.stat().st_size < 300_000 or scale < 0.3:
                break
            scale *= 0.95
        print(
            f"  README picture {path} ({image.width()}×{image.height()}, {path.stat().st_size // 1024} KB)", flush=True
        )


def type_rotation(pose_tab, rx: float, ry: float, rz: float) -> None:
    """Type into the Pose tab the rotation ``Rz · Ry · Rx`` (degrees) as its axis and angle."""
    from fieldrig.geometry.posing import axis_angle
    from fieldrig.geometry.rotations import axis_angle_matrix

    R = axis_angle_matrix((0, 0, 1), rz) @ axis_angle_matrix((0, 1, 0), ry) @ axis_angle_matrix((1, 0, 0), rx)
    axis, degrees = axis_angle(R)
    pose_tab.axis.set_value(axis)
    pose_tab.angle.setValue(degrees)


def _gap_figures(gaps, seconds):
    """Frame-rate figures from the gaps between ticks (ms)."""
    return {
        "frames_per_s": len(gaps) / seconds,
        "median_ms": statistics.median(gaps),
        "max_ms": max(gaps),
        "over_100ms": sum(g > 100 for g in gaps),
    }


def main():
    args = parse_args()
    import polyscope as ps

    from fieldrig.gui.app import FieldrigApp
    from fieldrig.gui.scripting import drive

    app = FieldrigApp()
    # each session starts afresh: the last one's edits are not saved, its rig not kept
    app.window.ask_choice = lambda title, text, choices: "Discard rig" if "Discard rig" in choices else "Discard"
    ps.set_window_size(1000, 880)  # the panel keeps the size and place the app gives it, beside the view
    app.window.show()
    session = Session(app, args)

    def sessions():
        if "rig" in args.shots:
            yield from session.steps()
        if "character" in args.shots:
            yield from session.character_steps()
        if "cage" in args.shots:
            yield from session.cage_steps()

    try:
        drive(app, sessions(), args.timeout)
    finally:
        app.shutdown()
    f = session.figures
    if "training_s" in f:
        print(f"training ({args.preset}, {args.device}): {f['training_s']:.1f} s")
        for phase in ("idle", "training"):
            g = f[phase]
            print(
                f"3D view turning, {phase:<8}: {g['frames_per_s']:5.1f} frames/s, median gap {g['median_ms']:4.0f} ms, "
                f"longest {g['max_ms']:5.0f} ms, {g['over_100ms']} gaps over 100 ms"
            )
        print(f"pose preview (skinning + upload) of the last frame: {f['preview_ms_last_frame']:.1f} ms")
    if "coordinates_s" in f:
        print(f"automatic cage + mean value binding: {f['cage_bound_s']:.2f} s from the click")
        print(f"coordinates ({args.preset}): {f['coordinates_s']:.1f} s from the click; ETA shown vs actually left:")
        for fraction, eta, left in filter(None, f["eta"]):
            print(f"  at {fraction:4.0%}: {eta:6.2f} s shown, {left:6.2f} s left")
    if "timeline" in f:
        clip, shown_at, shown, dropped = f["timeline"]
        print(
            f"timeline: clip {clip!r} played in real time, {shown} frames shown, {dropped} skipped; "
            f"stopped at {shown_at}"
        )
    if "painted" in f:
        name, painted, dabs = f["painted"]
        print(
            f"paint stroke: {painted:,} vertices painted into “{name}”, {len(dabs)} moves with dabs, "
            f"median {statistics.median(dabs):.1f} ms each (dabs, document, panel)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
