"""Fitting a skinning field: multiscale minimisation of the biharmonic energy.

The fit runs in a normalised frame (bounding box centred, diagonal 1). The particle
spacing follows the shape (:class:`fieldrig.geometry.sizing.SizingField`: finer in thin
parts and near short handles). Each level places particles (voxel centroids of domain
points, voxel size = the local target spacing), draws importance-weighted Monte Carlo
samples of the solid (``x_m``, volume weights ``w_m``), of its surface (``y_s``, normals
``n_s``, area weights ``a_s``) and of the handles (``z_j`` on handle ``k_j``), and
minimises over the particle values::

    sum_m w_m |Lap u(x_m)|^2  +  lambda sum_s a_s |du/dn(y_s)|^2 / sigma(y_s)^2
    +  mu sum_j omega_j |u(z_j) - e_(k_j)|^2 / sigma(z_j)^4  +  eps |P - P_prior|^2

— the biharmonic energy with the zero-Neumann condition at the surface that libigl's
BBW imposes implicitly, and the handle values imposed on the handles themselves (lines
and points, as BBW does; imposing them on a tube would also clamp the field's slope
there). ``u`` is linear in the particle values and every derivative is in closed form,
so this is a sparse linear least-squares problem (:mod:`fieldrig.neural.sparse_solve`:
sparse normal matrix, dense Cholesky or conjugate gradients, on the torch device), then
a Euclidean projection of every particle value onto the probability simplex.
``P_prior`` is the coarser level's field evaluated at the new particles (the first level
uses the normalised inverse squared distances to the handles); it fixes the few value
combinations the samples leave undetermined and keeps partition of unity exact (every
term is satisfied by constants). The final field adds the thin exact blend of
:mod:`fieldrig.neural.handle_blend`.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Callable, Dict, Optional

import numpy as np
import scipy.sparse as sp
import torch

from fieldrig.core.errors import InputError
from fieldrig.core.memory import require_memory
from fieldrig.core.progress import ProgressCallback, ProgressReporter
from fieldrig.geometry.domain import ShapeDomain
from fieldrig.geometry.sizing import SizingField
from fieldrig.geometry.visibility import SegmentVisibility
from fieldrig.neural.handle_blend import HandleGeometry
from fieldrig.neural.skinning_field import KernelSupport, SkinningField, evaluation_chunk, shepard_basis
from fieldrig.neural.sparse_solve import CoarseCorrection, NormalMatrix, prefers_dense, solve_regularised


@dataclass(frozen=True)
class SkinningPreset:
    """Settings of a skinning fit.

    Lengths are fractions of the shape's bounding-box diagonal (the fit runs in a frame
    where that diagonal is 1), so no setting depends on units or placement.

    Attributes
    ----------
    levels : int
        Number of levels, coarse to fine; each coarser level doubles the spacing.
    across : float
        Particles across a part's local thickness (finest level).
    along : float
        Particles along a handle's length scale, near the handle (finest level).
    largest_spacing, smallest_spacing : float
        Bounds of the particle spacing at the finest level.
    gradation : float
        Growth of the spacing per unit of distance from a thin part or a handle.
    max_particles : int
        Cap of the finest level: beyond it every spacing grows by the same factor.
    samples_per_particle : float
        Interior energy samples per particle.
    surface_samples_per_particle : float
        Surface (Neumann) samples per particle.
    kernel_width : float
        Kernel sigma as a multiple of the local particle spacing.
    kernel_support : float
        Kernel radius as a multiple of sigma.
    blend_radius : float
        Radius of the exact handle blend as a multiple of the particle spacing.
    neumann_weight : float
        Weight lambda of the zero-Neumann term.
    handle_weight : float
        Weight mu of the handle rows (``u = e_k`` at handle samples).
    point_handle_boost : float
        Factor on mu for the single sample of a point handle.
    prior_weight : float
        Weight eps of the pull toward the coarser level, relative to the mean diagonal
        of the normal matrix.
    visibility : bool
        Visibility-aware kernels (ray casts); off only for experiments.
    solver : {"auto", "dense", "cg"}
        Linear solver (see :func:`fieldrig.neural.sparse_solve.solve_regularised`).
    """

    levels: int = 2
    across: float = 3.0
    along: float = 6.0
    largest_spacing: float = 0.016
    smallest_spacing: float = 0.003
    bulk_particles: int = 4000
    gradation: float = 0.5
    max_particles: int = 6_500
    samples_per_particle: float = 12.0
    surface_samples_per_particle: float = 2.0
    kernel_width: float = 1.0
    kernel_support: float = 2.0
    blend_radius: float = 0.3
    neumann_weight: float = 0.5
    handle_weight: float = 100.0
    point_handle_boost: float = 100.0
    prior_weight: float = 1e-4
    visibility: bool = True
    solver: str = "auto"


SKINNING_PRESETS: Dict[str, SkinningPreset] = {
    "fast": SkinningPreset(largest_spacing=0.022, across=2.5, along=4.0, bulk_particles=1000, max_particles=2_500),
    "balanced": SkinningPreset(),
    "high": SkinningPreset(
        levels=3,
        largest_spacing=0.01,
        smallest_spacing=0.002,
        across=4.0,
        along=8.0,
        bulk_particles=10_000,
        max_particles=100_000,
    ),
}

_BLOCK = 8192  # energy samples per block of rows (bounds the memory of the pairs)

# Peak memory of a fit and the evaluation at its vertices, measured with bench/fit_memory.py
# (icospheres of 10k-164k vertices, chains of 4-64 bones, fast and balanced) and rounded up.
_BASE_BYTES = 350 << 20  # Python, numpy, torch, libigl
_VERTEX_BYTES = 2048  # mesh, winding-number domain, ray-casting BVH, normals
_PARTICLE_BYTES = 200 << 10  # energy samples, their kernel pairs and rows, normal matrix
_EVAL_PAIR_BYTES = 60 * 16  # kernel pairs of one evaluated point, per handle
_MEMORY_ADVICE = "a coarser preset, fewer deforming handles or a decimated mesh would need less"


def predicted_peak_bytes(n_vertices: int, n_handles: int, particles: int) -> int:
    """A generous prediction of the peak memory of a fit and of its weights at the vertices.

    Parameters
    ----------
    n_vertices : int
        Points of the shape (mesh vertices or cloud points).
    n_handles : int
        Weight columns.
    particles : int
        Particles of the finest level.

    Returns
    -------
    int
        Bytes.
    """
    eval_points = min(n_vertices, evaluation_chunk(n_handles))
    weights = 3 * 8 * n_vertices * n_handles  # the field's and the rig's columns, and a copy written out
    return int(
        _BASE_BYTES
        + _VERTEX_BYTES * n_vertices
        + _PARTICLE_BYTES * particles
        + weights
        + _EVAL_PAIR_BYTES * eval_points * n_handles
    )


def check_memory(n_vertices: int, n_handles: int, particles: int) -> None:
    """Refuse (:class:`InputError` naming ``mesh``) a fit that will not fit in memory."""
    require_memory(
        predicted_peak_bytes(n_vertices, n_handles, particles),
        "mesh",
        f"the fit of {n_vertices:,} points × {n_handles} handles ({particles:,} particles)",
        _MEMORY_ADVICE,
    )


_COARSE_LIMIT = 4000  # largest coarser level used as the coarse space of CG (dense inverse)


class _Timer:
    """Seconds spent per stage, summed over calls."""

    def __init__(self):
        self.seconds: Dict[str, float] = {}

    def __call__(self, stage: str):
        timer = self

        class _Span:
            def __enter__(self):
                self.start = time.perf_counter()

            def __exit__(self, *exc):
                timer.seconds[stage] = timer.seconds.get(stage, 0.0) + time.perf_counter() - self.start

        return _Span()


def fit_field(
    V: np.ndarray,
    F: Optional[np.ndarray],
    N: Optional[np.ndarray],
    handles: HandleGeometry,
    handle_names,
    preset: SkinningPreset,
    device: torch.device,
    seed: int = 0,
    progress: Optional[ProgressCallback] = None,
) -> SkinningField:
    """Fit a skinning field to validated inputs (see :func:`fieldrig.fit_skinning_field`).

    The inputs are moved to a frame where the bounding box is centred at the origin with
    diagonal 1; the field maps query points into it, so results do not depend on units
    or placement.

    Parameters
    ----------
    V : (n, 3) float
    F : (m, 3) int or None
    N : (n, 3) float or None
        Point normals (point clouds).
    handles : HandleGeometry
    handle_names : list of str
    preset : SkinningPreset
    device : torch.device
    seed : int
    progress : callable, optional

    Returns
    -------
    SkinningField
    """
    start = time.perf_counter()
    reporter = ProgressReporter(progress)
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    V = np.asarray(V, dtype=np.float64)
    lo, hi = V.min(axis=0), V.max(axis=0)
    centre, scale = (lo + hi) / 2, float(np.linalg.norm(hi - lo))
    if not scale > 0:
        raise InputError("V", "all vertices are at the same place")
    Vn, handles = (V - centre) / scale, handles.transformed(centre, scale)
    if handles.n_handles == 1:
        # One handle: the probability simplex is the single point w = 1.
        field = SkinningField(
            np.zeros((1, 3)), np.ones((1, 1)), 1.0, 2.0, 1.0, handles, list(handle_names), Vn, F, 0.0, centre, scale
        )
        field.info = {"seconds": 0.0, "levels": [], "particles": 1}
        reporter.report("done", 1.0)
        return field
    timer = _Timer()
    reporter.report("domain: winding numbers", 0.0)
    with timer("domain"):
        domain = ShapeDomain(Vn, F, N, seed=seed)
        # The margin only steps off the surface a segment starts on (mesh vertices, surface
        # samples); any other crossing hides the pair, so parts a hair apart stay apart.
        caster = SegmentVisibility(Vn, F, margin=1e-5)
    visibility = caster if preset.visibility else None
    reporter.report("particle density: thickness and handles", 0.01)
    with timer("sizing"):
        sizing = SizingField(
            domain,
            caster,
            handles.starts,
            handles.ends,
            handles.length_scales()[handles.owner],
            across=preset.across,
            along=preset.along,
            largest=max(preset.largest_spacing, (domain.volume / preset.bulk_particles) ** (1 / 3)),
            smallest=preset.smallest_spacing,
            gradation=preset.gradation,
            samples=8192,
            rng=rng,
        )
        cell_h = sizing(domain.cell_centres)
        pilot, pilot_w = domain.sample_weighted(4096, rng, cell_h**-3.0)
        expected = float((pilot_w / sizing(pilot) ** 3).sum())
        stretch = max(1.0, (expected / preset.max_particles) ** (1 / 3))
    check_memory(len(V), handles.n_handles, int(min(expected, preset.max_particles)))
    costs = 8.0 ** np.arange(preset.levels)
    done = np.concatenate([[0.0], np.cumsum(costs)]) / costs.sum()
    field = None
    levels = []
    for level in range(preset.levels):

        def report(stage: str, within: float, level=level):
            reporter.report(
                f"level {level + 1}/{preset.levels}: {stage}",
                0.02 + 0.96 * (done[level] + within * (done[level + 1] - done[level])),
            )

        factor = stretch * 2.0 ** (preset.levels - 1 - level)
        level_timer = _Timer()
        field, stats = _fit_level(
            domain,
            visibility,
            sizing,
            factor,
            stretch,
            cell_h * factor,
            expected / factor**3,
            handles,
            handle_names,
            preset,
            field,
            rng,
            device,
            report,
            level_timer,
        )
        stats["seconds"] = level_timer.seconds
        levels.append(stats)
    field.centre, field.scale = centre, scale
    field.info = {
        "preset": asdict(preset),
        "seed": seed,
        "device": str(device),
        "levels": levels,
        "particles": levels[-1]["particles"],
        "volume": domain.volume * scale**3,
        "band": domain.band * scale,
        "seconds_by_stage": timer.seconds,
        "seconds": time.perf_counter() - start,
    }
    reporter.report("done", 1.0)
    return field


def _fit_level(
    domain: ShapeDomain,
    visibility: Optional[SegmentVisibility],
    sizing: SizingField,
    factor: float,
    stretch: float,
    cell_h: np.ndarray,
    expected: float,
    handles: HandleGeometry,
    handle_names,
    preset: SkinningPreset,
    coarser: Optional[SkinningField],
    rng: np.random.Generator,
    dev: torch.device,
    report: Callable[[str, float], None],
    timer: _Timer,
):
    report("sampling", 0.0)
    cap = preset.max_particles / factor**3 * stretch**3
    n_est = max(int(math.ceil(expected)), 16)
    density = cell_h**-3.0
    with timer("sampling"):
        n_candidates = 8 * n_est
        points, weights = domain.sample_weighted(n_candidates + int(preset.samples_per_particle * n_est), rng, density)
        X, w_X = points[n_candidates:], weights[n_candidates:] * (domain.volume / weights[n_candidates:].sum())
        face_h = np.maximum(sizing(domain.element_centres) * factor, 1e-300)
        Y, normals, a_Y = domain.sample_surface(
            int(preset.surface_samples_per_particle * n_est), rng, density=face_h**-2.0
        )
    with timer("particles"):
        target = sizing(points[:n_candidates]) * factor
        particles, spacing = _place_particles(points[:n_candidates], target, domain)
        # Voxels cut by the surface of thin parts make more particles than the volume
        # estimate says: past the cap, coarsen everything and group again.
        for _ in range(3):
            if len(particles) <= 1.1 * cap:
                break
            grow = (len(particles) / cap) ** (1 / 3)
            factor, target = factor * grow, target * grow
            particles, spacing = _place_particles(points[:n_candidates], target, domain)
        sigma = preset.kernel_width * spacing
        radius = preset.kernel_support * sigma
        support = KernelSupport(particles, radius)
        # handle samples every half local spacing
        mid = 0.5 * (handles.starts + handles.ends)
        seg_h = np.minimum.reduce([sizing(handles.starts), sizing(mid), sizing(handles.ends)]) * factor
        Z, owner, isolated = handles.samples(0.5 * seg_h)
    n, H = len(particles), handles.n_handles
    P = torch.as_tensor(particles, device=dev)
    sig_t, rad_t = torch.as_tensor(sigma, device=dev), torch.as_tensor(radius, device=dev)
    clearance = domain.clearance if visibility is not None else None

    def local(points: np.ndarray) -> np.ndarray:
        """Kernel sigma of the nearest particle."""
        return sigma[support.nearest(points, 1)[1][:, 0]]

    blocks, uncovered, n_pairs = [], 0, 0

    def add_rows(points: np.ndarray, order: int, row_weight: np.ndarray, stage: str, at: float, normals=None):
        """Rows of A for samples (in blocks): weight * (Lap u | du/dn | u) at each point."""
        nonlocal uncovered, n_pairs
        report(stage, at)
        covered_all = np.zeros(len(points), dtype=bool)
        for lo in range(0, len(points), _BLOCK):
            chunk = points[lo : lo + _BLOCK]
            with timer("pairs"):
                pairs = support.pairs(chunk, visibility, dev, clearance)
            with timer("basis"):
                phi, covered = shepard_basis(torch.as_tensor(chunk, device=dev), P, pairs, sig_t, rad_t, order)
                wt = torch.as_tensor(row_weight[lo : lo + _BLOCK], device=dev)[pairs.rows]
                if order == 2:
                    vals = wt * phi[2]
                elif order == 1:
                    vals = wt * (phi[1] * torch.as_tensor(normals[lo : lo + _BLOCK], device=dev)[pairs.rows]).sum(-1)
                else:
                    vals = wt * phi[0]
                blocks.append(
                    sp.csr_matrix(
                        (vals.cpu().numpy(), (pairs.rows.cpu().numpy(), pairs.cols.cpu().numpy())),
                        shape=(len(chunk), n),
                    )
                )
                covered_all[lo : lo + _BLOCK] = covered.cpu().numpy()
                n_pairs += len(pairs.rows)
        uncovered += int((~covered_all).sum())
        return covered_all

    # Interior rows: Laplacian of u at the samples, weighted as a Monte Carlo integral.
    add_rows(X, 2, np.sqrt(w_X), "interior samples", 0.1)
    # Surface rows: normal derivative of u (zero Neumann), scaled by the local kernel width.
    add_rows(Y, 1, np.sqrt(preset.neumann_weight * a_Y) / local(Y), "surface samples", 0.4, normals)
    # Handle rows: u = e_k on handle k's samples, each standing for the interior volume
    # of one sample there; a point handle is held by one sample where a bone has many.
    sig_Z = local(Z)
    boost = np.where(isolated, preset.point_handle_boost, 1.0)
    w_Z = np.sqrt(boost * preset.handle_weight * sig_Z**3 / preset.kernel_width**3 / preset.samples_per_particle)
    w_Z = w_Z / sig_Z**2
    covered_Z = add_rows(Z, 0, w_Z, "handle samples", 0.55)

    report("normal equations", 0.6)
    with timer("normal equations"):
        A = sp.vstack(blocks, format="csr")
        gram = NormalMatrix(A, dev)
        tail = sp.csr_matrix(
            (w_Z * covered_Z, (np.arange(len(Z)), owner)), shape=(len(Z), H)
        )  # right-hand side of the handle rows
        b = torch.as_tensor(np.asarray((A[A.shape[0] - len(Z) :].T @ tail).todense()), device=dev)
        del A, blocks[:]
    report("solve", 0.85)
    with timer("prior"):
        prior = _prior(particles, handles, visibility) if coarser is None else coarser.evaluate_normalised(particles)
        prior = torch.as_tensor(prior, device=dev)
    with timer("solve"):
        eps = preset.prior_weight * float(gram.diagonal.mean())
        coarse = None
        cg = preset.solver == "cg" or (preset.solver == "auto" and not prefers_dense(gram, H))
        if coarser is not None and cg and len(coarser.particles) <= _COARSE_LIMIT:
            coarse = CoarseCorrection(coarser.interpolation(particles), gram, eps)
        values, solve_info = solve_regularised(gram, b, prior, eps, preset.solver, coarse)
        values = project_to_simplex(values)
    # blend radius per handle: from the finest spacing on it
    rho = np.full(H, np.inf)
    np.minimum.at(rho, owner, preset.blend_radius * sig_Z / preset.kernel_width)
    rho[~np.isfinite(rho)] = preset.blend_radius * float(np.median(spacing))
    field = SkinningField(
        particles,
        values.cpu().numpy(),
        sigma,
        radius,
        rho,
        handles,
        list(handle_names),
        domain.V,
        domain.F,
        visibility.margin if visibility else 0.0,
        device=str(dev) if dev.type == "cuda" else None,
    )
    stats = {
        "particles": n,
        "spacing_min": float(spacing.min()),
        "spacing_max": float(spacing.max()),
        "samples": len(X),
        "surface_samples": len(Y),
        "handle_samples": len(Z),
        "pairs": n_pairs,
        "gram_nonzeros": gram.nnz,
        "uncovered_samples": uncovered,
        "solver": solve_info,
    }
    return field, stats


def _place_particles(points: np.ndarray, target: np.ndarray, domain: ShapeDomain):
    """One particle per occupied voxel: the centroid of the domain points in it.

    Points are grouped by their target spacing into bins 2^(1/3) apart; each bin has its
    own voxel grid of that size, so the spacing follows the target within 12%.

    A centroid can fall outside the domain (a voxel over a concave gap, or across two
    parts a hair apart); such a particle would be seen from both sides and tie them
    together, so it moves to the voxel's point nearest to the centroid.

    Parameters
    ----------
    points : (m, 3) float
        Domain points, denser where the target spacing is smaller.
    target : (m,) float
        Target spacing at each point.
    domain : ShapeDomain

    Returns
    -------
    particles : (n, 3) float
    spacing : (n,) float
        Voxel size of each particle.
    """
    top = float(target.max())
    level = np.rint(3 * np.log2(top / target)).astype(np.int64)
    size = top * 2.0 ** (-level / 3)
    keys = np.floor((points - domain.lower) / size[:, None]).astype(np.int64)
    _, first, inverse = np.unique(np.column_stack([level, keys]), axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    counts = np.bincount(inverse)
    centroids = np.stack([np.bincount(inverse, points[:, d]) for d in range(3)], axis=1) / counts[:, None]
    outside = np.flatnonzero(~domain.contains(centroids))
    if len(outside):
        distance = np.linalg.norm(points - centroids[inverse], axis=1)
        order = np.lexsort((distance, inverse))  # per voxel, nearest point first
        nearest = order[np.searchsorted(inverse[order], outside)]
        centroids[outside] = points[nearest]
    return centroids, size[first]


def _prior(particles: np.ndarray, handles: HandleGeometry, visibility: Optional[SegmentVisibility]) -> np.ndarray:
    """Normalised inverse squared distances to the handles each particle sees.

    Returns
    -------
    (n, H) float
        Rows on the simplex; a handle hidden behind the surface gets no weight (unless a
        particle sees no handle at all, then all count).
    """
    d2, closest = handles.per_handle(torch.as_tensor(particles))
    w = 1.0 / (d2.numpy() + 1e-12) ** 2
    if visibility is not None:
        n, H = w.shape
        seen = visibility.visible(np.repeat(particles, H, axis=0), closest.numpy().reshape(-1, 3)).reshape(n, H)
        seen[~seen.any(axis=1)] = True
        w *= seen
    return w / w.sum(axis=1, keepdims=True)


def project_to_simplex(Y: torch.Tensor) -> torch.Tensor:
    """Euclidean projection of every row onto the probability simplex.

    Parameters
    ----------
    Y : (n, H) tensor

    Returns
    -------
    (n, H) tensor
        Non-negative rows summing to one, each the closest such row to ``Y``'s.
    """
    n, H = Y.shape
    U = torch.sort(Y, dim=1, descending=True).values
    css = torch.cumsum(U, dim=1) - 1
    idx = torch.arange(1, H + 1, dtype=Y.dtype, device=Y.device)
    cond = U - css / idx > 0
    rho = H - 1 - torch.argmax(cond.flip(1).to(torch.int8), dim=1)
    theta = css[torch.arange(n, device=Y.device), rho] / (rho + 1).to(Y.dtype)
    return torch.clamp(Y - theta[:, None], min=0)
