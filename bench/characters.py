"""fieldrig on real rigged characters, beside Blender's automatic weights and the artist's skin.

For each character, in one run:

* **fieldrig**: ``python -m fieldrig weights CHARACTER -o out.glb -o out.npy --preset P``
  (the command a rigger runs), its wall time (process start, reading, fitting, writing);
* **Blender**: ``parent_set(type='ARMATURE_AUTO')`` (bone heat) in headless Blender on the
  same file (bench/blender_auto_weights.py), the time of that operator and of the whole
  Blender process; its vertices are mapped back to the file's by position and its bones to
  the skin's joints by name (unmatched ones are reported);
* **artist**: the file's own skin, the reference.

Figures (fieldrig.geometry.skin_compare): deformation under the file's first animation
against the artist's skin, sampled at 30 fps (mean, p95, max vertex distance in % of the
bind-pose bounding-box diagonal, over every frame and vertex), weight L1/2, share of
vertices with the same dominant joint, unweighted vertices. And a check that out.glb plays:
its animations are the file's, and one frame skinned by an independent glTF player
(bench/gltf_lbs.py, numpy on the JSON and buffers) equals fieldrig's own skinning of that
frame with the weights it wrote (≤ 1e-4 of the diagonal: float32 storage).

Targets (issue 8), printed beside the figures: on Testwuson every vertex weighted, mean
≤ 0.30 % and p95 ≤ 1.2 % of the diagonal, out.glb plays its 3 animations; on every character
where Blender imports the same bind pose, fieldrig's mean and p95 ≤ Blender's.

    python bench/characters.py                          # the default characters (below)
    python bench/characters.py --preset fast
    python bench/characters.py path/to/Testwuson.X path/to/hero.fbx   # X via `assimp export`
    python bench/characters.py --data DIR               # every .glb/.gltf/.fbx/.x in DIR

The default characters are Debian assimp-testmodels (BSD) files, converted to glTF by
``assimp export`` (see /work/shared/RECIPES.md): missing ones are skipped with a message.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import numpy as np
from scipy.spatial import cKDTree

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gltf_lbs import GltfPlayer  # noqa: E402

from fieldrig.geometry.skin_compare import (  # noqa: E402
    SkinComparison,
    compare_skins,
    skinned_positions,
    skinning_scale,
)

ROOT = Path(__file__).resolve().parents[1]
BLENDER_SCRIPT = Path(__file__).resolve().parent / "blender_auto_weights.py"
CHARS = Path("/work/ext/chars")
ASSIMP_FBX = Path("/work/ext/x/usr/share/assimp/models/FBX")
DEFAULTS = [
    CHARS / "Testwuson.glb",
    CHARS / "BCN_Epileptic.glb",
    CHARS / "animation_with_skeleton.glb",
    ASSIMP_FBX / "animation_with_skeleton.fbx",
    CHARS / "huesitos.glb",
    ASSIMP_FBX / "huesitos.fbx",
]
SUFFIXES = (".glb", ".gltf", ".fbx", ".x")
MATCH_TOLERANCE = 1e-3  # of the diagonal: Blender's vertices are the file's bind pose
PLAY_TOLERANCE = 1e-4  # of the diagonal: out.glb plays as fieldrig skins (float32 storage)


@dataclass
class Method:
    name: str
    seconds: Optional[float]
    figures: Optional[SkinComparison]
    note: str = ""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("characters", nargs="*", help="rigged .glb/.gltf/.fbx/.x files (default: the test characters)")
    ap.add_argument("--data", metavar="DIR", help="take every rigged file in DIR instead")
    ap.add_argument("--preset", default=None, help="fieldrig preset (default: fieldrig's default)")
    ap.add_argument("--fps", type=float, default=30.0, help="sampling rate of the animation (default 30)")
    args = ap.parse_args(argv)
    paths = [Path(p) for p in args.characters]
    if args.data:
        paths += sorted(p for p in Path(args.data).iterdir() if p.suffix.lower() in SUFFIXES)
    paths = paths or DEFAULTS
    blender = shutil.which("blender")
    if blender is None:
        print("blender not found (apt-get install blender python3-numpy): its column is left out")
    print(
        f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} (1, 5, 15 min), "
        f"{os.cpu_count()} CPUs"
    )
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import fieldrig.skinning, torch"], check=True, cwd=ROOT)
    startup = time.perf_counter() - t0
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in paths:
            if not path.is_file():
                print(f"{path}: not found, skipped")
                continue
            row = character(path, Path(tmp), blender, args.preset, args.fps)
            if row is not None:
                rows.append(row)
    if not rows:
        print("no character was measured")
        return 1
    print()
    print_table(rows, startup)
    return 0


def character(path: Path, tmp: Path, blender: Optional[str], preset: Optional[str], fps: float):
    """Every figure of one character, or None (with a message) when it cannot be measured."""
    from fieldrig.core.errors import InputError
    from fieldrig.geometry.skinned_asset import load_skinned_assets

    work = tmp / path.stem
    work.mkdir(exist_ok=True)
    source = path
    if path.suffix.lower() == ".x":
        source = _assimp_to_glb(path, work)
        if source is None:
            return None
    try:
        assets = load_skinned_assets(source)
    except InputError as e:
        print(f"{path.name}: skipped ({e})")
        return None
    asset = assets[0]
    note = f" (first of {len(assets)} skins)" if len(assets) > 1 else ""
    W_artist = asset.artist_weights
    if W_artist is None or not asset.clips:
        print(f"{path.name}: skipped (no skin weights or no animation to judge by)")
        return None
    clip = asset.clip()
    V, sk = asset.V, asset.skeleton
    print(
        f"{path.name}{note}: {len(V)} vertices in {len(asset.parts)} part(s), {sk.n_joints} joints, "
        f"clip {clip.name!r} {clip.duration:.2f} s"
    )
    for w in asset.warnings:
        print(f"  file: {w}")

    methods = [Method("artist", None, compare_skins(V, W_artist, W_artist, sk, clip, fps))]
    fr, play = _fieldrig(source, work, preset, asset, fps)
    methods.insert(0, fr)
    if blender is not None:
        methods.insert(1, _blender(blender, source, work, asset, fps))
    return {"name": path.name, "asset": asset, "methods": methods, "play": play}


def _assimp_to_glb(path: Path, work: Path) -> Optional[Path]:
    assimp = shutil.which("assimp")
    if assimp is None:
        print(f"{path.name}: skipped (X files are converted with `assimp export`; apt-get install assimp-utils)")
        return None
    out = work / (path.stem + ".glb")
    proc = subprocess.run([assimp, "export", str(path), str(out), "-fglb2"], capture_output=True, text=True)
    if proc.returncode != 0 or not out.is_file():
        print(f"{path.name}: skipped (assimp could not convert it: {proc.stdout[-300:]} {proc.stderr[-300:]})")
        return None
    return out


def _fieldrig(source: Path, work: Path, preset: Optional[str], asset, fps: float):
    glb, npy = work / "fieldrig.glb", work / "fieldrig.npy"
    cmd = [sys.executable, "-m", "fieldrig", "weights", str(source), "-o", str(glb), "-o", str(npy), "-q"]
    if preset:
        cmd += ["--preset", preset]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        msg = (proc.stderr or proc.stdout).strip().splitlines()
        print(f"  fieldrig failed: {msg[-1] if msg else proc.returncode}")
        return Method("fieldrig", seconds, None, "failed"), None
    for line in (proc.stderr + proc.stdout).strip().splitlines():
        print(f"  fieldrig: {line}")
    W = np.load(npy)
    figures = compare_skins(asset.V, W, asset.artist_weights, asset.skeleton, asset.clip(), fps)
    return Method("fieldrig", seconds, figures), _plays(glb, asset, W)


def _plays(glb: Path, asset, W: np.ndarray) -> dict:
    """Does out.glb play as fieldrig skins? Its first animation at the key nearest the clip's
    middle (and, for information, at the middle itself), by the independent player."""
    from fieldrig.geometry.gltf import prune_weights

    player = GltfPlayer(glb)
    V = asset.V
    diag = float(np.linalg.norm(V.max(axis=0) - V.min(axis=0)))
    rest = player.rest_positions()
    if rest.shape == V.shape and np.allclose(rest, V, rtol=0, atol=1e-6 * diag):
        dist, index = np.linalg.norm(rest - V, axis=1), np.arange(len(V))  # same vertices, same order
    else:  # asset vertex → nearest out.glb vertex (coincident vertices may differ in weights)
        dist, index = cKDTree(rest).query(V)
    clip = asset.clip()
    cols, vals = prune_weights(W, 4)
    W4 = np.zeros_like(W)
    np.add.at(W4, (np.arange(len(W))[:, None], cols), vals)  # padding slots add 0 to column 0

    def error(t, weights):
        T = clip.skinning_transforms(asset.skeleton, t)
        ours = skinned_positions(V, weights, T)
        played = player.skinned(t, animation=0)[index]
        return float(np.linalg.norm(played - ours, axis=1).max()) / (diag * skinning_scale(T))

    keys = player.key_times(0)
    key = float(keys[np.argmin(np.abs(keys - 0.5 * clip.duration))])
    T = clip.skinning_transforms(asset.skeleton, key)
    pruning = np.linalg.norm(skinned_positions(V, W, T) - skinned_positions(V, W4, T), axis=1).max()
    sums = np.concatenate([p["weights"].sum(axis=1) for p in player.primitives])
    return {
        "animations": len(player.animation_names()),
        "expected_animations": len(asset.clips),
        "time": key,
        "vertex_match": float(dist.max()) / diag,
        "error": error(key, W4),
        "between_keys": error(0.5 * clip.duration, W4),
        "pruning": float(pruning) / (diag * skinning_scale(T)),
        "weight_sums": (float(sums.min()), float(sums.max())),
    }


def _blender(blender: str, source: Path, work: Path, asset, fps: float) -> Method:
    out = work / "blender.npz"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYENV", "VIRTUAL_ENV"))}
    ours = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != ours and ".pyenv" not in p)
    cmd = [blender, "-b", "--factory-startup", "--python", str(BLENDER_SCRIPT), "--", str(source), str(out)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    process_seconds = time.perf_counter() - t0
    if not out.is_file():
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
        print(f"  blender failed: {' | '.join(tail)}")
        return Method("blender", None, None, "failed")
    d = np.load(out)
    W, note = _blender_weights(d, asset)
    figures = (
        compare_skins(asset.V, W, asset.artist_weights, asset.skeleton, asset.clip(), fps) if W is not None else None
    )
    print(f"  blender: parent_set {float(d['seconds']):.2f} s, process {process_seconds:.1f} s{note}")
    return Method("blender", float(d["seconds"]), figures, note)


def _blender_weights(d, asset):
    """Blender's weights on the file's vertices and joints, or None when its import is not the
    file's bind pose. Returns (W or None, note)."""
    V = asset.V
    diag = float(np.linalg.norm(V.max(axis=0) - V.min(axis=0)))
    bones = [str(b) for b in d["bones"]]
    names = asset.skeleton.names
    column = {b: names.index(b) for b in bones if b in names}
    meshes = []
    i = 0
    while f"m{i}_name" in d.files:
        meshes.append(i)
        i += 1
    index, A, space, err = _blender_vertices(d, meshes, V, diag)
    Wb = np.concatenate([d[f"m{i}_weights"] for i in meshes])
    parent = dict(zip(bones, (str(p) for p in d["bone_parents"])))
    W = np.zeros((len(V), len(names)))
    notes, moved, lost = [], [], []
    for b in bones:
        w = Wb[index, bones.index(b)]
        joint = b
        while joint and joint not in column:  # a bone that is no skin joint moves with its parent
            joint = parent.get(joint, "")
        if joint:
            W[:, column[joint]] += w
            if joint != b and w.any():
                moved.append(f"{b} → {joint}")
        elif w.any():
            lost.append(b)
    if moved:
        notes.append(f"weights of bones that are not skin joints given to their joint ancestor ({', '.join(moved)})")
    if lost:
        notes.append(f"weights on bones with no joint above them left out ({', '.join(lost)})")
    missing = [n for n in names if n not in bones]
    if missing:
        notes.append(f"joints with no Blender bone: {', '.join(missing)}")
    if A is not None:
        notes.append(f"Blender's vertices mapped to the file's by an affine fit ({space} space)")
    note = ("; " + "; ".join(notes)) if notes else ""
    if err > MATCH_TOLERANCE * diag:
        return None, f"; its import is not the file's bind pose (vertices {100 * err / diag:.2g}% apart)" + note
    # the same pose: Blender's bones where the file's joints are bound, in the frame its vertices map to
    heads = d[f"bone_heads_{space}"]
    if A is not None:
        heads = heads @ A[:3, :3].T + A[:3, 3]
    bound = asset.skeleton.bind_positions
    joint_err = max((np.linalg.norm(heads[bones.index(b)] - bound[j]) for b, j in column.items()), default=0.0)
    if joint_err > MATCH_TOLERANCE * diag:
        return None, (
            f"; its mesh does not sit on its skeleton's bind pose (bones {100 * joint_err / diag:.2g}% away "
            "from the file's joints)" + note
        )
    return W, note


