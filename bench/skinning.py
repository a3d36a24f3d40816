"""Skinning benchmark: fieldrig's mesh-free biharmonic weights beside libigl's BBW.

Prints, in one run, for ../shared/data/arm (intact, 20% of faces removed, triangle soup)
and for spot with generated point handles: wall time, peak memory, the constraints, and
agreement with libigl BBW (the shipped arm-weights.dmat and a live TetGen + igl.bbw run).
Each measurement runs in a fresh child process, so its peak memory is its own. On a
machine with CUDA the fieldrig rows are repeated on the GPU.

    python bench/skinning.py [--data ../shared/data] [--preset balanced] [--device auto|cpu|cuda]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"


# ----------------------------------------------------------------------------- inputs
def load_case(case: str, data: Path):
    """Vertices, faces, rig and (for arm cases) the vertex map back to the intact arm."""
    import fieldrig

    if case == "spot":
        mesh = fieldrig.load_mesh(data / "spot.obj")
        return mesh.V, mesh.F, spot_handles(mesh.V, mesh.F), np.arange(len(mesh.V))
    mesh = fieldrig.load_mesh(data / "arm.obj")
    rig = fieldrig.load_rig(data / "arm.tgf")
    V, F = mesh.V, mesh.F
    if case == "arm":
        return V, F, rig, np.arange(len(V))
    if case == "arm-holes":
        keep = np.random.default_rng(0).random(len(F)) >= 0.2
        return V, F[keep], rig, np.arange(len(V))
    if case == "arm-soup":
        return V[F].reshape(-1, 3), np.arange(3 * len(F)).reshape(-1, 3), rig, F.ravel()
    raise ValueError(case)


def spot_handles(V, F, count: int = 6):
    """Point handles spread through spot's volume: farthest-point samples of interior points."""
    from fieldrig.geometry.rig import Rig
    from fieldrig.geometry.winding import winding_numbers

    rng = np.random.default_rng(0)
    Q = rng.uniform(V.min(0), V.max(0), size=(20000, 3))
    Q = Q[winding_numbers(V, F, Q) > 0.5]
    # start from the point deepest inside (farthest from the surface samples)
    import igl

    depth = igl.point_mesh_squared_distance(Q, V, F)[0]
    Q = Q[depth > 0.25 * depth.max()]
    chosen = [int(np.argmax(depth[depth > 0.25 * depth.max()]))]
    dist = np.linalg.norm(Q - Q[chosen[0]], axis=1)
    for _ in range(count - 1):
        chosen.append(int(np.argmax(dist)))
        dist = np.minimum(dist, np.linalg.norm(Q - Q[chosen[-1]], axis=1))
    return Rig.from_arrays(Q[chosen], bones=None, joint_names=[f"p{i}" for i in range(count)])


# ------------------------------------------------------------------------------ child
def run_job(job: dict) -> dict:
    """One measurement (in a child process): fit or BBW on one case, weights saved to disk."""
    import fieldrig

    V, F, rig, _ = load_case(job["case"], Path(job["data"]))
    out = {"case": job["case"], "method": job["method"], "device": job.get("device", "cpu")}
    start = time.perf_counter()
    try:
        if job["method"] == "fieldrig":
            field = fieldrig.fit_skinning_field(V, F, rig, preset=job["preset"], device=job["device"], seed=0)
            W = field.evaluate(V)
            out["seconds"] = time.perf_counter() - start
            out["lagrange_error"] = lagrange_error(field, rig)
            out["particles"] = field.info["levels"][-1]["particles"]
            if job["device"] == "cuda":
                import torch

                out["gpu_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
        else:
            W, info = fieldrig.bbw_weights(V, F, rig, return_info=True)
            out["seconds"] = time.perf_counter() - start
            out["note"] = (
                f"{info['n_tets']} tets; TetGen {info['tetgen_s']:.1f} s + igl.bbw {info['bbw_s']:.1f} s "
                f"in a child process"
            )
        np.save(job["weights"], W)
        out["ok"] = True
    except Exception as exc:  # a failure is a result here (BBW on broken meshes)
        out["seconds"] = time.perf_counter() - start
        out["ok"] = False
        out["note"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:90]}"
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def lagrange_error(field, rig) -> float:
    """Largest deviation from weight 1 on each handle's own samples (joints excluded)."""
    worst = 0.0
    for h, (a, b) in enumerate(rig.handle_segments()):
        t = np.linspace(0.05, 0.95, 19)[:, None] if np.any(a != b) else np.zeros((1, 1))
        worst = max(worst, float(np.abs(1 - field.evaluate(a + t * (b - a))[:, h]).max()))
    return worst


# ----------------------------------------------------------------------------- parent
def spawn(job: dict) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--job", json.dumps(job)], capture_output=True, text=True)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {
            "case": job["case"],
            "method": job["method"],
            "device": job.get("device", "cpu"),
            "ok": False,
            "note": f"child failed: {tail[:90]}",
            "seconds": float("nan"),
            "peak_mb": float("nan"),
        }
    return json.loads(lines[-1])


def compare(W, R):
    err = np.abs(W - R)
    return float(err.mean()), float(np.percentile(err.max(axis=1), 95))


