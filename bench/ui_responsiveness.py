"""How long the app's UI thread stalls while weights train: the gaps between frame ticks.

    python bench/ui_responsiveness.py [--mesh assets/legs.obj --rig assets/legs.json] [--preset fast] [--thread]

Runs the real app classes with polyscope's mock backend (drawing costs nothing, so the gaps
are the app's own work and what the training takes from it), starts "Compute weights" as
the button does, and records the time between consecutive ticks of the 16 ms frame timer
until the weights arrive. ``--thread`` runs the training in a thread of the app instead of
the compute process, for comparison (the library calls that hold Python's GIL then stall
the UI). The machine may be shared: the load average is printed.
"""

import argparse
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mesh", default=str(ROOT / "assets" / "legs.obj"))
    parser.add_argument("--rig", default=str(ROOT / "assets" / "legs.json"))
    parser.add_argument("--preset", default="fast", choices=("fast", "balanced", "high"))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--thread", action="store_true", help="train in a thread of the app (for comparison)")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from fieldrig.gui.app import FieldrigApp

    app = FieldrigApp("openGL_mock")
    if args.thread:
        start = app.jobs.start
        app.jobs.start = lambda title, work, done, cancellable=False, in_process=True: start(
            title, work, done, cancellable, in_process=False
        )
    app.open_files(args.mesh, args.rig)
    while app.document.rig is None or app.jobs.busy:
        app.qt.processEvents()
    if app.window.errors:
        raise SystemExit(f"opening failed: {app.window.errors}")
    app.document.set_setting("preset", args.preset)
    app.document.set_setting("device", args.device)
    ticks = []
    app.timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    start_s = time.perf_counter()
    app.controller.compute_weights()
    while app.jobs.busy:
        app.qt.processEvents()
    seconds = time.perf_counter() - start_s
    if app.document.weights is None:
        raise SystemExit(f"training failed: {app.window.errors}")
    gaps = 1e3 * np.diff(ticks)
    where = "a thread of the app" if args.thread else "the compute process"
    print(
        f"{Path(args.mesh).name}, preset {args.preset}, training in {where}: {seconds:.1f} s; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(
        f"  UI frame ticks: {len(gaps)} ({len(gaps) / seconds:.0f} per s), gap median {np.median(gaps):.0f} ms, "
        f"p99 {np.percentile(gaps, 99):.0f} ms, longest {gaps.max():.0f} ms, {int((gaps > 100).sum())} over 100 ms"
    )
    app.shutdown()
    app.compute.stop()


if __name__ == "__main__":
    main()
