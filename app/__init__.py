"""fieldrig: mesh-free biharmonic skinning weights and neural barycentric coordinates.

The public API for pipelines: numpy in, numpy out, libigl conventions (``V`` #V×3 float,
``F`` #F×3 int, ``W`` #V×#handles). Names load lazily, so ``import fieldrig`` pulls in
neither torch, Qt nor polyscope.

>>> import fieldrig
>>> V, F = fieldrig.load_mesh("arm.obj").V, fieldrig.load_mesh("arm.obj").F   # doctest: +SKIP
>>> W = fieldrig.skinning_weights(V, F, "arm.tgf", preset="balanced")          # doctest: +SKIP

The package, by layer (docs/architecture.md; tests/test_layers.py checks it): :mod:`fieldrig.core`
(errors, progress, atomic files, vocabulary) → :mod:`fieldrig.geometry` (numpy, no torch) →
:mod:`fieldrig.neural` (torch) → the API layer here (:mod:`~fieldrig.skinning`,
:mod:`~fieldrig.coordinates`, :mod:`~fieldrig.workflow`, :mod:`~fieldrig.session`,
:mod:`~fieldrig.project`) → the front ends (:mod:`~fieldrig.cli`, :mod:`~fieldrig.batch`,
:mod:`fieldrig.gui`); :mod:`fieldrig.draw` draws with polyscope on core and geometry alone.
This module imports nothing of them until a name is used.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY = {
    "skinning_weights": "fieldrig.skinning",
    "fit_skinning_field": "fieldrig.skinning",
    "RigField": "fieldrig.skinning",
    "load_skinned_assets": "fieldrig.geometry.skinned_asset",
    "SkinnedAsset": "fieldrig.geometry.skinned_asset",
    "write_asset_gltf": "fieldrig.geometry.gltf",
    "reskin_gltf": "fieldrig.geometry.gltf",
    "SkinningField": "fieldrig.neural.skinning_field",
    "SKINNING_PRESETS": "fieldrig.neural.skinning_training",
    "SkinningPreset": "fieldrig.neural.skinning_training",
    "load_mesh": "fieldrig.geometry.mesh_io",
    "MeshData": "fieldrig.geometry.mesh_io",
    "load_rig": "fieldrig.geometry.rig",
    "save_rig": "fieldrig.geometry.rig",
    "Rig": "fieldrig.geometry.rig",
    "PaintedRegion": "fieldrig.geometry.rig",
    "InputError": "fieldrig.core.errors",
    "Cancelled": "fieldrig.core.progress",
    "ProgressEvent": "fieldrig.core.progress",
    "linear_blend_skinning": "fieldrig.geometry.deform",
    "dual_quaternion_skinning": "fieldrig.geometry.deform",
    "Skinner": "fieldrig.geometry.deform",
    "bbw_weights": "fieldrig.geometry.bbw",
    "barycentric_coordinates": "fieldrig.coordinates",
    "fit_barycentric_field": "fieldrig.coordinates",
    "BarycentricField": "fieldrig.neural.barycentric_field",
    "BARYCENTRIC_PRESETS": "fieldrig.neural.barycentric_training",
    "BarycentricPreset": "fieldrig.neural.barycentric_training",
    "Cage": "fieldrig.geometry.cage",
    "load_cage": "fieldrig.geometry.cage",
    "auto_cage": "fieldrig.geometry.auto_cage",
    "mean_value_coordinates": "fieldrig.geometry.mvc",
    "harmonic_coordinates": "fieldrig.geometry.harmonic_coords",
    "BBWError": "fieldrig.geometry.bbw",
    "check_mesh": "fieldrig.geometry.mesh_check",
    "Pose": "fieldrig.geometry.pose",
    "pose_transforms": "fieldrig.geometry.pose",
    "save_weights": "fieldrig.geometry.export",
    "load_weights": "fieldrig.geometry.export",
    "read_dmat": "fieldrig.geometry.export",
    "write_dmat": "fieldrig.geometry.export",
    "save_mesh": "fieldrig.geometry.export",
    "write_skinned_gltf": "fieldrig.geometry.gltf",
    "render_image": "fieldrig.draw.render",
    "Session": "fieldrig.session",
    "WeightSet": "fieldrig.session",
    "save_project": "fieldrig.project",
    "load_project": "fieldrig.project",
    "load_gltf_rig": "fieldrig.geometry.gltf",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fieldrig' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
