"""Polyscope structures for a mesh, its rig and its weights — drawn the same way by the app's
viewer and by the headless renderer (:mod:`fieldrig.draw.render`). No Qt here.

Structure names: ``mesh`` (surface mesh or point cloud), ``bones`` (curve network, one
segment per bone in the handle colours), ``joints`` (point cloud), ``selection`` (the
selected joint or bone, highlighted), ``unweighted vertices`` (magenta points where no
handle has weight). The mesh is coloured by its weights (:func:`show_weights`) or by how
far two weight sets are apart (:func:`show_difference`).

:class:`WeightDisplay` keeps the weight colouring and updates it in place when a few rows
change (a brush dab). The overlays — the skeleton drawn in front of an opaque mesh, the
brush circle — are ImGui drawing in the 3D view's pixels (:func:`screen_points`), so they
must be drawn inside polyscope's frame (its user callback), every frame.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import polyscope as ps
import polyscope.imgui as psim

from fieldrig.draw.colours import (
    SELECTION_COLOR,
    UNWEIGHTED_COLOR,
    dominant_handle_colors,
    handle_palette,
    unweighted_vertices,
)
from fieldrig.geometry.rig import Rig

MESH, BONES, JOINTS, SELECTION, UNWEIGHTED = "mesh", "bones", "joints", "selection", "unweighted vertices"
WEIGHT_QUANTITY, DOMINANT_QUANTITY = "handle weight", "dominant handle"
DIFFERENCE_QUANTITY = "A/B weight L1"
#: Colour map of the A/B difference heat map (white: the same weights, dark red: the most apart).
DIFFERENCE_CMAP = "reds"
MESH_COLOR = (0.78, 0.78, 0.80)
JOINT_COLOR = (0.25, 0.25, 0.3)


def mesh_structure():
    """The ``mesh`` structure (surface mesh or point cloud), or None."""
    if ps.has_surface_mesh(MESH):
        return ps.get_surface_mesh(MESH)
    if ps.has_point_cloud(MESH):
        return ps.get_point_cloud(MESH)
    return None


def register_mesh(V: np.ndarray, F: Optional[np.ndarray]) -> None:
    """(Re)register the mesh; ``F`` None draws a point cloud."""
    ps.remove_surface_mesh(MESH, error_if_absent=False)
    ps.remove_point_cloud(MESH, error_if_absent=False)
    if F is None:
        ps.register_point_cloud(MESH, V, color=MESH_COLOR, radius=0.003)
    else:
        s = ps.register_surface_mesh(MESH, V, F, color=MESH_COLOR, smooth_shade=True)
        s.set_selection_mode("vertices_only")
        s.set_back_face_policy("different")


def update_positions(X: np.ndarray) -> None:
    """Move the mesh's vertices (the fast path: one buffer upload, no re-registration)."""
    s = mesh_structure()
    buffer = "vertexPositions" if ps.has_surface_mesh(MESH) else "points"
    s.get_buffer(buffer).update_data(np.ascontiguousarray(X, dtype=np.float32))


def frame_view(low: np.ndarray, high: np.ndarray) -> None:
    """Point the camera at the box ``low``–``high`` (each (3,)), as polyscope frames a scene it
    has just registered: the box becomes the scene's extent and its diagonal the length scale."""
    ps.set_bounding_box(np.asarray(low, dtype=float), np.asarray(high, dtype=float))
    ps.set_length_scale(max(float(np.linalg.norm(np.asarray(high) - np.asarray(low))), 1e-12))
    ps.reset_camera_to_home_view()


def read_positions(indices) -> np.ndarray:
    """Read vertex positions back from polyscope's buffer (for checks), (k, 3) float."""
    s = mesh_structure()
    buffer = s.get_buffer("vertexPositions" if ps.has_surface_mesh(MESH) else "points")
    return np.array([buffer.get_value(int(i)).as_tuple() for i in indices], dtype=np.float64)


def show_weights(
    W: Optional[np.ndarray], colouring: str = "dominant", handle: int = 0, positions: Optional[np.ndarray] = None
) -> None:
    """Colour the mesh by its weights.

    Parameters
    ----------
    W : (n, H) float or None
        None removes the colouring.
    colouring : {"dominant", "weight"}
        Each vertex in its largest handle's colour, or one handle's weight (viridis, 0–1,
        isolines every 0.1).
    handle : int
        The handle shown by ``colouring="weight"``.
    positions : (n, 3) float, optional
        Where the mesh's vertices are drawn now (to put the unweighted markers there).
    """
    s = mesh_structure()
    ps.remove_point_cloud(UNWEIGHTED, error_if_absent=False)
    if s is None:
        return
    s.remove_all_quantities()
    if W is None:
        return
    if colouring == "weight":
        s.add_scalar_quantity(
            WEIGHT_QUANTITY,
            W[:, handle],
            enabled=True,
            cmap="viridis",
            vminmax=(0.0, 1.0),
            isolines_enabled=True,
            isoline_period=0.1,
            isoline_period_relative=False,
            isoline_darkness=0.8,
            onscreen_colorbar_enabled=True,
        )
    else:
        s.add_color_quantity(DOMINANT_QUANTITY, dominant_handle_colors(W, handle_palette(W.shape[1])), enabled=True)
    _show_unweighted(unweighted_vertices(W), positions)


