"""Objectives for barycentric coordinates, as Monte Carlo estimators over point stencils.

Every estimator works on finite differences between the field at a point and at points a
distance ε away, never on autograd derivatives: the field jumps where candidate simplices
change (and could jump right inside the boundary), and a finite difference that straddles
a jump sees it, a derivative does not. Two kinds of pairs cover every place a jump can sit:

* interior stencils: x uniform in the cage, and x + s ε R e_j for a random rotation R
  (s = −1 when the forward point leaves the cage);
* boundary pairs: q uniform on the boundary, with its exact boundary values, and q + ε n
  (n the inward normal). Without them a field can match the boundary exactly *on* it and
  jump right inside, where no interior pair looks (DESIGN §7).

All energies are dimensionless averages over the cage interior, so that weights of a
weighted sum do not depend on the cage's size:

* ``dirichlet``: ½ ⟨Σ_i |∇φ_i|²⟩ · D² (D the cage diameter) — harmonic-like coordinates.
* ``tv``: ⟨Σ_i |∇φ_i|⟩ · D, total variation including the jumps — local coordinates.
* ``arap``: ⟨‖J − R(J)‖²_F⟩ over example cage poses, J the Jacobian of the deformation
  x ↦ Σ_i φ_i(x) v'_i and R(J) its closest rotation — deformation-aware coordinates.
* ``influence``: ⟨Σ_i φ_i(x) · out_i(x)⟩, out_i ramping from 0 to 1 beyond a radius r_i
  around vertex i — limits each named vertex's region of influence.
* ``pins``: mean squared distance between φ and prescribed valid coordinates at given
  points.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Mapping, Optional, Sequence, Union

import numpy as np
import torch

from fieldrig.core.errors import InputError

OBJECTIVES = ("dirichlet", "tv", "arap", "influence", "pins")
#: Weight given to ``influence`` / ``pins`` when their data is passed but the objective
#: does not name them.
DEFAULT_CONTROL_WEIGHTS = {"influence": 100.0, "pins": 1000.0}
#: E|u · e| for u uniform on the unit circle / sphere: turns directional differences into |∇|.
_MEAN_ABS_COSINE = {2: 2.0 / np.pi, 3: 0.5}


def parse_objective(
    objective: Union[str, Mapping[str, float]], has_influence: bool, has_pins: bool, has_poses: bool
) -> Dict[str, float]:
    """Turn the ``objective`` argument into ``{name: weight}``.

    Parameters
    ----------
    objective : str or mapping
        One of ``"dirichlet"``, ``"tv"``, ``"arap"`` (weight 1), or a mapping of those and
        ``"influence"`` / ``"pins"`` to non-negative weights, e.g.
        ``{"dirichlet": 1.0, "tv": 0.05}``.
    has_influence, has_pins, has_poses : bool
        Whether influence radii, pinned values, example poses were given; given control
        data that the objective does not name is added with
        :data:`DEFAULT_CONTROL_WEIGHTS`.

    Returns
    -------
    dict
    """
    if isinstance(objective, str):
        if objective not in ("dirichlet", "tv", "arap"):
            raise InputError(
                "objective",
                f"unknown objective {objective!r} (expected 'dirichlet', 'tv', 'arap' or a "
                f"mapping of {', '.join(OBJECTIVES)} to weights)",
            )
        weights = {objective: 1.0}
    elif isinstance(objective, Mapping):
        weights = {}
        for name, w in objective.items():
            if name not in OBJECTIVES:
                raise InputError("objective", f"unknown term {name!r} (expected some of {', '.join(OBJECTIVES)})")
            try:
                w = float(w)
            except (TypeError, ValueError):
                raise InputError("objective", f"the weight of {name!r} must be a number, got {w!r}") from None
            if not np.isfinite(w) or w < 0:
                raise InputError("objective", f"the weight of {name!r} must be finite and non-negative, got {w}")
            weights[name] = w
    else:
        raise InputError(
            "objective", f"expected a name or a mapping of names to weights, got {type(objective).__name__}"
        )
    for name, given in (("influence", has_influence), ("pins", has_pins)):
        if given and name not in weights:
            weights[name] = DEFAULT_CONTROL_WEIGHTS[name]
        if weights.get(name, 0.0) > 0 and not given:
            raise InputError("objective", f"the {name!r} term needs {name} data (argument {name}=...)")
    if weights.get("arap", 0.0) > 0 and not has_poses:
        raise InputError("objective", "the 'arap' term needs example cage poses (argument poses=...)")
    weights = {k: w for k, w in weights.items() if w > 0}
    if not weights:
        raise InputError("objective", "every objective weight is zero")
    return weights


@dataclass
class StencilValues:
    """The field evaluated on a batch of stencils and boundary pairs.

    Attributes
    ----------
    centre : (B, n) tensor
        φ at the stencil centres x.
    neighbours : (B, d, n) tensor
        φ at x + s_j ε R e_j.
    signs : (B, d) tensor
        s_j (±1; 0 where neither side is inside the cage).
    rotations : (B, d, d) tensor
        R (columns are the stencil directions).
    boundary : (Bb, n) tensor
        Exact boundary values at boundary points q.
    inward : (Bb, n) tensor
        φ at q + ε n.
    inward_valid : (Bb,) bool tensor
    epsilon : float
        Stencil step ε (absolute).
    diameter : float
    band_fraction : float
        |∂Ω| ε / |Ω|: the share of the interior the boundary pairs stand for.
    """

    centre: torch.Tensor
    neighbours: torch.Tensor
    signs: torch.Tensor
    rotations: torch.Tensor
    boundary: torch.Tensor
    inward: torch.Tensor
    inward_valid: torch.Tensor
    epsilon: float
    diameter: float
    band_fraction: float


def dirichlet_energy(s: StencilValues) -> torch.Tensor:
    """½ ⟨Σ|∇φ_i|²⟩ D², interior stencils plus boundary pairs."""
    d = s.signs.shape[1]
    valid = s.signs != 0
    sq = ((s.neighbours - s.centre[:, None, :]) ** 2).sum(dim=2) / s.epsilon**2  # (B, d)
    interior = d * sq[valid].mean()
    inward = ((s.inward - s.boundary) ** 2).sum(dim=1)[s.inward_valid].mean() / s.epsilon**2
    return 0.5 * (interior + s.band_fraction * _zero_if_nan(inward)) * s.diameter**2


def total_variation(s: StencilValues) -> torch.Tensor:
    """⟨Σ|∇φ_i|⟩ D, jumps included, interior stencils plus boundary pairs."""
    d = s.signs.shape[1]
    valid = s.signs != 0
    ab = (s.neighbours - s.centre[:, None, :]).abs().sum(dim=2) / s.epsilon  # (B, d)
    interior = ab[valid].mean() / _MEAN_ABS_COSINE[d]
    inward = (s.inward - s.boundary).abs().sum(dim=1)[s.inward_valid].mean() / s.epsilon
    return (interior + s.band_fraction * _zero_if_nan(inward)) * s.diameter


def arap_energy(s: StencilValues, poses: torch.Tensor) -> torch.Tensor:
    """⟨‖J − R(J)‖²_F⟩ over stencils and example poses.

    Parameters
    ----------
    s : StencilValues
    poses : (K, n, d) tensor
        Example cage vertex positions.
    """
    full = (s.signs != 0).all(dim=1)
    diff = (s.neighbours[full] - s.centre[full][:, None, :]) / (s.signs[full][..., None] * s.epsilon)  # (b, d, n)
    D = torch.einsum("bjn,knc->kbcj", diff, poses)  # columns: derivative along R e_j
    J = D @ s.rotations[full].transpose(1, 2)[None]  # (K, b, d, d)
    U, _, Vh = torch.linalg.svd(J.detach())
    det = torch.det(U @ Vh)
    U = torch.cat([U[..., :-1], U[..., -1:] * det[..., None, None]], dim=-1)
    return ((J - U @ Vh) ** 2).sum(dim=(2, 3)).mean()


def influence_energy(phi: torch.Tensor, outside: torch.Tensor) -> torch.Tensor:
    """⟨Σ_i φ_i out_i⟩ at interior points.

    Parameters
    ----------
    phi : (B, n) tensor
    outside : (B, n) tensor
        out_i(x) in [0, 1] (0 for vertices without a limit).
    """
    return (phi * outside).sum(dim=1).mean()


def pin_energy(phi: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over pins of Σ_i (φ_i − target_i)²."""
    return ((phi - target) ** 2).sum(dim=1).mean()


