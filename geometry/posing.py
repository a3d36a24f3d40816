"""Posing by hand: turning, placing and mirroring handles, with rotations kept as
quaternions and matrices (never Euler angles, so no axis locks at ±90°).

The pose model is :mod:`fieldrig.geometry.pose`'s: handle ``h`` has a local rotation
``R`` about its rest pivot ``p`` and a translation ``t``, and its absolute transform is
``T_h = T_parent · [R | p + t − R p]``. What a user sees of a handle is its *frame*: the
world transform ``F_h = T_h · translate(p)``, whose rotation is the handle's world rotation
and whose origin is where its pivot is drawn. Everything here goes between the two:

- :func:`handle_frame` — ``F_h`` from the absolute transforms;
- :func:`local_from_frame` — the local ``(R, t)`` that puts ``F_h`` where the user dragged
  it (a gizmo, Blender's R and G): the parent's transform is divided out, so any handle
  translates, and its descendants follow, since their transforms are composed on it;
- :func:`turn` — a rotation composed with a turn about an axis (quaternion product);
- :func:`axis_angle` — the axis and angle in degrees of a rotation, for display;
- :func:`mirror_rotation`, :func:`mirror_pose` — a pose reflected across a plane, left and
  right handles exchanged by name.
"""

from __future__ import annotations

from typing import Iterable, Optional, Sequence, Tuple

import numpy as np

from fieldrig.core.errors import InputError
from fieldrig.geometry.pose import Pose
from fieldrig.geometry.rig import Rig
from fieldrig.geometry.rotations import matrix_to_quaternion, nearest_rotation, quaternion_to_matrix
from fieldrig.geometry.weight_edit import mirror_joint_map

#: Below this angle (degrees) a rotation is the identity and has no axis.
_NO_ANGLE = 1e-9


def quaternion_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton products ``a ⊗ b`` (the rotation ``b`` first, then ``a``).

    Parameters
    ----------
    a, b : (..., 4) float
        Quaternions ``(w, x, y, z)``; leading dimensions broadcast.

    Returns
    -------
    (..., 4) float
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        axis=-1,
    )


def _unit_axis(axis, source: str = "axis") -> np.ndarray:
    a = np.asarray(axis, dtype=np.float64).reshape(-1)
    if a.shape != (3,) or not np.all(np.isfinite(a)) or not np.linalg.norm(a) > 0:
        raise InputError(source, f"expected 3 finite numbers, not all zero, got {np.asarray(axis).tolist()!r}")
    return a / np.linalg.norm(a)


def turn(R: np.ndarray, axis: Sequence[float], degrees: float) -> np.ndarray:
    """``R`` followed by a turn of ``degrees`` about ``axis`` (right-handed), composed as
    unit quaternions and returned as a matrix: ``Rot(axis, degrees) · R``.

    Parameters
    ----------
    R : (3, 3) float
        A rotation.
    axis : (3,) float
        In the frame ``R`` maps into (for a handle's local rotation: its parent's rest frame).
    degrees : float

    Returns
    -------
    (3, 3) float
        Orthonormal with determinant +1 to rounding, however many turns are chained.
    """
    if not np.isfinite(degrees):
        raise InputError("degrees", f"expected a finite angle, got {degrees!r}")
    half = 0.5 * np.radians(degrees)
    q_turn = np.r_[np.cos(half), np.sin(half) * _unit_axis(axis)]
    q = quaternion_multiply(q_turn, matrix_to_quaternion(nearest_rotation(R)))
    return quaternion_to_matrix(q / np.linalg.norm(q))


def axis_angle(R: np.ndarray) -> Tuple[np.ndarray, float]:
    """The axis and angle of a rotation.

    Parameters
    ----------
    R : (3, 3) float

    Returns
    -------
    axis : (3,) float
        Unit length; ``(1, 0, 0)`` for the identity, which has none.
    degrees : float
        In [0, 180]: ``R`` turns by ``degrees`` about ``axis``.
    """
    q = matrix_to_quaternion(nearest_rotation(R))  # w >= 0: the angle is at most 180°
    s = float(np.linalg.norm(q[1:]))
    degrees = float(np.degrees(2.0 * np.arctan2(s, q[0])))
    if degrees < _NO_ANGLE:
        return np.array([1.0, 0.0, 0.0]), 0.0
    return q[1:] / s, degrees


