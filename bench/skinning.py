"""Skinning benchmark: fieldrig's mesh-free biharmonic weights beside libigl's BBW.

Prints, in one run:

* ../shared/data/arm (intact, 20% of faces removed, triangle soup) and spot with generated
  point handles: wall time, peak memory, the constraints, and agreement with libigl BBW
  (the shipped arm-weights.dmat and a live TetGen + igl.bbw run);
* ``fingers``: a body capsule (height 1.3, radius 0.15) with five fingers of radius 0.01
  side by side (gaps 0.012), three bones each, as one soup: own-finger weight, the worst
  bleed from another finger's bones, the distal bone's weight at the tips;
* ``scales``: the arm scaled by 0.01 and 100 and moved by 100 units, against scale 1;
* ``bunny``: a ~35k-vertex closed mesh (CGAL's bunny00.off, 37,706 vertices, from Debian's
  libcgal-demo data; ``--bunny PATH``) with six point handles;
* ``character``: rigged glTF characters (``--character PATH[,PATH...]``; Testwuson and
  BCN_Epileptic by default), one handle per skin joint, at the preset and at ``fast``:
  the fit's time beside Blender's automatic weights (``parent_set(ARMATURE_AUTO)`` in
  headless Blender, bench/blender_auto_weights.py) and the quality figures of
  bench/characters.py (deformation under the file's own animation against its own skin,
  % of the diagonal) for both (see :func:`character_result`);
* ``100k``: one level of about 100,000 particles on the bunny (time and memory);

with the particle count of every level and the time of every stage. Each measurement runs
in a fresh child process, so its peak memory is its own. On a machine with CUDA the
fieldrig rows are repeated on the GPU (and the bunny's weights compared across devices).

    python bench/skinning.py [--data ../shared/data] [--preset balanced] [--device auto|cpu|cuda]
                             [--cases arm,arm-holes,arm-soup,spot,fingers,scales,bunny,character,100k]
                             [--threads 1]

``--threads`` sets torch's and the BLAS CPU threads of the child processes (default 1, as
libigl's BBW runs); a CPU fit itself always runs on one thread (``fit_field``: on the
busy 2-core development machine two threads made a character's fit 4x slower).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"
DEFAULT_BUNNY = Path("/work/ext/cgal/data/meshes/bunny00.off")
DEFAULT_CHARACTERS = "/work/ext/chars/Testwuson.glb,/work/ext/chars/BCN_Epileptic.glb"
SCALES = {"x0.01": (0.01, 0.0), "x100": (100.0, 0.0), "+100": (1.0, 100.0)}
STAGES = ["sampling", "particles", "pairs", "basis", "normal equations", "prior", "solve"]


# ----------------------------------------------------------------------------- inputs
def fingers_case():
    """The thin-parts case: vertices, faces, rig, and which part (0 body, 1..5 fingers) each vertex is on."""
    import trimesh

    from fieldrig.geometry.rig import Rig

    parts = [trimesh.creation.capsule(height=1.3, radius=0.15, count=[32, 32])]
    joints, bones = [[0, 0, -0.65], [0, 0, 0], [0, 0, 0.65]], [[0, 1], [1, 2]]
    radius, gap, base, length = 0.01, 0.012, 0.74, 0.18  # fingers start inside the body's top
    for i in range(5):
        x = (i - 2) * (2 * radius + gap)
        finger = trimesh.creation.capsule(height=length, radius=radius, count=[12, 12])
        finger.apply_translation([x, 0, base + length / 2])
        parts.append(finger)
        first = len(joints)
        joints += [[x, 0, z] for z in np.linspace(base, base + length, 4)]
        bones += [[first, first + 1], [first + 1, first + 2], [first + 2, first + 3]]
    sizes = [len(p.vertices) for p in parts]
    offsets = np.cumsum([0] + sizes)
    V = np.concatenate([p.vertices for p in parts])
    F = np.concatenate([p.faces + o for p, o in zip(parts, offsets)])
    return V, F, Rig.from_arrays(np.array(joints, float), bones=bones), np.repeat(np.arange(len(parts)), sizes)


def fingers_figures(V, W, part) -> dict:
    """Own-finger weight (mean, min), worst bleed and distal weight at the tips, on finger
    vertices outside the body capsule."""
    own, bleed, tips = [], [], []
    for i in range(5):
        columns = 2 + 3 * i + np.arange(3)
        others = np.setdiff1d(np.arange(2, 17), columns)
        x, w = V[part == i + 1], W[part == i + 1]
        outside = np.linalg.norm(x - np.clip(x * [0, 0, 1], [0, 0, -0.65], [0, 0, 0.65]), axis=1) > 0.15
        x, w = x[outside], w[outside]
        own.append(w[:, columns].sum(1))
        bleed.append(w[:, others].sum(1))
        tips.append(w[x[:, 2] > 0.92, columns[-1]])
    own, bleed, tips = map(np.concatenate, (own, bleed, tips))
    return {
        "own_mean": float(own.mean()),
        "own_min": float(own.min()),
        "bleed_max": float(bleed.max()),
        "tip_min": float(tips.min()),
        "tip_mean": float(tips.mean()),
    }


def point_handles(V, F, count: int = 6):
    """Point handles spread through a closed mesh's volume: farthest-point samples of deep interior points."""
    import igl

    from fieldrig.geometry.rig import Rig
    from fieldrig.geometry.winding import winding_numbers

    rng = np.random.default_rng(0)
    Q = rng.uniform(V.min(0), V.max(0), size=(20000, 3))
    Q = Q[winding_numbers(V, F, Q) > 0.5]
    depth = igl.point_mesh_squared_distance(Q, V, F)[0]
    deep = depth > 0.25 * depth.max()
    Q = Q[deep]
    chosen = [int(np.argmax(depth[deep]))]
    dist = np.linalg.norm(Q - Q[chosen[0]], axis=1)
    for _ in range(count - 1):
        chosen.append(int(np.argmax(dist)))
        dist = np.minimum(dist, np.linalg.norm(Q - Q[chosen[-1]], axis=1))
    return Rig.from_arrays(Q[chosen], bones=None, joint_names=[f"p{i}" for i in range(count)])


