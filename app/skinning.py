"""Public API: skinning weights for a mesh, soup or point cloud and a rig."""

from __future__ import annotations

import os
from typing import Optional, Union

import numpy as np

from fieldrig.core.errors import InputError
from fieldrig.core.progress import ProgressCallback
from fieldrig.geometry.mesh_io import validate_mesh
from fieldrig.geometry.rig import Rig, load_rig

RigLike = Union[Rig, str, os.PathLike]


def fit_skinning_field(
    V: np.ndarray,
    F: Optional[np.ndarray],
    rig: RigLike,
    *,
    N: Optional[np.ndarray] = None,
    preset="balanced",
    device: Optional[str] = None,
    seed: int = 0,
    progress: Optional[ProgressCallback] = None,
):
    """Train a mesh-free biharmonic skinning field.

    Parameters
    ----------
    V : (n, 3) float
        Vertices of a mesh or soup, or the points of a cloud.
    F : (m, 3) int or None
        Triangles; None for a point cloud.
    rig : Rig or path
        A :class:`~fieldrig.geometry.rig.Rig` or a ``.tgf`` / ``.json`` / ``.gltf`` / ``.glb`` file.
    N : (n, 3) float, optional
        Point normals; needed for a point cloud (estimated when omitted).
    preset : {"fast", "balanced", "high"} or SkinningPreset
        Time/quality trade-off (see ``fieldrig.SKINNING_PRESETS``), or custom settings.
    device : {"cpu", "cuda", "auto"} or None
        None/"auto": CUDA when available, else CPU.
    seed : int
        Seed of every random choice; equal seeds give equal fields.
    progress : callable, optional
        Receives :class:`~fieldrig.core.progress.ProgressEvent`; returning False cancels
        (raises :class:`~fieldrig.core.progress.Cancelled`).

    Returns
    -------
    SkinningField
        Evaluate it at any points; ``field.evaluate(V)`` are the weights of ``V``.

    Raises
    ------
    InputError
        Invalid vertices/faces, an invalid rig, or a handle outside the shape.
    """
    from fieldrig.geometry.mesh_check import handles_outside
    from fieldrig.geometry.normals import estimate_normals
    from fieldrig.neural.device import resolve_device
    from fieldrig.neural.handle_blend import HandleGeometry
    from fieldrig.neural.skinning_training import SKINNING_PRESETS, SkinningPreset, fit_field

    if isinstance(preset, str):
        if preset not in SKINNING_PRESETS:
            raise InputError("preset", f"unknown preset {preset!r} (expected one of {', '.join(SKINNING_PRESETS)})")
        preset = SKINNING_PRESETS[preset]
    elif not isinstance(preset, SkinningPreset):
        raise InputError("preset", f"expected a preset name or a SkinningPreset, got {type(preset).__name__}")
    V, F = validate_mesh(V, F, "mesh", warnings=[])
    if F is not None and len(F) == 0:
        raise InputError("mesh", "has no faces (pass F=None for a point cloud)")
    if F is None:
        if len(V) < 4:
            raise InputError("points", f"a point cloud needs at least 4 points, got {len(V)}")
        N = estimate_normals(V) if N is None else _checked_normals(N, V)
    rig = rig if isinstance(rig, Rig) else load_rig(rig)
    for region in rig.painted:
        if len(region.vertices) and (region.vertices.min() < 0 or region.vertices.max() >= len(V)):
            raise InputError(
                "rig",
                f"a painted region of handle {rig.handle_names[region.handle]!r} "
                f"names vertices outside 0..{len(V) - 1}",
            )
    outside = handles_outside(V, F, rig, N=N)
    if outside:
        raise InputError("rig", "; ".join(outside))
    dev = resolve_device(device)
    handles = HandleGeometry.from_rig(rig, V)
    return fit_field(V, F, N, handles, rig.handle_names, preset, dev, seed, progress)


def skinning_weights(
    V: np.ndarray,
    F: Optional[np.ndarray],
    rig: RigLike,
    *,
    N: Optional[np.ndarray] = None,
    preset="balanced",
    device: Optional[str] = None,
    seed: int = 0,
    progress: Optional[ProgressCallback] = None,
) -> np.ndarray:
    """Skinning weights of every vertex (see :func:`fit_skinning_field` for the parameters).

    Returns
    -------
    W : (n, H) float64
        One column per handle in the rig's column order (point handles, then bones):
        non-negative, rows summing to one, one-hot on each handle.
    """
    field = fit_skinning_field(V, F, rig, N=N, preset=preset, device=device, seed=seed, progress=progress)
    return field.evaluate(np.asarray(V, dtype=np.float64))


def _checked_normals(N, V: np.ndarray) -> np.ndarray:
    N = np.asarray(N, dtype=np.float64)
    if N.shape != V.shape:
        raise InputError("N", f"expected one normal per point, shape {V.shape}, got {N.shape}")
    length = np.linalg.norm(N, axis=1)
    if not np.all(np.isfinite(length)) or np.any(length == 0):
        raise InputError("N", "normals contain NaN, infinite or zero-length vectors")
    return N / length[:, None]
