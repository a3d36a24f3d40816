"""Neural barycentric coordinates against FEM harmonic coordinates and mean value coordinates.

Cases (one run, one table):

* ``L``      the L-shaped polygon (6 vertices), Dirichlet;
* ``star``   a 12-vertex star polygon, Dirichlet (timed: ≤ 60 s on the CPU) and total
             variation (locality: active coordinates ≥ 30 % below harmonic);
* ``woody``  woody (../shared/data/woody.obj, flat) in an automatic 2D cage, Dirichlet;
* ``spot``   spot (../shared/data/spot.obj) in its automatic 3D cage
             (``fieldrig.auto_cage(V, F, vertices=40)``, non-convex), Dirichlet (timed: ≤ 10 s
             on the CPU, default preset), then what an interactive cage mode needs at spot's
             2,930 vertices: MVC coordinates (closed form, shown at once), the trained field's
             evaluation, cage deformation (≤ 5 ms per pose).

For each: training time, validity residuals at 10k random interior points (|Σφ−1|,
|Σφ_i v_i − x| / diameter, min φ; ≤ 1e-12) for the trained and for a freshly initialised
field, mean / max |φ − φ_harmonic| against FEM harmonic coordinates (and how much the FEM
itself moves when its mesh is 4× coarser), mean |φ − φ_MVC|, the mean number of
coordinates above 1e-3 per point, and how honest the progress ETA was: the range of
(elapsed + ETA) over the reports after 10 % of the work, as a fraction of the actual time.
With CUDA available (``--device auto`` or ``cuda``) the timed cases are trained on the GPU
too. ``--sizes`` adds a scan of spot's automatic cage at other vertex counts (training
time, stage by stage, and the ETA range).

    python bench/coords.py                   # everything, CPU (+ GPU rows when CUDA is there)
    python bench/coords.py --threads 2       # CPU timings with two torch threads
    python bench/coords.py --cases L star    # a subset
    python bench/coords.py --device cuda
    python bench/coords.py --cases spot --sizes 20 80 320 1202
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

import fieldrig
from fieldrig.geometry.auto_cage import auto_cage
from fieldrig.geometry.cage import Cage
from fieldrig.geometry.harmonic_coords import DEFAULT_ELEMENTS, harmonic_solution
from fieldrig.geometry.mesh_io import load_mesh
from fieldrig.geometry.mvc import mean_value_coordinates
from fieldrig.neural.barycentric_field import BarycentricField

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FIELDRIG_SHARED_DATA", ROOT.parent / "shared" / "data"))
L_SHAPE = np.array([[0, 0], [2, 0], [2, 1], [1, 1], [1, 2], [0, 2]], float)
SPOT_CAGE_VERTICES = 40
VALID = 1e-12
TARGETS = {
    "validity": f"|Σφ−1|, |Σφv−x|/diam, −min φ ≤ {VALID:g}",
    "harmonic": "mean |Δφ| ≤ 0.01",
    "tv": "active ≥ 30% below harmonic",
    "time": "star ≤ 60 s, spot ≤ 10 s (CPU)",
    "deform": "≤ 5 ms per pose",
}


def star(n: int = 12, inner: float = 0.45) -> np.ndarray:
    t = np.arange(n)
    r = np.where(t % 2 == 0, 1.0, inner)
    return np.stack([r * np.cos(2 * np.pi * t / n), r * np.sin(2 * np.pi * t / n)], axis=1)


def validity(Phi: np.ndarray, P: np.ndarray, cage: Cage) -> tuple:
    return (
        float(np.abs(Phi.sum(axis=1) - 1).max()),
        float(np.linalg.norm(Phi @ cage.V - P, axis=1).max() / cage.diameter),
        float(Phi.min()),
    )


def valid(res: tuple) -> bool:
    return res[0] <= VALID and res[1] <= VALID and res[2] >= -VALID


def reflex_edges(cage: Cage) -> int:
    """Cage edges (3D) or vertices (2D) where the cage is non-convex."""
    if cage.dim == 2:
        loop = cage.V[cage.loop]
        a, b = np.roll(loop, 1, axis=0) - loop, np.roll(loop, -1, axis=0) - loop
        return int(np.sum(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0] > 1e-12))
    normals, count, seen = cage.cell_normals(), 0, {}
    for f, tri in enumerate(cage.F):
        for i in range(3):
            seen.setdefault(tuple(sorted((tri[i], tri[(i + 1) % 3]))), []).append(f)
    for (a, b), (f0, f1) in seen.items():
        opposite = [v for v in cage.F[f1] if v not in (a, b)][0]
        count += int((cage.V[opposite] - cage.V[a]) @ normals[f0] > 1e-9 * cage.diameter)
    return count


def make_cases(names):
    cases = {}
    if "L" in names:
        cases["L"] = (Cage.from_arrays(L_SHAPE, source="L"), None)
    if "star" in names:
        cases["star"] = (Cage.from_arrays(star(), source="star"), None)
    if "woody" in names or "spot" in names:
        if not (DATA / "woody.obj").is_file():
            print(f"(woody/spot skipped: no reference data at {DATA})")
            return cases
    if "woody" in names:
        woody = load_mesh(DATA / "woody.obj")
        cases["woody"] = (auto_cage(woody.V, woody.F, vertices=20), woody.V[:, :2])
    if "spot" in names:
        spot = load_mesh(DATA / "spot.obj")
        cases["spot"] = (auto_cage(spot.V, spot.F, vertices=SPOT_CAGE_VERTICES), spot.V)
    return cases


def train(cage, objective, device, seed):
    """Train with the default preset: (field, seconds, ETA range, stage start times)."""
    events = []
    start = time.perf_counter()

    def progress(event):
        events.append((time.perf_counter() - start, event.fraction, event.eta_s, event.stage))

    field = fieldrig.fit_barycentric_field(cage, objective=objective, seed=seed, device=device, progress=progress)
    if field.device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    totals = [(t + eta) / seconds for t, f, eta, _ in events if eta is not None and f >= 0.1]
    stages = {}
    for t, _, _, stage in events:
        stages.setdefault(stage.split(" step")[0].split(" (")[0], t)
    return field, seconds, (min(totals), max(totals)) if totals else None, stages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--cases", nargs="+", default=["L", "star", "woody", "spot"], choices=["L", "star", "woody", "spot"]
    )
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--points", type=int, default=10_000, help="random interior test points per case")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads outside the fits (the fits use their preset's cpu_threads, 1 by default: "
        "training is many small tensor operations, and on the busy 2-core development machine two threads "
        "ran them 3-15× slower than one)",
    )
    parser.add_argument(
        "--sizes", nargs="*", type=int, default=[], metavar="N", help="also scan spot's automatic cage at N vertices"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda: no CUDA GPU available to torch")
    devices = (
        ["cuda"]
        if args.device == "cuda"
        else ["cpu"] + (["cuda"] if torch.cuda.is_available() and args.device == "auto" else [])
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, {os.cpu_count()} cores, "
        f"load average {load:.1f}; CUDA: {torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none'}"
    )
    print("targets: " + "; ".join(f"{k}: {v}" for k, v in TARGETS.items()) + "\n")

    rows, checks = [], []
    for name, (cage, embedded) in make_cases(args.cases).items():
        rng = np.random.default_rng(args.seed)
        P = cage.sample_interior(args.points, rng)
        start = time.perf_counter()
        fem = harmonic_solution(cage)
        fem_time = time.perf_counter() - start
        H = fem.evaluate(P)
        fem_shift = np.abs(harmonic_solution(cage, DEFAULT_ELEMENTS[cage.dim] // 4).evaluate(P) - H).mean()
        M = mean_value_coordinates(cage, P)
        kind = (
            f"{cage.dim}D, {cage.n_vertices} vertices, {reflex_edges(cage)} "
            f"reflex {'edges' if cage.dim == 3 else 'vertices'}"
        )
        print(
            f"[{name}] cage: {kind}; FEM {len(fem.elements):,} elements in {fem_time:.1f} s (4× coarser FEM moves "
            f"{fem_shift:.4f}); harmonic active {(H > 1e-3).sum(axis=1).mean():.2f}; MVC min {M.min():.3f}, "
            f"MVC vs harmonic {np.abs(M - H).mean():.4f}"
        )
        fresh = BarycentricField.create(cage, seed=args.seed, device="cpu")
        Phi = fresh.evaluate(P)
        res = validity(Phi, P, cage)
        rows.append((name, "fresh init", "cpu", None, res, np.abs(Phi - H).mean(), np.abs(Phi - H).max(), None, None))
        checks.append((f"{name} fresh validity", valid(res)))
        objectives = ["dirichlet", "tv"] if name == "star" else ["dirichlet"]
        timed = name in ("star", "spot")
        for objective in objectives:
            for device in devices if (timed and objective == "dirichlet") else devices[:1]:
                field, seconds, eta, _ = train(cage, objective, device, args.seed)
                Phi = field.evaluate(P)
                res = validity(Phi, P, cage)
                err = np.abs(Phi - H)
                active = (Phi > 1e-3).sum(axis=1).mean()
                rows.append(
                    (name, objective, device, seconds, res, err.mean(), err.max(), np.abs(Phi - M).mean(), active, eta)
                )
                checks.append((f"{name} {objective} {device} validity", valid(res)))
                if objective == "dirichlet":
                    checks.append(
                        (f"{name} dirichlet {device}: mean |Δ harmonic| {err.mean():.4f} ≤ 0.01", err.mean() <= 0.01)
                    )
                else:
                    h_active = (H > 1e-3).sum(axis=1).mean()
                    checks.append(
                        (
                            f"{name} tv: active {active:.2f} vs harmonic {h_active:.2f} (≥30% fewer)",
                            active <= 0.7 * h_active,
                        )
                    )
                if timed and objective == "dirichlet" and device == "cpu":
                    limit = 60.0 if cage.dim == 2 else 10.0
                    checks.append((f"{name} dirichlet CPU training {seconds:.1f} s ≤ {limit:.0f} s", seconds <= limit))
                if name == "spot" and objective == "dirichlet" and device == devices[0]:
                    checks += interactive_timings(field, cage, embedded)
                if name == "woody" and embedded is not None:
                    inside = validity(field.evaluate(embedded), embedded, cage)
                    checks.append((f"woody: coordinates at its {len(embedded)} vertices valid", valid(inside)))

    print()
    print(
        f"{'case':6} {'objective':10} {'device':6} {'train s':>8} {'|Σφ−1|':>9} {'|Σφv−x|/D':>10} {'min φ':>10} "
        f"{'|Δ harm|':>9} {'max Δ':>7} {'|Δ MVC|':>8} {'active':>7} {'ETA/actual':>11}"
    )
    for name, objective, device, seconds, res, mean_h, max_h, mean_m, active, *eta in rows:
        t = f"{seconds:8.1f}" if seconds is not None else f"{'':>8}"
        tail = f"{mean_h:9.4f} {max_h:7.3f}"
        if mean_m is not None:
            tail += f" {mean_m:8.4f} {active:7.2f}"
            if eta and eta[0] is not None:
                tail += f"  {eta[0][0]:.2f}–{eta[0][1]:.2f}"
        print(f"{name:6} {objective:10} {device:6} {t} {res[0]:9.1e} {res[1]:10.1e} {res[2]:10.1e} {tail}")
    if args.sizes:
        size_scan(args.sizes, devices[0], args.seed)
    print()
    for text, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    return 0 if all(ok for _, ok in checks) else 1


def interactive_timings(field: BarycentricField, cage: Cage, X: np.ndarray) -> list:
    """MVC and the trained field at the mesh's vertices, then X' = Φ V' for a new pose."""
    start = time.perf_counter()
    M = mean_value_coordinates(cage, X)
    mvc_s = time.perf_counter() - start
    start = time.perf_counter()
    Phi = field.evaluate(X)
    eval_s = time.perf_counter() - start
    moved = cage.V.copy()
    head = moved[:, 0] > np.median(moved[:, 0])  # turn the front half of the cage
    c, s = np.cos(0.4), np.sin(0.4)
    pivot = moved[head].mean(axis=0)
    moved[head] = (moved[head] - pivot) @ np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]).T + pivot
    times = []
    for _ in range(200):
        start = time.perf_counter()
        Xp = Phi @ moved
        times.append(time.perf_counter() - start)
    ms = 1000 * float(np.median(times))
    rigid = Phi @ (cage.V + [0.1, -0.2, 0.3])
    exact = float(np.abs(rigid - (X + [0.1, -0.2, 0.3])).max())
    m_res = validity(M, X, cage)
    print(
        f"\nspot at its {len(X):,} vertices: MVC {1000 * mvc_s:.0f} ms (|Σφ−1| {m_res[0]:.1e}, |Σφv−x|/D "
        f"{m_res[1]:.1e}, min {m_res[2]:.4f}); trained field {1000 * eval_s:.0f} ms; MVC vs trained "
        f"{np.abs(M - Phi).mean():.4f}"
    )
    return [
        (
            f"spot deformation: X' = Φ V' for {len(X):,} vertices in {ms:.3f} ms (median of 200; translation "
            f"reproduced to {exact:.1e}); moved {np.abs(Xp - X).max():.3f}",
            ms <= 5.0,
        )
    ]


