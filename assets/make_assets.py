"""Generate the small demo assets of this folder (run from anywhere; overwrites them).

- ``finger.obj`` + ``finger.tgf``: a tapered three-phalanx finger (smooth union of capsules,
  marching cubes, decimated) along +x, with a 3-bone chain in libigl's TGF format.
- ``legs.obj`` + ``legs.json``: a pelvis with two legs that nearly touch (the case where
  weights must not bleed from one leg to the other), with a 5-bone JSON rig with names and
  explicit parents.

Both meshes are closed, manifold and free of self-intersections (libigl's BBW can run on
them too). Everything is computed here from formulas; nothing is copied from elsewhere.

    python assets/make_assets.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence, Tuple

import igl
import numpy as np

HERE = Path(__file__).resolve().parent


def capsule_sdf(X: np.ndarray, a: Sequence[float], b: Sequence[float], r: float) -> np.ndarray:
    """Signed distance of points X (n, 3) to the capsule of axis a–b and radius r."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    ab = b - a
    t = np.clip((X - a) @ ab / (ab @ ab), 0.0, 1.0)
    return np.linalg.norm(X - (a + t[:, None] * ab), axis=1) - r


def smooth_union(d1: np.ndarray, d2: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth minimum of two distance fields (blend radius k)."""
    h = np.clip(0.5 + 0.5 * (d2 - d1) / k, 0.0, 1.0)
    return d2 * (1 - h) + d1 * h - k * h * (1 - h)


def surface(
    capsules: Sequence[Tuple[Sequence[float], Sequence[float], float]], blend: float, cell: float, faces: int
) -> Tuple[np.ndarray, np.ndarray]:
    """Marching cubes of the smooth union of capsules, decimated to about ``faces`` triangles.

    Returns
    -------
    V : (n, 3) float
    F : (m, 3) int
        Outward-oriented triangles.
    """
    ends = np.array([p for a, b, _ in capsules for p in (a, b)], float)
    pad = max(r for _, _, r in capsules) + 3 * cell
    lo, hi = ends.min(0) - pad, ends.max(0) + pad
    n = np.ceil((hi - lo) / cell).astype(int) + 1
    axes = [lo[i] + cell * np.arange(n[i]) for i in range(3)]
    # igl.marching_cubes expects x fastest: reorder the grid to (z, y, x) major order.
    GV = np.stack(np.meshgrid(axes[2], axes[1], axes[0], indexing="ij"), -1).reshape(-1, 3)[:, ::-1].copy()
    S = None
    for a, b, r in capsules:
        d = capsule_sdf(GV, a, b, r)
        S = d if S is None else smooth_union(S, d, blend)
    V, F, _ = igl.marching_cubes(S, GV, int(n[0]), int(n[1]), int(n[2]), 0.0)
    V, _, _, F = igl.remove_duplicate_vertices(V, F, 1e-9 * cell)
    F = F[(F[:, 0] != F[:, 1]) & (F[:, 1] != F[:, 2]) & (F[:, 2] != F[:, 0])]  # collapsed by the merge
    V, F, _, _ = igl.decimate(np.asfortranarray(V), np.asfortranarray(F, dtype=np.int32), faces, True)
    V, F = np.asarray(V, float), np.asarray(F, np.int64)
    V, F, _, _ = igl.remove_unreferenced(V, F)
    if _signed_volume(V, F) < 0:
        F = F[:, ::-1]
    return np.round(V, 6), F


def _signed_volume(V: np.ndarray, F: np.ndarray) -> float:
    return float(np.einsum("ij,ij->i", V[F[:, 0]], np.cross(V[F[:, 1]], V[F[:, 2]])).sum() / 6.0)


def finger(faces: int = 2400, cell: float = 0.06) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The finger mesh and its 3-bone chain.

    Returns
    -------
    V, F : the mesh
    joints : (4, 3) float
    bones : (3, 2) int
    """
    joints = np.array([[0.0, 0, 0], [1.2, 0, 0], [2.1, 0, 0], [2.8, 0, 0]])
    radii = [0.36, 0.32, 0.28]
    caps = [(joints[i], joints[i + 1], radii[i]) for i in range(3)]
    caps[0] = ((-0.25, 0, 0), joints[1], radii[0])
    caps[2] = (joints[2], (2.95, 0, 0), radii[2])
    V, F = surface(caps, blend=0.12, cell=cell, faces=faces)
    return V, F, joints, np.array([[0, 1], [1, 2], [2, 3]])


def legs(faces: int = 3200, cell: float = 0.045) -> Tuple[np.ndarray, np.ndarray, dict]:
    """The two-leg mesh and its JSON rig (a dict in fieldrig's rig format)."""
    gap = 0.06  # distance between the two legs' surfaces
    r_leg, x_leg = 0.17, 0.17 + 0.06 / 2
    caps = [((-0.35, 1.0, 0), (0.35, 1.0, 0), 0.27), ((0, 1.0, 0), (0, 1.3, 0), 0.25)]
    for side in (-1, 1):
        x = side * x_leg
        caps.append(((x, 1.0, 0), (x, 0.55, 0), r_leg))
        caps.append(((x, 0.55, 0), (x, 0.08, 0), r_leg * 0.85))
    assert abs(2 * x_leg - 2 * r_leg - gap) < 1e-12
    V, F = surface(caps, blend=0.05, cell=cell, faces=faces)
    rig = {
        "joints": [
            {"name": "root", "position": [0, 1.0, 0]},
            {"name": "chest", "position": [0, 1.3, 0]},
            {"name": "hip_l", "position": [-x_leg, 0.95, 0]},
            {"name": "knee_l", "position": [-x_leg, 0.55, 0]},
            {"name": "ankle_l", "position": [-x_leg, 0.12, 0]},
            {"name": "hip_r", "position": [x_leg, 0.95, 0]},
            {"name": "knee_r", "position": [x_leg, 0.55, 0]},
            {"name": "ankle_r", "position": [x_leg, 0.12, 0]},
        ],
        "bones": [
            {"name": "pelvis", "joints": ["root", "chest"], "parent": None},
            {"name": "thigh_l", "joints": ["hip_l", "knee_l"], "parent": "pelvis"},
            {"name": "shin_l", "joints": ["knee_l", "ankle_l"], "parent": "thigh_l"},
            {"name": "thigh_r", "joints": ["hip_r", "knee_r"], "parent": "pelvis"},
            {"name": "shin_r", "joints": ["knee_r", "ankle_r"], "parent": "thigh_r"},
        ],
    }
    return V, F, rig


def write_obj(path: Path, V: np.ndarray, F: np.ndarray, comment: str) -> None:
    lines = (
        [f"# {comment}"]
        + [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in V]
        + [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in F]
    )
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    V, F, joints, bones = finger()
    write_obj(HERE / "finger.obj", V, F, "fieldrig demo finger, generated by assets/make_assets.py")
    tgf = [f"{i + 1} {x:g} {y:g} {z:g}" for i, (x, y, z) in enumerate(joints)] + ["#"]
    tgf += [f"{a + 1} {b + 1}" for a, b in bones] + ["#"]
    (HERE / "finger.tgf").write_text("\n".join(tgf) + "\n")
    V, F, rig = legs()
    write_obj(HERE / "legs.obj", V, F, "fieldrig demo legs, generated by assets/make_assets.py")
    (HERE / "legs.json").write_text(json.dumps(rig, indent=2) + "\n")
    for name in ("finger", "legs"):
        print(f"{name}.obj written")


if __name__ == "__main__":
    main()