def _show_unweighted(bad: np.ndarray, positions: Optional[np.ndarray]) -> None:
    ps.remove_point_cloud(UNWEIGHTED, error_if_absent=False)
    if len(bad) and positions is not None:
        ps.register_point_cloud(UNWEIGHTED, positions[bad], color=UNWEIGHTED_COLOR, radius=0.006)


def show_difference(D: np.ndarray) -> Tuple[float, float]:
    """Colour the mesh by a per-vertex difference of two weight sets (a heat map from 0 to
    its largest value, with polyscope's colour bar in the view as its legend).

    Parameters
    ----------
    D : (n,) float
        E.g. ``½ Σ_j |w_A − w_B|`` per vertex (0 … 1).

    Returns
    -------
    (float, float)
        The range the colours span.
    """
    s = mesh_structure()
    ps.remove_point_cloud(UNWEIGHTED, error_if_absent=False)
    span = (0.0, max(float(np.max(D)) if len(D) else 0.0, 1e-6))
    if s is None:
        return span
    s.remove_all_quantities()
    s.add_scalar_quantity(
        DIFFERENCE_QUANTITY,
        np.asarray(D, dtype=np.float64),
        enabled=True,
        cmap=DIFFERENCE_CMAP,
        vminmax=span,
        onscreen_colorbar_enabled=True,
    )
    return span


class WeightDisplay:
    """The mesh's weight colouring as last shown, updated in place when only rows change.

    :meth:`show` draws like :func:`show_weights`; called again with the same colouring,
    handle and table shape, it finds the rows that changed and uploads the new colours into
    the quantity's buffer (no re-registration: ~0.1–0.3 ms against 2–4 ms for a
    10k-vertex mesh, measured by ``bench/paint_dab.py``). Call :meth:`forget` when the
    mesh is registered again.

    Attributes
    ----------
    last_update : str
        ``"full"`` (registered), ``"rows"`` (buffer updated), ``"none"`` (nothing changed)
        or ``"removed"``: what the last :meth:`show` did.
    """

    def __init__(self):
        self.forget()
        self.last_update = "removed"

    def forget(self) -> None:
        """What is drawn is unknown (the mesh was registered again)."""
        self._key, self._W, self._colors, self._bad = None, None, None, None

    def show(self, W: Optional[np.ndarray], colouring: str = "dominant", handle: int = 0, positions=None) -> None:
        """Colour the mesh by ``W`` (n, H) (None: no colouring); see :func:`show_weights`.

        ``positions`` (n, 3), or a function returning them, are where the unweighted markers go.
        """
        s = mesh_structure()
        key = None if W is None or s is None else (colouring, handle, W.shape)
        where = positions if not callable(positions) else None
        if key is None or key != self._key:
            if key is not None and positions is not None and where is None:
                where = positions()
            show_weights(W, colouring, handle, where)
            self._key, self._W = key, W
            self._bad = None
            if key is not None:
                self._bad = np.zeros(len(W), dtype=bool)
                self._bad[unweighted_vertices(W)] = True
            self._colors = None
            if key is not None and colouring != "weight":
                self._colors = dominant_handle_colors(W, handle_palette(W.shape[1]))
            self.last_update = "removed" if key is None else "full"
            return
        rows = np.flatnonzero(np.any(W != self._W, axis=1))
        self._W = W
        if not len(rows):
            self.last_update = "none"
            return
        if colouring == "weight":
            s.get_quantity_buffer(WEIGHT_QUANTITY, "values").update_data(np.ascontiguousarray(W[:, handle]))
        else:
            self._colors[rows] = dominant_handle_colors(W[rows], handle_palette(W.shape[1]))
            s.get_quantity_buffer(DOMINANT_QUANTITY, "colors").update_data(self._colors)
        bad = np.zeros(len(rows), dtype=bool)
        bad[unweighted_vertices(W[rows])] = True
        if not np.array_equal(bad, self._bad[rows]):  # vertices lost or found all their weight
            self._bad[rows] = bad
            _show_unweighted(np.flatnonzero(self._bad), positions() if callable(positions) else positions)
        self.last_update = "rows"