def load_case(case: str, data: Path, bunny: Path = DEFAULT_BUNNY):
    """Vertices, faces, rig and (for arm cases) the vertex map back to the intact arm."""
    import fieldrig

    if case == "spot":
        mesh = fieldrig.load_mesh(data / "spot.obj")
        return mesh.V, mesh.F, point_handles(mesh.V, mesh.F), np.arange(len(mesh.V))
    if case in ("bunny", "100k"):
        mesh = fieldrig.load_mesh(bunny)
        return mesh.V, mesh.F, point_handles(mesh.V, mesh.F), np.arange(len(mesh.V))
    if case == "fingers":
        V, F, rig, part = fingers_case()
        return V, F, rig, part
    mesh = fieldrig.load_mesh(data / "arm.obj")
    rig = fieldrig.load_rig(data / "arm.tgf")
    V, F = mesh.V, mesh.F
    if case in ("arm", "scales"):
        return V, F, rig, np.arange(len(V))
    if case in SCALES:
        scale, shift = SCALES[case]
        moved = rig.copy()
        moved.joints = rig.joints * scale + shift
        return V * scale + shift, F, moved, np.arange(len(V))
    if case == "arm-holes":
        keep = np.random.default_rng(0).random(len(F)) >= 0.2
        return V, F[keep], rig, np.arange(len(V))
    if case == "arm-soup":
        return V[F].reshape(-1, 3), np.arange(3 * len(F)).reshape(-1, 3), rig, F.ravel()
    raise ValueError(case)


