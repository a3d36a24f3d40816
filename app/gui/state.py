"""The app's state as plain, picklable values (no Qt): what one undo step swaps, and what
the compute process sends back.

:class:`RigState` and :class:`CageState` are immutable snapshots; :func:`deform_mesh`
poses a mesh from them, :func:`mesh_problems` says what loading found.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, Tuple

import numpy as np

from fieldrig.geometry.mesh_check import MeshReport
from fieldrig.geometry.mesh_io import MeshData
from fieldrig.geometry.pose import Pose, pose_transforms
from fieldrig.geometry.rig import Rig


@dataclass(frozen=True)
class RigState:
    """The rig and what depends on it (one undo snapshot).

    Attributes
    ----------
    rig : Rig or None
        None before any handle exists.
    rig_source : str or None
        File the rig was loaded from.
    weights : (n, H) float or None
        Skinning weights, one column per handle.
    weights_stale : bool
        The rig's joints moved after the weights were computed.
    skinning_field : bytes or None
        The trained :class:`~fieldrig.SkinningField` the weights came from, as the bytes
        its ``save`` writes (what projects store; ``fieldrig.gui.work.loaded_from_bytes``
        reads it back).
    pose : Pose
    preview : PreviewSkinning or None
        The skinning operator the viewer deforms the mesh with (built in the compute process
        together with the weights; the viewer builds one itself when it is None).
    problems : tuple of str
        What the last check or fit found about the rig against the mesh (handles partly or
        wholly outside the shape, excluded handles).
    """

    rig: Optional[Rig] = None
    rig_source: Optional[str] = None
    weights: Optional[np.ndarray] = None
    weights_stale: bool = False
    skinning_field: Any = None
    pose: Pose = field(default_factory=Pose)
    preview: Any = None
    problems: Tuple[str, ...] = ()


@dataclass(frozen=True)
class CageState:
    """The cage and what depends on it (one undo snapshot).

    Attributes
    ----------
    vertices : (c, 3) float or None
        Rest cage.
    faces : (k, 3) int or None
    source : str or None
        File the cage was loaded from (None for an automatic cage).
    coordinates : (n, c) float or None
        Barycentric coordinates of the mesh vertices.
    barycentric_field : bytes or None
        The trained barycentric field the coordinates came from, as saved bytes.
    """

    vertices: Optional[np.ndarray] = None
    faces: Optional[np.ndarray] = None
    source: Optional[str] = None
    coordinates: Optional[np.ndarray] = None
    barycentric_field: Any = None


def copy_pose(pose: Pose) -> Pose:
    """An independent copy of a pose (its tables are copied; arrays are never mutated)."""
    return Pose(dict(pose.rotations), dict(pose.translations))


def mesh_problems(mesh: MeshData, report: Optional[MeshReport]) -> List[str]:
    """What loading and checking found worth a warning, as sentences (empty: nothing)."""
    found = list(mesh.warnings)
    if report is not None:  # the first two lines are statistics; "BBW can run" is not a problem
        found += [line for line in report.summary()[2:] if not line.startswith("libigl BBW reference can run")]
    return found


def deform_mesh(
    V: np.ndarray,
    rig_state: RigState,
    cage_state: CageState,
    cage_pose: Optional[np.ndarray],
    method: str = "lbs",
    deformation: str = "pose",
) -> np.ndarray:
    """Rest positions deformed by a pose (skinning) or a moved cage, in float64.

    Parameters
    ----------
    V : (n, 3) float
        Rest positions.
    rig_state, cage_state : RigState, CageState
    cage_pose : (c, d) float or None
        Deformed cage vertices.
    method : {"lbs", "dqs"}
        Skinning method for ``deformation="pose"``.
    deformation : {"pose", "cage"}

    Returns
    -------
    (n, 3) float
        ``V`` itself when the weights or coordinates needed are missing or do not fit.
    """
    from fieldrig.geometry.deform import dual_quaternion_skinning, linear_blend_skinning

    if deformation == "cage":
        Phi = cage_state.coordinates
        if Phi is None or cage_pose is None or Phi.shape != (len(V), len(cage_pose)):
            return V
        X = Phi @ cage_pose
        return X if X.shape[1] == 3 else np.hstack([X, V[:, X.shape[1] :]])
    rig, W = rig_state.rig, rig_state.weights
    if rig is None or W is None or W.shape != (len(V), rig.n_handles):
        return V
    skin: Callable = dual_quaternion_skinning if method == "dqs" else linear_blend_skinning
    return np.asarray(skin(V, W, pose_transforms(rig, rig_state.pose)))
