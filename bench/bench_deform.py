"""Deformation speed: LBS and DQS on a large mesh, one-shot functions vs the precomputed Skinner.

    python bench/bench_deform.py [--vertices 100000] [--handles 20] [--influences 4] [--repeat 30]

Weights: each vertex gets ``--influences`` non-zero weights (0 = all handles, dense); the
GUI preview budget is 16 ms per frame including the viewer update. Prints the median and
best time per call in milliseconds. numpy only (no GPU path).
"""

import argparse
import time

import numpy as np

from fieldrig.geometry.deform import Skinner, dual_quaternion_skinning, linear_blend_skinning
from fieldrig.geometry.rotations import axis_angle_matrix


def timed(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1e3 * np.median(times), 1e3 * np.min(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vertices", type=int, default=100_000)
    ap.add_argument("--handles", type=int, default=20)
    ap.add_argument("--influences", type=int, default=4, help="non-zero weights per vertex (0 = dense)")
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    n, H = args.vertices, args.handles
    V = rng.normal(size=(n, 3))
    if args.influences:
        W = np.zeros((n, H))
        np.put_along_axis(W, rng.integers(0, H, (n, args.influences)), rng.random((n, args.influences)), axis=1)
    else:
        W = rng.random((n, H))
    W /= W.sum(axis=1, keepdims=True)
    T = np.tile(np.eye(4), (H, 1, 1))
    for h in range(H):
        T[h, :3, :3] = axis_angle_matrix(rng.normal(size=3), rng.uniform(-170, 170))
        T[h, :3, 3] = rng.normal(size=3)
    Skinner(V[:10], W[:10])  # warm-up: imports scipy.sparse outside the timings
    print(f"{n} vertices, {H} handles, {args.influences or H} influences per vertex; ms per call (median / best)")
    for dtype in (np.float64, np.float32):
        Vd, Wd = V.astype(dtype), W.astype(dtype)
        t0 = time.perf_counter()
        skinner = Skinner(Vd, Wd)
        setup = 1e3 * (time.perf_counter() - t0)
        rows = [
            ("linear_blend_skinning", lambda Vd=Vd, Wd=Wd: linear_blend_skinning(Vd, Wd, T)),
            ("dual_quaternion_skinning", lambda Vd=Vd, Wd=Wd: dual_quaternion_skinning(Vd, Wd, T)),
            ("Skinner.lbs", lambda skinner=skinner: skinner.lbs(T)),
            ("Skinner.dqs", lambda skinner=skinner: skinner.dqs(T)),
        ]
        print(f"  {np.dtype(dtype).name}: Skinner setup {setup:.0f} ms")
        for name, fn in rows:
            med, best = timed(fn, args.repeat)
            print(f"    {name:<26} {med:7.1f} / {best:6.1f}")


if __name__ == "__main__":
    main()
