"""libigl's bounded biharmonic weights (Jacobson et al. 2011): the reference fieldrig is
measured against.

Pipeline (as in libigl's tutorial 403): ``igl.copyleft.tetgen.mesh_with_skeleton`` meshes the
solid with the handles built in (point handles and samples along every bone become tet
vertices), ``igl.boundary_conditions`` fixes each handle's weight to 1 on it and 0 on the
others, ``igl.bbw`` solves the bounded biharmonic problem with an active-set QP, and the
rows are normalised to sum to 1. Painted regions of the rig become extra fixed rows.

libigl's handles are points and single segments. A rig handle made of several segments (a
skeleton joint with several children) gives one libigl column per segment, and the columns
of one handle are summed (without the bounds that is exactly the solution of the problem
with the whole set held at 1, linearity; the bounds make it approximate). Handles that do
not deform keep a zero column and are not given to libigl. A point handle on another
handle's segment (a skeleton's leaf joint at its parent's bone tip) is refused with a
message: libigl's boundary conditions cannot hold both.

TetGen can crash the whole process on a bad surface, so everything runs in a child Python
process with a timeout; the surface is checked first (closed, edge-manifold, no
self-intersections, handles inside) so that most failures come with a reason. It is a
reference only: on any failure :class:`BBWError` is raised — there is no fallback.
Exactly coincident vertices are welded for TetGen and get identical weights.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional, Union

import numpy as np

from fieldrig.core.errors import InputError
from fieldrig.geometry.handle_placement import place_handles
from fieldrig.geometry.mesh_check import check_mesh
from fieldrig.geometry.mesh_io import validate_mesh, weld_identical_vertices
from fieldrig.geometry.rig import Rig, load_rig


class BBWError(RuntimeError):
    """libigl BBW (or TetGen) could not compute weights; the message says why."""


def bbw_weights(
    V: np.ndarray,
    F: Optional[np.ndarray],
    rig: Union[Rig, str, os.PathLike],
    *,
    tetgen_flags: str = "pq1.414Y",
    samples_per_bone: int = 10,
    max_iter: int = 8,
    timeout_s: float = 600.0,
    return_info: bool = False,
    source: str = "mesh",
):
    """Bounded biharmonic weights by libigl on a TetGen mesh of the solid.

    Parameters
    ----------
    V : (n, 3) float
        Surface vertices.
    F : (m, 3) int
        Triangles of a closed, edge-manifold, non-self-intersecting surface.
    rig : Rig or path
        Handles; weight columns follow the rig's column order (see the module docstring for
        handles of several segments and handles that do not deform).
    tetgen_flags : str
        TetGen switches (``p`` PLC, ``q1.414`` radius-edge quality, ``Y`` keep the surface
        as it is; ``Q`` is added to silence it).
    samples_per_bone : int
        Tet vertices inserted along each bone (libigl's default 10).
    max_iter : int
        Active-set iterations of ``igl.bbw`` (8, as libigl's tutorial: on arm.obj 8 iterations
        take ~4 s and differ from 100 (~2 min) by 0.0003 mean absolute weight).
    timeout_s : float
        Wall-clock limit of the child process (meshing and solving).
    return_info : bool
        Also return a dict ``{"tetgen_s", "bbw_s", "n_tets", "n_tet_vertices"}``.
    source : str
        Name of the mesh in messages (a file path).

    Returns
    -------
    W : (n, H) float
        Non-negative weights, rows summing to 1.
    info : dict
        Only with ``return_info=True``.

    Raises
    ------
    InputError
        Invalid arrays or rig file.
    BBWError
        The surface is unsuitable (with the reason), a handle lies outside it, TetGen or
        the solver failed or crashed, or the time ran out.
    """
    rig = rig if isinstance(rig, Rig) else load_rig(rig)
    V, F = validate_mesh(V, F, source, warnings=[])
    if F is None:
        raise BBWError(f"{source}: libigl BBW needs a closed triangle mesh, not a point cloud")
    report = check_mesh(V, F, source)
    if not report.bbw_feasible:
        raise BBWError(f"{source}: TetGen cannot mesh this surface: {report.bbw_reason}")
    if not rig.deform.any():
        raise InputError("rig", "no handle deforms (every deform flag is off)")
    placement = place_handles(V, F, rig)
    outside = [placement.sentence(h) for h in np.flatnonzero(rig.deform) if placement.inside_fraction[h] < 1]
    if outside:
        raise BBWError(f"{source}: handles must lie inside the surface for BBW: " + "; ".join(outside))
    clash = _points_on_other_handles(rig)
    if clash:
        raise BBWError(
            f"{source}: libigl's boundary conditions cannot hold a point handle on another handle's segment ("
            + "; ".join(clash)
            + "); switch those handles' deform flag off to compare"
        )
    if int(samples_per_bone) < 0 or int(max_iter) < 1 or not timeout_s > 0:
        raise InputError("bbw_weights", "samples_per_bone must be >= 0, max_iter >= 1 and timeout_s > 0")
    flags = tetgen_flags if "Q" in tetgen_flags else tetgen_flags + "Q"

    Vw, Fw, index = weld_identical_vertices(V, F)
    Fw = Fw[(Fw[:, 0] != Fw[:, 1]) & (Fw[:, 1] != Fw[:, 2]) & (Fw[:, 0] != Fw[:, 2])]
    painted_b = (
        np.concatenate([index[p.vertices] for p in rig.painted]).astype(np.int64)
        if rig.painted
        else np.zeros(0, np.int64)
    )
    painted_h = (
        np.concatenate([np.full(len(p.vertices), p.handle) for p in rig.painted]).astype(np.int64)
        if rig.painted
        else np.zeros(0, np.int64)
    )
    if painted_b.size and (painted_b.min() < 0 or painted_b.max() >= len(Vw)):
        raise InputError("rig", f"a painted region names a vertex outside 0..{len(V) - 1}")

    # libigl columns: the deforming point handles, then the deforming segments.
    point_keep = rig.deform[rig.point_columns]
    bone_keep = rig.deform[rig.bone_handles]
    columns = np.concatenate([rig.point_columns[point_keep], rig.bone_handles[bone_keep]]).astype(np.int64)
    first_column = {int(h): k for k, h in reversed(list(enumerate(columns)))}
    if any(int(h) not in first_column for h in painted_h):
        raise InputError("rig", "a painted region belongs to a handle that does not deform")
    painted_h = np.array([first_column[int(h)] for h in painted_h], dtype=np.int64)
    with tempfile.TemporaryDirectory(prefix="fieldrig-bbw-") as tmp:
        job, result = Path(tmp) / "job.npz", Path(tmp) / "result.npz"
        np.savez(
            job,
            V=Vw,
            F=Fw,
            C=rig.joints,
            P=rig.point_handles[point_keep],
            BE=rig.bones[bone_keep].reshape(-1, 2),
            flags=np.array(flags),
            samples=np.array(int(samples_per_bone)),
            max_iter=np.array(int(max_iter)),
            painted_b=painted_b,
            painted_h=painted_h,
        )
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "fieldrig.geometry.bbw", str(job), str(result)],
                capture_output=True,
                text=True,
                timeout=timeout_s,
            )
        except subprocess.TimeoutExpired:
            raise BBWError(
                f"{source}: libigl BBW did not finish within {timeout_s:g} s "
                f"(TetGen + solve on {len(Vw)} vertices); raise timeout_s or simplify the mesh"
            ) from None
        if proc.returncode < 0:
            name = (
                signal.Signals(-proc.returncode).name
                if -proc.returncode in signal.valid_signals()
                else str(-proc.returncode)
            )
            raise BBWError(
                f"{source}: TetGen/libigl crashed ({name}); the surface probably self-intersects or is degenerate"
            )
        if proc.returncode != 0:
            lines = [ln for ln in (proc.stderr or proc.stdout).strip().splitlines() if ln.strip()]
            raise BBWError(f"{source}: {lines[-1] if lines else f'the BBW process failed (exit {proc.returncode})'}")
        with np.load(result) as out:
            W = np.zeros((len(V), rig.n_handles))
            np.add.at(W.T, columns, out["W"][index].T)
            info = {k: out[k].item() for k in ("tetgen_s", "bbw_s", "n_tets", "n_tet_vertices")}
    return (W, info) if return_info else W


def _points_on_other_handles(rig: Rig) -> list:
    """Deforming point handles that lie on a deforming segment of another handle (a skeleton's
    leaf at its parent's bone tip), as "'leaf' on 'parent'" phrases."""
    tiny = 1e-9 * rig.size
    out = []
    for i, j in enumerate(rig.point_handles):
        h = rig.point_columns[i]
        if not rig.deform[h]:
            continue
        for b, (a, c) in enumerate(rig.bones):
            owner = rig.bone_handles[b]
            if owner == h or not rig.deform[owner]:
                continue
            p, q = rig.joints[a], rig.joints[c]
            t = np.clip(np.dot(rig.joints[j] - p, q - p) / max(np.dot(q - p, q - p), np.finfo(float).tiny), 0, 1)
            if np.linalg.norm(p + t * (q - p) - rig.joints[j]) <= tiny:
                out.append(f"{rig.handle_names[h]!r} on {rig.handle_names[owner]!r}")
                break
    return out


def _solve(job: dict) -> dict:
    """Mesh, constrain and solve (runs in the child process). Raises BBWError with a reason."""
    import igl
    import igl.copyleft.tetgen

    V, F, C = job["V"], job["F"], job["C"]
    P, BE = job["P"].astype(np.int64), job["BE"].astype(np.int64)
    no_edges = np.zeros((0, 2), np.int64)
    t0 = time.perf_counter()
    try:
        TV, TT, _ = igl.copyleft.tetgen.mesh_with_skeleton(
            V, F, C, P, BE, no_edges, int(job["samples"]), str(job["flags"])
        )
    except RuntimeError as exc:
        raise BBWError(f"TetGen failed: {exc} (is the surface closed and free of self-intersections?)") from None
    t1 = time.perf_counter()
    if len(TV) < len(V) or not np.array_equal(TV[: len(V)], V):
        raise BBWError("TetGen moved or dropped surface vertices (try the 'Y' flag, or remove near-duplicate vertices)")
    b, bc = igl.boundary_conditions(TV, TT, C, P, BE, no_edges, np.zeros((0, 3), np.int64))
    H = len(P) + len(BE)
    if len(b) == 0 or bc.shape[1] != H or np.any(bc.max(axis=0) < 1):
        raise BBWError("some handles did not become tet vertices (a handle on the surface or outside it?)")
    painted_b, painted_h = job["painted_b"].astype(np.int64), job["painted_h"].astype(np.int64)
    if painted_b.size:
        keep = ~np.isin(b, painted_b)
        b = np.concatenate([b[keep], painted_b])
        bc = np.vstack([bc[keep], np.eye(H)[painted_h]])
    W = igl.bbw(TV, TT, b, bc, max_iter=int(job["max_iter"]))
    t2 = time.perf_counter()
    W = W[: len(V)]
    if W.shape != (len(V), H) or not np.all(np.isfinite(W)):
        raise BBWError("igl.bbw returned no valid solution")
    W = np.clip(W, 0.0, None)
    total = W.sum(axis=1)
    if np.any(total <= 0):
        raise BBWError(f"{int(np.sum(total <= 0))} vertices got zero weight for every handle")
    return {
        "W": W / total[:, None],
        "tetgen_s": t1 - t0,
        "bbw_s": t2 - t1,
        "n_tets": len(TT),
        "n_tet_vertices": len(TV),
    }


def _main(argv) -> int:
    """Child-process entry: ``python -m fieldrig.geometry.bbw job.npz result.npz``."""
    job_path, result_path = argv
    with np.load(job_path) as data:
        job = {k: data[k] for k in data.files}
    try:
        out = _solve(job)
    except BBWError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    np.savez(result_path, **out)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