def posed_joints(rig: Rig, T: Optional[np.ndarray]) -> np.ndarray:
    """Joint positions moved by the handle transforms, (J, 3); the rest joints for T None.

    Handles are visited parents first; each moves its segments' joints and its pivot, so a
    joint shared by a parent and a child follows the child (the same point when the child
    is not translated). A point handle's joint moves with its handle.
    """
    X = rig.joints.copy()
    if T is None:
        return X
    for i, j in enumerate(rig.point_handles):
        h = rig.point_columns[i]
        X[j] = T[h, :3, :3] @ rig.joints[j] + T[h, :3, 3]
    for h in _parents_first(rig.handle_parents()):
        joints = np.unique(np.r_[rig.bones[rig.bone_handles == h].ravel(), rig.pivot_joints[h]])
        X[joints] = rig.joints[joints] @ T[h, :3, :3].T + T[h, :3, 3]
    return X


def _parents_first(parents: np.ndarray) -> list:
    order, done = [], set()
    while len(order) < len(parents):
        for b, p in enumerate(parents):
            if b not in done and (p < 0 or p in done):
                order.append(b)
                done.add(b)
    return order


def _selected_points(rig: Rig, selected_handle: Optional[int], selected_joint: Optional[int]):
    """What the selection highlights: ``("point", joint)``, ``("bones", bone indices)`` or None."""
    if selected_joint is not None:
        return "point", selected_joint
    if selected_handle is None:
        return None
    bones = np.flatnonzero(rig.bone_handles == selected_handle)
    if len(bones):
        return "bones", bones
    return "point", int(rig.pivot_joints[selected_handle])


def show_skeleton(
    rig: Optional[Rig],
    X: Optional[np.ndarray] = None,
    selected_handle: Optional[int] = None,
    selected_joint: Optional[int] = None,
) -> None:
    """Draw bones and joints at positions ``X`` (J, 3) (rest joints when None), with the
    selected joint or handle highlighted; ``rig`` None removes them. Bones take their
    handle's colour; a handle of several segments (a joint with several children) is
    drawn and highlighted as all of them."""
    ps.remove_curve_network(BONES, error_if_absent=False)
    ps.remove_curve_network(SELECTION, error_if_absent=False)
    ps.remove_point_cloud(JOINTS, error_if_absent=False)
    ps.remove_point_cloud(SELECTION, error_if_absent=False)
    if rig is None:
        return
    X = rig.joints if X is None else X
    palette = handle_palette(rig.n_handles)
    if len(rig.bones):
        edges = np.arange(2 * len(rig.bones)).reshape(-1, 2)
        bones = ps.register_curve_network(BONES, X[rig.bones.reshape(-1)], edges, radius=0.006)
        bones.add_color_quantity("handle", palette[rig.bone_handles], defined_on="edges", enabled=True)
    joints = ps.register_point_cloud(JOINTS, X, radius=0.011)
    colors = np.tile(JOINT_COLOR, (len(X), 1))
    colors[rig.point_handles] = palette[rig.point_columns]
    joints.add_color_quantity("handle", colors, enabled=True)
    selection = _selected_points(rig, selected_handle, selected_joint)
    if selection is None:
        return
    kind, what = selection
    if kind == "point":
        ps.register_point_cloud(SELECTION, X[what][None], radius=0.016, color=SELECTION_COLOR)
    else:
        ends = X[rig.bones[what].reshape(-1)]
        edges = np.arange(len(ends)).reshape(-1, 2)
        ps.register_curve_network(SELECTION, ends, edges, radius=0.01, color=SELECTION_COLOR)


def move_skeleton(
    rig: Rig, X: np.ndarray, selected_handle: Optional[int] = None, selected_joint: Optional[int] = None
) -> None:
    """Move the drawn skeleton's joints to ``X`` (J, 3) in place (a pose change: cheap, no
    re-registration); falls back to :func:`show_skeleton` when what is drawn does not match."""
    n_bones = ps.get_curve_network(BONES).n_nodes() // 2 if ps.has_curve_network(BONES) else 0
    if not ps.has_point_cloud(JOINTS) or ps.get_point_cloud(JOINTS).n_points() != len(X) or n_bones != len(rig.bones):
        show_skeleton(rig, X, selected_handle, selected_joint)
        return
    ps.get_point_cloud(JOINTS).update_point_positions(X)
    if len(rig.bones):
        ps.get_curve_network(BONES).update_node_positions(X[rig.bones.reshape(-1)])
    selection = _selected_points(rig, selected_handle, selected_joint)
    if selection is None:
        return
    kind, what = selection
    if kind == "point" and ps.has_point_cloud(SELECTION):
        ps.get_point_cloud(SELECTION).update_point_positions(X[what][None])
    elif kind == "bones" and ps.has_curve_network(SELECTION):
        ps.get_curve_network(SELECTION).update_node_positions(X[rig.bones[what].reshape(-1)])


