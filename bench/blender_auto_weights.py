"""Blender's automatic weights (bone heat) for a rigged character, run inside Blender.

    blender -b --factory-startup --python bench/blender_auto_weights.py -- character.glb out.npz

Imports a glTF (``import_scene.gltf``) or FBX (``import_scene.fbx``) file, takes the armature
its skinned meshes use, clears those meshes' vertex groups and armature modifiers, parents
them again with ``parent_set(type='ARMATURE_AUTO')`` (bone heat) and writes ``out.npz``:

* ``bones`` (B,) str — the armature's bone names (Blender's; one weight column each), and
  ``bone_parents`` (B,) str — each one's parent bone ("" for a root), ``bone_heads_world`` /
  ``bone_heads_armature`` (B, 3) — their rest heads (glTF axes, as the vertices below);
* per mesh object ``m``: ``m{i}_name``; ``m{i}_world`` / ``m{i}_armature`` (n, 3) vertex
  positions in glTF's axes (Y up: glTF (x, y, z) = Blender (x, z, −y)) — in the world and in
  the armature object's space (Blender puts the transforms of the nodes above a glTF
  skeleton on the armature object) — and ``m{i}_weights`` (n, B);
* ``seconds`` — the time of ``parent_set`` alone; ``import_seconds``; ``report`` — notes.
  When bone heat fails for some bones it still returns FINISHED and, run headless, prints
  nothing: the caller counts the vertices left without weight.

Which positions match the file's bind space, and which vertices and bones are the file's,
is for the caller to decide (Blender splits, merges and renames): see bench/characters.py.
"""

import sys
import time

import numpy

numpy.bool = bool  # Blender 3.4's glTF importer still uses this removed alias

import bpy  # noqa: E402


def _to_gltf_axes(P):
    P = numpy.asarray(P, dtype=numpy.float64).reshape(-1, 3)
    return numpy.stack([P[:, 0], P[:, 2], -P[:, 1]], axis=1)


def main(argv):
    path, out = argv[argv.index("--") + 1 :][:2]
    bpy.ops.wm.read_factory_settings(use_empty=True)
    t0 = time.perf_counter()
    if path.lower().endswith(".fbx"):
        bpy.ops.import_scene.fbx(filepath=path)
    else:
        bpy.ops.import_scene.gltf(filepath=path)
    import_seconds = time.perf_counter() - t0

    def armature_of(obj):
        for mod in obj.modifiers:
            if mod.type == "ARMATURE" and mod.object is not None:
                return mod.object
        return obj.parent if obj.parent is not None and obj.parent.type == "ARMATURE" else None

    skinned = [o for o in bpy.data.objects if o.type == "MESH" and armature_of(o) is not None]
    if not skinned:
        raise SystemExit(f"{path}: Blender imported no mesh bound to an armature")
    arm = armature_of(skinned[0])
    meshes = [o for o in skinned if armature_of(o) == arm]
    report = []
    if len(meshes) < len(skinned):
        report.append(f"{len(skinned) - len(meshes)} skinned mesh(es) on another armature were left out")

    bpy.ops.object.select_all(action="DESELECT")
    for o in meshes:
        o.vertex_groups.clear()
        for mod in [m for m in o.modifiers if m.type == "ARMATURE"]:
            o.modifiers.remove(mod)
        world = o.matrix_world.copy()
        o.parent = None
        o.matrix_world = world
        o.select_set(True)
    arm.select_set(True)
    bpy.context.view_layer.objects.active = arm
    bpy.context.view_layer.update()

    t0 = time.perf_counter()
    result = bpy.ops.object.parent_set(type="ARMATURE_AUTO")
    seconds = time.perf_counter() - t0
    report.append(f"parent_set returned {sorted(result)}")

    bones = [b.name for b in arm.data.bones]
    column = {b: i for i, b in enumerate(bones)}
    parents = [b.parent.name if b.parent else "" for b in arm.data.bones]
    heads = numpy.array([list(b.head_local) for b in arm.data.bones], dtype=numpy.float64).reshape(-1, 3)
    M_arm = numpy.array(arm.matrix_world)
    data = {
        "bones": numpy.array(bones),
        "bone_parents": numpy.array(parents),
        "bone_heads_armature": _to_gltf_axes(heads),
        "bone_heads_world": _to_gltf_axes(heads @ M_arm[:3, :3].T + M_arm[:3, 3]),
        "seconds": seconds,
        "import_seconds": import_seconds,
    }
    for i, o in enumerate(meshes):
        verts = o.data.vertices
        co = numpy.empty(3 * len(verts))
        verts.foreach_get("co", co)
        co = co.reshape(-1, 3)
        M = numpy.array(o.matrix_world)
        world = co @ M[:3, :3].T + M[:3, 3]
        A = numpy.linalg.inv(numpy.array(arm.matrix_world))
        in_armature = world @ A[:3, :3].T + A[:3, 3]
        W = numpy.zeros((len(verts), len(bones)))
        names = {g.index: g.name for g in o.vertex_groups}
        for v in verts:
            for g in v.groups:
                j = column.get(names.get(g.group))
                if j is not None:
                    W[v.index, j] = g.weight
        data[f"m{i}_name"] = numpy.array(o.name)
        data[f"m{i}_world"] = _to_gltf_axes(world)
        data[f"m{i}_armature"] = _to_gltf_axes(in_armature)
        data[f"m{i}_weights"] = W
    data["report"] = numpy.array(report)
    numpy.savez(out, **data)


main(sys.argv)
