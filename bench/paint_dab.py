"""How long a weight-brush dab takes in the app, on a 10k-vertex mesh, beside re-registering
the colouring (the peer): is a stroke's effect shown within a frame?

    python bench/paint_dab.py [--subdivisions 5] [--handles 20] [--moves 60] [--backend openGL3_egl]

The real app runs (Qt offscreen, polyscope headless through EGL: real OpenGL, no window)
on an icosphere (10,242 vertices at 5 subdivisions) with ``--handles`` point handles inside
it and weights falling off with the distance to them (4 influences per vertex, as a
game-ready skin has). Strokes are dragged across the mesh through the real input path (mouse
events into ImGui, the viewer's rays, the brush, the document and its observers), one mouse
move per frame. Printed, per mouse move (median and 95th percentile):

- the brush's work: the ray hit, the dabs, the document edit and every panel observer;
- the viewer's update in the same frame (polyscope calls the app before it draws): the
  colours (in place: the changed rows' colours into the quantity's buffer) and the skinned
  positions;
- the peer: the same colouring re-registered (remove, add the quantity) as before, against
  the update in place, each with the frame drawn after it;
- a frame drawn (software OpenGL here: the cost of drawing, the same with or without painting).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subdivisions", type=int, default=5, help="icosphere subdivisions (5: 10,242 vertices)")
    parser.add_argument("--handles", type=int, default=20)
    parser.add_argument("--moves", type=int, default=60, help="mouse moves per stroke")
    parser.add_argument("--strokes", type=int, default=3)
    parser.add_argument("--backend", default="openGL3_egl")
    return parser.parse_args()


def weights_for(V, centres, influences=4):
    """Weights falling off with the distance to each centre, the largest ``influences`` kept."""
    d2 = ((V[:, None, :] - centres[None]) ** 2).sum(axis=2)
    W = np.exp(-d2 / (2 * 0.3**2))
    drop = np.argsort(-W, axis=1)[:, influences:]
    np.put_along_axis(W, drop, 0.0, axis=1)
    return W / W.sum(axis=1, keepdims=True)


def figures(values):
    values = sorted(values)
    return statistics.median(values), values[int(0.95 * (len(values) - 1))]


def main():
    args = parse_args()
    import trimesh

    from fieldrig.gui.app import FieldrigApp

    sphere = trimesh.creation.icosphere(args.subdivisions)
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(args.handles, 3))
    centres *= (0.7 * rng.random(args.handles) ** (1 / 3) / np.linalg.norm(centres, axis=1))[:, None]
    app = FieldrigApp(backend=args.backend, start_timer=False)
    try:
        with tempfile.TemporaryDirectory() as folder:
            mesh_path = os.path.join(folder, "icosphere.obj")
            sphere.export(mesh_path)
            app.controller.open_mesh(mesh_path)
            while app.jobs.busy:
                app.qt.processEvents()
                time.sleep(0.01)
        return run(app, args, centres)
    finally:
        app.shutdown()
        app.compute.stop()


def run(app, args, centres):
    import polyscope as ps
    import polyscope.imgui as psim

    from fieldrig.draw import scene
    from fieldrig.gui.rig_edit import add_point_handle
    from fieldrig.session import RigState, WeightSet

    doc, viewer = app.document, app.viewer
    if doc.mesh is None:
        raise RuntimeError(f"the mesh did not open: {app.window.errors}")
    V = doc.mesh.V
    ps.set_window_size(1280, 720)
    rig = None
    for c in centres:
        rig = add_point_handle(rig, c)
    W = weights_for(V, centres)
    doc.set_rig_state(RigState(rig, weight_sets=(WeightSet("computed", W, "computed"),)), "bench")
    app.window.tabs.setCurrentWidget(app.window.weights_tab)
    doc.select_handle(0)
    app.tick()
    ps.look_at((0.0, 0.0, 3.2), (0.0, 0.0, 0.0))
    app.tick()

    refresh_ms, frame_ms = [], []
    refresh, frame_tick = viewer.refresh, ps.frame_tick

    def timed_refresh():
        start = time.perf_counter()
        refresh()
        refresh_ms.append((time.perf_counter() - start) * 1000.0)

    def timed_frame():
        start = time.perf_counter()
        frame_tick()
        frame_ms.append((time.perf_counter() - start) * 1000.0)

    viewer.refresh, ps.frame_tick = timed_refresh, timed_frame
    app.brush.set_active(True)
    app.brush.set_settings(mode="add", value=1.0, strength=0.3, radius=0.25)
    io = psim.GetIO()
    w, h = ps.get_window_size()
    brush, update, draw, updates = [], [], [], []
    for stroke in range(args.strokes):
        y = h * (0.35 + 0.15 * stroke)
        xs = np.linspace(0.3 * w, 0.7 * w, args.moves)  # ~9 px per move: a brisk drag
        io.AddMousePosEvent(float(xs[0]), float(y))
        app.tick()
        io.AddMouseButtonEvent(0, True)
        app.tick()
        for x in xs[1:]:
            io.AddMousePosEvent(float(x), float(y))
            refresh_ms.clear()
            frame_ms.clear()
            before = len(app.brush.dab_ms)
            app.tick()  # in polyscope's frame: the move's dabs, the viewer's update, then drawing
            draw += frame_ms
            if len(app.brush.dab_ms) > before:
                brush.append(app.brush.dab_ms[-1])
                update.append(sum(refresh_ms))
                updates.append(viewer.weight_display.last_update)
        io.AddMouseButtonEvent(0, False)
        app.tick()
    viewer.refresh, ps.frame_tick = refresh, frame_tick

    painted = doc.rig_state.active_set
    if painted.origin != "painted" or not len(brush):
        raise RuntimeError("the strokes painted nothing")
    # the peer: the same colouring re-registered from scratch, as each edit did before; and
    # the frame drawn after each (a re-registered quantity is uploaded when it is drawn)
    peer, in_place, frame_peer, frame_in_place = [], [], [], []
    colouring = doc.settings["colouring"]
    for k in range(31):
        edited = painted.weights.copy()
        edited[k * 50 : k * 50 + 300, 0] *= 0.5  # a dab's worth of rows
        start = time.perf_counter()
        scene.show_weights(edited, colouring, 0, viewer.displayed_positions())
        peer.append((time.perf_counter() - start) * 1000.0)
        start = time.perf_counter()
        ps.frame_tick()
        frame_peer.append((time.perf_counter() - start) * 1000.0)
        viewer.weight_display.forget()
        viewer.weight_display.show(painted.weights, colouring, 0, viewer.displayed_positions)
        ps.frame_tick()
        start = time.perf_counter()
        viewer.weight_display.show(edited, colouring, 0, viewer.displayed_positions)
        in_place.append((time.perf_counter() - start) * 1000.0)
        start = time.perf_counter()
        ps.frame_tick()
        frame_in_place.append((time.perf_counter() - start) * 1000.0)

    print(f"mesh: {len(V):,} vertices, {args.handles} handles, 4 influences per vertex; backend {args.backend}")
    print(
        f"strokes: {args.strokes} × {args.moves} mouse moves, brush radius 0.25, {len(brush)} moves with dabs "
        f"({len(painted.painted_vertices):,} vertices painted); colours updated in place after "
        f"{updates.count('rows')} of them"
    )
    rows = (
        ("a move's dabs (dabs, document, panel)", brush),
        ("viewer update, same frame (colours, skin)", update),
        ("  peer: colouring re-registered", peer[1:]),
        ("  colouring updated in place", in_place[1:]),
        ("frame while painting (all of it, software GL)", draw),
        ("  frame after a re-registration", frame_peer[1:]),
        ("  frame after an update in place", frame_in_place[1:]),
    )
    for label, values in rows:
        median, p95 = figures(values)
        print(f"{label:<42} median {median:6.2f} ms   p95 {p95:6.2f} ms")
    print(f"(last skinning of the shown mesh: {viewer.last_deform_ms:.2f} ms; a frame at 60 Hz: 16.7 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
