"""Re-skinning a glTF file: the input document written back with only the skin attributes of
its skinned primitives replaced.

For every part of every asset read from the document
(:func:`~fieldrig.geometry.gltf.skins.read_gltf_assets`), new ``JOINTS_n``/``WEIGHTS_n``
accessors are appended (float weights; joint indices as unsigned bytes for skins of at
most 256 joints, unsigned shorts beyond) and the primitive's attributes point at them;
sets beyond the new count are removed from the primitive. Nothing else changes: nodes,
names, hierarchy, skins and inverse bind matrices, materials, textures and images,
animations, morph targets, extras, extensions, unskinned meshes, and every existing
accessor, buffer view and byte of the buffers (the old skin data stays, unused). The new
bytes are appended to buffer 0, which becomes the binary chunk of a ``.glb`` output or is
embedded as a data URI in a ``.gltf`` output; other external buffers and images keep their
files, with their URIs rewritten relative to the output's folder.
"""

from __future__ import annotations

import copy
from typing import Sequence, Tuple

import numpy as np

from fieldrig.core.errors import InputError
from fieldrig.geometry.gltf.document import ARRAY_BUFFER, BufferBuilder, PathLike, write_gltf
from fieldrig.geometry.gltf.skins import GltfSkinSource
from fieldrig.geometry.gltf.weights import joint_component, skin_sets
from fieldrig.geometry.skinned_asset import SkinnedAsset


def reskin_gltf(path: PathLike, items: Sequence[Tuple[SkinnedAsset, np.ndarray]], max_influences: int = 4) -> None:
    """Write the glTF file the assets were read from with their new weights, atomically.

    Parameters
    ----------
    path : str or PathLike
        ``.glb`` or ``.gltf`` output (it may differ from the input's container).
    items : sequence of (SkinnedAsset, (n, J) float)
        Assets of one glTF document, each with the weights of its vertices (parts in
        order), one column per skin joint. Assets of the document that are left out keep
        their weights.
    max_influences : int
        Influences per vertex: 4 gives one set, 8 two (``JOINTS_1``/``WEIGHTS_1``), ...
    """
    if not items:
        raise InputError("reskin", "no asset to write")
    sources = [asset.source for asset, _ in items]
    if not all(isinstance(s, GltfSkinSource) for s in sources):
        raise InputError(items[0][0].path, "was not read from a glTF file; write it with write_asset_gltf")
    doc = sources[0].document
    if any(s.document is not doc for s in sources):
        raise InputError(str(path), "the assets come from different glTF files")
    document = copy.deepcopy(doc.json)
    buffers = list(doc.buffers)
    if not buffers:
        raise InputError(str(doc.path), "has no buffer")
    # New bytes go to buffer 0; it is rewritten (binary chunk or data URI), never the input's file.
    document["buffers"][0].pop("uri", None)
    buf = BufferBuilder(document, 0, buffers[0])
    for asset, W in items:
        W = np.asarray(W, dtype=np.float64)
        expected = (asset.n_vertices, asset.skeleton.n_joints)
        if W.shape != expected:
            raise InputError("W", f"expected weights of shape {expected} (vertices × skin joints), got {W.shape}")
        component = joint_component(W.shape[1])
        offsets = asset.part_offsets
        for p, part in enumerate(asset.parts):
            src = part.source
            attributes = document["meshes"][src.mesh]["primitives"][src.primitive]["attributes"]
            sets = skin_sets(W[offsets[p] : offsets[p + 1]], max_influences)
            for s, (joints, weights) in enumerate(sets):
                attributes[f"JOINTS_{s}"] = buf.add(joints, "VEC4", component, ARRAY_BUFFER)
                attributes[f"WEIGHTS_{s}"] = buf.add(weights, "VEC4", 5126, ARRAY_BUFFER)
            s = len(sets)
            while f"JOINTS_{s}" in attributes or f"WEIGHTS_{s}" in attributes:
                attributes.pop(f"JOINTS_{s}", None)
                attributes.pop(f"WEIGHTS_{s}", None)
                s += 1
    buffers[0] = buf.bytes()
    write_gltf(path, document, buffers, source_dir=doc.path.parent)