def character_result(path: Path, preset: str, device: str) -> tuple:
    """Fit a rigged file's first skin (bind pose, one handle per joint), as ``fieldrig weights`` does.

    Returns
    -------
    result : dict
        ``seconds`` (fit and evaluation at the vertices), ``info`` (particles, stage
        times), ``figures`` (:func:`skin_figures` against the file's own weights).
    W : (n, J) float
    """
    import fieldrig

    asset = fieldrig.load_skinned_assets(path)[0]
    start = time.perf_counter()
    field = fieldrig.fit_skinning_field(asset.V, asset.F, asset.rig(), N=asset.N, preset=preset, device=device, seed=0)
    W = field.evaluate(asset.V)
    out = {"seconds": time.perf_counter() - start, "info": _level_info(field), "figures": skin_figures(asset, W)}
    return out, W


def skin_figures(asset, W) -> dict:
    """bench/characters.py's figures of weights ``W`` against the file's own skin, or {} without one."""
    from fieldrig.geometry.skin_compare import compare_skins

    if W is None or asset.artist_weights is None or not asset.clips:
        return {}
    return _figures(compare_skins(asset.V, W, asset.artist_weights, asset.skeleton, asset.clip(), 30.0))


def _figures(f) -> dict:
    """The figures printed of a :class:`~fieldrig.geometry.skin_compare.SkinComparison`."""
    return {"mean": f.mean_pct, "p95": f.p95_pct, "l1": f.l1, "dominant": f.same_dominant, "unweighted": f.unweighted_a}


def blender_result(path: Path) -> dict:
    """Blender's automatic weights on the same file (bench/characters.py runs it), or a note."""
    import shutil

    import fieldrig

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from characters import _blender

    blender = shutil.which("blender")
    if blender is None:
        return {"ok": False, "note": "blender not found"}
    asset = fieldrig.load_skinned_assets(path)[0]
    with tempfile.TemporaryDirectory() as tmp:
        method = _blender(blender, path, Path(tmp), asset, 30.0)
    if method.seconds is None:
        return {"ok": False, "note": method.note or "failed"}
    figures = {} if method.figures is None else _figures(method.figures)
    return {"ok": True, "seconds": method.seconds, "figures": figures, "note": method.note}


# ------------------------------------------------------------------------------ child
def _level_info(field) -> dict:
    return {
        "levels": [
            {"particles": lv["particles"], "seconds": lv["seconds"], "solver": lv["solver"]["method"]}
            for lv in field.info["levels"]
        ],
        "fixed": field.info.get("seconds_by_stage", {}),
    }


def run_job(job: dict) -> dict:
    """One measurement (in a child process): fit or BBW on one case, weights saved to disk."""
    import torch
    from threadpoolctl import threadpool_limits

    import fieldrig

    torch.set_num_threads(job.get("threads", 1))
    threadpool_limits(job.get("threads", 1))

    out = {"case": job["case"], "method": job["method"], "device": job.get("device", "cpu")}
    start = time.perf_counter()
    try:
        if job["case"] == "character" and job["method"] == "blender":
            out.update(blender_result(Path(job["character"])), character=job["character"])
            return out
        if job["case"] == "character":
            result, W = character_result(Path(job["character"]), job["preset"], job["device"])
            out.update(result, preset=job["preset"], character=job["character"])
            np.save(job["weights"], W)
            out["ok"] = True
            out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            return out
        V, F, rig, _ = load_case(job["case"], Path(job["data"]), Path(job["bunny"]))
        start = time.perf_counter()
        if job["method"] == "fieldrig":
            preset = job["preset"]
            if job["case"] == "100k":
                from dataclasses import replace

                from fieldrig.neural.skinning_training import SKINNING_PRESETS

                preset = replace(
                    SKINNING_PRESETS["high"],
                    largest_spacing=0.0035,
                    smallest_spacing=0.002,
                    bulk_particles=100_000,
                    max_particles=100_000,
                )
            field = fieldrig.fit_skinning_field(V, F, rig, preset=preset, device=job["device"], seed=0)
            W = field.evaluate(V)
            out["seconds"] = time.perf_counter() - start
            out["lagrange_error"] = lagrange_error(field, rig)
            out["info"] = _level_info(field)
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
    except LookupError as exc:
        out.update(ok=False, skipped=True, note=f"skipped: {exc}", seconds=float("nan"))
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
    threads = str(job.get("threads", 1))
    env = dict(os.environ, OMP_NUM_THREADS=threads, IGL_NUM_THREADS=threads)
    proc = subprocess.run([sys.executable, __file__, "--job", json.dumps(job)], capture_output=True, text=True, env=env)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
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


