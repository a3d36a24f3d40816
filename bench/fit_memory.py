"""Peak memory of ``fieldrig weights`` beside the prediction that refuses jobs too big to fit.

Each case is the real command in a fresh process on an icosphere (trimesh) with a chain of
bones along its axis; its peak resident memory is the child's ``ru_maxrss``. The
prediction is :func:`fieldrig.neural.skinning_training.predicted_peak_bytes` with the
particle count the fit reached (``--save-field`` records it). A prediction below the
measured peak would let a job crash instead of refusing it: the script says so.

    python bench/fit_memory.py                       # the default cases, fast preset
    python bench/fit_memory.py --cases 6:64:fast 7:64:balanced
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _chain(path: Path, bones: int) -> None:
    xs = np.linspace(-0.8, 0.8, bones + 1)
    lines = [f"{i + 1} {x} 0 0" for i, x in enumerate(xs)] + ["#"] + [f"{i + 1} {i + 2}" for i in range(bones)]
    path.write_text("\n".join(lines + ["#"]) + "\n")


def _run(folder: Path, subdivisions: int, bones: int, preset: str):
    import trimesh

    from fieldrig.neural.skinning_field import SkinningField
    from fieldrig.neural.skinning_training import predicted_peak_bytes

    mesh, rig = folder / f"ico{subdivisions}.obj", folder / f"chain{bones}.tgf"
    if not mesh.exists():
        trimesh.creation.icosphere(subdivisions=subdivisions).export(mesh)
    _chain(rig, bones)
    field = folder / "fit.field"
    argv = [sys.executable, "-m", "fieldrig", "weights", str(mesh), "--rig", str(rig), "--preset", preset, "-q"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(argv + ["-o", str(folder / "w.npy"), "--save-field", str(field)], check=True)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    if peak <= before * 1024:
        peak = float("nan")  # an earlier child peaked higher: ru_maxrss cannot tell this one's
    loaded = SkinningField.load(field)
    n = int(np.load(folder / "w.npy", mmap_mode="r").shape[0])
    predicted = predicted_peak_bytes(n, bones, int(loaded.info["particles"]))
    return n, int(loaded.info["particles"]), peak, predicted, seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--cases",
        nargs="+",
        default=["5:4:fast", "5:64:fast", "6:4:fast", "6:64:fast", "7:4:fast", "7:64:fast"],
        help="SUBDIVISIONS:BONES:PRESET, smallest peak first (ru_maxrss only grows)",
    )
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'vertices':>9} {'bones':>5} {'preset':>8} {'particles':>9} {'peak MB':>8} {'predicted':>9}  ratio  time")
    low = False
    with tempfile.TemporaryDirectory() as tmp:
        for case in args.cases:
            sub, bones, preset = case.split(":")
            n, particles, peak, predicted, seconds = _run(Path(tmp), int(sub), int(bones), preset)
            ratio = predicted / peak
            low |= ratio < 1
            print(
                f"{n:>9,} {bones:>5} {preset:>8} {particles:>9,} {peak / 2**20:>8.0f} {predicted / 2**20:>9.0f}"
                f"  {ratio:5.2f}  {seconds:.0f} s"
            )
    if low:
        print("a prediction is below its measured peak: raise the constants in neural/skinning_training.py")
    return 1 if low else 0


if __name__ == "__main__":
    sys.exit(main())