def handle_frame(rig: Rig, T: np.ndarray, handle: int) -> np.ndarray:
    """A handle's frame in the world: its absolute transform with the pivot as origin.

    Parameters
    ----------
    rig : Rig
    T : (H, 4, 4) float
        Absolute transforms of the pose (:func:`~fieldrig.geometry.pose.pose_transforms`).
    handle : int

    Returns
    -------
    (4, 4) float
        Rotation: the handle's world rotation; translation: its pivot's posed position.
    """
    F = np.asarray(T[handle], dtype=np.float64).copy()
    F[:3, 3] = F[:3, :3] @ rig.handle_pivots()[handle] + F[:3, 3]
    return F


def local_from_frame(rig: Rig, T: np.ndarray, handle: int, frame: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """The local rotation and translation that put a handle's frame at ``frame``.

    The parent's transform in ``T`` stays as it is, so the result holds for any handle,
    roots or not: a child translated this way detaches from its parent's joint (as in
    libigl's forward kinematics), and its own descendants follow it.

    Parameters
    ----------
    rig : Rig
    T : (H, 4, 4) float
        Absolute transforms of the current pose (only the parent's is used).
    handle : int
    frame : (4, 4) float
        Wanted world frame (see :func:`handle_frame`); its 3×3 block is made a rotation.

    Returns
    -------
    R : (3, 3) float
        Local rotation, in the parent's rest frame.
    t : (3,) float
        Local translation, such that ``pose_transforms`` gives ``handle_frame(...) == frame``.
    """
    p = rig.handle_pivots()[handle]
    parent = int(rig.handle_parents()[handle])
    P = np.eye(4) if parent < 0 else np.asarray(T[parent], dtype=np.float64)
    G = np.asarray(frame, dtype=np.float64).copy()
    G[:3, 3] -= G[:3, :3] @ p  # the frame at the pivot → the handle's absolute transform
    local = np.linalg.solve(P, G)
    R = nearest_rotation(local[:3, :3])
    return R, local[:3, 3] - p + R @ p


def reflection(normal: Sequence[float]) -> np.ndarray:
    """The 3×3 reflection ``I − 2 n nᵀ`` across the plane through the origin with normal ``n``."""
    n = _unit_axis(normal, "mirror plane normal")
    return np.eye(3) - 2.0 * np.outer(n, n)


def mirror_rotation(R: np.ndarray, normal: Sequence[float] = (1.0, 0.0, 0.0)) -> np.ndarray:
    """A rotation seen in a mirror: ``S R S`` with ``S`` the reflection across the plane
    of normal ``normal`` (a proper rotation again: the two reflections cancel).

    Parameters
    ----------
    R : (..., 3, 3) float
    normal : (3,) float

    Returns
    -------
    (..., 3, 3) float
    """
    S = reflection(normal)
    return S @ np.asarray(R, dtype=np.float64) @ S


def mirror_pose(
    rig: Rig,
    pose: Pose,
    normal: Sequence[float] = (1.0, 0.0, 0.0),
    handles: Optional[Iterable[str]] = None,
) -> Pose:
    """The pose reflected across a plane: each handle's rotation and translation, mirrored,
    go to its other-side partner (matched by name: ``arm_L``/``arm_R``, ``LeftArm``/``RightArm``,
    see :func:`~fieldrig.geometry.weight_edit.mirrored_name`); a handle without a partner (a
    centre joint) takes its own mirrored rotation.

    Rotations and translations are relative to the rest pose, so only the plane's normal
    matters, not where the plane is. For a rig that is symmetric across the plane the
    mirrored pose is the mirror image of the posed rig: ``T'_m = A T_h A`` with ``A`` the
    reflection.

    Parameters
    ----------
    rig : Rig
    pose : Pose
    normal : (3,) float
        Normal of the symmetry plane (default x: the plane x = const).
    handles : iterable of str, optional
        Mirror only these handles onto their partners (the partners' own values are
        replaced, everything else is kept): "copy this side to the other". None mirrors
        the whole pose (both sides exchange).

    Returns
    -------
    Pose
        A new pose; ``pose`` is not modified.
    """
    S = reflection(normal)
    R, t = pose.local_arrays(rig)
    partner = mirror_joint_map(rig.handle_names)
    names = rig.handle_names
    if handles is None:
        sources = range(rig.n_handles)
    else:
        wanted = list(handles)
        unknown = [n for n in wanted if n not in names]
        if unknown:
            raise InputError("mirror", f"unknown handle(s) {unknown} (the rig has: {', '.join(names)})")
        sources = [names.index(n) for n in wanted]
    out = Pose() if handles is None else Pose(dict(pose.rotations), dict(pose.translations))
    for h in sources:
        m = names[partner[h]]
        out.rotations.pop(m, None)
        out.translations.pop(m, None)
        if names[h] in pose.rotations:
            out.set(m, rotation=S @ R[h] @ S)
        if names[h] in pose.translations:
            out.set(m, translation=S @ t[h])
    return out