def _jobs(case: str, devices, args) -> list:
    if case == "character":
        jobs = []
        for path in _characters(args):
            for preset in dict.fromkeys([args.preset, "fast"]):
                jobs += [
                    {"case": case, "method": "fieldrig", "device": d, "preset": preset, "character": str(path)}
                    for d in devices
                ]
            jobs.append({"case": case, "method": "blender", "device": "cpu", "character": str(path)})
        return jobs
    if case == "scales":
        return [{"case": c, "method": "fieldrig", "device": "cpu", "preset": args.preset} for c in SCALES]
    jobs = [{"case": case, "method": "fieldrig", "device": d, "preset": args.preset} for d in devices]
    if case in ("arm", "arm-holes", "arm-soup", "spot", "fingers"):
        jobs.append({"case": case, "method": "libigl BBW", "device": "cpu"})
    return jobs


def _characters(args) -> list:
    return [Path(p) for p in args.character.split(",") if Path(p).is_file()]


def _character_table(rows) -> None:
    """Fit time beside Blender's automatic weights, and the deformation figures of both."""
    if not rows:
        return
    print()
    print(
        "characters: time of the fit (s; targets: default preset <= 3 s, fast <= 1 s) beside Blender's "
        "parent_set(ARMATURE_AUTO); deformation under the file's animation vs its own skin (% of the diagonal)"
    )
    head = (
        f"{'character':18s} {'method':9s} {'preset':9s} {'device':6s} {'time s':>7s} {'mean %':>7s} {'p95 %':>7s} "
        f"{'L1/2':>6s} {'same dom':>8s} {'unweighted':>10s}  particles"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        name = Path(r.get("character", "")).stem[:18]
        preset = r.get("preset", "") if r["method"] == "fieldrig" else ""
        if not r.get("ok"):
            print(f"{name:18s} {r['method']:9s} {preset:9s} {r['device']:6s} {'':>7s} {r.get('note', 'failed')}")
            continue
        f = r.get("figures") or {}
        figures = (
            f"{f['mean']:7.3f} {f['p95']:7.3f} {f['l1']:6.3f} {100 * f['dominant']:7.1f}% {f['unweighted']:10d}"
            if f
            else f"{'n/a':>7s} {'':7s} {'':6s} {'':8s} {'':10s}"
        )
        counts = " / ".join(str(lv["particles"]) for lv in r["info"]["levels"]) if "info" in r else ""
        note = counts or r.get("note", "").strip("; ")
        print(f"{name:18s} {r['method']:9s} {preset:9s} {r['device']:6s} {r['seconds']:7.2f} {figures}  {note}")


def _stage_table(results) -> None:
    rows = [r for r in results if r.get("ok") and "info" in r]
    if not rows:
        return
    print()
    print("particles per level and stage times (s) of the finest level; 'fixed' = domain + particle density")
    head = f"{'case':10s} {'device':6s} {'particles per level':>22s} {'fixed':>6s} " + " ".join(
        f"{s[:10]:>10s}" for s in STAGES
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        levels = r["info"]["levels"]
        counts = " / ".join(str(lv["particles"]) for lv in levels)
        fixed = sum(r["info"]["fixed"].values())
        last = levels[-1]["seconds"]
        stages = " ".join(f"{last.get(s, 0.0):10.2f}" for s in STAGES)
        label = f"{Path(r['character']).stem[:6]} {r['preset'][:3]}" if r["case"] == "character" else r["case"]
        print(f"{label:10s} {r['device']:6s} {counts:>22s} {fixed:6.2f} {stages}  ({levels[-1]['solver']})")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--bunny", type=Path, default=DEFAULT_BUNNY)
    parser.add_argument("--character", default=DEFAULT_CHARACTERS, help="rigged glTF files, comma-separated")
    parser.add_argument("--preset", default="balanced")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--cases", default="arm,arm-holes,arm-soup,spot,fingers,scales,bunny,character")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads of the fieldrig runs (default 1)")
    parser.add_argument("--job", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.job:
        print(json.dumps(run_job(json.loads(args.job))))
        return 0
    import torch

    import fieldrig

    devices = ["cpu"]
    if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available()):
        devices = ["cpu", "cuda"] if args.device == "auto" else ["cuda"]
    cases = args.cases.split(",")
    have_arm = (args.data / "arm.obj").is_file()
    tmp = Path(tempfile.mkdtemp(prefix="fieldrig-bench-"))
    results = []
    for case in cases:
        if case in ("arm", "arm-holes", "arm-soup", "scales", "spot") and not have_arm:
            print(f"skipped {case}: reference data not found in {args.data} (pass --data)")
            continue
        if case in ("bunny", "100k") and not args.bunny.is_file():
            print(f"skipped {case}: {args.bunny} not found (pass --bunny; CGAL's data/meshes/bunny00.off)")
            continue
        missing = [p for p in args.character.split(",") if not Path(p).is_file()]
        if case == "character" and missing:
            print(f"skipped characters {', '.join(missing)}: not found (pass --character)")
        if case == "scales" and "arm" not in cases:
            cases.append("arm")  # the reference of the scaled runs
        for job in _jobs(case, devices, args):
            job.update(
                threads=args.threads,
                data=str(args.data),
                bunny=str(args.bunny),
                weights=str(
                    tmp / f"{job['case']}-{Path(job.get('character', '')).stem}-{job.get('preset', '')}-"
                    f"{job['method'].replace(' ', '_')}-{job['device']}.npy"
                ),
            )
            job.setdefault("character", "")
            label = f"{Path(job['character']).stem} {job.get('preset', '')}" if job["character"] else ""
            print(f"running {job['case']:10s} {job['method']:11s} on {job['device']} {label}...", flush=True)
            result = spawn(job)
            result["weights"] = job["weights"]
            results.append(result)
            if result.get("skipped"):
                print(f"  {result['note']}")

    print()
    print(
        f"fieldrig {fieldrig.__version__}, preset {args.preset}; torch {torch.__version__}; "
        f"CPU threads {args.threads} (libigl BBW: 1)"
        + (f"; GPU {torch.cuda.get_device_name()}" if "cuda" in devices else "")
    )
    reference = fieldrig.read_dmat(args.data / "arm-weights.dmat") if have_arm else None
    live_bbw = {r["case"]: np.load(r["weights"]) for r in results if r["method"] == "libigl BBW" and r["ok"]}
    intact = {
        r["device"]: np.load(r["weights"])
        for r in results
        if r["case"] == "arm" and r["method"] == "fieldrig" and r["ok"]
    }
    head = (
        f"{'case':10s} {'method':11s} {'device':6s} {'time s':>7s} {'peak MB':>8s} {'|W-dmat|':>9s} {'p95':>6s} "
        f"{'|W-BBW|':>8s} {'vs intact':>9s} {'sum-1':>8s} {'min':>8s} {'lagr.':>8s}  note"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        if r.get("skipped") or r["case"] == "character":
            continue
        cols = {"dmat": "", "p95": "", "bbw": "", "intact": "", "sum": "", "min": "", "lag": ""}
        if r["ok"]:
            W = np.load(r["weights"])
            vmap = load_case(r["case"], args.data, args.bunny)[3] if r["case"].startswith("arm") else None
            if vmap is not None:
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
        if "info" in r:
            note = f"{r['info']['levels'][-1]['particles']} particles" + (
                f", GPU peak {r['gpu_peak_mb']:.0f} MB" if "gpu_peak_mb" in r else ""
            )
        print(
            f"{r['case']:10s} {r['method']:11s} {r['device']:6s} {r['seconds']:7.2f} {r['peak_mb']:8.0f} "
            f"{cols['dmat']:>9s} {cols['p95']:>6s} {cols['bbw']:>8s} {cols['intact']:>9s} {cols['sum']:>8s} "
            f"{cols['min']:>8s} {cols['lag']:>8s}  {note}"
        )
    _stage_table(results)

    print()
    bbw_arm = next((r for r in results if r["case"] == "arm" and r["method"] == "libigl BBW" and r["ok"]), None)
    if reference is not None:
        arm_V = fieldrig.load_mesh(args.data / "arm.obj").V
        rig = fieldrig.load_rig(args.data / "arm.tgf")
        diag = float(np.linalg.norm(arm_V.max(0) - arm_V.min(0)))
    for device, W in intact.items():
        ours = next(r for r in results if r["case"] == "arm" and r["method"] == "fieldrig" and r["device"] == device)
        mean, p95 = compare(W, reference)
        bent = bent_arm_distance(W, reference, arm_V, rig) / diag
        print(f"[{device}] arm vs arm-weights.dmat: mean {mean:.4f} (target <= 0.0099), p95 {p95:.3f} (<= 0.089)")
        print(
            f"[{device}] LBS, bone 2 bent 60 deg: mean distance to the "
            f"BBW-posed arm {100 * bent:.2f}% of the diagonal (<= 1%)"
        )
        if bbw_arm:
            print(
                f"[{device}] time {ours['seconds']:.2f} s; libigl TetGen+BBW {bbw_arm['seconds']:.2f} s; ratio "
                f"{ours['seconds'] / bbw_arm['seconds']:.2f}x (target <= 0.6x); peak memory {ours['peak_mb']:.0f} MB "
                f"vs BBW {bbw_arm['peak_mb']:.0f} MB: {ours['peak_mb'] / bbw_arm['peak_mb']:.2f}x (target <= 2x)"
            )
    if "cpu" in intact:
        for r in results:
            if r["case"] in SCALES and r["ok"]:
                d = np.abs(np.load(r["weights"]) - intact["cpu"])
                print(
                    f"[cpu] arm {r['case']:5s} vs scale 1: mean |dW| {d.mean():.1e}, max {d.max():.1e} (<= 1e-4 mean)"
                )
    for r in results:
        if r["case"] == "fingers" and r["method"] == "fieldrig" and r["ok"]:
            V, _, _, part = fingers_case()
            f = fingers_figures(V, np.load(r["weights"]), part)
            print(
                f"[{r['device']}] fingers: own-finger weight mean {f['own_mean']:.3f} (>= 0.95), "
                f"min {f['own_min']:.3f}; "
                f"worst bleed {f['bleed_max']:.3f} (<= 0.05); distal bone at the tips min {f['tip_min']:.3f} "
                f"(>= 0.9), mean {f['tip_mean']:.3f}; {r['seconds']:.1f} s (<= 10 s)"
            )
        if r["case"] == "100k" and r["ok"]:
            last = r["info"]["levels"][-1]
            print(
                f"[{r['device']}] 100k: finest level {last['particles']} particles in "
                f"{sum(last['seconds'].values()):.1f} s "
                f"(<= 30 s), peak {r['peak_mb']:.0f} MB (<= 3 GB)"
            )
    _character_table([r for r in results if r["case"] == "character"])
    bunny = {r["device"]: r for r in results if r["case"] == "bunny" and r["method"] == "fieldrig" and r["ok"]}
    if "cpu" in bunny and "cuda" in bunny:
        d = np.abs(np.load(bunny["cpu"]["weights"]) - np.load(bunny["cuda"]["weights"])).max()
        print(
            f"bunny: CUDA {bunny['cuda']['seconds']:.2f} s vs CPU {bunny['cpu']['seconds']:.2f} s: "
            f"{bunny['cpu']['seconds'] / bunny['cuda']['seconds']:.1f}x (>= 3x); max |dW| {d:.1e} (<= 1e-6)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
