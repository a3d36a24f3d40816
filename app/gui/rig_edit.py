"""Rig editing as pure functions: each takes a rig and returns a new, validated one.

The app's undo stack stores the rig before and after every edit, so these functions never
modify their argument. An empty rig (no handles) is represented by ``None``: adding the
first handle to ``None`` creates a rig, deleting the last handle returns ``None``.

Handles are addressed by weight column (for a bone rig: point handles first, then bones,
as in :class:`~fieldrig.geometry.rig.Rig`). A skeleton rig (a skin's joints, one column per
joint) keeps its joints as its file has them: joints move, are renamed and switch their
deform flag, but adding, deleting and re-parenting are bone-rig edits.
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Union

import numpy as np

from fieldrig.core.errors import InputError
from fieldrig.geometry.rig import PaintedRegion, Rig


def _unique_name(prefix: str, taken: Sequence[str]) -> str:
    """``prefix<k>`` with the smallest k not in ``taken``."""
    k = 0
    while f"{prefix}{k}" in taken:
        k += 1
    return f"{prefix}{k}"


def _point3(position, what: str) -> np.ndarray:
    p = np.asarray(position, dtype=np.float64).reshape(-1)
    if p.shape != (3,) or not np.all(np.isfinite(p)):
        raise InputError(what, f"expected 3 finite coordinates, got {position!r}")
    return p


def _rebuild(rig: Rig, **changes) -> Rig:
    """A validated copy of ``rig`` with some of its defining arrays replaced."""
    return rig.rebuilt("rig edit", **changes)


def _bone_rig(rig: Optional[Rig], what: str) -> None:
    if rig is not None and rig.is_skeleton:
        raise InputError(
            "rig edit",
            f"{what}: this rig is a skin's skeleton (one weight column per joint, as its file has them); "
            "move joints, rename them or switch their deform flag instead",
        )


def _remap_deform(rig: Rig, old_to_new: np.ndarray, n_new: int) -> np.ndarray:
    """Deform flags that follow their handles to new columns; new handles deform."""
    flags = np.ones(n_new, bool)
    kept = old_to_new >= 0
    flags[old_to_new[kept]] = rig.deform[kept]
    return flags


def _check_handle(rig: Optional[Rig], handle: int) -> None:
    if rig is None or not 0 <= handle < rig.n_handles:
        n = 0 if rig is None else rig.n_handles
        raise InputError("handle", f"no handle {handle} (the rig has {n})")


def _check_joint(rig: Optional[Rig], joint: int) -> None:
    if rig is None or not 0 <= joint < len(rig.joints):
        n = 0 if rig is None else len(rig.joints)
        raise InputError("joint", f"no joint {joint} (the rig has {n})")


def _remap_painted(rig: Rig, old_to_new: np.ndarray) -> List[PaintedRegion]:
    """Painted regions with handle columns renumbered; regions of removed handles dropped."""
    return [
        PaintedRegion(int(old_to_new[p.handle]), p.vertices.copy()) for p in rig.painted if old_to_new[p.handle] >= 0
    ]


# ----------------------------------------------------------------------- adding
def add_point_handle(rig: Optional[Rig], position, name: Optional[str] = None) -> Rig:
    """Add a point handle at ``position``.

    Parameters
    ----------
    rig : Rig or None
    position : (3,) float
    name : str, optional
        Defaults to ``point<k>``.

    Returns
    -------
    Rig
        The new handle is the last point handle, i.e. column ``len(point_handles) - 1``.
    """
    p = _point3(position, "point handle position")
    _bone_rig(rig, "add point handle")
    if rig is None:
        return Rig.from_arrays(p[None, :], None, [0], None, [name or "point0"], [], source="rig edit")
    name = name or _unique_name("point", rig.joint_names)
    n_p = len(rig.point_handles)
    old_to_new = np.array([h if h < n_p else h + 1 for h in range(rig.n_handles)])
    return _rebuild(
        rig,
        joints=np.vstack([rig.joints, p]),
        point_handles=np.append(rig.point_handles, len(rig.joints)),
        joint_names=rig.joint_names + [name],
        painted=_remap_painted(rig, old_to_new),
        deform=_remap_deform(rig, old_to_new, rig.n_handles + 1),
    )


def add_bone(
    rig: Optional[Rig], start: Union[int, Sequence[float], np.ndarray], end, name: Optional[str] = None
) -> Rig:
    """Add a bone from ``start`` to a new joint at ``end``.

    Parameters
    ----------
    rig : Rig or None
    start : int or (3,) float
        An existing joint (the new bone becomes a child of the bone ending there, as in
        libigl's connectivity rule; a point handle at that joint stops being a point
        handle) or a position for a new root joint.
    end : (3,) float
        Position of the bone's new end joint.
    name : str, optional
        Defaults to ``bone<k>``.

    Returns
    -------
    Rig
        The new bone is the last column.
    """
    p_end = _point3(end, "bone end")
    _bone_rig(rig, "add bone")
    joints = np.zeros((0, 3)) if rig is None else rig.joints
    jnames = [] if rig is None else list(rig.joint_names)
    if isinstance(start, (int, np.integer)):
        _check_joint(rig, int(start))
        j0 = int(start)
    else:
        p_start = _point3(start, "bone start")
        joints = np.vstack([joints, p_start])
        jnames.append(_unique_name("joint", jnames))
        j0 = len(joints) - 1
    joints = np.vstack([joints, p_end])
    jnames.append(_unique_name("joint", jnames))
    j1 = len(joints) - 1
    if rig is None:
        return Rig.from_arrays(joints, [[j0, j1]], [], [-1], jnames, [name or "bone0"], source="rig edit")
    parent_hits = np.flatnonzero(rig.bones[:, 1] == j0) if len(rig.bones) else []
    parent = int(parent_hits[0]) if len(parent_hits) else -1
    keep_points = rig.point_handles[rig.point_handles != j0]
    n_p = len(rig.point_handles)
    old_to_new = np.full(rig.n_handles, -1)
    col = 0
    for h in range(n_p):
        if rig.point_handles[h] != j0:
            old_to_new[h] = col
            col += 1
    old_to_new[n_p:] = np.arange(len(rig.bones)) + col
    return _rebuild(
        rig,
        joints=joints,
        bones=np.vstack([rig.bones.reshape(-1, 2), [j0, j1]]),
        point_handles=keep_points,
        bone_parents=np.append(rig.bone_parents, parent),
        joint_names=jnames,
        bone_names=rig.bone_names + [name or _unique_name("bone", rig.bone_names)],
        painted=_remap_painted(rig, old_to_new),
        deform=_remap_deform(rig, old_to_new, col + len(rig.bones) + 1),
    )


# ---------------------------------------------------------------------- editing
def move_joint(rig: Rig, joint: int, position) -> Rig:
    """Move one joint; bones attached to it follow.

    Raises
    ------
    InputError
        When the move would give a bone zero length.
    """
    _check_joint(rig, joint)
    joints = rig.joints.copy()
    joints[joint] = _point3(position, "joint position")
    return _rebuild(rig, joints=joints)


def set_bone_parent(rig: Rig, bone: int, parent: int) -> Rig:
    """Make ``parent`` (a bone index, or -1 for none) the parent of ``bone``.

    Raises
    ------
    InputError
        When ``parent`` is ``bone`` itself or one of its descendants (a cycle).
    """
    _bone_rig(rig, "set parent")
    if not 0 <= bone < len(rig.bones):
        raise InputError("bone", f"no bone {bone} (the rig has {len(rig.bones)})")
    if not -1 <= parent < len(rig.bones):
        raise InputError("parent", f"no bone {parent} (the rig has {len(rig.bones)}; -1 means no parent)")
    if parent == bone:
        raise InputError("parent", f"bone {rig.bone_names[bone]!r} cannot be its own parent")
    parents = rig.bone_parents.copy()
    parents[bone] = parent
    return _rebuild(rig, bone_parents=parents)


def rename_handle(rig: Rig, handle: int, name: str) -> Rig:
    """Rename a handle (a point handle's joint, a bone, or a skeleton's joint); names stay unique."""
    _check_handle(rig, handle)
    name = str(name).strip()
    if not name:
        raise InputError("name", "a handle name cannot be empty")
    others = [n for h, n in enumerate(rig.handle_names) if h != handle]
    if name in others:
        raise InputError("name", f"another handle is already called {name!r}")
    point = np.flatnonzero(rig.point_columns == handle)
    if rig.is_skeleton or len(point):
        jnames = list(rig.joint_names)
        j = int(rig.pivot_joints[handle]) if rig.is_skeleton else int(rig.point_handles[point[0]])
        if name in (n for i, n in enumerate(jnames) if i != j):
            raise InputError("name", f"a joint is already called {name!r}")
        jnames[j] = name
        return _rebuild(rig, joint_names=jnames)
    bnames = list(rig.bone_names)
    bnames[int(np.flatnonzero(rig.bone_handles == handle)[0])] = name
    return _rebuild(rig, bone_names=bnames)


def set_deform(rig: Rig, handle: int, deform: bool) -> Rig:
    """Switch a handle's deform flag (a handle that does not deform keeps a zero weight column)."""
    _check_handle(rig, handle)
    flags = rig.deform.copy()
    flags[handle] = bool(deform)
    return rig.with_deform(flags)


