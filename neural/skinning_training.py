"""Fitting a skinning field: multiscale minimisation of the biharmonic energy.

Each level places particles (voxel centroids of random domain points, spacing ``h``),
draws Monte Carlo samples of the solid (``x_m``), of its surface (``y_s``, normals ``n_s``)
and of the handles (``z_j`` on handle ``k_j``), and minimises over the particle values::

    vol/M sum_m |Lap u(x_m)|^2  +  lambda area/(M_s sigma^2) sum_s |du/dn(y_s)|^2
    +  mu vol/(M sigma^4) sum_j |u(z_j) - e_(k_j)|^2  +  eps |P - P_prior|^2

— the biharmonic energy with the zero-Neumann condition at the surface that libigl's
BBW imposes implicitly, and the handle values imposed on the handles themselves (lines
and points, as BBW does; imposing them on a tube would also clamp the field's slope
there). ``u`` is linear in the particle values and every derivative is in closed form,
so this is a sparse linear least-squares problem: one Cholesky factorisation of its
normal matrix on the torch device (CPU or CUDA), then a Euclidean projection of every
particle value onto the probability simplex. ``P_prior`` is the coarser level's field
evaluated at the new particles (the first level uses the normalised inverse squared
distances to the handles); it fixes the few value combinations the samples leave
undetermined and keeps partition of unity exact (every term is satisfied by constants).
The final field adds the thin exact blend of :mod:`fieldrig.neural.handle_blend`.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import asdict, dataclass
from typing import Callable, Dict, Optional, Tuple

import numpy as np
import torch
from scipy.spatial import cKDTree

from fieldrig.core.progress import ProgressCallback, ProgressReporter
from fieldrig.geometry.domain import ShapeDomain
from fieldrig.geometry.visibility import SegmentVisibility
from fieldrig.neural.handle_blend import HandleGeometry
from fieldrig.neural.skinning_field import SkinningField, kernel_pairs, shepard_basis


@dataclass(frozen=True)
class SkinningPreset:
    """Settings of a skinning fit.

    Attributes
    ----------
    particles : tuple of int
        Particle count of each level, coarse to fine.
    samples_per_particle : float
        Interior energy samples per particle.
    surface_samples_per_particle : float
        Surface (Neumann) samples per particle.
    kernel_width : float
        Kernel sigma as a multiple of the particle spacing.
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
    """

    particles: Tuple[int, ...]
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


SKINNING_PRESETS: Dict[str, SkinningPreset] = {
    "fast": SkinningPreset(particles=(200, 1000)),
    "balanced": SkinningPreset(particles=(600, 4000)),
    "high": SkinningPreset(particles=(1000, 4000, 10000)),
}


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
    if handles.n_handles == 1:
        # One handle: the probability simplex is the single point w = 1.
        field = SkinningField(
            V.mean(axis=0, keepdims=True),
            np.ones((1, 1)),
            1.0,
            1.0,
            1.0,
            handles,
            list(handle_names),
            V,
            F,
            0.0,
            info={"seconds": 0.0, "levels": []},
        )
        reporter.report("done", 1.0)
        return field
    reporter.report("domain: winding numbers", 0.0)
    domain = ShapeDomain(V, F, N, seed=seed)
    # The margin only steps off the surface a segment starts on (mesh vertices, surface
    # samples); any other crossing hides the pair, so parts a hair apart stay apart.
    visibility = SegmentVisibility(V, F, margin=1e-5 * domain.diagonal) if preset.visibility else None
    costs = np.array(preset.particles, dtype=float)
    done = np.concatenate([[0.0], np.cumsum(costs)]) / costs.sum()
    field = None
    levels = []
    for level, n_particles in enumerate(preset.particles):

        def report(stage: str, within: float, level=level):
            reporter.report(
                f"level {level + 1}/{len(preset.particles)}: {stage}",
                0.02 + 0.96 * (done[level] + within * (done[level + 1] - done[level])),
            )

        field, stats = _fit_level(
            domain, visibility, handles, handle_names, n_particles, preset, field, rng, device, report
        )
        levels.append(stats)
    field.info = {
        "preset": asdict(preset),
        "seed": seed,
        "device": str(device),
        "levels": levels,
        "volume": domain.volume,
        "band": domain.band,
        "seconds": time.perf_counter() - start,
    }
    reporter.report("done", 1.0)
    return field


def _fit_level(
    domain: ShapeDomain,
    visibility: Optional[SegmentVisibility],
    handles: HandleGeometry,
    handle_names,
    n_particles: int,
    preset: SkinningPreset,
    coarser: Optional[SkinningField],
    rng: np.random.Generator,
    dev: torch.device,
    report: Callable[[str, float], None],
):
    spacing = (domain.volume / n_particles) ** (1 / 3)
    sigma = preset.kernel_width * spacing
    radius = preset.kernel_support * sigma
    report("sampling", 0.0)
    points = domain.sample(8 * n_particles + int(preset.samples_per_particle * n_particles), rng)
    particles = _place_particles(points[: 8 * n_particles], spacing, domain)
    X = points[8 * n_particles :]
    Y, normals = domain.sample_surface(int(preset.surface_samples_per_particle * n_particles), rng)
    Z, owner, isolated = handles.samples(0.5 * spacing)
    tree = cKDTree(particles)
    P = torch.as_tensor(particles, device=dev)
    n, H = len(particles), handles.n_handles

    def basis(points: np.ndarray, order: int, stage: str, at: float):
        report(stage, at)
        pairs = kernel_pairs(points, tree, radius, visibility, dev)
        phi, covered = shepard_basis(torch.as_tensor(points, device=dev), P, pairs, sigma, radius, order)
        return pairs, phi, covered

    # Interior rows: Laplacian of u at the samples, weighted as a Monte Carlo integral.
    pairs_X, phi_X, covered_X = basis(X, 2, "interior samples", 0.1)
    w_energy = math.sqrt(domain.volume / len(X))
    # Surface rows: normal derivative of u (zero Neumann).
    pairs_Y, phi_Y, covered_Y = basis(Y, 1, "surface samples", 0.4)
    Nt = torch.as_tensor(normals, device=dev)
    w_neumann = math.sqrt(preset.neumann_weight * domain.area / len(Y)) / sigma
    # Handle rows: u = e_k on handle k's samples.
    pairs_Z, phi_Z, covered_Z = basis(Z, 0, "handle samples", 0.55)
    # A point handle is held by one sample where a bone has many: it weighs more.
    w_handle = torch.as_tensor(np.where(isolated, preset.point_handle_boost, 1.0), device=dev)
    w_handle = torch.sqrt(w_handle * preset.handle_weight * domain.volume / len(X)) / sigma**2
    rhs_Z = torch.zeros(len(Z), H, dtype=P.dtype, device=dev)
    rhs_Z[torch.arange(len(Z), device=dev), torch.as_tensor(owner, device=dev)] = w_handle
    rhs_Z[~covered_Z] = 0

    report("normal equations", 0.6)
    rows = torch.cat([pairs_X.rows, pairs_Y.rows + len(X), pairs_Z.rows + len(X) + len(Y)])
    cols = torch.cat([pairs_X.cols, pairs_Y.cols, pairs_Z.cols])
    vals = torch.cat(
        [w_energy * phi_X[2], w_neumann * (phi_Y[1] * Nt[pairs_Y.rows]).sum(-1), w_handle[pairs_Z.rows] * phi_Z[0]]
    )
    gram, b = _normal_equations(rows, cols, vals, len(X) + len(Y), rhs_Z, n)

    report("solve", 0.85)
    prior = _prior(particles, handles, visibility) if coarser is None else coarser.evaluate(particles)
    eps = preset.prior_weight * float(torch.diagonal(gram).mean())
    values = project_to_simplex(_regularised_solve(gram, b, torch.as_tensor(prior, device=dev), eps))
    rho = preset.blend_radius * spacing
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
    uncovered = int((~covered_X).sum() + (~covered_Y).sum() + (~covered_Z).sum())
    stats = {
        "particles": n,
        "spacing": spacing,
        "samples": len(X),
        "surface_samples": len(Y),
        "handle_samples": len(Z),
        "pairs": int(len(rows)),
        "uncovered_samples": uncovered,
    }
    return field, stats


def _normal_equations(
    rows: torch.Tensor, cols: torch.Tensor, vals: torch.Tensor, n_zero_rhs: int, rhs_tail: torch.Tensor, n: int
):
    """``A^T A`` (dense) and ``A^T c`` of the sparse least-squares system ``min |A p - c|``.

    ``rows`` must be sorted; the right-hand side ``c`` is zero on the first ``n_zero_rhs``
    rows and ``rhs_tail`` on the rest. The sparse product runs in cuSPARSE on a GPU and in
    SciPy on the CPU (twice as fast there as torch's CPU kernel).
    """
    n_rows = n_zero_rhs + len(rhs_tail)
    tail = slice(int(torch.searchsorted(rows, n_zero_rhs)), None)
    if vals.device.type == "cpu":
        import scipy.sparse as sp

        A = sp.csr_matrix((vals.numpy(), (rows.numpy(), cols.numpy())), shape=(n_rows, n))
        gram = torch.as_tensor((A.T @ A).toarray())
        b = torch.as_tensor(A[n_zero_rhs:].T @ rhs_tail.numpy())
        return gram, b
    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")
    warnings.filterwarnings("ignore", message="Sparse invariant checks are implicitly disabled")
    crow = torch.zeros(n_rows + 1, dtype=torch.int64, device=vals.device)
    crow[1:] = torch.cumsum(torch.bincount(rows, minlength=n_rows), 0)
    by_col = torch.argsort(cols, stable=True)
    ccol = torch.zeros(n + 1, dtype=torch.int64, device=vals.device)
    ccol[1:] = torch.cumsum(torch.bincount(cols, minlength=n), 0)
    At = torch.sparse_csr_tensor(ccol, rows[by_col], vals[by_col], (n, n_rows))
    gram = torch.sparse.mm(At, torch.sparse_csr_tensor(crow, cols, vals, (n_rows, n))).to_dense()
    b = torch.zeros(n, rhs_tail.shape[1], dtype=vals.dtype, device=vals.device)
    b.index_add_(0, cols[tail], vals[tail, None] * rhs_tail[rows[tail] - n_zero_rhs])
    return gram, b


def _place_particles(points: np.ndarray, spacing: float, domain: ShapeDomain) -> np.ndarray:
    """One particle per occupied voxel: the centroid of the domain points in it.

    A centroid can fall outside the domain (a voxel over a concave gap, or across two
    parts a hair apart); such a particle would be seen from both sides and tie them
    together, so it moves to the voxel's point nearest to the centroid.

    Parameters
    ----------
    points : (m, 3) float
        Uniform domain points.
    spacing : float
        Voxel size.
    domain : ShapeDomain

    Returns
    -------
    (n, 3) float
    """
    keys = np.floor((points - domain.lower) / spacing).astype(np.int64)
    _, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    counts = np.bincount(inverse)
    centroids = np.stack([np.bincount(inverse, points[:, d]) for d in range(3)], axis=1) / counts[:, None]
    outside = np.flatnonzero(~domain.contains(centroids))
    if len(outside):
        distance = np.linalg.norm(points - centroids[inverse], axis=1)
        order = np.lexsort((distance, inverse))  # per voxel, nearest point first
        first = order[np.searchsorted(inverse[order], outside)]
        centroids[outside] = points[first]
    return centroids


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


def _regularised_solve(gram: torch.Tensor, b: torch.Tensor, prior: torch.Tensor, eps: float) -> torch.Tensor:
    """Minimise ``x^T gram x / 2 - b^T x + eps |x - prior|^2 / 2`` by Cholesky.

    eps grows tenfold (up to five times) if the factorisation meets a non-positive pivot.
    """
    diagonal = torch.diagonal(gram)
    base = diagonal.clone()
    for _ in range(6):
        diagonal.copy_(base + eps)
        L, info = torch.linalg.cholesky_ex(gram)
        if int(info) == 0:
            y = torch.linalg.solve_triangular(L, b + eps * prior, upper=False)
            return torch.linalg.solve_triangular(L.mT, y, upper=True)
        eps *= 10
    raise RuntimeError("the skinning system could not be factorised (normal matrix not positive definite)")


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
