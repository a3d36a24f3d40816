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
- the viewer's update before the next frame: the colours (in place: the changed rows'
  colours into the quantity's buffer) and the skinned positions;
- the peer: the same colouring re-registered (remove, add the quantity) as before;
- a frame drawn (software OpenGL here: the cost of drawing, the same with or without painting).
"""

import argparse
import os
import statistics
import sys
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
    import polyscope as ps
    import polyscope.imgui as psim
    import trimesh

    from fieldrig.draw import scene
    from fieldrig.geometry.mesh_io import MeshData
    from fieldrig.gui.app import FieldrigApp
    from fieldrig.gui.rig_edit import add_point_handle
    from fieldrig.session import RigState, WeightSet

    sphere = trimesh.creation.icosphere(args.subdivisions)
    V, F = np.asarray(sphere.vertices, dtype=np.float64), np.asarray(sphere.faces, dtype=np.int64)
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(args.handles, 3))
    centres *= (0.7 * rng.random(args.handles) ** (1 / 3) / np.linalg.norm(centres, axis=1))[:, None]
    app = FieldrigApp(backend=args.backend, start_timer=False)
    ps.set_window_size(1280, 720)
    doc, viewer = app.document, app.viewer
    doc.set_mesh(MeshData(V=V, F=F, path="icosphere"), None)
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
    updates = []
    for stroke in range(args.strokes):
        y = h * (0.35 + 0.15 * stroke)
        xs = np.linspace(0.38 * w, 0.62 * w, args.moves)
        io.AddMousePosEvent(float(xs[0]), float(y))
        app.tick()
        io.AddMouseButtonEvent(0, True)
        app.tick()
        refresh_ms.clear(), frame_ms.clear()
        app.brush.dab_ms.clear()
        for x in xs[1:]:
            io.AddMousePosEvent(float(x), float(y))
            app.tick()
            updates.append(viewer.weight_display.last_update)
        brush, update, draw = list(app.brush.dab_ms), list(refresh_ms), list(frame_ms)
        io.AddMouseButtonEvent(0, False)
        app.tick()

    painted = doc.rig_state.active_set
    # the peer: the same colouring re-registered from scratch, as each edit did before
    peer = []
    for _ in range(30):
        start = time.perf_counter()
        scene.show_weights(painted.weights, doc.settings["colouring"], 0, viewer.displayed_positions())
        peer.append((time.perf_counter() - start) * 1000.0)
    viewer.weight_display.forget()
    in_place = []
    for k in range(30):
        edited = painted.weights.copy()
        edited[k * 50 : k * 50 + 300, 0] *= 0.5  # a dab's worth of rows
        start = time.perf_counter()
        viewer.weight_display.show(edited, doc.settings["colouring"], 0, viewer.displayed_positions)
        in_place.append((time.perf_counter() - start) * 1000.0)
    deform = viewer.last_deform_ms
    app.shutdown()
    app.compute.stop()

    print(f"mesh: {len(V):,} vertices, {args.handles} handles, 4 influences per vertex; backend {args.backend}")
    print(
        f"strokes: {args.strokes} × {args.moves} mouse moves, brush radius 0.25 (a {len(painted.painted_vertices):,}-"
        f"vertex painted set at the end); colour updates in place: {updates.count('rows')} of {len(updates)}"
    )
    rows = (
        ("brush (ray, dabs, document, panel)", brush),
        ("viewer update (colours, skinning)", update),
        ("  peer: colouring re-registered", peer[1:]),
        ("  colouring updated in place", in_place[1:]),
        ("frame drawn (software GL)", draw),
    )
    for label, values in rows:
        median, p95 = figures(values)
        print(f"{label:<38} median {median:6.2f} ms   p95 {p95:6.2f} ms")
    print(f"(last skinning of the shown mesh: {deform:.2f} ms; a frame at 60 Hz: 16.7 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