def _blender_vertices(d, meshes, V: np.ndarray, diag: float):
    """Blender's vertex for each file vertex → (index, affine A or None, space, largest distance).

    When Blender kept the file's vertices in order but moved them (its glTF importer applies
    the transform of a skinned mesh's node, which the spec says to ignore), a least-squares
    affine map from its coordinates to the file's puts them back; otherwise the nearest vertex."""
    best = None
    for space in ("world", "armature"):
        P = np.concatenate([d[f"m{i}_{space}"] for i in meshes])
        dist, index = cKDTree(P).query(V)
        candidates = [(float(dist.max()), index, None)]
        if len(P) == len(V):
            X = np.hstack([P, np.ones((len(P), 1))])
            A = np.eye(4)
            A[:3, :] = np.linalg.lstsq(X, V, rcond=None)[0].T
            candidates.append((float(np.linalg.norm(X @ A[:3].T - V, axis=1).max()), np.arange(len(V)), A))
        for err, idx, aff in candidates:
            if best is None or err < best[3] - 1e-12 * diag:
                best = (idx, aff, space, err)
    return best


def print_table(rows, startup: float) -> None:
    head = (
        f"{'character':<28} {'method':<9} {'time s':>7} {'mean %':>7} {'p95 %':>7} {'max %':>7} "
        f"{'L1/2':>6} {'same dom':>8} {'unweighted':>10}"
    )
    print(head)
    print("-" * len(head))
    for row in rows:
        first = True
        for m in row["methods"]:
            label = row["name"] if first else ""
            first = False
            t = f"{m.seconds:7.2f}" if m.seconds is not None else f"{'—':>7}"
            f = m.figures
            if f is None:
                print(f"{label:<28} {m.name:<9} {t} {'n/a (' + (m.note.strip('; ') or 'failed') + ')'}")
                continue
            unweighted = f.unweighted_a
            print(
                f"{label:<28} {m.name:<9} {t} {f.mean_pct:7.3f} {f.p95_pct:7.3f} {f.max_pct:7.3f} "
                f"{f.l1:6.3f} {100 * f.same_dominant:7.1f}% {unweighted:10d}"
            )
        for line in _targets(row):
            print(f"{'':<28} {line}")
    print()
    print(
        "time: fieldrig = the whole `fieldrig weights` process, of which starting Python and importing torch "
        f"take {startup:.1f} s here; blender = parent_set(ARMATURE_AUTO) alone."
    )
    print("%: of the bind-pose bounding-box diagonal, over every frame (30 fps) and vertex of the first animation.")


