"""Painting as a constraint of the solve: a brush stroke, then ``refit``, beside a full fit.

For the arm (../shared/data/arm.obj + arm.tgf) and a rigged character (Testwuson, 3,205
vertices, 37 joints; ``--character PATH``), in one run:

1. the full fit (``fieldrig.fit_skinning_field``, ``--preset``), timed;
2. a brush stroke (``fieldrig.geometry.weight_edit.BrushStroke``, add, radius 5% of the
   bounding-box diagonal, strength 0.5) from the vertex nearest the centroid, 15% of the
   diagonal toward the farthest vertex, painting the joint with the second largest weight
   where it starts;
3. ``field.refit(painted vertices, painted rows)`` and the new weights of every vertex
   (``evaluate``): the time from the click on Re-solve to the new weights.

Printed: the painted rows' largest error after evaluation, the simplex violation (most
negative weight, largest |row sum - 1|), the far-field change (half the L1 distance between
old and new rows, largest and mean, over vertices farther than 10% and 20% of the diagonal
from every painted vertex), the refit's time beside the full fit's (ratio), how the refit
solved (Woodbury on the fit's dense factor, or warm-started CG), the solver state's memory,
and the load average. Targets (issue 11): rows within 1e-6, on the simplex, refit <= 2 s
and <= 0.3x the full fit.

    python bench/paint.py [--data ../shared/data] [--character PATH] [--preset balanced] [--threads 1]

``--threads`` sets torch's and the BLAS threads of both the fit and the refit (default 1,
as bench/skinning.py: the development machine has 2 busy cores).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"
DEFAULT_CHARACTER = Path("/work/ext/chars/Testwuson.glb")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with arm.obj and arm.tgf")
    parser.add_argument("--character", type=Path, default=DEFAULT_CHARACTER, help="a rigged glTF character")
    parser.add_argument("--preset", default="balanced")
    parser.add_argument("--threads", type=int, default=1)
    return parser.parse_args()


def subjects(args):
    """(name, V, F, rig) of the arm and the character (those whose files exist)."""
    import fieldrig

    found = []
    if (args.data / "arm.obj").is_file():
        mesh = fieldrig.load_mesh(args.data / "arm.obj")
        found.append(("arm", mesh.V, mesh.F, fieldrig.load_rig(args.data / "arm.tgf")))
    else:
        print(f"arm: not found in {args.data} (--data)")
    if args.character.is_file():
        asset = fieldrig.load_skinned_assets(args.character)[0]
        found.append((args.character.stem, asset.V, asset.F, asset.rig()))
    else:
        print(f"character: {args.character} not found (--character)")
    return found


def stroke(V: np.ndarray, W: np.ndarray):
    """The brush stroke of the docstring: painted vertices (k,) and their rows (k, H)."""
    from fieldrig.geometry.weight_edit import BrushStroke

    diagonal = float(np.linalg.norm(V.max(axis=0) - V.min(axis=0)))
    start = int(np.argmin(np.linalg.norm(V - V.mean(axis=0), axis=1)))
    end = V[int(np.argmax(np.linalg.norm(V - V[start], axis=1)))]
    joint = int(np.argsort(-W[start])[1])
    radius = 0.05 * diagonal
    brush = BrushStroke(W, V, joint, "add", 1.0, radius=radius, strength=0.5)
    direction = (end - V[start]) / np.linalg.norm(end - V[start])
    for t in np.arange(0.0, 0.15 * diagonal, radius / 4):
        brush.dab(V[int(np.argmin(np.linalg.norm(V - (V[start] + t * direction), axis=1)))])
    return brush.painted, brush.weights[brush.painted], joint


def far_change(V, painted, W, W2, fraction):
    from scipy.spatial import cKDTree

    diagonal = float(np.linalg.norm(V.max(axis=0) - V.min(axis=0)))
    far = cKDTree(V[painted]).query(V)[0] > fraction * diagonal
    change = np.abs(W2[far] - W[far]).sum(axis=1) / 2
    return int(far.sum()), float(change.max(initial=0.0)), float(change.mean()) if far.any() else 0.0


def run(name, V, F, rig, preset):
    import fieldrig

    start = time.perf_counter()
    field = fieldrig.fit_skinning_field(V, F, rig, preset=preset)
    W = field.evaluate(V)
    fit_s = time.perf_counter() - start
    painted, rows, joint = stroke(V, W)
    start = time.perf_counter()
    new = field.refit(painted, rows)
    W2 = new.evaluate(V)
    refit_s = time.perf_counter() - start
    info = new.info["refit"]
    state = field.field.solver_state
    last = field.info["levels"][-1]
    print(
        f"\n{name}: {len(V):,} vertices, {rig.n_handles} handles, {last['particles']:,} particles "
        f"(last level solved by {last['solver']['method']})"
    )
    print(f"  stroke: {len(painted)} vertices painted with {rig.handle_names[joint]!r}")
    print(f"  painted rows: largest error {np.abs(W2[painted] - rows).max():.1e} (target 1e-6)")
    print(
        f"  simplex: most negative weight {min(W2.min(), 0.0):.1e}, largest |sum - 1| {np.abs(W2.sum(1) - 1).max():.1e}"
    )
    for fraction in (0.1, 0.2):
        count, largest, mean = far_change(V, painted, W, W2, fraction)
        print(
            f"  far field (> {fraction:.0%} of the diagonal from the stroke, {count:,} vertices): "
            f"largest change {largest:.1e}, mean {mean:.1e}"
        )
    how = info["method"] + (
        f", {info['iterations']} iterations on {info['columns']} columns" if "iterations" in info else ""
    )
    print(f"  refit: {how}, rank {info['rank']}; solver state kept {state.nbytes / 1e6:.0f} MB")
    print(
        f"  time: click to new weights {refit_s:.2f} s (refit {info['seconds']:.2f} s + evaluation), "
        f"full fit {fit_s:.2f} s, ratio {refit_s / fit_s:.2f} (targets <= 2 s, <= 0.3)"
    )


def main():
    args = parse_args()
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    print(f"preset {args.preset}, {args.threads} thread(s), load average {os.getloadavg()[0]:.2f} at the start")
    with threadpool_limits(args.threads):
        for name, V, F, rig in subjects(args):
            run(name, V, F, rig, args.preset)
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