def influence_outside(
    points: np.ndarray, cage_V: np.ndarray, radii: Mapping[int, float], diameter: float
) -> np.ndarray:
    """out_i(x): 0 within radius r_i of vertex i, ramping to 1 over 5% of the diameter beyond.

    Parameters
    ----------
    points : (B, d) float
    cage_V : (n, d) float
    radii : mapping vertex index -> radius
    diameter : float

    Returns
    -------
    (B, n) float
    """
    out = np.zeros((len(points), len(cage_V)))
    for i, r in radii.items():
        dist = np.linalg.norm(points - cage_V[i], axis=1)
        out[:, i] = np.clip((dist - r) / (0.05 * diameter), 0.0, 1.0)
    return out


def validate_influence(influence: Optional[Mapping], n: int, diameter: float) -> Dict[int, float]:
    """Check ``{vertex index: radius}``; return it with int keys and float radii."""
    if influence is None:
        return {}
    if not isinstance(influence, Mapping) or not influence:
        raise InputError("influence", "expected a non-empty mapping {cage vertex index: radius}")
    out = {}
    for i, r in influence.items():
        try:
            i, r = int(i), float(r)
        except (TypeError, ValueError):
            raise InputError(
                "influence", f"expected integer vertex indices and numeric radii, got {i!r}: {r!r}"
            ) from None
        if not 0 <= i < n:
            raise InputError("influence", f"vertex {i} does not exist (the cage has vertices 0..{n - 1})")
        if not np.isfinite(r) or r <= 0:
            raise InputError("influence", f"the radius of vertex {i} must be positive, got {r}")
        out[i] = r
    return out