def _targets(row) -> List[str]:
    out = []
    by = {m.name: m for m in row["methods"]}
    fr, bl = by.get("fieldrig"), by.get("blender")
    play = row["play"]
    if play is not None:
        ok = play["error"] <= PLAY_TOLERANCE and play["animations"] == play["expected_animations"]
        out.append(
            f"{_mark(ok)} out.glb plays: {play['animations']}/{play['expected_animations']} animations; its key at "
            f"{play['time']:.3f} s played from out.glb alone vs fieldrig's skinning of the weights it wrote: "
            f"{100 * play['error']:.2g}% (between keys, at mid-clip: {100 * play['between_keys']:.2g}%; "
            f"pruning to 4 influences moves that frame {100 * play['pruning']:.2g}%; weight rows sum "
            f"{play['weight_sums'][0]:.6f}…{play['weight_sums'][1]:.6f})"
        )
    if fr is not None and fr.figures is not None and row["name"].lower().startswith("testwuson"):
        f = fr.figures
        out.append(f"{_mark(f.unweighted_a == 0)} every vertex weighted ({f.unweighted_a} unweighted)")
        out.append(f"{_mark(f.mean_pct <= 0.30)} mean {f.mean_pct:.3f}% ≤ 0.30%")
        out.append(f"{_mark(f.p95_pct <= 1.2)} p95 {f.p95_pct:.3f}% ≤ 1.2%")
        if play is not None:
            out.append(f"{_mark(play['animations'] == 3)} out.glb has the file's 3 animations ({play['animations']})")
    if fr is not None and fr.figures is not None and bl is not None and bl.figures is not None:
        a, b = fr.figures, bl.figures
        out.append(
            f"{_mark(a.mean_pct <= b.mean_pct and a.p95_pct <= b.p95_pct)} fieldrig ≤ Blender: mean "
            f"{a.mean_pct:.3f}% vs {b.mean_pct:.3f}%, p95 {a.p95_pct:.3f}% vs {b.p95_pct:.3f}%"
        )
    elif bl is not None and bl.figures is None:
        out.append(f"  (no comparison with Blender{bl.note})")
    return out


def _mark(ok: bool) -> str:
    return "✓" if ok else "✗"


if __name__ == "__main__":
    sys.exit(main())
