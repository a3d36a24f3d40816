"""Cage mode in the app: how soon the mesh follows a cage, how smooth the UI stays, and how
honest the coordinates training's ETA is.

    python bench/cage_mode.py [--mesh MESH] [--vertices 40] [--preset balanced] [--subdivide 0]

(``MESH`` defaults to spot.obj in ``$FIELDRIG_SHARED_DATA``, else ``../shared/data``.)

Runs the real app classes with polyscope's mock backend (drawing costs nothing: the figures
are the app's own work) and, as the buttons do: builds the automatic cage (the mesh is bound
by mean value coordinates in the same job), rebinds with *Use mean value*, then *Compute
coordinates*. Prints the time from the click until the coordinates are in the document, the
gaps between the 16 ms frame ticks meanwhile, mean value coordinates timed on this thread
(what running them on the UI thread would stall it by), and the ETA the progress strip
showed at 10 / 50 / 90 % against the time the job actually still took. ``--subdivide K``
upsamples the mesh K times (libigl, 4× the faces each) to try large meshes. The machine may
be shared: the load average is printed.
"""

import argparse
import os
import time
from pathlib import Path

import numpy as np
from PyQt6.QtCore import QEventLoop

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FIELDRIG_SHARED_DATA", ROOT.parent / "shared" / "data"))


def run_job(app, start) -> tuple:
    """Start a job with ``start()`` and turn the event loop until it ends: (seconds, frame
    gaps in ms, [(seconds since start, ProgressEvent)])."""
    ticks, events = [], []
    t0 = time.perf_counter()
    on_tick = lambda: ticks.append(time.perf_counter())  # noqa: E731
    on_progress = lambda event: events.append((time.perf_counter() - t0, event))  # noqa: E731
    app.timer.timeout.connect(on_tick)
    app.jobs.progressed.connect(on_progress)
    if not start():
        raise SystemExit(f"the job did not start: {app.window.errors}")
    while app.jobs.busy:  # as the app's event loop does: sleep until the next event
        app.qt.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
    seconds = time.perf_counter() - t0
    app.timer.timeout.disconnect(on_tick)
    app.jobs.progressed.disconnect(on_progress)
    if app.window.errors:
        raise SystemExit(f"the job failed: {app.window.errors}")
    return seconds, 1e3 * np.diff(ticks) if len(ticks) > 1 else np.zeros(1), events


def gaps_line(gaps) -> str:
    return f"frame gaps median {np.median(gaps):.0f} ms, longest {gaps.max():.0f} ms"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mesh", default=str(DATA / "spot.obj"))
    parser.add_argument("--vertices", type=int, default=None, help="automatic cage's vertices (default: 40 / 16)")
    parser.add_argument("--preset", default="balanced", choices=("fast", "balanced", "high"))
    parser.add_argument("--objective", default="dirichlet")
    parser.add_argument("--subdivide", type=int, default=0, help="upsample the mesh this many times")
    args = parser.parse_args()
    if not Path(args.mesh).is_file():
        raise SystemExit(f"{args.mesh}: not found (pass --mesh)")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import igl

    from fieldrig.geometry.cage import Cage
    from fieldrig.geometry.mesh_io import MeshData, load_mesh
    from fieldrig.geometry.mvc import mean_value_coordinates
    from fieldrig.gui.app import FieldrigApp

    mesh = load_mesh(args.mesh)
    V, F = mesh.V, mesh.F
    for _ in range(args.subdivide):
        V, F = igl.upsample(V, F)
    app = FieldrigApp("openGL_mock")
    app.document.set_mesh(MeshData(V, F, None, args.mesh), None)
    app.document.set_mode("cage")
    app.document.set_setting("preset", args.preset)
    app.document.set_setting("objective", args.objective)
    print(
        f"{Path(args.mesh).name}{f' upsampled {args.subdivide}×' if args.subdivide else ''}: {len(V):,} vertices; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    app.compute.start()
    app.compute.run(callable, lambda event: None)  # a no-op job: the compute process is up

    seconds, gaps, _ = run_job(app, lambda: app.controller.make_auto_cage(args.vertices))
    cage = app.document.cage_state
    print(
        f"  Automatic cage ({len(cage.vertices)} vertices) + mean value binding: coordinates in the document "
        f"{seconds:.2f} s after the click; {gaps_line(gaps)}"
    )
    seconds, gaps, _ = run_job(app, app.controller.bind_mean_value)
    print(f"  Use mean value (binding only): {seconds:.2f} s after the click; {gaps_line(gaps)}")
    t0 = time.perf_counter()
    mean_value_coordinates(Cage.from_arrays(cage.vertices, cage.faces), V[:, : cage.vertices.shape[1]])
    print(f"  mean value coordinates on this thread: {time.perf_counter() - t0:.3f} s (the UI would stall that long)")

    moved = app.document.cage_pose.copy()
    moved[0] += 0.1 * np.ptp(V, axis=0)
    app.document.set_cage_pose(moved, "Move")
    seconds, gaps, events = run_job(app, app.controller.compute_coordinates)
    assert app.document.cage_pose is not None and np.array_equal(app.document.cage_pose, moved)
    print(
        f"  Compute coordinates ({args.objective}, {args.preset}): {seconds:.2f} s after the click; {gaps_line(gaps)}"
    )
    print("    at     shown ETA  actually left  stage")
    for target in (0.1, 0.5, 0.9):
        at, event = next(((t, e) for t, e in events if e.fraction >= target and e.eta_s is not None), (None, None))
        if event is not None:
            print(f"    {event.fraction:4.0%}   {event.eta_s:7.2f} s  {seconds - at:10.2f} s   {event.stage}")
    app.shutdown()
    app.compute.stop()


if __name__ == "__main__":
    main()
