"""Public API: skinning weights for a mesh, soup or point cloud and a rig.

The field is trained for the rig's *deforming* handles only — those whose deform flag is
on and that have a part inside the shape — and every weight matrix keeps the rig's full
column layout: the columns of the other handles are zero, and rows sum to one over the
deforming ones. A handle partly outside the shape is held on its inside part; a handle
wholly outside (an IK target, a root on the floor, a prop) is excluded with a warning
(:mod:`fieldrig.geometry.handle_placement`); ``strict=True`` refuses both instead.
"""

from __future__ import annotations

import os
from typing import List, Optional, Sequence, Union

import numpy as np

from fieldrig.core.arguments import checked_callback, checked_flag, checked_seed
from fieldrig.core.errors import InputError
from fieldrig.core.progress import ProgressCallback
from fieldrig.geometry.mesh_io import validate_mesh
from fieldrig.geometry.rig import Rig, load_rig

RigLike = Union[Rig, str, os.PathLike]


class RigField:
    """A trained skinning field in a rig's columns.

    Parameters
    ----------
    field : SkinningField
        The field of the deforming handles (one column each).
    columns : (K,) int
        The rig column of each of the field's columns.
    handle_names : list of str
        Names of all the rig's columns.
    warnings : sequence of str
        What the fit noticed and worked around (handles outside, dropped faces).

    Attributes
    ----------
    field, columns, handle_names, warnings
    """

    def __init__(self, field, columns, handle_names: Sequence[str], warnings: Sequence[str] = ()):
        self.field = field
        self.columns = np.asarray(columns, dtype=np.int64)
        self.handle_names = list(handle_names)
        self.warnings: List[str] = list(warnings)
        field.info["rig_columns"] = self.columns.tolist()
        field.info["rig_handle_names"] = self.handle_names

    def __getattr__(self, name: str):
        """Everything else (particles, values, sigma, ...) is the inner field's, in its own columns."""
        if name == "field":  # not set yet (unpickling)
            raise AttributeError(name)
        return getattr(self.field, name)

    @property
    def n_handles(self) -> int:
        """Number of weight columns (all the rig's handles)."""
        return len(self.handle_names)

    @property
    def info(self) -> dict:
        """Settings and measurements of the training run."""
        return self.field.info

    def evaluate(self, points: np.ndarray) -> np.ndarray:
        """Weights at arbitrary points (mesh vertices, another LOD, a point cloud).

        Parameters
        ----------
        points : (m, 3) float

        Returns
        -------
        (m, H) float64
            Non-negative rows summing to one; columns of handles that do not deform are zero.
        """
        inner = self.field.evaluate(points)
        W = np.zeros((len(inner), self.n_handles))
        W[:, self.columns] = inner
        return W

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Write the field to one file, atomically (its column layout included)."""
        self.field.save(path)

    @classmethod
    def load(cls, path: Union[str, os.PathLike], device: Optional[str] = None) -> "RigField":
        """Read a field written by :meth:`save` (or by ``SkinningField.save``)."""
        from fieldrig.neural.skinning_field import SkinningField

        field = SkinningField.load(path, device=device)
        columns = field.info.get("rig_columns", list(range(field.n_handles)))
        names = field.info.get("rig_handle_names", list(field.handle_names))
        if len(columns) != field.n_handles or any(not 0 <= c < len(names) for c in columns):
            raise InputError(str(path), "its column layout does not match its field")
        return cls(field, columns, names)


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
    strict: bool = False,
) -> RigField:
    """Train a mesh-free biharmonic skinning field.

    Parameters
    ----------
    V : (n, 3) float
        Vertices of a mesh or soup, or the points of a cloud.
    F : (m, 3) int or None
        Triangles; None for a point cloud. Collapsed, zero-area and duplicate faces are
        dropped (with a warning in the result).
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
    strict : bool
        Refuse a rig with a deforming handle partly or wholly outside the shape, instead of
        clipping or excluding it.

    Returns
    -------
    RigField
        Evaluate it at any points; ``field.evaluate(V)`` are the weights of ``V``;
        ``field.warnings`` says which handles were clipped or excluded.

    Raises
    ------
    InputError
        Invalid vertices/faces, an invalid rig, no handle that can deform, or (strict) a
        handle outside the shape.
    """
    from fieldrig.geometry.handle_placement import place_handles
    from fieldrig.geometry.normals import estimate_normals
    from fieldrig.neural.device import resolve_device
    from fieldrig.neural.handle_blend import HandleGeometry
    from fieldrig.neural.skinning_training import SKINNING_PRESETS, SkinningPreset, check_memory, fit_field

    if isinstance(preset, str):
        if preset not in SKINNING_PRESETS:
            raise InputError("preset", f"unknown preset {preset!r} (expected one of {', '.join(SKINNING_PRESETS)})")
        preset = SKINNING_PRESETS[preset]
    elif not isinstance(preset, SkinningPreset):
        raise InputError("preset", f"expected a preset name or a SkinningPreset, got {type(preset).__name__}")
    seed = checked_seed(seed)
    progress = checked_callback(progress)
    strict = checked_flag(strict, "strict")
    rig = _checked_rig(rig)
    warnings: List[str] = []
    V, F = validate_mesh(V, F, "mesh", warnings=warnings)
    if F is None:
        if len(V) < 4:
            raise InputError("points", f"a point cloud needs at least 4 points, got {len(V)}")
        N = estimate_normals(V) if N is None else _checked_normals(N, V)
    for region in rig.painted:
        if len(region.vertices) and (region.vertices.min() < 0 or region.vertices.max() >= len(V)):
            raise InputError(
                "rig",
                f"a painted region of handle {rig.handle_names[region.handle]!r} "
                f"names vertices outside 0..{len(V) - 1}",
            )
    # Before the ray-casting structures: a native library does not fail cleanly out of memory.
    check_memory(len(V), rig.n_handles, min(preset.bulk_particles, preset.max_particles))
    placement = place_handles(V, F, rig, N=N)
    painted = {p.handle for p in rig.painted if len(p.vertices)}
    deform = rig.deform.copy()
    if strict:
        bad = [placement.sentence(h) for h in np.flatnonzero(deform) if placement.inside_fraction[h] < 1]
        if bad:
            raise InputError("rig", "; ".join(bad))
    for h in np.flatnonzero(deform & (placement.inside_fraction < 1)):
        if placement.inside_fraction[h] > 0:
            warnings.append(placement.sentence(h) + ": its inside part is used")
        elif h in painted:
            warnings.append(placement.sentence(h) + ": only its painted vertices hold it")
        else:
            warnings.append(placement.sentence(h) + ": it is excluded (its weights stay zero)")
            deform[h] = False
    columns = np.flatnonzero(deform)
    if len(columns) == 0:
        outside = [placement.sentence(h) for h in np.flatnonzero(rig.deform)]
        raise InputError("rig", "no handle can deform the shape: " + "; ".join(outside + _excluded(rig)))
    new_column = np.full(rig.n_handles, -1)
    new_column[columns] = np.arange(len(columns))
    keep = deform[placement.owner]
    n_points = len(rig.point_handles)
    starts, ends = [placement.starts[keep]], [placement.ends[keep]]
    owner = [new_column[placement.owner[keep]]]
    isolated = [placement.segment[keep] < n_points]  # the rig lists point handles' segments first
    for region in rig.painted:
        if len(region.vertices) and deform[region.handle]:
            pts = V[region.vertices]
            starts.append(pts)
            ends.append(pts)
            owner.append(np.full(len(pts), new_column[region.handle]))
            isolated.append(np.zeros(len(pts), bool))
    handles = HandleGeometry(
        np.concatenate(starts), np.concatenate(ends), np.concatenate(owner), len(columns), np.concatenate(isolated)
    )
    names = [rig.handle_names[c] for c in columns]
    field = fit_field(V, F, N, handles, names, preset, resolve_device(device), seed, progress)
    return RigField(field, columns, rig.handle_names, warnings)


def _checked_rig(rig) -> Rig:
    """A Rig, or the rig read from a file; anything else is refused naming ``rig``."""
    if isinstance(rig, Rig):
        return rig
    if not isinstance(rig, (str, os.PathLike)):
        hint = " (for rig JSON data: fieldrig.geometry.rig.rig_from_json(data))" if isinstance(rig, dict) else ""
        raise InputError(
            "rig", f"expected a Rig or a rig file (.tgf, .json, .glb, .gltf, .fbx), got {type(rig).__name__}{hint}"
        )
    return load_rig(rig)


def _excluded(rig: Rig) -> List[str]:
    off = [n for n, d in zip(rig.handle_names, rig.deform) if not d]
    return [f"not deforming by choice: {', '.join(off[:8])}{'...' if len(off) > 8 else ''}"] if off else []


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
    strict: bool = False,
) -> np.ndarray:
    """Skinning weights of every vertex (see :func:`fit_skinning_field` for the parameters).

    Returns
    -------
    W : (n, H) float64
        One column per handle in the rig's column order: non-negative, rows summing to
        one, one-hot on each deforming handle, zero in the columns of handles that do not
        deform.
    """
    field = fit_skinning_field(
        V, F, rig, N=N, preset=preset, device=device, seed=seed, progress=progress, strict=strict
    )
    return field.evaluate(np.asarray(V, dtype=np.float64))


def _checked_normals(N, V: np.ndarray) -> np.ndarray:
    N = np.asarray(N, dtype=np.float64)
    if N.shape != V.shape:
        raise InputError("N", f"expected one normal per point, shape {V.shape}, got {N.shape}")
    length = np.linalg.norm(N, axis=1)
    if not np.all(np.isfinite(length)) or np.any(length == 0):
        raise InputError("N", "normals contain NaN, infinite or zero-length vectors")
    return N / length[:, None]
