"""Training barycentric fields: stencil pools, the optimisation loop, presets.

A pool of interior stencils and boundary pairs (see
:mod:`fieldrig.neural.barycentric_energies`) is drawn once, with their closest boundary
points; every step takes a random batch of it, locates the candidates on the device,
evaluates the field and takes an Adam step on the weighted objective. Deterministic for
a given seed (numpy Generator for the samples, torch generator for the network).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields, replace
from typing import Dict, Mapping, Optional, Union

import numpy as np
import torch

from fieldrig.core.errors import InputError
from fieldrig.core.progress import ProgressCallback, ProgressReporter
from fieldrig.geometry.cage import Cage
from fieldrig.neural.barycentric_energies import (
    StencilValues,
    arap_energy,
    dirichlet_energy,
    influence_energy,
    influence_outside,
    parse_objective,
    pin_energy,
    total_variation,
    validate_influence,
    validate_pins,
    validate_poses,
)
from fieldrig.neural.barycentric_field import BarycentricField, FieldConfig


@dataclass
class TrainingSettings:
    """How a barycentric field is trained.

    Attributes
    ----------
    steps : int
        Adam steps.
    batch : int
        Interior stencils per step (each is d+1 field evaluations).
    boundary_batch : int
        Boundary pairs per step.
    learning_rate : float or None
        Initial Adam learning rate; decays on a cosine to ``learning_rate / 20``. None:
        2e-3, or 1e-2 when the objective has a total-variation term (local coordinates
        need sharp mixtures, which take larger steps).
    epsilon : float
        Stencil step as a fraction of the cage diameter.
    pool : int
        Interior stencils drawn once per training (boundary pairs: a quarter as many).
    """

    steps: int = 400
    batch: int = 512
    boundary_batch: int = 128
    learning_rate: Optional[float] = None
    epsilon: float = 0.01
    pool: int = 32768


#: Named settings: "fast" for tests and previews, "balanced" (default) for the quality the
#: bench reports, "high" for more steps.
BARYCENTRIC_PRESETS: Dict[str, TrainingSettings] = {
    "fast": TrainingSettings(steps=150, batch=256, boundary_batch=64, pool=8192),
    "balanced": TrainingSettings(),
    "high": TrainingSettings(steps=1500, batch=1024, boundary_batch=256, pool=65536),
}


def training_settings(preset: str = "balanced", **overrides) -> TrainingSettings:
    """A preset with some fields overridden (e.g. ``steps=300``).

    Raises
    ------
    InputError
        Unknown preset or setting name, or a non-positive value.
    """
    if preset not in BARYCENTRIC_PRESETS:
        raise InputError("preset", f"unknown preset {preset!r} (expected one of {', '.join(BARYCENTRIC_PRESETS)})")
    names = {f.name for f in fields(TrainingSettings)}
    unknown = set(overrides) - names
    if unknown:
        raise InputError(sorted(unknown)[0], f"unknown training setting (expected some of {', '.join(sorted(names))})")
    settings = replace(BARYCENTRIC_PRESETS[preset], **overrides)
    for f in fields(settings):
        value = getattr(settings, f.name)
        if value is None and f.name == "learning_rate":
            continue
        if not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
            raise InputError(f.name, f"must be a positive number, got {value!r}")
    return settings


@dataclass
class _Pool:
    """Stencils and boundary pairs with their boundary projections (numpy, CPU)."""

    centre: np.ndarray  # (N, d)
    neighbours: np.ndarray  # (N, d, d)
    signs: np.ndarray  # (N, d)
    rotations: np.ndarray  # (N, d, d)
    projection: tuple  # of the N*(d+1) stencil points, centre first
    centre_simplices: torch.Tensor  # (N, L) int32, on the field's device
    boundary_cells: np.ndarray  # (Nb, d)
    boundary_weights: np.ndarray
    inward: np.ndarray  # (Nb, d)
    inward_valid: np.ndarray  # (Nb,)
    inward_projection: tuple
    inward_simplices: torch.Tensor  # (Nb, L) int32


def _random_rotations(count: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """Uniform random rotations (QR of Gaussian matrices, sign-fixed), (count, d, d)."""
    Q, R = np.linalg.qr(rng.standard_normal((count, dim, dim)))
    Q = Q * np.sign(np.diagonal(R, axis1=1, axis2=2))[:, None, :]
    flip = np.linalg.det(Q) < 0
    Q[flip, :, 0] *= -1
    return Q


def _locate(field: BarycentricField, points: np.ndarray) -> torch.Tensor:
    x = torch.as_tensor(points, dtype=torch.float64, device=field.device)
    return field.locator(x)[0].to(torch.int32)


def _draw_pool(field: BarycentricField, settings: TrainingSettings, rng: np.random.Generator) -> _Pool:
    cage = field.cage
    d, eps = cage.dim, settings.epsilon * cage.diameter
    N = settings.pool
    x = cage.sample_interior(N, rng)
    R = _random_rotations(N, d, rng)
    forward = x[:, None, :] + eps * np.swapaxes(R, 1, 2)  # row j: x + eps R e_j
    inside_f = cage.winding_numbers(forward.reshape(-1, d)).reshape(N, d) > 0.5
    backward = 2 * x[:, None, :] - forward
    inside_b = cage.winding_numbers(backward.reshape(-1, d)).reshape(N, d) > 0.5
    signs = np.where(inside_f, 1.0, np.where(inside_b, -1.0, 0.0))
    neighbours = np.where((signs >= 0)[..., None], forward, backward)
    neighbours[signs == 0] = x[np.nonzero(signs == 0)[0]]  # a harmless valid point
    points = np.concatenate([x[:, None, :], neighbours], axis=1).reshape(-1, d)
    Nb = max(N // 4, 1)
    q, cells, weights = cage.sample_boundary(Nb, rng)
    inward = q - eps * cage.cell_normals()[cells]
    inward_valid = cage.winding_numbers(inward) > 0.5
    inward[~inward_valid] = x[: int((~inward_valid).sum())]
    return _Pool(
        x,
        neighbours,
        signs,
        R,
        cage.boundary_projection(points),
        _locate(field, x),
        cage.F[cells],
        weights,
        inward,
        inward_valid,
        cage.boundary_projection(inward),
        _locate(field, inward),
    )


def _take(projection: tuple, rows: np.ndarray) -> tuple:
    return tuple(a[rows] for a in projection)


def fit_field(
    cage: Cage,
    objective: Union[str, Mapping[str, float]] = "dirichlet",
    *,
    seed: int = 0,
    device=None,
    progress: Optional[ProgressCallback] = None,
    preset: str = "balanced",
    config: Optional[FieldConfig] = None,
    poses=None,
    influence=None,
    pins=None,
    **settings,
) -> BarycentricField:
    """Train a barycentric field on a validated cage (see :func:`fieldrig.fit_barycentric_field`)."""
    train = training_settings(preset, **settings)
    poses = validate_poses(poses, cage.V)
    radii = validate_influence(influence, cage.n_vertices, cage.diameter)
    pins = validate_pins(pins, cage.V)
    weights = parse_objective(objective, bool(radii), pins is not None, poses is not None)
    if pins is not None:
        pins = (cage.check_inside(pins[0], "pins"), pins[1])
    reporter = ProgressReporter(progress)
    reporter.report("sampling the cage", 0.0)

    sharp = "tv" in weights
    config = config or FieldConfig.default_for(cage.dim, cage.n_vertices, sharp)
    learning_rate = train.learning_rate or (1e-2 if sharp else 2e-3)
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    field = BarycentricField.create(cage, config, seed, device)
    dev, d = field.device, cage.dim
    reporter.report("locating samples", 0.0)
    pool = _draw_pool(field, train, rng)
    band_fraction = float(cage.cell_measures().sum() * train.epsilon * cage.diameter / cage.measure)
    poses_t = None if poses is None else torch.as_tensor(poses, dtype=torch.float32, device=dev)
    pin_geometry = None if pins is None else field.geometry_of(pins[0])
    pin_target = None if pins is None else torch.as_tensor(pins[1], dtype=torch.float32, device=dev)

    optimiser = torch.optim.Adam(field.network.parameters(), lr=learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, train.steps, eta_min=learning_rate / 20)
    N, Nb = len(pool.centre), len(pool.inward)
    history = []
    start = time.perf_counter()
    for step in range(train.steps):
        rows = rng.choice(N, size=min(train.batch, N), replace=False)
        brows = rng.choice(Nb, size=min(train.boundary_batch, Nb), replace=False)
        B = len(rows)
        stencil_rows = (rows[:, None] * (d + 1) + np.arange(d + 1)).ravel()
        points = np.concatenate([pool.centre[rows][:, None], pool.neighbours[rows]], axis=1).reshape(-1, d)
        hint = pool.centre_simplices[torch.as_tensor(rows, device=dev)].long().repeat_interleave(d + 1, dim=0)
        phi = field(field.point_geometry(points, *_take(pool.projection, stencil_rows), hint)).view(B, d + 1, -1)
        bhint = pool.inward_simplices[torch.as_tensor(brows, device=dev)].long()
        inward = field(field.point_geometry(pool.inward[brows], *_take(pool.inward_projection, brows), bhint))
        boundary = torch.zeros_like(inward).scatter_add(
            1,
            torch.as_tensor(pool.boundary_cells[brows], device=dev),
            torch.as_tensor(pool.boundary_weights[brows], dtype=inward.dtype, device=dev),
        )
        values = StencilValues(
            centre=phi[:, 0],
            neighbours=phi[:, 1:],
            signs=torch.as_tensor(pool.signs[rows], dtype=phi.dtype, device=dev),
            rotations=torch.as_tensor(pool.rotations[rows], dtype=phi.dtype, device=dev),
            boundary=boundary,
            inward=inward,
            inward_valid=torch.as_tensor(pool.inward_valid[brows], device=dev),
            epsilon=train.epsilon * cage.diameter,
            diameter=cage.diameter,
            band_fraction=band_fraction,
        )
        terms = {}
        if "dirichlet" in weights:
            terms["dirichlet"] = dirichlet_energy(values)
        if "tv" in weights:
            terms["tv"] = total_variation(values)
        if "arap" in weights:
            terms["arap"] = arap_energy(values, poses_t)
        if "influence" in weights:
            outside = influence_outside(pool.centre[rows], cage.V, radii, cage.diameter)
            terms["influence"] = influence_energy(phi[:, 0], torch.as_tensor(outside, dtype=phi.dtype, device=dev))
        if "pins" in weights:
            terms["pins"] = pin_energy(field(pin_geometry), pin_target)
        loss = sum(weights[k] * v for k, v in terms.items())
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        if step % 10 == 0 or step == train.steps - 1:
            history.append(
                {
                    "step": step,
                    "loss": float(loss.detach()),
                    **{k: float(v.detach()) for k, v in terms.items()},
                    "seconds": time.perf_counter() - start,
                }
            )
            reporter.report(f"training step {step + 1}/{train.steps}", (step + 1) / train.steps)
    field.history = history
    field.eval()
    reporter.report("done", 1.0)
    return field
