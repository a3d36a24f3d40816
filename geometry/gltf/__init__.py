"""glTF 2.0: documents, skins read by the spec, animation clips, and writers.

Modules: :mod:`~fieldrig.geometry.gltf.document` (reading and writing documents and
buffers), :mod:`~fieldrig.geometry.gltf.skins` (skins as skinned assets, geometry for
``load_mesh``), :mod:`~fieldrig.geometry.gltf.animation` (clips),
:mod:`~fieldrig.geometry.gltf.weights` (skin attributes), :mod:`~fieldrig.geometry.gltf.writer`
(new files) and :mod:`~fieldrig.geometry.gltf.reskin` (an input file with new weights).

Part of :mod:`fieldrig.geometry`, and imports what it may (core, geometry, numpy, pygltflib).
"""

from fieldrig.geometry.gltf.animation import GltfClip
from fieldrig.geometry.gltf.document import GltfDocument
from fieldrig.geometry.gltf.reskin import reskin_gltf
from fieldrig.geometry.gltf.skins import gltf_geometry, is_skinned_gltf, load_gltf_rig, read_gltf_assets
from fieldrig.geometry.gltf.weights import prune_weights, pruned_mass
from fieldrig.geometry.gltf.writer import write_asset_gltf, write_assets_gltf, write_skinned_gltf

__all__ = [
    "GltfClip",
    "GltfDocument",
    "gltf_geometry",
    "is_skinned_gltf",
    "load_gltf_rig",
    "prune_weights",
    "pruned_mass",
    "read_gltf_assets",
    "reskin_gltf",
    "write_asset_gltf",
    "write_assets_gltf",
    "write_skinned_gltf",
]
