"""Refitting a skinning field around painted weights: paint as a constraint of the solve.

A painted vertex ``p_v`` holds its whole weight row ``r_v`` (the painted joint's value, the
others scaled to sum to one) as a Dirichlet value of the biharmonic problem, as a handle
holds ``e_k``: the last level's least-squares system of the fit
(:class:`~fieldrig.neural.level_system.LevelSystem`) gains one row per painted vertex,

    mu omega_v |u(p_v) - r_v|^2 / sigma_v^4,

with the handle rows' weight (``mu`` the preset's ``handle_weight``, ``omega_v = sigma_v^3 /
samples_per_particle`` the volume a handle sample stands for, ``sigma_v`` the kernel width
there). ``u(p_v)`` is linear in the particle values through the field's own evaluation
matrix (:meth:`SkinningField.interpolation`), so the rows are one sparse matrix. The system is
solved again from what the fit kept — its factorisation (Woodbury update) or its solution
(warm-started conjugate gradients) — and projected onto the simplex, as in the fit; then
a thin blend (:mod:`fieldrig.neural.paint_blend`) makes the painted rows exact. Handles
keep their rows and blend; a painted vertex inside a handle's blend is held by the handle.

A field whose system was not kept (loaded from a file, or fitted with ``keep_solver=False``)
first replays its fit (same preset and seed: the fit is deterministic) to rebuild it, and
keeps what it rebuilt (on the CPU when the fit ran on a GPU this machine lacks).
"""

from __future__ import annotations

import time
from dataclasses import fields, replace
from typing import Optional, Tuple

import numpy as np
import scipy.sparse as sp
import torch

from fieldrig.core.errors import InputError
from fieldrig.core.progress import ProgressCallback, ProgressReporter
from fieldrig.neural.handle_blend import handle_blend
from fieldrig.neural.level_system import LevelSystem
from fieldrig.neural.paint_blend import PaintBlend
from fieldrig.neural.skinning_field import SkinningField
from fieldrig.neural.skinning_training import SkinningPreset, fit_field, project_to_simplex


def painted_rows(vertices, weights, n_vertices: int, n_handles: int) -> Tuple[np.ndarray, np.ndarray]:
    """Check painted vertices and rows; rows scaled to sum to one.

    Parameters
    ----------
    vertices : (P,) int or (P, 3) float
        Vertex indices in ``0..n_vertices-1``, or points.
    weights : (P, n_handles) float
    n_vertices, n_handles : int

    Returns
    -------
    vertices : (P,) int64 or (P, 3) float64
    rows : (P, n_handles) float64
        On the simplex.

    Raises
    ------
    InputError
        Naming ``vertices`` or ``weights``.
    """
    ids = np.asarray(vertices)
    if ids.ndim == 1 and (ids.dtype.kind in "iu" or ids.size == 0):
        ids = ids.astype(np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= n_vertices):
            raise InputError("vertices", f"vertex indices must be in 0..{n_vertices - 1}")
    elif ids.ndim == 2 and ids.shape[1] == 3 and ids.dtype.kind == "f":
        ids = ids.astype(np.float64)
        if not np.all(np.isfinite(ids)):
            raise InputError("vertices", "points contain NaN or infinite coordinates")
    else:
        raise InputError("vertices", f"expected (P,) vertex indices or (P, 3) points, got {ids.dtype} {ids.shape}")
    W = np.asarray(weights, dtype=np.float64)
    if W.ndim != 2 or W.shape != (len(ids), n_handles):
        raise InputError("weights", f"expected ({len(ids)}, {n_handles}) weight rows, got shape {W.shape}")
    if not np.all(np.isfinite(W)):
        raise InputError("weights", "weights contain NaN or infinite values")
    if np.any(W < 0):
        raise InputError("weights", f"weights must be non-negative (row {int(np.argwhere(W < 0)[0, 0])})")
    sums = W.sum(axis=1)
    if np.any(sums <= 0):
        raise InputError("weights", f"every row needs a positive sum (row {int(np.flatnonzero(sums <= 0)[0])} is zero)")
    return ids, W / sums[:, None]


