"""The names every front end agrees on: presets, skinning methods, file suffixes and the
file dialogs' filters.

The CLI, batch manifests, the GUI and the exporters read these tuples instead of
spelling the names again, so a new format or preset is added in one place.
"""

from __future__ import annotations

import re
from typing import Sequence, Tuple

#: Skinning presets, fastest first (settings in :data:`fieldrig.neural.skinning_training.SKINNING_PRESETS`).
SKINNING_PRESET_NAMES = ("fast", "balanced", "high")
DEFAULT_SKINNING_PRESET = "balanced"

#: Torch devices a user picks from (``auto``: CUDA when present, else the CPU); the CLI also takes ``cuda:N``.
DEVICE_CHOICES = ("auto", "cpu", "cuda")

#: Barycentric-coordinate objectives the app offers, with their labels (the API takes more,
#: :data:`fieldrig.neural.barycentric_energies.OBJECTIVES`).
COORDINATE_OBJECTIVE_LABELS = {"dirichlet": "Dirichlet (smooth, harmonic-like)", "tv": "total variation (local)"}
DEFAULT_COORDINATE_OBJECTIVE = "dirichlet"

#: Where a click in the app places a joint, with its label.
JOINT_PLACEMENT_LABELS = {"surface": "on the surface", "volume": "inside the volume"}

#: Skinning methods for posing: linear blend and dual quaternion.
SKINNING_METHODS = ("lbs", "dqs")
SKINNING_METHOD_LABELS = {"lbs": "Linear blend (LBS)", "dqs": "Dual quaternion (DQS)"}

#: Weight tables (one row per vertex, one column per handle).
WEIGHT_TABLE_SUFFIXES = (".npy", ".csv", ".dmat")
#: Skinned glTF files.
GLTF_SUFFIXES = (".glb", ".gltf")
#: Everything ``fieldrig weights -o`` writes.
WEIGHT_OUTPUT_SUFFIXES = WEIGHT_TABLE_SUFFIXES + GLTF_SUFFIXES
#: Meshes, soups, point clouds and skinned characters (glTF, FBX) that can be read.
MESH_INPUT_SUFFIXES = (".obj", ".ply", ".off", ".stl", ".glb", ".gltf", ".fbx", ".xyz")
#: Point clouds (vertices only) among them.
POINT_CLOUD_SUFFIXES = (".xyz",)
#: Meshes that can be written (a point cloud as ``.xyz``).
MESH_OUTPUT_SUFFIXES = (".obj", ".ply", ".off", ".stl", ".glb", ".xyz")
#: The app's posed (or cage-deformed) mesh exports.
POSED_MESH_SUFFIXES = (".obj", ".ply")
#: Files that hold only a rig.
RIG_FILE_SUFFIXES = (".tgf", ".json")
#: Rigs that can be read (a skinned glTF's skeleton too).
RIG_INPUT_SUFFIXES = RIG_FILE_SUFFIXES + GLTF_SUFFIXES
#: Rigs that can be written.
RIG_OUTPUT_SUFFIXES = (".json", ".tgf")
#: Cages that can be read.
CAGE_INPUT_SUFFIXES = (".obj", ".off", ".ply", ".json")
#: Pictures.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
#: Camera directions of headless pictures (``fieldrig render --view``).
RENDER_VIEWS = ("three-quarter", "front", "side", "top")
#: How a mesh is coloured by its weights: its dominant handle's colour, one handle's weight, or not.
COLOURINGS = ("dominant", "weight", "none")
#: Projects.
PROJECT_SUFFIX = ".fieldrig"


def dialog_filter(label: str, suffixes: Sequence[str]) -> str:
    """A Qt file-dialog filter, e.g. ``"Weights (*.npy *.csv *.dmat)"``.

    Parameters
    ----------
    label : str
    suffixes : sequence of str
        Suffixes with their dot.
    """
    return f"{label} ({' '.join('*' + s for s in suffixes)})"


def filter_suffixes(dialog_filter_text: str) -> Tuple[str, ...]:
    """The suffixes a file-dialog filter lists, in order, e.g. ``(".npy", ".csv", ".dmat")``
    for ``"Weights (*.npy *.csv *.dmat)"``; several filters (``;;``) give all of theirs."""
    found = re.findall(r"\*(\.[A-Za-z0-9_.]+)", dialog_filter_text)
    return tuple(dict.fromkeys(s.lower() for s in found))


def with_default_suffix(path: str, dialog_filter_text: str) -> str:
    """``path`` as typed in a save dialog, with the filter's first suffix added when it ends
    in none of the filter's suffixes (``"arm"`` → ``"arm.npy"``, ``"arm.v2"`` → ``"arm.v2.npy"``)."""
    suffixes = filter_suffixes(dialog_filter_text)
    if not suffixes or any(path.lower().endswith(s) for s in suffixes):
        return path
    return path + suffixes[0]


#: File-dialog filters of the GUI.
MESH_OPEN_FILTER = dialog_filter("Meshes and characters", MESH_INPUT_SUFFIXES)
RIG_OPEN_FILTER = dialog_filter("Rigs", RIG_INPUT_SUFFIXES)
RIG_SAVE_FILTER = dialog_filter("Rigs", RIG_OUTPUT_SUFFIXES)
CAGE_OPEN_FILTER = dialog_filter("Cages", CAGE_INPUT_SUFFIXES)
WEIGHTS_FILTER = dialog_filter("Weights", WEIGHT_TABLE_SUFFIXES)
GLTF_FILTER = dialog_filter("glTF", GLTF_SUFFIXES)
POSED_MESH_SAVE_FILTER = dialog_filter("Meshes", POSED_MESH_SUFFIXES)
IMAGE_SAVE_FILTER = dialog_filter("Images", (".png", ".jpg"))
POSE_FILTER = dialog_filter("Poses", (".json",))
PROJECT_FILTER = dialog_filter("fieldrig projects", (PROJECT_SUFFIX,))
