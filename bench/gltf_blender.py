"""Does Blender read our skinned glTF as we meant it? Imports a ``fieldrig weights`` .glb in
headless Blender (``apt-get install blender python3-numpy``) and prints its armature and how
far its vertex-group weights are from the weights we computed (after the top-4 pruning).

    python bench/gltf_blender.py                                  # the demo legs
    python bench/gltf_blender.py ../shared/data/arm.obj ../shared/data/arm.tgf
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

BLENDER_SCRIPT = """
import bpy, json, sys, numpy
numpy.bool = bool  # Blender 3.4's glTF importer still uses this removed alias
glb, out = sys.argv[sys.argv.index("--") + 1:]
bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.ops.import_scene.gltf(filepath=glb)
arm = next(o for o in bpy.data.objects if o.type == "ARMATURE")
mesh = next(o for o in bpy.data.objects if o.type == "MESH")
json.dump({
    "bones": [[b.name, b.parent.name if b.parent else None] for b in arm.data.bones],
    "weights": [{mesh.vertex_groups[g.group].name: g.weight for g in v.groups} for v in mesh.data.vertices],
}, open(out, "w"))
"""


def main() -> None:
    mesh = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "assets" / "legs.obj"
    rig = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "assets" / "legs.json"
    blender = shutil.which("blender")
    if blender is None:
        sys.exit("blender not found (apt-get install blender python3-numpy)")
    from fieldrig.geometry.export import load_weights
    from fieldrig.geometry.gltf import prune_weights

    with tempfile.TemporaryDirectory() as tmp:
        glb, npy, script, result = (Path(tmp) / n for n in ("w.glb", "w.npy", "import.py", "blender.json"))
        subprocess.run(
            [
                sys.executable,
                "-m",
                "fieldrig.cli",
                "weights",
                str(mesh),
                "--rig",
                str(rig),
                "-o",
                str(glb),
                "-o",
                str(npy),
                "-q",
            ],
            check=True,
        )
        script.write_text(BLENDER_SCRIPT)
        # Blender embeds its own Python: keep ours (its variables, its folder on PATH) out of its way.
        ours = str(Path(sys.executable).parent)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYENV"))}
        env["PATH"] = os.pathsep.join(
            p for p in env.get("PATH", "").split(os.pathsep) if p != ours and ".pyenv" not in p
        )
        proc = subprocess.run(
            [blender, "-b", "--factory-startup", "--python", str(script), "--", str(glb), str(result)],
            capture_output=True,
            text=True,
            env=env,
        )
        if not result.is_file():
            sys.exit(f"Blender could not import {glb.name}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
        data = json.loads(result.read_text())
        W = load_weights(npy)
    from fieldrig.geometry.rig import load_rig

    names = load_rig(rig).handle_names
    idx, kept = prune_weights(W, 4)
    pruned = np.zeros_like(W)
    np.add.at(pruned, (np.repeat(np.arange(len(W)), idx.shape[1]), idx.ravel()), kept.ravel())
    blender_W = np.array([[groups.get(n, 0.0) for n in names] for groups in data["weights"]])
    print(
        f"{mesh.name}: Blender armature {len(data['bones'])} bones: "
        + ", ".join(f"{b}<-{p}" if p else b for b, p in data["bones"])
    )
    print(
        f"  vertices {len(blender_W)} (ours {len(W)}), "
        f"max |Blender weight - our pruned weight| = {np.abs(blender_W - pruned).max():.2e}"
    )


if __name__ == "__main__":
    main()
