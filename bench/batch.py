"""Batch throughput: the same 8 small assets with ``--jobs 1`` and ``--jobs 2``.

Each run is the real command in a fresh process, ``fieldrig batch DIR -o OUT --jobs N
--force``, timed wall-clock end to end (process start, imports, training, writing). Every
asset runs in its own worker process; with ``--jobs 1`` one at a time with torch using every
core, with ``--jobs N`` N at a time with cores // N threads each. That is the fair
comparison: each configuration uses the whole machine the way a user would run it. The runs
are interleaved and repeated (``--repeat``); the shortest wall time of each configuration
counts, since load from other processes can only add time.

The 8 assets are the demo finger and legs (assets/), each copied 4 times, rotated and
scaled differently so that every input is distinct.

    python bench/batch.py                  # --preset fast, 8 assets, jobs 1 vs 2
    python bench/batch.py --device cuda --jobs 1 4
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def make_assets(folder: Path, count: int) -> None:
    """``count`` distinct assets: rotated/scaled copies of the demo finger and legs."""
    from fieldrig.geometry.export import save_mesh
    from fieldrig.geometry.mesh_io import load_mesh
    from fieldrig.geometry.rig import load_rig, save_rig
    from fieldrig.geometry.rotations import axis_angle_matrix

    rng = np.random.default_rng(0)
    sources = [("finger", ".tgf"), ("legs", ".json")]
    for i in range(count):
        name, rig_suffix = sources[i % 2]
        mesh = load_mesh(ROOT / "assets" / f"{name}.obj")
        rig = load_rig(ROOT / "assets" / f"{name}{rig_suffix}")
        R = axis_angle_matrix(rng.normal(size=3), float(rng.uniform(0, 360))) * rng.uniform(0.5, 2.0)
        save_mesh(folder / f"{name}{i}.obj", mesh.V @ R.T, mesh.F)
        rig.joints = rig.joints @ R.T
        save_rig(rig, folder / f"{name}{i}{rig_suffix}")


def run(folder: Path, out: Path, jobs: int, preset: str, device: str) -> tuple[float, dict]:
    cmd = [
        sys.executable,
        "-m",
        "fieldrig",
        "batch",
        str(folder),
        "-o",
        str(out),
        "--jobs",
        str(jobs),
        "--preset",
        preset,
        "--device",
        device,
        "--formats",
        "npy",
        "--force",
        "-q",
    ]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"batch --jobs {jobs} failed:\n{proc.stdout}\n{proc.stderr}")
    return elapsed, json.loads((out / "summary.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assets", type=int, default=8, help="number of assets")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="job counts to compare (first = baseline)")
    parser.add_argument("--preset", default="fast", help="skinning preset")
    parser.add_argument("--device", default="auto", help="torch device (auto, cpu, cuda)")
    parser.add_argument(
        "--repeat",
        type=int,
        default=2,
        help="runs per job count, interleaved; the best (shortest) counts, as other load only adds time",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "assets"
        folder.mkdir()
        make_assets(folder, args.assets)
        subprocess.run([sys.executable, "-c", "import torch, fieldrig.batch"], check=True)  # warm the disk cache
        print(
            f"fieldrig batch: {args.assets} assets (finger 1,202 / legs 1,602 vertices), preset {args.preset}, "
            f"device {args.device}, {os.cpu_count()} CPU cores, load average before {os.getloadavg()[0]:.1f}"
        )
        times = {jobs: [] for jobs in args.jobs}
        per_asset = {jobs: [] for jobs in args.jobs}
        for _ in range(args.repeat):
            for jobs in args.jobs:
                elapsed, summary = run(folder, Path(tmp) / f"out{jobs}", jobs, args.preset, args.device)
                times[jobs].append(elapsed)
                per_asset[jobs] += [a["time_s"] for a in summary["assets"]]
                print(
                    f"  --jobs {jobs}: {elapsed:6.1f} s wall (per asset "
                    f"{np.mean([a['time_s'] for a in summary['assets']]):.1f} s "
                    f"mean, {summary['counts']['ok']} ok)  [load average {os.getloadavg()[0]:.1f}]"
                )
        baseline = min(times[args.jobs[0]])
        for jobs in args.jobs:
            print(
                f"best --jobs {jobs}: {min(times[jobs]):6.1f} s   ratio to --jobs {args.jobs[0]}: "
                f"{min(times[jobs]) / baseline:.2f}"
            )


if __name__ == "__main__":
    main()
