"""libigl BBW reference on arm.obj: timings and agreement with libigl's shipped weights.

    python bench/bench_bbw.py [--data ../shared/data] [--max-iter 8] [--flags pq1.414Y] [--samples 10]

Prints TetGen and BBW seconds (measured inside the child process), the tet count, the
wall time including the child's start, and mean |W - arm-weights.dmat| with the 95th
percentile of each vertex's largest difference. CPU only (TetGen and igl.bbw).
"""

import argparse
import time
from pathlib import Path

import numpy as np

from fieldrig.geometry.bbw import bbw_weights
from fieldrig.geometry.export import read_dmat
from fieldrig.geometry.mesh_io import load_mesh

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--max-iter", type=int, default=8)
    ap.add_argument("--flags", default="pq1.414Y")
    ap.add_argument("--samples", type=int, default=10)
    args = ap.parse_args()
    mesh = load_mesh(args.data / "arm.obj")
    reference = read_dmat(args.data / "arm-weights.dmat")
    t = time.perf_counter()
    W, info = bbw_weights(
        mesh.V,
        mesh.F,
        args.data / "arm.tgf",
        tetgen_flags=args.flags,
        samples_per_bone=args.samples,
        max_iter=args.max_iter,
        return_info=True,
    )
    wall = time.perf_counter() - t
    diff = np.abs(W - reference)
    print(f"arm.obj: {len(mesh.V)} vertices, {W.shape[1]} bones; flags {args.flags!r}, max_iter {args.max_iter}")
    print(
        f"  TetGen {info['tetgen_s']:.2f} s ({info['n_tets']} tets, {info['n_tet_vertices']} tet vertices), "
        f"igl.bbw {info['bbw_s']:.2f} s, wall {wall:.2f} s"
    )
    print(
        f"  vs arm-weights.dmat: mean |dW| {diff.mean():.4f}, p95 "
        f"of vertex max {np.percentile(diff.max(axis=1), 95):.3f}, "
        f"max {diff.max():.3f}"
    )


if __name__ == "__main__":
    main()
