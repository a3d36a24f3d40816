"""The bridge to polyscope: draws the document, follows its changes, and turns the
transformation gizmo and mouse clicks in the polyscope window into document edits.

One process, one thread: the app's QTimer calls :meth:`Viewer.tick`, which applies pending
updates and runs ``ps.frame_tick()``; polyscope then calls :meth:`Viewer._frame_callback`
inside the frame, where the gizmo is read and clicks are detected. Nothing here blocks:
per frame it does at most one skinning update (see :class:`fieldrig.gui.preview.PreviewSkinning`)
and small array uploads.

Besides the structures of :mod:`fieldrig.draw.scene` (mesh, bones, joints, selection,
unweighted vertices) it draws ``cage`` and ``cage vertices`` (click one to drag it) and
``bone start`` (the pending start of a bone chain while adding bones).

Keys in the 3D view: Ctrl+Z / Ctrl+Shift+Z / Ctrl+Y, Delete and Escape go to the panel
(:attr:`Viewer.shortcut`); Space, Left / Right and B drive the timeline and the A/B swap
(:attr:`Viewer.timeline_key`); R and G start Blender's rotate and grab on the selected handle
(:mod:`fieldrig.gui.transform_tool`), which then takes the mouse and keys until it ends.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np
import polyscope as ps
import polyscope.imgui as psim
from PyQt6.QtCore import QObject, pyqtSignal

from fieldrig.core.errors import InputError
from fieldrig.draw import scene
from fieldrig.draw.colours import SELECTION_COLOR
from fieldrig.draw.scene import MESH
from fieldrig.geometry.posing import local_from_frame
from fieldrig.gui.document import Document
from fieldrig.gui.preview import PreviewSkinning
from fieldrig.gui.rig_edit import move_joint
from fieldrig.gui.transform_tool import TransformTool
from fieldrig.session import copy_pose, deform_mesh

CAGE, CAGE_VERTICES, BONE_START = "cage", "cage vertices", "bone start"
CLICK_TOLERANCE_PX = 4.0
CAGE_VERTEX_COLOR = (0.2, 0.35, 0.9)
CAGE_VERTEX_RADIUS = 0.009  # relative to the scene's length scale, as polyscope takes it
#: Selected cage vertices are drawn this many times larger (and in the selection colour).
SELECTED_CAGE_VERTEX_SCALE = 1.6
#: Mesh opacity per mode: see-through where the skeleton matters, solid to judge weights.
MESH_OPACITY = {"rig": 0.55, "pose": 0.8, "weights": 1.0, "cage": 1.0}


@dataclass
class Pick:
    """A click in the polyscope window, resolved.

    Attributes
    ----------
    structure : str or None
        Name of the structure under the cursor (None: background).
    element : str or None
        ``"vertex"``, ``"face"``, ``"edge"``, ``"node"``... as polyscope reports it.
    index : int or None
        Element index within the structure.
    position : (3,) float or None
        World position of the hit.
    vertex : int or None
        For the mesh: the vertex nearest to the hit.
    ray_origin, ray_direction : (3,) float
        The camera ray through the clicked pixel.
    shift : bool
        Shift was held (adds to or removes from a selection).
    """

    structure: Optional[str]
    element: Optional[str]
    index: Optional[int]
    position: Optional[np.ndarray]
    vertex: Optional[int]
    ray_origin: np.ndarray
    ray_direction: np.ndarray
    shift: bool = False


def translation(p) -> np.ndarray:
    """4×4 translation by ``p`` (3,)."""
    M = np.eye(4)
    M[:3, 3] = p
    return M


def box_extent(X: np.ndarray) -> Tuple[np.ndarray, float]:
    """Centre (3,) and diagonal of the bounding box of points ``X`` (n, 3)."""
    low, high = X.min(axis=0), X.max(axis=0)
    return (low + high) / 2, float(np.linalg.norm(high - low))


def extent_jumped(framed: Optional[Tuple[np.ndarray, float]], shown: Tuple[np.ndarray, float]) -> bool:
    """Whether a shape of extent ``shown`` has left the view that frames ``framed`` (each a
    (centre, diagonal)): more than twice as large or small, or its centre moved by more than
    half the framed diagonal. A pose or a clip that stays around the bind pose keeps the view."""
    if framed is None or framed[1] <= 0 or shown[1] <= 0:
        return False
    (c0, d0), (c1, d1) = framed, shown
    return not 0.5 <= d1 / d0 <= 2.0 or float(np.linalg.norm(c1 - c0)) > 0.5 * d0


def init_polyscope(backend: Optional[str] = None) -> None:
    """Start polyscope once, with fieldrig's settings (no prefs files in the working folder)."""
    if ps.is_initialized():
        return
    ps.set_program_name("fieldrig viewer")
    ps.set_use_prefs_file(False)
    ps.set_allow_headless_backends(True)
    ps.set_open_imgui_window_for_user_callback(False)
    ps.set_ground_plane_mode("none")  # shadows triple the cost of a frame with software GL
    ps.set_max_fps(-1)
    ps.set_enable_vsync(False)
    ps.init(backend or "auto")