def delete_handle(rig: Rig, handle: int) -> Optional[Rig]:
    """Delete a handle.

    A point handle's joint is removed. A bone is removed; its children take its parent,
    and joints left on no bone are removed (they do not silently become point handles).

    Returns
    -------
    Rig or None
        None when no handle is left.
    """
    _check_handle(rig, handle)
    _bone_rig(rig, "delete")
    if rig.n_handles == 1:
        return None
    n_p = len(rig.point_handles)
    old_to_new = np.arange(rig.n_handles)
    old_to_new[handle] = -1
    old_to_new[handle + 1 :] -= 1
    if handle < n_p:
        drop_joints = [int(rig.point_handles[handle])]
        point_handles = np.delete(rig.point_handles, handle)
        bones, parents, bnames = rig.bones, rig.bone_parents, rig.bone_names
    else:
        b = handle - n_p
        parents = rig.bone_parents.copy()
        parents[parents == b] = rig.bone_parents[b]
        parents = np.delete(parents, b)
        parents[parents > b] -= 1
        bones = np.delete(rig.bones, b, axis=0)
        bnames = rig.bone_names[:b] + rig.bone_names[b + 1 :]
        used = set(bones.ravel().tolist()) | set(rig.point_handles.tolist())
        drop_joints = [int(j) for j in rig.bones[b] if j not in used]
        point_handles = rig.point_handles
    keep = np.setdiff1d(np.arange(len(rig.joints)), drop_joints)
    joint_map = np.full(len(rig.joints), -1)
    joint_map[keep] = np.arange(len(keep))
    return _rebuild(
        rig,
        joints=rig.joints[keep],
        bones=joint_map[np.asarray(bones, dtype=np.int64)].reshape(-1, 2),
        point_handles=joint_map[point_handles],
        bone_parents=parents,
        joint_names=[rig.joint_names[j] for j in keep],
        bone_names=bnames,
        painted=_remap_painted(rig, old_to_new),
        deform=_remap_deform(rig, old_to_new, rig.n_handles - 1),
    )


def joint_of_handle(rig: Rig, handle: int) -> int:
    """The joint a handle is positioned by: a point handle's joint, a bone's end joint, a
    skeleton joint itself."""
    _check_handle(rig, handle)
    if rig.is_skeleton:
        return int(rig.pivot_joints[handle])
    point = np.flatnonzero(rig.point_columns == handle)
    if len(point):
        return int(rig.point_handles[point[0]])
    return int(rig.bones[np.flatnonzero(rig.bone_handles == handle)[0], 1])