# ------------------------------------------------------------------ overlays (ImGui, in the frame)
def screen_points(X: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Where world points appear in the 3D view, in window pixels (x right, y down: ImGui's
    and :func:`polyscope.screen_coords_to_world_ray`'s coordinates).

    Parameters
    ----------
    X : (k, 3) float

    Returns
    -------
    xy : (k, 2) float
    depth : (k,) float
        Distance in front of the camera along its view direction (≤ 0: behind it; all 0
        in orthographic views, which the overlays skip).
    """
    X = np.asarray(X, dtype=np.float64).reshape(-1, 3)
    if ps.get_view_projection_mode() != "perspective":
        return np.zeros((len(X), 2)), np.zeros(len(X))
    camera = ps.get_view_camera_parameters()
    view = np.asarray(camera.get_view_mat(), dtype=np.float64)
    Xc = X @ view[:3, :3].T + view[:3, 3]
    depth = -Xc[:, 2]
    f = 1.0 / np.tan(np.radians(camera.get_fov_vertical_deg()) / 2)
    w, h = ps.get_window_size()
    safe = np.where(depth > 0, depth, 1.0)
    ndc = np.c_[f / (w / h) * Xc[:, 0] / safe, f * Xc[:, 1] / safe]
    return np.c_[(ndc[:, 0] + 1) * w / 2, (1 - ndc[:, 1]) * h / 2], depth


def pixels_per_unit(depth: float) -> float:
    """How many window pixels one scene unit spans at ``depth`` in front of the camera."""
    camera = ps.get_view_camera_parameters()
    _, h = ps.get_window_size()
    return h / 2 / np.tan(np.radians(camera.get_fov_vertical_deg()) / 2) / depth


def _u32(rgb, alpha: float = 1.0) -> int:
    return psim.GetColorU32((float(rgb[0]), float(rgb[1]), float(rgb[2]), alpha))


def draw_skeleton_overlay(rig: Rig, X: np.ndarray, selected_handle: Optional[int] = None) -> None:
    """Draw the bones and joints at ``X`` (J, 3) on top of the scene (Blender's "in front"),
    each bone in its handle's colour with a dark outline, the selected handle in the
    selection colour. Call inside polyscope's frame."""
    xy, depth = screen_points(X)
    palette = handle_palette(rig.n_handles)
    draw = psim.GetBackgroundDrawList()
    outline = _u32(JOINT_COLOR)
    for b, (i, j) in enumerate(rig.bones):
        if depth[i] <= 0 or depth[j] <= 0:
            continue
        h = int(rig.bone_handles[b])
        selected = h == selected_handle
        a, c = tuple(xy[i]), tuple(xy[j])
        draw.AddLine(a, c, outline, 8.0 if selected else 6.0)
        draw.AddLine(a, c, _u32(SELECTION_COLOR if selected else palette[h]), 5.0 if selected else 3.5)
    fill = np.tile([0.95, 0.95, 0.95], (len(X), 1))  # joints light, point handles in their colour
    fill[rig.point_handles] = palette[rig.point_columns]
    for j in np.flatnonzero(depth > 0):
        draw.AddCircleFilled(tuple(xy[j]), 4.0, outline)
        draw.AddCircleFilled(tuple(xy[j]), 2.5, _u32(fill[j]))


def draw_brush_circle(centre: np.ndarray, radius: float, active: bool = False) -> None:
    """Outline the brush: a circle of ``radius`` scene units around ``centre`` (3,), as seen
    from the camera (brighter while painting). Call inside polyscope's frame."""
    xy, depth = screen_points(np.asarray(centre)[None])
    if depth[0] <= 0:
        return
    r = radius * pixels_per_unit(float(depth[0]))
    draw = psim.GetBackgroundDrawList()
    draw.AddCircle(tuple(xy[0]), float(r), _u32((0, 0, 0), 0.6), 64, 3.5)
    draw.AddCircle(tuple(xy[0]), float(r), _u32((1, 1, 1) if active else (0.85, 0.85, 0.85), 0.95), 64, 1.5)
    draw.AddCircleFilled(tuple(xy[0]), 2.0, _u32((1, 1, 1), 0.9))