def validate_pins(pins, cage_V: np.ndarray) -> Optional[tuple]:
    """Check pinned coordinates: ``(points (k, d), values (k, n))`` of valid coordinates.

    Returns
    -------
    (points, values) as float arrays, or None.
    """
    if pins is None:
        return None
    try:
        points, values = (np.asarray(a, dtype=np.float64) for a in pins)
    except (TypeError, ValueError):
        raise InputError("pins", "expected (points (k, d), values (k, n)) arrays") from None
    n, d = cage_V.shape
    if points.ndim != 2 or points.shape[1] != d or values.shape != (len(points), n) or len(points) == 0:
        raise InputError(
            "pins",
            f"expected points of shape (k, {d}) and values of shape (k, {n}), got {points.shape} and {values.shape}",
        )
    diam = float(np.linalg.norm(np.ptp(cage_V, axis=0)))
    bad = (
        (values.min(axis=1) < -1e-9)
        | (np.abs(values.sum(axis=1) - 1) > 1e-6)
        | (np.linalg.norm(values @ cage_V - points, axis=1) > 1e-6 * diam)
    )
    if np.any(bad):
        raise InputError(
            "pins",
            f"{int(bad.sum())} pinned value rows are not valid coordinates of their point "
            f"(need non-negative values summing to 1 with values @ cage vertices = point; first: "
            f"row {int(np.argmax(bad))})",
        )
    return points, values


def validate_poses(poses: Optional[Sequence], cage_V: np.ndarray) -> Optional[np.ndarray]:
    """Check example cage poses; return a (K, n, d) float array or None."""
    if poses is None:
        return None
    try:
        P = np.asarray(poses, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError("poses", "expected a list of (n, d) cage vertex arrays") from None
    if P.ndim == 2:
        P = P[None]
    if P.ndim != 3 or P.shape[1:] != cage_V.shape or len(P) == 0:
        raise InputError("poses", f"each pose must be an array of shape {cage_V.shape}, got {P.shape}")
    if not np.all(np.isfinite(P)):
        raise InputError("poses", "poses contain NaN or infinite coordinates")
    return P


def _zero_if_nan(x: torch.Tensor) -> torch.Tensor:
    """A mean over an empty selection is NaN; count it as nothing."""
    return torch.nan_to_num(x, nan=0.0)