class Viewer(QObject):
    """Shows a :class:`Document` in polyscope and edits it through the gizmo.

    Parameters
    ----------
    document : Document
    backend : str, optional
        polyscope backend (``"openGL_mock"`` in tests, ``"openGL3_egl"`` headless).

    Signals
    -------
    picked(Pick)
        The user clicked (pressed and released without dragging) in the 3D view.
    files_dropped(list of str)
        Files were dropped onto the polyscope window.
    shortcut(str)
        A key pressed in the 3D view: ``"undo"`` (Ctrl+Z), ``"redo"`` (Ctrl+Shift+Z, Ctrl+Y),
        ``"delete"`` (Delete), ``"escape"`` (Escape), ``"paint"`` (P).
    timeline_key(str)
        ``"play"`` (Space), ``"frame_back"`` (Left), ``"frame_forward"`` (Right), ``"swap_ab"`` (B).
    status(str)
        A line for the status bar (what R / G are doing; "" when they end).

    Attributes
    ----------
    tool : TransformTool
        Blender's R / G on the selected handle.
    painter : object or None
        The weight brush while it is on (:class:`fieldrig.gui.brush.BrushTool`): it gets the
        camera ray under the mouse (``hover``, ``press`` — True when a stroke starts, and the
        camera then stays put until release — ``move``, ``release``) and ``draw``s its outline.
    """

    picked = pyqtSignal(object)
    files_dropped = pyqtSignal(list)
    shortcut = pyqtSignal(str)
    timeline_key = pyqtSignal(str)
    status = pyqtSignal(str)

    def __init__(self, document: Document, backend: Optional[str] = None, parent: Optional[QObject] = None):
        super().__init__(parent)
        init_polyscope(backend)
        self.doc = document
        ps.remove_all_transformation_gizmos()
        self.gizmo = ps.add_transformation_gizmo("edit")
        self.gizmo.set_enabled(False)
        self.gizmo.set_allow_scaling(False)
        self._gizmo_key = None
        self._gizmo_set: Optional[np.ndarray] = None
        self._press: Optional[Tuple[float, float]] = None
        self._released = False  # the mouse button went up last frame: the drag ends after this frame's gizmo
        self._pending = set(document.topics_all())
        self._skinners: list = []  # (weights, PreviewSkinning), newest first: A/B swaps reuse them
        self.tool = TransformTool(document)
        self.bone_start: Optional[np.ndarray] = None
        self.last_deform_ms = 0.0
        self.painter = None
        self._stroking = False
        self.weight_display = scene.WeightDisplay()
        self._overlay = (None, None)  # ((rig, pose), joints as shown)
        self._cage_drag = None  # (merge token, gizmo transform, cage) where the current cage drag began
        self._cage_frame = (None, None)  # (cage pose, (gizmo key, transform)) the last cage drag left
        self.framed_extent: Optional[Tuple[np.ndarray, float]] = None  # (centre, diagonal) the camera frames
        document.changed.connect(self._on_changed)
        ps.set_user_callback(self._frame_callback)
        ps.set_files_dropped_callback(lambda paths: self.files_dropped.emit([str(p) for p in paths]))

    def close(self) -> None:
        """Detach from polyscope: callbacks, gizmo and structures are removed."""
        self.doc.changed.disconnect(self._on_changed)
        ps.clear_user_callback()
        ps.clear_files_dropped_callback()
        ps.remove_all_transformation_gizmos()
        ps.remove_all_structures()
        self.gizmo = None

    # ----------------------------------------------------------------- frame
    def _on_changed(self, topics) -> None:
        self._pending |= set(topics)

    def tick(self) -> None:
        """Apply pending document changes and draw one frame (the app's QTimer calls this)."""
        self.refresh()
        ps.frame_tick()

    def refresh(self) -> None:
        """Bring polyscope up to date with the document (without drawing)."""
        topics, self._pending = self._pending, set()
        if not topics:
            return
        doc = self.doc
        if "mesh" in topics:
            self._register_mesh()
        if "mesh" in topics:
            self._skinners = []
        if topics & {"mesh", "rig", "weights", "selection", "mode", "settings", "difference"}:
            self._update_colors()
        if topics & {"mesh", "rig", "mode", "selection"}:
            self._update_skeleton()
        elif topics & {"pose", "animation"} and self.doc.rig is not None and doc.mode != "cage":
            scene.move_skeleton(
                doc.rig, self.posed_joints(), doc.selected_handle, doc.selected_joint if doc.mode == "rig" else None
            )
        if topics & {"mesh", "cage", "cage_pose", "mode", "selection"}:
            self._update_cage()
        if topics & {"mesh", "rig", "weights", "pose", "coords", "cage_pose", "mode", "settings", "animation"}:
            self._update_deformation()
        self._update_bone_start()
        if ps.has_surface_mesh(MESH) and topics & {
            "mode",
            "mesh",
        }:  # the skeleton shows through while rigging and posing
            alpha = MESH_OPACITY[doc.mode]
            ps.set_transparency_mode("simple" if alpha < 1.0 or doc.mode == "cage" else "none")
            ps.get_surface_mesh(MESH).set_transparency(alpha)

    # ---------------------------------------------------------- structures
    def _register_mesh(self) -> None:
        mesh = self.doc.mesh
        if mesh is None:
            ps.remove_surface_mesh(MESH, error_if_absent=False)
            ps.remove_point_cloud(MESH, error_if_absent=False)
            return
        scene.register_mesh(mesh.V, mesh.F)
        self.weight_display.forget()
        ps.reset_camera_to_home_view()
        self.framed_extent = box_extent(mesh.V)

    def _update_colors(self) -> None:
        doc = self.doc
        show = doc.weights_usable() and doc.mode in ("weights", "pose")
        if show and doc.show_difference and doc.rig_state.compare:
            scene.show_difference(doc.rig_state.weight_difference())
            self.weight_display.forget()  # the weight colouring is gone
            return
        handle = doc.selected_handle if doc.selected_handle is not None else 0
        self.weight_display.show(
            doc.weights if show else None,
            doc.settings["colouring"],
            handle,
            self.displayed_positions if show else None,
        )

    def posed_joints(self) -> np.ndarray:
        """Joint positions as displayed: the rest rig in rig mode, posed otherwise, (J, 3)."""
        rest = self.doc.mode == "rig"
        return scene.posed_joints(self.doc.rig, None if rest else self.doc.handle_transforms())

    def _update_skeleton(self) -> None:
        doc = self.doc
        if doc.rig is None or doc.mode == "cage":
            scene.show_skeleton(None)
            return
        joint = doc.selected_joint if doc.mode == "rig" else None
        scene.show_skeleton(doc.rig, self.posed_joints(), doc.selected_handle, joint)

    def _update_cage(self) -> None:
        ps.remove_surface_mesh(CAGE, error_if_absent=False)
        ps.remove_curve_network(CAGE, error_if_absent=False)
        ps.remove_point_cloud(CAGE_VERTICES, error_if_absent=False)
        doc = self.doc
        cage = doc.cage_state
        if cage.vertices is None or doc.mode != "cage":
            return
        P = _as3d(doc.cage_pose if doc.cage_pose is not None else cage.vertices)
        if cage.faces.shape[1] == 3:
            s = ps.register_surface_mesh(
                CAGE, P, cage.faces, color=(0.3, 0.55, 0.95), transparency=0.25, edge_width=1.5
            )
            s.set_back_face_policy("identical")
        else:
            ps.register_curve_network(CAGE, P, cage.faces, radius=0.003, color=(0.3, 0.55, 0.95))
        pc = ps.register_point_cloud(CAGE_VERTICES, P, radius=CAGE_VERTEX_RADIUS, color=CAGE_VERTEX_COLOR)
        if doc.cage_selection:
            selected = list(doc.cage_selection)
            colors = np.tile(CAGE_VERTEX_COLOR, (len(P), 1))
            colors[selected] = SELECTION_COLOR
            pc.add_color_quantity("selected", colors, enabled=True)
            # per-point radii, scaled by polyscope so that the largest (the selected) gets the cloud's radius
            radii = np.ones(len(P))
            radii[selected] = SELECTED_CAGE_VERTEX_SCALE
            pc.add_scalar_quantity("size", radii)
            pc.set_point_radius_quantity("size", autoscale=True)
            pc.set_radius(CAGE_VERTEX_RADIUS * SELECTED_CAGE_VERTEX_SCALE)

    def _update_bone_start(self) -> None:
        ps.remove_point_cloud(BONE_START, error_if_absent=False)
        if self.bone_start is not None and self.doc.mode == "rig":
            ps.register_point_cloud(BONE_START, np.asarray(self.bone_start)[None], radius=0.014, color=(1.0, 0.4, 0.1))

    def set_bone_start(self, position: Optional[np.ndarray]) -> None:
        """Show (or hide, with None) the start of the bone chain being drawn."""
        self.bone_start = None if position is None else np.asarray(position, dtype=np.float64)
        self._pending.add("bone_start")

    # ---------------------------------------------------------- deformation
    def _skinning(self):
        doc = self.doc
        if doc.rig_state.preview is not None:
            return doc.rig_state.preview
        for weights, skinner in self._skinners:  # weights set without a preview: built here once
            if weights is doc.weights:
                return skinner
        skinner = PreviewSkinning(doc.mesh.V, doc.weights)
        self._skinners = [(doc.weights, skinner)] + self._skinners[:3]
        return skinner

    def displayed_positions(self) -> np.ndarray:
        """What the preview shows for the current state, (n, 3) float32 (computed, not read back)."""
        doc = self.doc
        V = doc.mesh.V
        if doc.mode == "cage":
            return deform_mesh(V, doc.rig_state, doc.cage_state, deformation="cage").astype(np.float32)
        if doc.mode == "rig" or not doc.weights_usable():
            return V.astype(np.float32)
        skinner = self._skinning()
        T = doc.handle_transforms().astype(np.float32)
        return skinner.dqs(T) if doc.settings["method"] == "dqs" else skinner.lbs(T)

    def _update_deformation(self) -> None:
        if self.doc.mesh is None:
            return
        start = time.perf_counter()
        X = self.displayed_positions()
        scene.update_positions(X)
        self._frame_again_if_away(X)
        self.last_deform_ms = (time.perf_counter() - start) * 1000.0

    def _frame_again_if_away(self, X: np.ndarray) -> None:
        """Frame the view again when what is shown has left what the camera frames: a clip
        plays in the file's world space, which may be scaled or moved against the bind pose
        (an FBX's centimetre root, a transform above the skeleton)."""
        extent = box_extent(X)
        if extent_jumped(self.framed_extent, extent):
            scene.frame_view(X.min(axis=0), X.max(axis=0))
            self.framed_extent = extent

    def read_displayed_positions(self, indices) -> np.ndarray:
        """Vertex positions read back from polyscope (for tests and checks), (k, 3)."""
        return scene.read_positions(indices)

    # ---------------------------------------------------------------- gizmo
    def _gizmo_target(self):
        """(key, transform, allow_rotation, allow_translation) for the selection, or None."""
        doc, rig = self.doc, self.doc.rig
        if doc.mode == "pose" and rig is not None and doc.selected_handle is not None and doc.clip_frames() is None:
            h = doc.selected_handle  # any handle turns and moves (its subtree follows)
            return ("pose", h), doc.handle_transforms()[h] @ translation(rig.handle_pivots()[h]), True, True
        if doc.mode == "rig" and rig is not None and doc.selected_joint is not None:
            return ("joint", doc.selected_joint), translation(rig.joints[doc.selected_joint]), False, True
        if doc.mode == "cage" and doc.cage_selection and doc.cage_pose is not None:
            key = ("cage", doc.cage_selection)
            moved, frame = self._cage_frame
            if moved is doc.cage_pose and frame[0] == key:  # the cage as the last drag left it
                return key, frame[1], len(key[1]) > 1 and doc.cage_pose.shape[1] == 3, True
            centroid = _as3d(doc.cage_pose[list(doc.cage_selection)]).mean(axis=0)
            return key, translation(centroid), len(key[1]) > 1 and doc.cage_pose.shape[1] == 3, True
        return None

    def sync_gizmo(self) -> None:
        """Apply a gizmo drag to the document, or move the gizmo to the selection."""
        if self.gizmo is None:
            return
        target = self._gizmo_target()
        if target is None:
            if self._gizmo_key is not None:
                self.gizmo.set_enabled(False)
                self._gizmo_key = self._gizmo_set = None
            return
        key, G, rotate, translate = target
        if key != self._gizmo_key:
            self._gizmo_key = key
            self.gizmo.set_allow_rotation(rotate)
            self.gizmo.set_allow_translation(translate)
            self.gizmo.set_allow_scaling(key[0] == "cage" and len(key[1]) > 1)  # a cage selection scales
            self._place_gizmo(G)
            self.gizmo.set_enabled(True)
            return
        current = np.asarray(self.gizmo.get_transform(), dtype=np.float64)
        scale = max(1.0, float(np.abs(G[:3, 3]).max()))
        if not np.allclose(current, self._gizmo_set, atol=1e-6 * scale):
            self._gizmo_set = current
            self._apply_gizmo(key, current, translate)
        elif not np.allclose(G, self._gizmo_set, atol=1e-6 * scale):
            self._place_gizmo(G)

    def _place_gizmo(self, G: np.ndarray) -> None:
        self.gizmo.set_transform(np.ascontiguousarray(G))
        self._gizmo_set = np.asarray(self.gizmo.get_transform(), dtype=np.float64)

    def _apply_gizmo(self, key, G: np.ndarray, allow_translation: bool) -> None:
        doc = self.doc
        kind, index = key
        if kind == "pose":
            rig = doc.rig
            R, t = local_from_frame(rig, doc.handle_transforms(), index, G)
            name = rig.handle_names[index]
            pose = copy_pose(doc.pose)
            pose.set(name, rotation=R, translation=t if allow_translation else None)
            doc.set_pose(pose, f"Pose {name}", doc.interaction_token("pose", index))
        elif kind == "joint":
            try:
                new_rig = move_joint(doc.rig, index, G[:3, 3])
            except InputError:  # the drag passes through a zero-length bone: skip that frame
                return
            doc.edit_rig(
                new_rig, f"Move {doc.rig.joint_names[index]}", merge_token=doc.interaction_token("joint", index)
            )
        elif kind == "cage":
            self._drag_cage_vertices(key, G)

    def _drag_cage_vertices(self, key, G: np.ndarray) -> None:
        """Move the selected cage vertices with the gizmo: the transform from where the
        gizmo stood when this drag began to ``G`` (translation; rotation and scale about
        the selection's centroid for several vertices), applied to the cage as it was then.
        One drag is one undo step."""
        doc, selection = self.doc, list(key[1])
        token = doc.interaction_token(*key)
        if self._cage_drag is None or self._cage_drag[0] != token:  # a new drag starts from here
            self._cage_drag = (token, self._gizmo_target()[1], doc.cage_pose.copy())
        _, start, rest = self._cage_drag
        M = G @ np.linalg.inv(start)
        P = rest.copy()
        d = P.shape[1]
        P[selection] = (_as3d(rest[selection]) @ M[:3, :3].T + M[:3, 3])[:, :d]
        what = f"cage vertex {selection[0]}" if len(selection) == 1 else f"{len(selection)} cage vertices"
        self._cage_frame = (P, (key, G.copy()))
        doc.set_cage_pose(P, f"Move {what}", token)

    # ------------------------------------------------------------- clicks
    def _frame_callback(self) -> None:
        """Runs inside ``ps.frame_tick()``: R / G, gizmo, brush, clicks, keys, overlays."""
        io = psim.GetIO()
        if self.tool.active:
            self._tool_frame(io)
            return
        self.sync_gizmo()
        if self._released:  # the gizmo's last move of a drag shows the frame after the release
            self._released = False
            self.doc.end_interaction()
        if self.painter is not None:
            self._paint_input(io)
        elif self._stroking:  # the brush went off mid-stroke
            self._stroking = False
            ps.set_do_default_mouse_interaction(True)
        if psim.IsMouseClicked(0) and not io.WantCaptureMouse and not self._stroking:
            self._press = tuple(psim.GetMousePos())
        if psim.IsMouseReleased(0):
            self._released = True
            press, self._press = self._press, None
            pos = tuple(psim.GetMousePos())
            if press is not None and np.hypot(pos[0] - press[0], pos[1] - press[1]) <= CLICK_TOLERANCE_PX:
                pick = self.pick_at(pos)
                pick.shift = bool(io.KeyShift)
                self.picked.emit(pick)
        if not io.WantCaptureKeyboard:
            self._keys(io)
        self._draw_overlays()

    def _paint_input(self, io) -> None:
        """The brush's mouse: a press on the mesh starts a stroke, and the camera stays put
        until the button comes up; elsewhere the brush follows the mouse."""
        if not psim.IsMousePosValid():  # no mouse over the window yet
            return
        origin, direction = self.mouse_ray(tuple(psim.GetMousePos()))
        if self._stroking:
            if psim.IsMouseDown(0):
                self.painter.move(origin, direction)
                self.refresh()  # the callback runs before polyscope draws: the dabs show in this frame
                return
            self._stroking = False
            ps.set_do_default_mouse_interaction(True)
            self.painter.release()
            return
        if io.WantCaptureMouse:
            return
        self.painter.hover(origin, direction)
        if psim.IsMouseClicked(0) and self.painter.press(origin, direction):
            self._stroking = True
            ps.set_do_default_mouse_interaction(False)
            self.refresh()

    def _draw_overlays(self) -> None:
        """In the Weights tab the mesh is opaque: the skeleton is drawn in front of it."""
        doc = self.doc
        if doc.mode == "weights" and doc.rig is not None:
            key, joints = self._overlay
            if key is None or key[0] is not doc.rig or key[1] is not doc.pose:
                joints = self.posed_joints()
                self._overlay = ((doc.rig, doc.pose), joints)
            scene.draw_skeleton_overlay(doc.rig, joints, doc.selected_handle)
        if self.painter is not None:
            self.painter.draw()

    def mouse_ray(self, screen_xy) -> Tuple[np.ndarray, np.ndarray]:
        """The camera ray through a pixel: origin and unit direction, (3,) each."""
        origin = np.asarray(ps.get_view_camera_parameters().get_position(), dtype=np.float64)
        return origin, np.asarray(ps.screen_coords_to_world_ray(screen_xy), dtype=np.float64)

    def start_tool(self, kind: str, screen_xy) -> bool:
        """Start Blender's rotate (``"rotate"``) or grab (``"grab"``) with the mouse at ``screen_xy``."""
        look = np.asarray(ps.get_view_camera_parameters().get_look_dir(), dtype=np.float64)
        started = self.tool.start(kind, *self.mouse_ray(screen_xy), look)
        if started:
            self.gizmo.set_enabled(False)
            self._gizmo_key = self._gizmo_set = None  # placed again at the result when it ends
            self.status.emit(self.tool.status())
        return started

    def _tool_frame(self, io) -> None:
        """While R / G runs it has the mouse and the keys."""
        tool = self.tool
        if psim.IsMouseClicked(1) or psim.IsKeyPressed(psim.ImGuiKey_Escape, False):
            tool.cancel()
        elif psim.IsMouseClicked(0) or any(
            psim.IsKeyPressed(k, False) for k in (psim.ImGuiKey_Enter, psim.ImGuiKey_KeypadEnter)
        ):
            tool.confirm()
        else:
            for axis in "xyz":
                if psim.IsKeyPressed(getattr(psim, f"ImGuiKey_{axis.upper()}"), False):
                    tool.constrain(axis)
            for key, name in _NUMBER_KEYS:
                if psim.IsKeyPressed(key, False):
                    tool.type_key(name)
            tool.move(*self.mouse_ray(tuple(psim.GetMousePos())))
        self.status.emit(tool.status())

    def _keys(self, io) -> None:
        if not io.KeyCtrl and psim.IsKeyPressed(psim.ImGuiKey_R, False):
            self.start_tool("rotate", tuple(psim.GetMousePos()))
        elif not io.KeyCtrl and psim.IsKeyPressed(psim.ImGuiKey_G, False):
            self.start_tool("grab", tuple(psim.GetMousePos()))
        elif not io.KeyCtrl and psim.IsKeyPressed(psim.ImGuiKey_Space, False):
            self.timeline_key.emit("play")
        elif psim.IsKeyPressed(psim.ImGuiKey_LeftArrow, True):
            self.timeline_key.emit("frame_back")
        elif psim.IsKeyPressed(psim.ImGuiKey_RightArrow, True):
            self.timeline_key.emit("frame_forward")
        elif not io.KeyCtrl and psim.IsKeyPressed(psim.ImGuiKey_B, False):
            self.timeline_key.emit("swap_ab")
        elif io.KeyCtrl and psim.IsKeyPressed(psim.ImGuiKey_Z, False):
            self.shortcut.emit("redo" if io.KeyShift else "undo")
        elif io.KeyCtrl and psim.IsKeyPressed(psim.ImGuiKey_Y, False):
            self.shortcut.emit("redo")
        elif psim.IsKeyPressed(psim.ImGuiKey_Delete, False):
            self.shortcut.emit("delete")
        elif psim.IsKeyPressed(psim.ImGuiKey_Escape, False):
            self.shortcut.emit("escape")
        elif psim.IsKeyPressed(psim.ImGuiKey_P, False) and not io.KeyCtrl:
            self.shortcut.emit("paint")

    def pick_at(self, screen_xy) -> Pick:
        """Resolve what is under a pixel of the polyscope window."""
        origin, direction = self.mouse_ray(screen_xy)
        result = ps.pick(screen_coords=screen_xy)
        if not result.is_hit:
            return Pick(None, None, None, None, None, origin, direction)
        data = result.structure_data
        element, index = data.get("element_type"), data.get("index")
        vertex = None
        if result.structure_name == MESH and self.doc.mesh is not None:
            if element == "vertex" or self.doc.mesh.F is None:
                vertex = index
            elif element == "face" and "bary_coords" in data:
                vertex = int(self.doc.mesh.F[index][int(np.argmax(data["bary_coords"]))])
        return Pick(
            result.structure_name,
            element,
            index,
            np.asarray(result.position, dtype=np.float64),
            vertex,
            origin,
            direction,
        )


#: Keys of a number typed during R / G.
_NUMBER_KEYS = tuple(
    [(getattr(psim, f"ImGuiKey_{d}"), str(d)) for d in range(10)]
    + [(getattr(psim, f"ImGuiKey_Keypad{d}"), str(d)) for d in range(10)]
    + [
        (psim.ImGuiKey_Period, "."),
        (psim.ImGuiKey_KeypadDecimal, "."),
        (psim.ImGuiKey_Minus, "-"),
        (psim.ImGuiKey_KeypadSubtract, "-"),
        (psim.ImGuiKey_Backspace, "backspace"),
    ]
)


def _as3d(P: np.ndarray) -> np.ndarray:
    """Pad 2D points with z = 0 for display."""
    P = np.asarray(P, dtype=np.float64)
    return P if P.shape[1] == 3 else np.hstack([P, np.zeros((len(P), 1))])