def bent_arm_distance(W, R, V, rig) -> float:
    """Mean distance between the arm posed by W and by R (bone 2 rotated 60 deg at its joint)."""
    import fieldrig
    from fieldrig.geometry.rotations import axis_angle_matrix

    pose = fieldrig.Pose().set(rig.bone_names[2], rotation=axis_angle_matrix([0, 0, 1], 60))
    T = fieldrig.pose_transforms(rig, pose)
    a = fieldrig.linear_blend_skinning(V, W, T)
    b = fieldrig.linear_blend_skinning(V, R, T)
    return float(np.linalg.norm(a - b, axis=1).mean())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--preset", default="balanced")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--cases", default="arm,arm-holes,arm-soup,spot")
    parser.add_argument("--job", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.job:
        print(json.dumps(run_job(json.loads(args.job))))
        return 0
    if not (args.data / "arm.obj").is_file():
        print(f"reference data not found in {args.data} (pass --data)")
        return 2
    import torch

    import fieldrig

    devices = ["cpu"]
    if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available()):
        devices = ["cpu", "cuda"] if args.device == "auto" else ["cuda"]
    cases = args.cases.split(",")
    tmp = Path(tempfile.mkdtemp(prefix="fieldrig-bench-"))
    results = []
    for case in cases:
        jobs = [{"case": case, "method": "fieldrig", "device": d, "preset": args.preset} for d in devices]
        jobs.append({"case": case, "method": "libigl BBW", "device": "cpu"})
        for job in jobs:
            job.update(
                data=str(args.data), weights=str(tmp / f"{case}-{job['method'].replace(' ', '_')}-{job['device']}.npy")
            )
            print(f"running {case:10s} {job['method']:11s} on {job['device']} ...", flush=True)
            result = spawn(job)
            result["weights"] = job["weights"]
            results.append(result)

    reference = fieldrig.read_dmat(args.data / "arm-weights.dmat")
    arm_V = fieldrig.load_mesh(args.data / "arm.obj").V
    rig = fieldrig.load_rig(args.data / "arm.tgf")
    intact = {
        r["device"]: np.load(r["weights"])
        for r in results
        if r["case"] == "arm" and r["method"] == "fieldrig" and r["ok"]
    }
    live_bbw = {r["case"]: np.load(r["weights"]) for r in results if r["method"] == "libigl BBW" and r["ok"]}

    print()
    print(
        f"fieldrig {fieldrig.__version__}, preset {args.preset}; torch {torch.__version__}; "
        f"CPU threads {torch.get_num_threads()}"
        + (f"; GPU {torch.cuda.get_device_name()}" if "cuda" in devices else "")
    )
    head = (
        f"{'case':10s} {'method':11s} {'device':6s} {'time s':>7s} {'peak MB':>8s} {'|W-dmat|':>9s} {'p95':>6s} "
        f"{'|W-BBW|':>8s} {'vs intact':>9s} {'sum-1':>8s} {'min':>8s} {'lagr.':>8s}  note"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        cols = {"dmat": "", "p95": "", "bbw": "", "intact": "", "sum": "", "min": "", "lag": ""}
        if r["ok"]:
            W = np.load(r["weights"])
            _, _, _, vmap = load_case(r["case"], args.data)
            if r["case"].startswith("arm"):
                mean, p95 = compare(W, reference[vmap])
                cols["dmat"], cols["p95"] = f"{mean:.4f}", f"{p95:.3f}"
            if r["method"] == "fieldrig":
                if r["case"] in live_bbw:
                    cols["bbw"] = f"{compare(W, live_bbw[r['case']])[0]:.4f}"
                if r["case"] in ("arm-holes", "arm-soup") and r["device"] in intact:
                    used = (
                        np.unique(load_case(r["case"], args.data)[1]) if r["case"] == "arm-holes" else np.arange(len(W))
                    )
                    cols["intact"] = f"{np.abs(W[used] - intact[r['device']][vmap][used]).mean():.4f}"
                cols["sum"] = f"{np.abs(W.sum(1) - 1).max():.1e}"
                cols["min"] = f"{W.min():.1e}"
                cols["lag"] = f"{r['lagrange_error']:.1e}"
        note = r.get("note", "")
        if "particles" in r:
            note = f"{r['particles']} particles" + (
                f", GPU peak {r['gpu_peak_mb']:.0f} MB" if "gpu_peak_mb" in r else ""
            )
        print(
            f"{r['case']:10s} {r['method']:11s} {r['device']:6s} {r['seconds']:7.2f} {r['peak_mb']:8.0f} "
            f"{cols['dmat']:>9s} {cols['p95']:>6s} {cols['bbw']:>8s} {cols['intact']:>9s} {cols['sum']:>8s} "
            f"{cols['min']:>8s} {cols['lag']:>8s}  {note}"
        )

    print()
    bbw_arm = next((r for r in results if r["case"] == "arm" and r["method"] == "libigl BBW" and r["ok"]), None)
    diag = float(np.linalg.norm(arm_V.max(0) - arm_V.min(0)))
    for device, W in intact.items():
        ours = next(r for r in results if r["case"] == "arm" and r["method"] == "fieldrig" and r["device"] == device)
        mean, p95 = compare(W, reference)
        bent = bent_arm_distance(W, reference, arm_V, rig) / diag
        print(f"[{device}] arm vs arm-weights.dmat: mean {mean:.4f} (target <= 0.015), p95 {p95:.3f} (<= 0.10)")
        print(
            f"[{device}] LBS, bone 2 bent 60 deg: mean distance to the "
            f"BBW-posed arm {100 * bent:.2f}% of the diagonal (<= 1%)"
        )
        if bbw_arm:
            print(
                f"[{device}] time {ours['seconds']:.2f} s (target <= 15 s on the 2-core CPU); libigl TetGen+BBW "
                f"{bbw_arm['seconds']:.2f} s; ratio {ours['seconds'] / bbw_arm['seconds']:.2f}x"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
