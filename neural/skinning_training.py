"""Fitting a skinning field: multiscale minimisation of the biharmonic energy.

Each level places particles (voxel centroids of random domain points, spacing ``h``),
draws Monte Carlo samples of the solid and of its surface, and minimises over the
particle values

    vol/M sum_m |Lap w(x_m)|^2  +  lambda area/(M_s sigma^2) sum_s |dw/dn(y_s)|^2
    + eps |P - P_prior|^2

— the bounded-biharmonic energy with the zero-Neumann condition at the surface that
libigl's BBW imposes implicitly. ``w`` is affine in the particle values and every
derivative is in closed form, so this is a sparse linear least-squares problem: one
Cholesky factorisation of its normal matrix on the torch device (CPU or CUDA), then a
Euclidean projection of every particle value onto the probability simplex. ``P_prior``
is the coarser level's field evaluated at the new particles (the first level uses the
normalised inverse squared distances to the handles); it fixes the few value
combinations the samples leave undetermined and keeps partition of unity exact.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Callable, Dict, Optional, Tuple

import numpy as np
import torch
from scipy.spatial import cKDTree

from fieldrig.geometry.domain import ShapeDomain
from fieldrig.geometry.visibility import SegmentVisibility
from fieldrig.neural.handle_blend import HandleGeometry, handle_blend
from fieldrig.neural.progress import ProgressCallback, ProgressReporter
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
        Radius of the handle blend as a multiple of the particle spacing.
    neumann_weight : float
        Weight lambda of the zero-Neumann term.
    prior_weight : float
        Weight eps of the pull toward the coarser level, relative to the mean diagonal
        of the normal matrix.
    visibility : bool
        Visibility-aware kernels (ray casts); off only for experiments.
    """

    particles: Tuple[int, ...]
    samples_per_particle: float = 8.0
    surface_samples_per_particle: float = 2.0
    kernel_width: float = 1.0
    kernel_support: float = 3.0
    blend_radius: float = 0.5
    neumann_weight: float = 1.0
    prior_weight: float = 1e-4
    visibility: bool = True


SKINNING_PRESETS: Dict[str, SkinningPreset] = {
    "fast": SkinningPreset(particles=(300, 1200)),
    "balanced": SkinningPreset(particles=(500, 1500, 4500)),
    "high": SkinningPreset(particles=(600, 2500, 9000)),
}


def fit_field(V: np.ndarray, F: Optional[np.ndarray], N: Optional[np.ndarray], handles: HandleGeometry,
              handle_names, preset: SkinningPreset, device: torch.device, seed: int = 0,
              progress: Optional[ProgressCallback] = None) -> SkinningField:
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
    reporter.report("domain: winding numbers", 0.0)
    domain = ShapeDomain(V, F, N, seed=seed)
    visibility = SegmentVisibility(V, F, margin=domain.band) if preset.visibility else None
    costs = np.array(preset.particles, dtype=float)
    done = np.concatenate([[0.0], np.cumsum(costs)]) / costs.sum()
    field = None
    levels = []
    for level, n_particles in enumerate(preset.particles):
        def report(stage: str, within: float, level=level):
            reporter.report(f"level {level + 1}/{len(preset.particles)}: {stage}",
                            0.02 + 0.96 * (done[level] + within * (done[level + 1] - done[level])))

        field, stats = _fit_level(domain, visibility, handles, handle_names, n_particles, preset, field, rng,
                                  device, report)
        levels.append(stats)
    field.info = {"preset": asdict(preset), "seed": seed, "device": str(device), "levels": levels,
                  "volume": domain.volume, "band": domain.band, "seconds": time.perf_counter() - start}
    reporter.report("done", 1.0)
    return field


