"""Training barycentric fields: stencil pools, the optimisation loop, presets.

A pool of interior stencils and boundary pairs (see
:mod:`fieldrig.neural.barycentric_energies`) is drawn once, with their closest boundary
points, containing simplices, barycentrics and boundary penalties (the field's whole
geometry, which does not depend on the network); every step takes a batch of it,
evaluates the network and the mixture and takes an Adam step on the weighted objective.
Deterministic for a given seed (numpy Generator for the samples, torch generator for the
network).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import Dict, Mapping, Optional, Union

import numpy as np
import torch

from fieldrig.core.arguments import checked_callback, checked_seed
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
from fieldrig.neural.barycentric_field import BarycentricField, FieldConfig, PointGeometry
from fieldrig.neural.device import resolve_device


@dataclass(frozen=True)
class BarycentricPreset:
    """Settings of a barycentric-coordinates fit.

    Change one field of a named preset with ``dataclasses.replace``, e.g.
    ``replace(BARYCENTRIC_PRESETS["balanced"], steps=100)``.

    Attributes
    ----------
    steps : int
        Adam steps.
    batch : int
        Interior stencils per step (each is d+1 field evaluations).
    boundary_batch : int
        Boundary pairs per step.
    pool : int
        Interior stencils drawn once per fit (boundary pairs: a quarter as many).
    learning_rate : float or None
        Initial Adam learning rate; decays on a cosine to ``learning_rate / 20``. None:
        2e-3, or 1e-2 when the objective has a total-variation term (local coordinates
        need sharp mixtures, which take larger steps).
    epsilon : float
        Stencil step as a fraction of the cage diameter.
    cpu_threads : int or None
        torch threads while fitting on the CPU (the previous setting is restored after);
        None keeps torch's setting.
    """

    steps: int = 300
    batch: int = 256
    boundary_batch: int = 64
    pool: int = 8192
    learning_rate: Optional[float] = None
    epsilon: float = 0.01
    cpu_threads: Optional[int] = 1

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and f.name in ("learning_rate", "cpu_threads"):
                continue
            integer = f.name not in ("learning_rate", "epsilon")
            ok = isinstance(value, (int, np.integer)) if integer else isinstance(value, (int, float, np.number))
            if not ok or isinstance(value, bool) or not np.isfinite(value) or value <= 0:
                kind = "a positive integer" if integer else "a positive number"
                raise InputError(f.name, f"must be {kind}, got {value!r}")
        if self.epsilon >= 0.5:
            raise InputError("epsilon", f"is a fraction of the cage diameter below 0.5, got {self.epsilon}")


#: Named presets: "fast" for tests and previews, "balanced" (default) for the quality the
#: bench reports, "high" for more steps.
BARYCENTRIC_PRESETS: Dict[str, BarycentricPreset] = {
    "fast": BarycentricPreset(steps=100, batch=128, boundary_batch=32, pool=2048),
    "balanced": BarycentricPreset(),
    "high": BarycentricPreset(steps=1000, batch=512, boundary_batch=128, pool=32768),
}


def resolve_preset(preset: Union[str, BarycentricPreset]) -> BarycentricPreset:
    """A preset name or object as a :class:`BarycentricPreset`.

    Raises
    ------
    InputError
        Unknown name or another type.
    """
    if isinstance(preset, BarycentricPreset):
        return preset
    if isinstance(preset, str):
        if preset not in BARYCENTRIC_PRESETS:
            raise InputError("preset", f"unknown preset {preset!r} (expected one of {', '.join(BARYCENTRIC_PRESETS)})")
        return BARYCENTRIC_PRESETS[preset]
    raise InputError("preset", f"expected a preset name or a BarycentricPreset, got {type(preset).__name__}")


@dataclass
class _Pool:
    """Stencils and boundary pairs with their whole field geometry (on the field's device)."""

    stencils: PointGeometry  # N*(d+1) points: each stencil's centre, then its d neighbours
    signs: torch.Tensor  # (N, d)
    rotations: torch.Tensor  # (N, d, d)
    centre: np.ndarray  # (N, d)
    inward: PointGeometry  # Nb points
    boundary: torch.Tensor  # (Nb, n) exact boundary values at the boundary points
    inward_valid: torch.Tensor  # (Nb,) bool


def _random_rotations(count: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """Uniform random rotations (QR of Gaussian matrices, sign-fixed), (count, d, d)."""
    Q, R = np.linalg.qr(rng.standard_normal((count, dim, dim)))
    Q = Q * np.sign(np.diagonal(R, axis1=1, axis2=2))[:, None, :]
    flip = np.linalg.det(Q) < 0
    Q[flip, :, 0] *= -1
    return Q


def _draw_pool(field: BarycentricField, preset: BarycentricPreset, rng: np.random.Generator, work) -> _Pool:
    cage, dev = field.cage, field.device
    d, eps = cage.dim, preset.epsilon * cage.diameter
    N = preset.pool
    work.begin("sampling stencils")
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
    work.done()
    stencils = _geometry(field, points, d + 1, work, "locating stencils")
    inward_geometry = _geometry(field, inward, 1, work, "locating boundary pairs")
    exact = cage.boundary_values(cage.F[cells], weights)
    return _Pool(
        stencils,
        torch.as_tensor(signs, dtype=torch.float32, device=dev),
        torch.as_tensor(R, dtype=torch.float32, device=dev),
        x,
        inward_geometry,
        torch.as_tensor(exact, dtype=torch.float32, device=dev),
        torch.as_tensor(inward_valid, device=dev),
    )


def _geometry(field: BarycentricField, points: np.ndarray, group: int, work, stage: str) -> PointGeometry:
    """The compact field geometry of points in groups of ``group`` consecutive points (a
    stencil: the first is located by search, the others start from its simplices)."""
    parts, step = [], max(_LOCATE_CHUNK // group, 1) * group
    work.begin(stage)
    for a in range(0, len(points), step):
        chunk = points[a : a + step]
        centres = torch.as_tensor(chunk[::group], dtype=torch.float64, device=field.device)
        hint = field.locator(centres)[0].repeat_interleave(group, dim=0)
        parts.append(field.point_geometry(chunk, *field.cage.boundary_projection(chunk), hint).compact())
        work.advance((a + len(chunk)) / len(points))
    work.done()
    return PointGeometry.concatenate(parts)


#: Predicted CPU time (on a 2-core CPU) beyond which a fit is refused before it starts.
_CPU_LIMIT_S = 1800.0
#: Points located per chunk while building the pool (one progress report each).
_LOCATE_CHUNK = 8192


@contextmanager
def _torch_threads(count: Optional[int], device: torch.device):
    if count is None or device.type != "cpu" or count == torch.get_num_threads():
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def fit_field(
    cage: Cage,
    *,
    objective: Union[str, Mapping[str, float]] = "dirichlet",
    preset: Union[str, BarycentricPreset] = "balanced",
    device=None,
    seed: int = 0,
    progress: Optional[ProgressCallback] = None,
    poses=None,
    influence=None,
    pins=None,
    config: Optional[FieldConfig] = None,
) -> BarycentricField:
    """Train a barycentric field on a validated cage (see :func:`fieldrig.fit_barycentric_field`)."""
    preset = resolve_preset(preset)
    seed = checked_seed(seed)
    progress = checked_callback(progress)
    if config is not None and not isinstance(config, FieldConfig):
        raise InputError("config", f"expected a FieldConfig or None, got {type(config).__name__}")
    dev = resolve_device(device)
    poses = validate_poses(poses, cage.V)
    radii = validate_influence(influence, cage.n_vertices, cage.diameter)
    pins = validate_pins(pins, cage.V)
    weights = parse_objective(objective, bool(radii), pins is not None, poses is not None)
    if pins is not None:
        pins = (cage.check_inside(pins[0], "pins"), pins[1])
    sharp = "tv" in weights
    config = config or FieldConfig.default_for(cage.dim, cage.n_vertices, sharp)
    with _torch_threads(preset.cpu_threads, dev):
        return _train(cage, weights, preset, config, dev, int(seed), progress, poses, radii, pins)


def _train(cage, weights, preset, config, dev, seed, progress, poses, radii, pins) -> BarycentricField:
    work = _Work(ProgressReporter(progress), cage, preset, config)
    predicted = sum(work.costs.values())
    if dev.type == "cpu" and predicted > _CPU_LIMIT_S:
        raise InputError(
            cage.source,
            f"coordinates of a {cage.n_vertices:,}-vertex cage with these settings would take about "
            f"{predicted / 60:.0f} min on a 2-core CPU (the limit is {_CPU_LIMIT_S / 60:.0f} min); a cage is a coarse "
            "control shape: use fewer vertices (tens to a few hundred), a lighter preset, or a GPU",
        )
    work.begin("building triangulations")
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    field = BarycentricField.create(cage, config, seed, dev, progress=work.triangulation_built)
    work.done()
    work.plan(field.n_candidates, field.locator.max_simplices)
    d = cage.dim
    pool = _draw_pool(field, preset, rng, work)
    learning_rate = preset.learning_rate or (0.02 if "tv" in weights else 0.01)
    band_fraction = float(cage.cell_measures().sum() * preset.epsilon * cage.diameter / cage.measure)
    poses_t = None if poses is None else torch.as_tensor(poses, dtype=torch.float32, device=dev)
    pin_geometry = None if pins is None else field.geometry_of(pins[0])
    pin_target = None if pins is None else torch.as_tensor(pins[1], dtype=torch.float32, device=dev)

    optimiser = _Adam(list(field.network.parameters()))
    N, Nb = len(pool.centre), len(pool.inward.x)
    B, Bb = min(preset.batch, N), min(preset.boundary_batch, Nb)
    history = []
    start = time.perf_counter()
    work.begin("training")
    for step in range(preset.steps):
        # the pool is an i.i.d. sample: consecutive slices of it are random batches
        a, b = (step % (N // B)) * B, (step % (Nb // Bb)) * Bb
        rows, brows = slice(a, a + B), slice(b, b + Bb)
        phi = field(pool.stencils.take(slice(a * (d + 1), (a + B) * (d + 1)))).view(B, d + 1, -1)
        inward = field(pool.inward.take(brows))
        values = StencilValues(
            centre=phi[:, 0],
            neighbours=phi[:, 1:],
            signs=pool.signs[rows],
            rotations=pool.rotations[rows],
            boundary=pool.boundary[brows],
            inward=inward,
            inward_valid=pool.inward_valid[brows],
            epsilon=preset.epsilon * cage.diameter,
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
        loss.backward()
        optimiser.step(_cosine(learning_rate, step, preset.steps))
        if step % 10 == 0 or step == preset.steps - 1:
            history.append(
                {
                    "step": step,
                    "loss": float(loss.detach()),
                    **{k: float(v.detach()) for k, v in terms.items()},
                    "seconds": time.perf_counter() - start,
                }
            )
            work.advance((step + 1) / preset.steps, f"training step {step + 1}/{preset.steps}")
    field.history = history
    field.eval()
    work.finish()
    return field


def _cosine(rate: float, step: int, steps: int) -> float:
    """Learning rate of a step: a cosine from ``rate`` down to ``rate / 20``."""
    return rate / 20 + (rate - rate / 20) * 0.5 * (1.0 + np.cos(np.pi * step / steps))


class _Adam:
    """Adam (Kingma & Ba 2015, bias-corrected, torch.optim.Adam's defaults) on a list of
    tensors; ``step`` also clears the gradients. torch.optim is not used because its first
    use in a process imports torch._dynamo, 0.9 s here, a tenth of the whole fit."""

    def __init__(self, params: list, betas=(0.9, 0.999), eps: float = 1e-8):
        self.params, self.betas, self.eps, self.t = params, betas, eps, 0
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]

    @torch.no_grad()
    def step(self, rate: float) -> None:
        self.t += 1
        b1, b2 = self.betas
        c1, c2 = 1.0 - b1**self.t, 1.0 - b2**self.t
        for p, m, v in zip(self.params, self.m, self.v):
            m.mul_(b1).add_(p.grad, alpha=1.0 - b1)
            v.mul_(b2).addcmul_(p.grad, p.grad, value=1.0 - b2)
            p.addcdiv_(m, (v / c2).sqrt_().add_(self.eps), value=-rate / c1)
            p.grad = None


class _Work:
    """Progress fractions proportional to the predicted time of each stage.

    Each stage's cost is predicted from the sizes of its work (points, candidates per
    point, simplices per triangulation, cage size, network size) with constants fitted to
    stage timings on a 2-core CPU for cages of 6 to 1,202 vertices (within ±30%, ±50% for
    the shortest stages); only
    their ratios matter, since the ETA divides the elapsed time by the fraction done. The
    triangulation family is predicted with its random triangulations only; once it is
    built, the rest is predicted from its actual size and mapped onto the fractions left.
    """

    def __init__(self, reporter: ProgressReporter, cage: Cage, preset: BarycentricPreset, config: FieldConfig):
        self.reporter, self.cage, self.preset, self.config = reporter, cage, preset, config
        self.log: list = []  # (stage, seconds, predicted seconds), for tuning the model
        n, d = cage.n_vertices, cage.dim
        m, k = len(cage.F), config.apexes_per_cell
        # forced triangulations: every cell with the vertices on its inner side (about half),
        # or, until each cell is a facet of k, about 0.55 k √m (spot and arm cages, ±50%)
        forced = m * (n - d) // 2 if k is None else int(0.55 * k * np.sqrt(m))
        expected = 1 + config.random_triangulations + forced
        self.costs = self._costs(expected, _typical_simplices(n, d))
        self.lo, self.hi = 0.0, 1.0  # the fractions the stages still to predict map onto
        self.scale = 1.0 / sum(self.costs.values())
        self.expected = expected
        self.stage, self._t, self.before = "", time.perf_counter(), 0.0

    def _costs(self, L: int, T: int) -> Dict[str, float]:
        n, d, m = self.cage.n_vertices, self.cage.dim, len(self.cage.F)
        p, c = self.preset, self.config
        N, Nb = p.pool, max(p.pool // 4, 1)
        box = float(np.prod(np.ptp(self.cage.V, axis=0)))
        tested = N * 1.2 * box / max(self.cage.measure, 1e-300) + 2 * d * N + Nb  # winding numbers
        k = (d + 1) ** 2
        walk = T ** (1.0 / d)  # simplices a walk from the start crosses
        macs = (2 * c.fourier_features + d) * c.width + (c.depth - 1) * c.width**2 + c.width * n
        P = p.batch * (d + 1) + p.boundary_batch
        return {
            "building triangulations": L * (1e-4 + 1.8e-5 * n),
            "sampling stencils": 1.5e-7 * tested * np.sqrt(m),
            "locating stencils": N * (d + 1) * (2.05e-8 * L * k + 5.2e-8 * n) + 6.2e-9 * N * L * k * walk,
            "locating boundary pairs": Nb * (2.05e-8 * L * k + 5.2e-8 * n) + 6.2e-9 * Nb * L * k * walk,
            "training": p.steps * (2.2e-3 + P * (5.9e-9 * L * (d + 1) + 1.9e-8 * n + 3e-11 * macs)),
        }

    def triangulation_built(self, count: int) -> None:
        """Progress callback of the family's construction (``count`` triangulations built)."""
        self.advance(min(count / self.expected, 0.99), f"building triangulations ({count})")

    def plan(self, candidates: int, simplices: int) -> None:
        """Predict the remaining stages from the built family's actual size."""
        first = self.costs["building triangulations"] * self.scale
        self.costs = self._costs(candidates, simplices)
        self.lo = first
        self.before = 0.0
        rest = sum(v for k, v in self.costs.items() if k != "building triangulations")
        self.scale = (1.0 - first) / rest

    def begin(self, stage: str) -> None:
        self.stage = stage
        self._t = time.perf_counter()
        self.advance(0.0)

    def advance(self, within: float, text: Optional[str] = None) -> None:
        """Report that ``within`` (0..1) of the current stage is done."""
        cost = self.costs.get(self.stage, 0.0)
        self.reporter.report(text or self.stage, self.lo + (self.before + within * cost) * self.scale)

    def done(self) -> None:
        self.log.append((self.stage, time.perf_counter() - self._t, self.costs.get(self.stage)))
        if self.stage != "building triangulations":
            self.before += self.costs.get(self.stage, 0.0)

    def finish(self) -> None:
        self.done()
        self.reporter.report("done", 1.0)


def _typical_simplices(n: int, d: int) -> int:
    """Simplices of a triangulation of n cage vertices, before one is built (measured: 2D
    about n, 3D about 3.3 n to 6 n)."""
    return max(1, n if d == 2 else 5 * n)
