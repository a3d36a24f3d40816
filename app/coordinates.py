"""Public API: neural generalized barycentric coordinates of a cage.

>>> import numpy as np, fieldrig
>>> square = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], float)
>>> Phi = fieldrig.barycentric_coordinates(square, [[0.5, 0.5]], preset="fast")   # doctest: +SKIP
>>> field = fieldrig.fit_barycentric_field("cage.obj", objective="tv")              # doctest: +SKIP
>>> field.save("cage-coords.pt")                                                    # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from fieldrig.core.progress import ProgressCallback
from fieldrig.geometry.cage import as_cage

if TYPE_CHECKING:  # torch stays unimported until a fit
    from fieldrig.neural.barycentric_field import BarycentricField, FieldConfig
    from fieldrig.neural.barycentric_training import BarycentricPreset

Objective = Union[str, Mapping[str, float]]


def fit_barycentric_field(
    cage,
    *,
    objective: Objective = "dirichlet",
    preset: Union[str, "BarycentricPreset"] = "balanced",
    device: Optional[str] = None,
    seed: int = 0,
    progress: Optional[ProgressCallback] = None,
    poses: Optional[Sequence[np.ndarray]] = None,
    influence: Optional[Mapping[int, float]] = None,
    pins: Optional[Tuple[np.ndarray, np.ndarray]] = None,
    config: Optional["FieldConfig"] = None,
) -> "BarycentricField":
    """Train generalized barycentric coordinates of a cage as a neural field.

    The result is valid (non-negative, partition of unity, linear reproduction, exact
    boundary values) whatever the training reached; the objective chooses which valid
    coordinates it is.

    Parameters
    ----------
    cage : Cage, str, PathLike, (n, 2) array or (V, F) tuple
        A polygon's vertices in loop order (either orientation, convex or not), a closed
        triangulated 3D cage ``(V (n, 3), F (m, 3))``, a cage file (.obj/.off/.ply/.json)
        or a :class:`~fieldrig.geometry.cage.Cage`.
    objective : str or mapping
        ``"dirichlet"`` (harmonic-like, default), ``"tv"`` (total variation: local
        coordinates), ``"arap"`` (as-rigid-as-possible over ``poses``), or a weighted sum
        such as ``{"dirichlet": 1.0, "arap": 0.5, "influence": 10.0}``.
    preset : {"fast", "balanced", "high"} or BarycentricPreset
        Time/quality trade-off (see ``fieldrig.BARYCENTRIC_PRESETS``), or custom settings,
        e.g. ``dataclasses.replace(fieldrig.BARYCENTRIC_PRESETS["balanced"], steps=100)``.
    device : {"cpu", "cuda", "auto"} or None
        None/"auto": CUDA when available, else CPU; "cuda" without a GPU raises
        :class:`~fieldrig.InputError`.
    seed : int
        Seeds sampling, the triangulation family and the network: equal seeds give equal
        fields.
    progress : callable, optional
        Receives :class:`~fieldrig.ProgressEvent` from the start (setup included); the
        fraction is proportional to the predicted time, so its ETA holds. Returning
        ``False`` cancels (:class:`~fieldrig.Cancelled` is raised).
    poses : sequence of (n, d) arrays, optional
        Example cage poses for the ``"arap"`` term.
    influence : mapping {vertex index: radius}, optional
        Limits each named cage vertex's coordinate to a ball of that radius around it
        (a penalty, weight 100 unless the objective names ``"influence"``).
    pins : (points (k, d), values (k, n)), optional
        Prescribed coordinates at some points (a penalty, weight 1000 unless the objective
        names ``"pins"``); the values must be valid coordinates of their points.
    config : FieldConfig, optional
        Network and candidate-family settings (defaults depend on the cage's size, see
        :meth:`~fieldrig.neural.barycentric_field.FieldConfig.default_for`).

    Returns
    -------
    BarycentricField
        ``.evaluate(points)`` gives (k, n) coordinates anywhere inside the cage.

    Raises
    ------
    InputError
        Invalid cage, objective, preset, control data or other argument (the message
        names it).
    """
    from fieldrig.neural.barycentric_training import fit_field

    return fit_field(
        as_cage(cage),
        objective=objective,
        preset=preset,
        device=device,
        seed=seed,
        progress=progress,
        poses=poses,
        influence=influence,
        pins=pins,
        config=config,
    )


def barycentric_coordinates(cage, points, **options) -> np.ndarray:
    """Neural generalized barycentric coordinates of points inside a cage.

    Trains a field with :func:`fit_barycentric_field` and evaluates it.

    Parameters
    ----------
    cage : Cage, str, PathLike, (n, 2) array or (V, F) tuple
    points : (k, d) float
        Points inside the cage or on its boundary (d = 2 or 3, the cage's dimension).
    **options
        The keyword arguments of :func:`fit_barycentric_field` (``objective``, ``preset``,
        ``device``, ``seed``, ``progress``, ``poses``, ``influence``, ``pins``, ``config``).

    Returns
    -------
    (k, n) float64
        Φ: row i holds the coordinates of point i, one column per cage vertex; Φ ≥ 0,
        rows sum to 1 and ``Φ @ cage_vertices`` reproduces the points. Deform with
        ``Φ @ moved_cage_vertices``.

    Raises
    ------
    InputError
        Invalid cage or arguments, or points of the wrong shape or outside the cage
        (checked before any training).
    """
    cage = as_cage(cage)
    P = cage.check_inside(points)
    return fit_barycentric_field(cage, **options).evaluate(P)
