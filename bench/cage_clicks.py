"""Cage vertices selected and dragged with real mouse and keyboard events, in the real app
window: a click, two Shift+clicks, then a drag of one of the gizmo's arrows.

    xvfb-run -a -s "-screen 0 1600x1000x24" python bench/cage_clicks.py [--mesh MESH] [--vertices 40]

(needs ``apt-get install xvfb xdotool``; ``MESH`` defaults to spot.obj in
``$FIELDRIG_SHARED_DATA``, else ``../shared/data``.) The events go through X (xdotool), so
this checks what the offscreen tests cannot: that polyscope reports the clicks and the
Shift key, that a click on a cage vertex picks it (not the cage's faces), and that the
gizmo's drag reaches the document. It picks the three cage vertices nearest the camera,
prints the selection after each click, which vertices the drag moved and by how much, the
undo steps it took, and how far the mesh shown is from Φ @ cage'. Exits 1 when one of
those is not as expected.
"""

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FIELDRIG_SHARED_DATA", ROOT.parent / "shared" / "data"))
WINDOW = (1000, 800)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mesh", default=str(DATA / "spot.obj"))
    parser.add_argument("--vertices", type=int, default=40)
    args = parser.parse_args()
    if not Path(args.mesh).is_file():
        raise SystemExit(f"{args.mesh}: not found (pass --mesh)")
    import polyscope as ps

    from fieldrig.gui.app import FieldrigApp
    from fieldrig.gui.scripting import drive, polls, xdotool

    app = FieldrigApp()
    ps.set_window_size(*WINDOW)
    app.window.show()
    app.window.move(WINDOW[0] + 50, 0)  # beside the 3D view: no window manager places it
    doc, failures = app.document, []

    def project(p):
        """Pixel of world point p in the polyscope window."""
        cam = ps.get_view_camera_parameters()
        q = np.asarray(cam.get_view_mat()) @ np.append(p, 1.0)
        f = 1.0 / np.tan(np.radians(cam.get_fov_vertical_deg()) / 2)
        w, h = ps.get_window_size()
        return np.array([(f / cam.get_aspect() * q[0] / -q[2] + 1) / 2 * w, (1 - f * q[1] / -q[2]) / 2 * h])

    def steps():
        app.open_files(args.mesh)
        yield lambda: not app.jobs.busy and not app.window._queue and doc.mesh is not None
        tabs = app.window.tabs
        tabs.setCurrentIndex([tabs.tabText(i) for i in range(tabs.count())].index("Cage"))
        app.window.cage_tab.resolution.setValue(args.vertices)
        app.window.cage_tab.build.click()
        yield lambda: not app.jobs.busy and doc.coordinates_usable()
        yield from polls(10)
        wid = xdotool("search", "--name", "fieldrig viewer").split()[0]
        # the three cage vertices nearest the camera, of those right of polyscope's own panel
        eye = np.asarray(ps.get_view_camera_parameters().get_position())
        pixels = np.array([project(p) for p in doc.cage_pose])
        clear = (pixels[:, 0] > 0.35 * WINDOW[0]) & (pixels[:, 0] < WINDOW[0]) & (pixels[:, 1] > 0)
        clear &= pixels[:, 1] < WINDOW[1]
        near = np.argsort(np.linalg.norm(doc.cage_pose - eye, axis=1))
        chosen = [int(v) for v in near if clear[v]][:3]
        for k, vertex in enumerate(chosen):
            x, y = project(doc.cage_pose[vertex]).round().astype(int)
            xdotool("mousemove", "--window", wid, x, y)
            yield from polls(3)
            if k:
                xdotool("keydown", "shift")
            xdotool("click", 1)
            yield from polls(5)
            if k:
                xdotool("keyup", "shift")
            print(
                f"{'Shift+click' if k else 'click'} on cage vertex {vertex} at ({x}, {y}): "
                f"selection {doc.cage_selection}"
            )
        if doc.cage_selection != tuple(chosen):
            failures.append(f"selection {doc.cage_selection}, expected {tuple(chosen)}")

        before, undo_steps = doc.cage_pose.copy(), doc.undo_stack.count()
        centre = before[chosen].mean(axis=0)
        start = project(centre)
        # the gizmo's arrow that is longest on screen, grabbed inside its rotation rings
        axes = [project(centre + 1e-2 * e) - start for e in np.eye(3)]
        axis = int(np.argmax([np.linalg.norm(a) for a in axes]))
        direction = axes[axis] / np.linalg.norm(axes[axis])
        grab = start + 25 * direction
        xdotool("mousemove", "--window", wid, *grab.astype(int))
        yield from polls(3)
        xdotool("mousedown", 1)
        yield from polls(3)
        for k in range(1, 9):
            xdotool("mousemove", "--window", wid, *(grab + 10 * k * direction).astype(int))
            yield from polls(2)
        xdotool("mouseup", 1)
        yield from polls(5)
        delta = doc.cage_pose - before
        moved = np.flatnonzero(np.abs(delta).max(axis=1) > 0).tolist()
        shown = app.viewer.read_displayed_positions(np.arange(len(doc.mesh.V)))
        error = np.abs(shown - doc.cage_state.coordinates @ doc.cage_pose).max()
        print(
            f"gizmo drag: moved cage vertices {moved} by {np.round(delta[chosen], 4).tolist()}, "
            f"{doc.undo_stack.count() - undo_steps} undo step(s); mesh shown vs Φ @ cage': {error:.1e}"
        )
        offset = delta[chosen]
        off_axis = np.delete(offset, axis, axis=1)
        if sorted(moved) != sorted(chosen) or np.ptp(offset, axis=0).max() > 1e-6 or np.abs(off_axis).max() > 1e-6:
            failures.append(
                f"the drag did not move the selected vertices, and only them, by one offset along axis {axis}"
            )
        if doc.undo_stack.count() - undo_steps != 1 or error > 1e-5:
            failures.append("the drag is not one undo step, or the mesh does not follow the cage")

    try:
        drive(app, steps(), 300.0)
    except Exception as exc:  # a step failed: reported with the rest
        failures.append(repr(exc))
    app.shutdown()
    app.compute.stop()
    for failure in failures:
        print("FAILED:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