def size_scan(sizes, device, seed) -> None:
    """Spot's automatic cage at other vertex counts: time per stage and ETA honesty."""
    if not (DATA / "spot.obj").is_file():
        print(f"(size scan skipped: no reference data at {DATA})")
        return
    spot = load_mesh(DATA / "spot.obj")
    print(f"\nspot's automatic cage at other sizes ({device}, default preset): seconds from the start of each stage")
    for n in sizes:
        try:
            cage = auto_cage(spot.V, spot.F, vertices=n)
        except fieldrig.InputError as exc:
            print(f"  {n:5d} vertices: {exc}")
            continue
        field, seconds, eta, stages = train(cage, "dirichlet", device, seed)
        P = cage.sample_interior(2000, np.random.default_rng(seed))
        res = validity(field.evaluate(P), P, cage)
        marks = ", ".join(f"{k} {t:.1f}" for k, t in stages.items())
        span = f"{eta[0]:.2f}–{eta[1]:.2f}" if eta else "-"
        print(
            f"  {cage.n_vertices:5d} vertices: {seconds:6.1f} s, {field.n_candidates} candidates, ETA/actual "
            f"{span}, max residual {max(res[0], res[1], -res[2]):.0e} ({marks})"
        )


if __name__ == "__main__":
    sys.exit(main())