def refit_field(field: SkinningField, vertices, weights, progress: Optional[ProgressCallback] = None) -> SkinningField:
    """See :meth:`SkinningField.refit`."""
    start = time.perf_counter()
    reporter = ProgressReporter(progress)
    ids, rows = painted_rows(vertices, weights, len(field.surface_V), field.n_handles)
    points = field.surface_V[ids] if ids.ndim == 1 else (ids - field.centre) / field.scale
    # one constraint per place: a vertex duplicated on a seam is one point
    points, inverse = np.unique(points.reshape(-1, 3), axis=0, return_inverse=True)
    merged = np.zeros((len(points), rows.shape[1]))
    np.add.at(merged, inverse.ravel(), rows)
    rows = merged / np.maximum(merged.sum(axis=1, keepdims=True), 1e-300)
    if field.n_handles == 1:  # the simplex is one point: nothing to solve
        return replace(field, info=dict(field.info, refit={"painted": len(points), "seconds": 0.0}))
    state, share = field.solver_state, 0.0
    if state is None:  # rebuilt once and kept: the next refit of this field is fast
        share = 0.8
        state = replayed_system(
            field, lambda e: reporter.report(f"rebuilding the system: {e.stage}", share * e.fraction)
        )
        field.solver_state = state
    reporter.report("painted rows", share)
    free = np.ones(len(points), dtype=bool)
    if len(points):
        _, beta = handle_blend(
            torch.as_tensor(points), field.handles, torch.as_tensor(field.rho), field.visibility.visible
        )
        free = beta.numpy() == 0
    R, T = _constraint_rows(field, points[free], rows[free])
    reporter.report("solving", share + 0.2 * (1 - share))
    raw, info = state.solve_with_rows(R, T)
    values = project_to_simplex(raw)
    preset = _preset(field)
    spacing = field.sigma[field._support.nearest(points[free], 1)[1][:, 0]] / preset.kernel_width
    paint = PaintBlend.around(points[free], rows[free], preset.blend_radius * spacing) if free.any() else None
    info.update(painted=len(points), held_by_handles=int((~free).sum()), seconds=time.perf_counter() - start)
    refitted = replace(
        field,
        values=values.cpu().numpy(),
        info=dict(field.info, refit=info),
        paint=paint,
        solver_state=replace(state, start=raw),
    )
    refitted._visibility = field._visibility  # the same surface: keep its ray caster
    reporter.report("done", 1.0)
    return refitted


def _constraint_rows(field: SkinningField, points: np.ndarray, rows: np.ndarray) -> Tuple[sp.csr_matrix, np.ndarray]:
    """Weighted rows ``u(p_v) = r_v`` of the painted points (normalised frame): R (P, n), T (P, H)."""
    if not len(points):
        return sp.csr_matrix((0, len(field.particles))), np.zeros((0, field.n_handles))
    preset = _preset(field)
    sigma = field.sigma[field._support.nearest(points, 1)[1][:, 0]]
    weight = np.sqrt(preset.handle_weight * sigma**3 / preset.kernel_width**3 / preset.samples_per_particle)
    weight = weight / sigma**2
    return sp.csr_matrix(sp.diags(weight) @ field.interpolation(points, fallback=True)), weight[:, None] * rows


def _preset(field: SkinningField) -> SkinningPreset:
    """The preset the field was fitted with (defaults for settings it does not record)."""
    known = {f.name for f in fields(SkinningPreset)}
    return SkinningPreset(**{k: v for k, v in field.info.get("preset", {}).items() if k in known})


def replayed_system(field: SkinningField, progress: Optional[ProgressCallback] = None) -> LevelSystem:
    """The last level's system of ``field``'s fit, rebuilt by fitting again (same preset, seed).

    Raises
    ------
    InputError
        The field does not record its fit, or fitting again gives other particles (a point
        cloud: its normals are estimated again, and estimates of the same points rounded in
        another frame can differ).
    """
    from fieldrig.geometry.normals import estimate_normals
    from fieldrig.neural.device import resolve_device

    if "preset" not in field.info or "seed" not in field.info:
        raise InputError("field", "it does not record how it was fitted; fit it again to refit it")
    V = field.surface_V * field.scale + field.centre
    N = estimate_normals(V) if field.surface_F is None else None
    handles = field.handles.transformed(-field.centre / field.scale, 1.0 / field.scale)
    used = str(field.info.get("device", "cpu"))
    device = resolve_device(used if used.startswith("cpu") or torch.cuda.is_available() else "cpu")
    replay = fit_field(
        V, field.surface_F, N, handles, field.handle_names, _preset(field), device, field.info["seed"], progress
    )
    if replay.particles.shape != field.particles.shape or not np.allclose(replay.particles, field.particles, atol=1e-9):
        raise InputError("field", "fitting it again did not give the same particles; fit it again to refit it")
    return replay.solver_state