def _fit_level(domain: ShapeDomain, visibility: Optional[SegmentVisibility], handles: HandleGeometry,
               handle_names, n_particles: int, preset: SkinningPreset, coarser: Optional[SkinningField],
               rng: np.random.Generator, dev: torch.device, report: Callable[[str, float], None]):
    spacing = (domain.volume / n_particles) ** (1 / 3)
    sigma = preset.kernel_width * spacing
    radius = preset.kernel_support * sigma
    rho = preset.blend_radius * spacing
    report("sampling", 0.0)
    particles = _voxel_centroids(domain.sample(8 * n_particles, rng), spacing, domain.lower)
    X = domain.sample(int(preset.samples_per_particle * n_particles), rng)
    Y, normals = domain.sample_surface(int(preset.surface_samples_per_particle * n_particles), rng)
    tree = cKDTree(particles)
    P = torch.as_tensor(particles, device=dev)
    H = handles.n_handles
    vis_fn = visibility.visible if visibility is not None else None

    report("interior rows", 0.1)
    Xt = torch.as_tensor(X, device=dev)
    pairs = kernel_pairs(X, tree, radius, visibility, dev)
    phi, covered = shepard_basis(Xt, P, pairs, sigma, radius)
    k, beta = handle_blend(Xt, handles, rho, vis_fn)
    r = pairs.rows
    B, gB, lB = beta[0][r], beta[1][r], beta[2][r]
    lap_coef = (1 - B) * phi[2] - 2 * (gB * phi[1]).sum(-1) - lB * phi[0]
    w_energy = math.sqrt(domain.volume / len(X))
    rhs_X = torch.zeros(len(X), H, dtype=Xt.dtype, device=dev)
    rhs_X[torch.arange(len(X), device=dev), k] = beta[2]
    rhs_X[~covered] = 0

    report("surface rows", 0.35)
    Yt = torch.as_tensor(Y, device=dev)
    Nt = torch.as_tensor(normals, device=dev)
    pairs_Y = kernel_pairs(Y, tree, radius, visibility, dev)
    phi_Y, covered_Y = shepard_basis(Yt, P, pairs_Y, sigma, radius)
    k_Y, beta_Y = handle_blend(Yt, handles, rho, vis_fn)
    rY = pairs_Y.rows
    dn_phi = (phi_Y[1] * Nt[rY]).sum(-1)
    dn_beta = (beta_Y[1] * Nt).sum(-1)
    neu_coef = (1 - beta_Y[0][rY]) * dn_phi - dn_beta[rY] * phi_Y[0]
    w_neumann = math.sqrt(preset.neumann_weight * domain.area / len(Y)) / sigma
    rhs_Y = torch.zeros(len(Y), H, dtype=Xt.dtype, device=dev)
    rhs_Y[torch.arange(len(Y), device=dev), k_Y] = dn_beta
    rhs_Y[~covered_Y] = 0

    report("normal equations", 0.5)
    rows = torch.cat([r, rY + len(X)])
    cols = torch.cat([pairs.cols, pairs_Y.cols])
    vals = torch.cat([w_energy * lap_coef, w_neumann * neu_coef])
    rhs = torch.cat([w_energy * rhs_X, w_neumann * rhs_Y])
    n = len(particles)
    A = torch.sparse_coo_tensor(torch.stack([rows, cols]), vals, (len(X) + len(Y), n)).coalesce()
    gram = torch.sparse.mm(A.t().coalesce(), A).to_dense()
    b = -torch.sparse.mm(A.t().coalesce(), rhs)

    prior = torch.as_tensor(_prior(particles, handles) if coarser is None else coarser.evaluate(particles), device=dev)
    report("solve", 0.8)
    eps = preset.prior_weight * float(torch.diagonal(gram).mean())
    values = _regularised_solve(gram, b, prior, eps)
    values = project_to_simplex(values)
    field = SkinningField(particles, values.cpu().numpy(), sigma, radius, rho, handles, list(handle_names),
                          domain.V, domain.F, domain.band, device=str(dev) if dev.type == "cuda" else None)
    stats = {"particles": n, "spacing": spacing, "samples": len(X), "surface_samples": len(Y),
             "pairs": int(len(rows)), "uncovered_samples": int((~covered).sum() + (~covered_Y).sum())}
    return field, stats


def _voxel_centroids(points: np.ndarray, spacing: float, origin: np.ndarray) -> np.ndarray:
    """One particle per occupied voxel: the centroid of the points in it."""
    keys = np.floor((points - origin) / spacing).astype(np.int64)
    _, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    counts = np.bincount(inverse)
    return np.stack([np.bincount(inverse, points[:, d]) for d in range(3)], axis=1) / counts[:, None]


def _prior(particles: np.ndarray, handles: HandleGeometry) -> np.ndarray:
    """Normalised inverse squared distances to the handles (rows on the simplex)."""
    X = torch.as_tensor(particles)
    d2 = torch.full((len(X), handles.n_handles), float("inf"), dtype=X.dtype)
    A = torch.as_tensor(handles.starts)
    D = torch.as_tensor(handles.ends - handles.starts)
    t = torch.clamp(((X[:, None] - A[None]) * D[None]).sum(-1) / torch.clamp((D * D).sum(-1), min=1e-300), 0, 1)
    seg_d2 = ((X[:, None] - A[None] - t[..., None] * D[None]) ** 2).sum(-1)
    owner = torch.as_tensor(handles.owner).expand(len(X), -1)
    d2.scatter_reduce_(1, owner, seg_d2, reduce="amin")
    w = 1.0 / (d2 + 1e-12) ** 2
    return (w / w.sum(1, keepdim=True)).numpy()


def _regularised_solve(gram: torch.Tensor, b: torch.Tensor, prior: torch.Tensor, eps: float) -> torch.Tensor:
    """Minimise ``x^T gram x / 2 - b^T x + eps |x - prior|^2 / 2`` by Cholesky.

    eps grows tenfold (up to five times) if the factorisation meets a non-positive pivot.
    """
    eye = torch.eye(len(gram), dtype=gram.dtype, device=gram.device)
    for _ in range(6):
        L, info = torch.linalg.cholesky_ex(gram + eps * eye)
        if int(info) == 0:
            return torch.cholesky_solve(b + eps * prior, L)
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
