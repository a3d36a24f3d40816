"""The app's state — one :class:`~fieldrig.session.Session` — with the selection and the
undo stack.

The session is immutable: every edit is a :class:`ReplaceState` command on a
``QUndoStack`` that swaps one of its snapshots (:class:`~fieldrig.session.RigState`,
:class:`~fieldrig.session.CageState`, the pose, the deformed cage) for another. Undo
therefore restores exactly what was there, weights included (adding a bone drops the
weights; undoing it brings them back). Continuous drags (gizmo, sliders) merge into one
undo step per interaction. Saving a project writes :attr:`Document.session` as it is;
opening one installs the session it reads.

Observers (the panel, the viewer bridge) connect to :attr:`Document.changed`, which carries
the set of topics that changed: ``"mesh"``, ``"rig"``, ``"weights"``, ``"pose"``,
``"cage"``, ``"coords"``, ``"cage_pose"``, ``"selection"``, ``"mode"``, ``"settings"``,
``"animation"`` (the clip, its time, loop or speed), ``"difference"`` (the A/B difference
view switched on or off).

While a clip of the skinned file is chosen (and the rig is still the file's skeleton),
:meth:`Document.handle_transforms` gives that clip's frame at the current time instead of
the pose: the clip poses the rig, and the manual pose waits until no clip is chosen.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Dict, FrozenSet, Iterable, Optional, Tuple

import numpy as np
from PyQt6.QtCore import QObject, pyqtSignal
from PyQt6.QtGui import QUndoCommand, QUndoStack

from fieldrig.core.vocabulary import (
    COLOURINGS,
    DEFAULT_COORDINATE_OBJECTIVE,
    DEFAULT_SKINNING_PRESET,
    DEVICE_CHOICES,
    JOINT_PLACEMENT_LABELS,
    SKINNING_METHODS,
)
from fieldrig.geometry.clip_frames import ClipFrames
from fieldrig.geometry.mesh_check import MeshReport
from fieldrig.geometry.mesh_io import MeshData
from fieldrig.geometry.pose import Pose, pose_transforms
from fieldrig.geometry.rig import Rig
from fieldrig.session import AnimationState, CageState, RigState, Session, WeightSet, deform_mesh
from fieldrig.workflow import FRAME_RATE

MODES = ("rig", "weights", "pose", "cage")
DEFAULT_SETTINGS: Dict[str, Any] = {
    "preset": DEFAULT_SKINNING_PRESET,
    "device": DEVICE_CHOICES[0],
    "objective": DEFAULT_COORDINATE_OBJECTIVE,
    "method": SKINNING_METHODS[0],
    "placement": next(iter(JOINT_PLACEMENT_LABELS)),
    "colouring": COLOURINGS[0],
}


class ReplaceState(QUndoCommand):
    """Swap one piece of document state for another; undo swaps it back.

    Parameters
    ----------
    document : Document
    key : str
        ``"rig_state"``, ``"pose"``, ``"cage_state"``, ``"cage_pose"`` (the deformed cage),
        ``"active"`` (which weight set is in use, alone: the A/B swap) or ``"weights"`` (the
        rig state, edited only in its weight sets and locks).
    before, after : object
        The snapshots.
    text : str
        Shown in the Edit menu ("Undo Add bone").
    merge_token : hashable, optional
        Consecutive commands with the same key and token merge into one undo step (one
        gizmo drag, one slider drag).
    """

    _IDS = {"rig_state": 1, "pose": 2, "cage_state": 3, "cage_pose": 4, "active": 5, "weights": 6}

    def __init__(self, document: "Document", key: str, before, after, text: str, merge_token=None):
        super().__init__(text)
        self.document, self.key, self.before, self.after, self.merge_token = document, key, before, after, merge_token

    def id(self) -> int:  # noqa: A003 - Qt API
        return self._IDS[self.key] if self.merge_token is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt API
        if not isinstance(other, ReplaceState) or other.key != self.key or other.merge_token != self.merge_token:
            return False
        self.after = other.after
        self.setObsolete(self.after is self.before)  # a drag that put back what was there: no undo step
        return True

    def redo(self) -> None:
        self.document._apply(self.key, self.after)

    def undo(self) -> None:
        self.document._apply(self.key, self.before)


class Document(QObject):
    """Everything the app shows and edits.

    Signals
    -------
    changed(frozenset of str)
        Topics that changed (see the module docstring).
    """

    changed = pyqtSignal(object)

    _TOPICS = {
        "rig_state": frozenset({"rig", "weights", "pose", "selection"}),
        "pose": frozenset({"pose"}),
        "cage_state": frozenset({"cage", "coords", "cage_pose", "selection"}),
        "cage_pose": frozenset({"cage_pose"}),
        "active": frozenset({"weights"}),
        "weights": frozenset({"weights"}),
    }

    def __init__(self, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self.session = Session(settings=dict(DEFAULT_SETTINGS))
        self.mesh_report: Optional[MeshReport] = None
        self.selected_handle: Optional[int] = None
        self.selected_joint: Optional[int] = None
        self.cage_selection: Tuple[int, ...] = ()  # selected cage vertices, in the order picked
        self._interaction = 0
        self._transforms_of, self._transforms = (None, None), None
        self._clip_frames_of, self._clip_frames = (None, None), None
        self.show_difference = False

    # ------------------------------------------------------------- accessors
    @property
    def mesh(self) -> Optional[MeshData]:
        return self.session.mesh

    @property
    def asset(self):
        """The SkinnedAsset the mesh is the bind pose of, or None."""
        return self.session.asset

    @property
    def rig_state(self) -> RigState:
        return self.session.rig_state

    @property
    def cage_state(self) -> CageState:
        return self.session.cage_state

    @property
    def settings(self) -> Dict[str, Any]:
        return self.session.settings

    @property
    def mode(self) -> str:
        return self.session.mode

    @property
    def animation(self) -> AnimationState:
        return self.session.animation

    @property
    def rig(self) -> Optional[Rig]:
        return self.rig_state.rig

    @property
    def weights(self) -> Optional[np.ndarray]:
        """The active weight set's weights, (n, H), or None."""
        return self.rig_state.weights

    @property
    def pose(self) -> Pose:
        return self.rig_state.pose

    @property
    def cage_pose(self) -> Optional[np.ndarray]:
        """The deformed cage's vertices, (c, d), or None without a cage."""
        return self.cage_state.deformed

    def emit(self, topics: Iterable[str]) -> None:
        """Tell observers that ``topics`` changed."""
        self.changed.emit(frozenset(topics))

    # ------------------------------------------------------- undoable changes
    def _get(self, key: str):
        if key == "pose":
            return self.rig_state.pose
        if key == "cage_pose":
            return self.cage_state.deformed
        if key == "active":
            return self.rig_state.active
        if key == "weights":
            return self.rig_state
        return getattr(self.session, key)

    def _apply(self, key: str, value) -> None:
        rest_cage = self.cage_state.vertices
        if key == "pose":
            self.session = replace(self.session, rig_state=replace(self.rig_state, pose=value))
        elif key == "cage_pose":
            self.session = replace(self.session, cage_state=replace(self.cage_state, deformed=value))
        elif key == "active":
            self.session = replace(self.session, rig_state=self.rig_state.with_active(value))
        elif key == "weights":
            self.session = replace(self.session, rig_state=value)
        else:
            self.session = replace(self.session, **{key: value})
        if key == "rig_state":
            self._clamp_selection()
        if key == "cage_state" and self.cage_state.vertices is not rest_cage:
            self.cage_selection = ()  # another cage: its vertices are not the ones selected
        self.emit(self._TOPICS[key])

    def _push(self, key: str, after, text: str, merge_token=None) -> None:
        before = self._get(key)
        self.undo_stack.push(ReplaceState(self, key, before, after, text, merge_token))

    def end_interaction(self) -> None:
        """Close the current drag: the next edit starts a new undo step."""
        self._interaction += 1

    def interaction_token(self, *what) -> tuple:
        """A merge token for edits that belong to the current drag of ``what``."""
        return (*what, self._interaction)

    def set_rig_state(self, state: RigState, text: str) -> None:
        """Replace the rig state as one undo step."""
        self._push("rig_state", state, text)

    def edit_rig(
        self, new_rig: Optional[Rig], text: str, renamed: Optional[Dict[str, str]] = None, merge_token=None
    ) -> None:
        """Replace the rig with an edited version; weights and pose follow as they can.

        Weight sets are kept when the handles are the same (same count; flagged stale when
        joints moved or deform flags changed) and dropped otherwise; the rig's problems list
        is cleared (the next fit redoes it). Pose entries are kept for handles whose name
        survives (``renamed`` maps old to new names). Edits with the same ``merge_token``
        (one joint drag) merge into one undo step.
        """
        old = self.rig_state
        renamed = renamed or {}
        state = replace(old, rig=new_rig, problems=(), locked=tuple(sorted(renamed.get(n, n) for n in old.locked)))
        if new_rig is None or old.rig is None or new_rig.n_handles != old.rig.n_handles:
            state = state.without_weights()
        elif not np.array_equal(new_rig.joints, old.rig.joints) or not np.array_equal(new_rig.deform, old.rig.deform):
            state = state.marked_stale()
        pose = Pose()
        if new_rig is not None:
            names = set(new_rig.handle_names)
            for table_in, table_out in (
                (old.pose.rotations, pose.rotations),
                (old.pose.translations, pose.translations),
            ):
                for name, value in table_in.items():
                    name = renamed.get(name, name)
                    if name in names:
                        table_out[name] = value
        self._push("rig_state", replace(state, pose=pose), text, merge_token)

    def set_weights(
        self,
        weights: np.ndarray,
        skinning_field=None,
        text: str = "Compute weights",
        preview=None,
        problems=None,
        name: str = "computed",
        origin: str = "computed",
    ) -> None:
        """Install computed, imported or painted weights as the weight set ``name`` (it
        replaces a set of that name, or is added) and make it the active one (undoable).

        ``preview`` is their skinning operator when it was built away from the UI (the
        compute process); ``problems`` what the fit reported about the rig (kept as they
        are when None).
        """
        state = self.rig_state.with_weight_set(WeightSet(name, weights, origin, False, skinning_field, preview))
        if problems is not None:
            state = replace(state, problems=tuple(problems))
        self._push("rig_state", state, text)

    def edit_weights(self, weights: np.ndarray, text: str, painted=None, merge_token=None, exact: bool = False) -> None:
        """Edit the active weight set by hand (brush, weight tools, a typed value), undoable.

        A file or computed set stays as it was and the edit goes into a painted copy, which
        becomes active (:meth:`fieldrig.session.RigState.with_edited_weights`); ``painted``
        are the vertices the user set (with ``exact``: all the painted vertices). Edits with
        the same ``merge_token`` (one brush stroke) merge into one undo step. Only the
        ``"weights"`` topic changes.
        """
        self._push("weights", self.rig_state.with_edited_weights(weights, painted, exact), text, merge_token)

    def resolve_problem(self):
        """Why the active weights cannot be re-solved, as a sentence (None: they can)."""
        return self.rig_state.resolve_problem() if self.weights_usable() else "Compute weights first."

    def resolve_weights(self, weights: np.ndarray, skinning_field: bytes, preview=None) -> None:
        """Install the re-solved weights of the active painted set (undoable; see
        :meth:`fieldrig.session.RigState.with_resolved`)."""
        self._push("weights", self.rig_state.with_resolved(weights, skinning_field, preview), "Re-solve weights")

    def set_locked(self, names, text: str) -> None:
        """Lock exactly the handles ``names`` against weight edits (undoable)."""
        state = self.rig_state.with_locked(names)
        if state.locked != self.rig_state.locked:
            self._push("weights", state, text)

    def select_weight_set(self, index: int) -> None:
        """Make weight set ``index`` the one shown, posed with and exported (undoable)."""
        sets = self.rig_state.weight_sets
        if not 0 <= index < len(sets):
            raise IndexError(f"no weight set {index} (there are {len(sets)})")
        if index != self.rig_state.active:
            self._push("rig_state", self.rig_state.with_active(index), f"Use weights {sets[index].name}")

    def rename_weight_set(self, index: int, name: str) -> None:
        """Rename weight set ``index`` (undoable; InputError for a name in use or empty)."""
        old = self.rig_state.weight_sets[index].name
        if name.strip() != old:
            self._push("rig_state", self.rig_state.with_renamed(index, name), f"Rename weights {old}")

    def duplicate_weight_set(self, index: int) -> None:
        """Copy weight set ``index`` under a new name and use the copy (undoable)."""
        self._push(
            "rig_state",
            self.rig_state.with_duplicate(index),
            f"Duplicate weights {self.rig_state.weight_sets[index].name}",
        )

    def delete_weight_set(self, index: int) -> None:
        """Remove weight set ``index`` (undoable)."""
        self._push(
            "rig_state", self.rig_state.without_set(index), f"Delete weights {self.rig_state.weight_sets[index].name}"
        )

    def set_compare(self, a: Optional[str], b: Optional[str]) -> None:
        """Compare weight sets ``a`` and ``b`` (names; None clears the pair) (undoable)."""
        state = self.rig_state.with_compare(a, b)
        if state.compare != self.rig_state.compare:
            self._push(
                "rig_state",
                state,
                "Compare weights " + " / ".join(state.compare) if state.compare else "Stop comparing weights",
            )

    def swap_compared(self) -> None:
        """Use the other weight set of the A/B pair (undoable; consecutive swaps are one step).

        Only the weights change (topic ``"weights"``), so a swap during playback re-skins the
        frame and recolours the mesh, nothing else."""
        state = self.rig_state.swapped()
        if state is not self.rig_state:
            self._push("active", state.active, f"Show weights {state.active_set.name}", merge_token=("swap weights",))

    def set_show_difference(self, on: bool) -> None:
        """Colour the mesh by the A/B difference (a view choice, not undoable)."""
        if bool(on) != self.show_difference:
            self.show_difference = bool(on)
            self.emit({"difference"})

    def set_pose(self, pose: Pose, text: str, merge_token=None) -> None:
        """Replace the pose (undoable; edits with the same ``merge_token`` merge)."""
        self._push("pose", pose, text, merge_token)

    def set_cage_state(self, state: CageState, text: str) -> None:
        """Replace the cage and its coordinates; the deformed cage goes back to rest."""
        self._push(
            "cage_state", replace(state, deformed=None if state.vertices is None else state.vertices.copy()), text
        )

    def set_coordinates(
        self,
        coordinates: np.ndarray,
        barycentric_field=None,
        text: str = "Compute coordinates",
        kind: Optional[str] = None,
    ) -> None:
        """Install coordinates of the mesh in the current cage (undoable): trained ones
        (``barycentric_field`` their field, ``kind`` its objective) or mean value ones
        (``kind`` :data:`~fieldrig.session.MEAN_VALUE`). The deformed cage stays, so the
        mesh re-deforms at once with the new coordinates."""
        state = replace(
            self.cage_state, coordinates=coordinates, barycentric_field=barycentric_field, coordinates_kind=kind
        )
        self._push("cage_state", state, text)

    def set_cage_pose(self, cage_pose: np.ndarray, text: str, merge_token=None) -> None:
        """Move cage vertices (undoable; edits with the same ``merge_token`` merge)."""
        self._push("cage_pose", cage_pose, text, merge_token)

    # --------------------------------------------------- non-undoable changes
    def set_mesh(
        self,
        mesh: MeshData,
        report: Optional[MeshReport],
        asset=None,
        asset_index: int = 0,
        keep_rig: bool = True,
        keep_weights: bool = False,
    ) -> None:
        """Show a new mesh (``asset``: the skinned asset it is the bind pose of, skin
        ``asset_index`` of its file). Coordinates belong to the old one and are dropped, and
        so are the weights unless ``keep_weights`` (then the sets with one row per new
        vertex stay); the rig stays unless ``keep_rig`` is False, the cage stays. The undo
        history is cleared (it refers to the old mesh)."""
        self.undo_stack.clear()
        self.mesh_report = report
        rig_state = self.rig_state if keep_rig else RigState()
        rig_state = rig_state.fitting(len(mesh.V)) if keep_rig and keep_weights else rig_state.without_weights()
        self.session = replace(
            self.session,
            mesh=mesh,
            asset=asset,
            asset_index=None if asset is None else asset_index,
            rig_state=rig_state,
            cage_state=replace(self.cage_state, coordinates=None, barycentric_field=None, coordinates_kind=None),
            animation=AnimationState(),
        )
        self._clamp_selection()
        self.emit({"mesh", "weights", "coords"} | (set() if keep_rig else {"rig", "pose", "selection"}))

    def restore(self, session: Session, report: Optional[MeshReport]) -> None:
        """Replace the whole state with ``session`` (opening a project); unknown settings and
        modes fall back to the defaults. Clears the undo history."""
        self.undo_stack.clear()
        self.mesh_report = report
        settings = {**DEFAULT_SETTINGS, **{k: v for k, v in session.settings.items() if k in DEFAULT_SETTINGS}}
        mode = session.mode if session.mode in MODES else self.mode
        self.session = replace(session, settings=settings, mode=mode)
        self.selected_handle = self.selected_joint = None
        self.cage_selection = ()
        self.emit(self.topics_all())

    def set_animation(self, animation: AnimationState) -> None:
        """Choose the clip, its time, loop or speed. Not undoable: like the camera, where one
        is in an animation is a way of looking, not an edit (projects still keep it)."""
        if animation != self.animation:
            self.session = replace(self.session, animation=animation)
            self.emit({"animation"})

    def set_setting(self, key: str, value) -> None:
        """Change one setting (preset, device, objective, method, placement, colouring)."""
        if key not in DEFAULT_SETTINGS:
            raise KeyError(f"unknown setting {key!r}")
        if self.settings.get(key) != value:
            self.session = replace(self.session, settings={**self.settings, key: value})
            self.emit({"settings"})

    def set_mode(self, mode: str) -> None:
        """Switch between rig editing, weight inspection, posing and cage deformation."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if mode != self.mode:
            self.session = replace(self.session, mode=mode)
            self.emit({"mode"})

    def select_handle(self, handle: Optional[int]) -> None:
        """Select a handle (weight column) or nothing."""
        if handle is not None and (self.rig is None or not 0 <= handle < self.rig.n_handles):
            handle = None
        if handle != self.selected_handle:
            self.selected_handle = handle
            self.emit({"selection"})

    def select_joint(self, joint: Optional[int]) -> None:
        """Select a joint (for moving it) or nothing."""
        if joint is not None and (self.rig is None or not 0 <= joint < len(self.rig.joints)):
            joint = None
        if joint != self.selected_joint:
            self.selected_joint = joint
            self.emit({"selection"})

    @property
    def selected_cage_vertex(self) -> Optional[int]:
        """The selected cage vertex when exactly one is selected, else None."""
        return self.cage_selection[0] if len(self.cage_selection) == 1 else None

    def select_cage_vertex(self, vertex: Optional[int]) -> None:
        """Select one cage vertex (for dragging it), or nothing."""
        self.select_cage_vertices(() if vertex is None else (vertex,))

    def select_cage_vertices(self, vertices: Iterable[int]) -> None:
        """Select cage vertices (dragged together); indices outside the cage are left out."""
        n = 0 if self.cage_state.vertices is None else len(self.cage_state.vertices)
        selection = tuple(dict.fromkeys(int(v) for v in vertices if 0 <= int(v) < n))
        if selection != self.cage_selection:
            self.cage_selection = selection
            self.emit({"selection"})

    def click_cage_vertex(self, vertex: Optional[int], extend: bool = False) -> None:
        """A click on cage vertex ``vertex`` (None: on nothing). With ``extend`` (Shift) it
        is added to the selection, or removed when already in it, and a click on nothing
        keeps the selection; without, it becomes the selection (nothing: none)."""
        if not extend:
            self.select_cage_vertex(vertex)
        elif vertex is not None:
            kept = tuple(v for v in self.cage_selection if v != vertex)
            self.select_cage_vertices(kept if len(kept) < len(self.cage_selection) else kept + (vertex,))

    def _clamp_selection(self) -> None:
        rig = self.rig
        if self.selected_handle is not None and (rig is None or self.selected_handle >= rig.n_handles):
            self.selected_handle = None
        if self.selected_joint is not None and (rig is None or self.selected_joint >= len(rig.joints)):
            self.selected_joint = None

    # ------------------------------------------------------------- derived
    def handle_transforms(self) -> Optional[np.ndarray]:
        """Absolute transforms of the current pose, (H, 4, 4), or None without a rig.

        Computed once per (rig, pose) snapshot: the viewer asks several times a frame.
        """
        if self.rig is None:
            return None
        frames = self.clip_frames()
        if frames is not None:
            return frames.transforms(frames.frame_at(self.animation.time)).copy()
        rig, pose = self.rig, self.pose
        cached_rig, cached_pose = self._transforms_of
        if cached_rig is not rig or cached_pose is not pose:  # the objects themselves: ids can be reused
            self._transforms = pose_transforms(rig, pose)
            self._transforms_of = (rig, pose)
        return self._transforms.copy()

    def clip_frames(self) -> Optional[ClipFrames]:
        """The chosen clip, frame by frame (each frame evaluated once), or None: no clip is
        chosen, the file has no such clip, or the rig is no longer the file's skeleton."""
        name = self.animation.clip
        if name is None or not self.reskinnable():
            return None
        asset = self.asset
        cached_asset, cached_name = self._clip_frames_of
        if cached_asset is not asset or cached_name != name:  # the objects themselves: assets hold arrays
            clip = next((c for c in asset.clips if c.name == name), None)
            if clip is None:
                return None
            self._clip_frames = ClipFrames(clip, asset.skeleton, FRAME_RATE)
            self._clip_frames_of = (asset, name)
        return self._clip_frames

    def clip_names(self) -> list:
        """Names of the clips that can play on the rig (the skinned file's, while the rig is
        its skeleton); empty otherwise."""
        return [c.name for c in self.asset.clips] if self.reskinnable() else []

    def reskinnable(self) -> bool:
        """The mesh is a skinned asset and the rig is still its skeleton: exports re-skin the file."""
        asset, rig = self.asset, self.rig
        return asset is not None and rig is not None and rig.is_skeleton and rig.handle_names == asset.skeleton.names

    def weights_usable(self) -> bool:
        """Weights exist and fit the mesh and the rig."""
        W, mesh, rig = self.weights, self.mesh, self.rig
        return W is not None and mesh is not None and rig is not None and W.shape == (len(mesh.V), rig.n_handles)

    def coordinates_usable(self) -> bool:
        """Coordinates exist and fit the mesh and the cage."""
        Phi, mesh, cage = self.cage_state.coordinates, self.mesh, self.cage_state.vertices
        return Phi is not None and mesh is not None and cage is not None and Phi.shape == (len(mesh.V), len(cage))

    def deformed_vertices(self, deformation: Optional[str] = None) -> Optional[np.ndarray]:
        """Vertex positions as deformed by the current pose (the clip's frame while one is chosen) or cage.

        ``deformation`` None follows the mode: the cage in cage mode, the pose otherwise.
        Returns None without a mesh.
        """
        if self.mesh is None:
            return None
        deformation = deformation or ("cage" if self.mode == "cage" else "pose")
        transforms = self.handle_transforms() if deformation == "pose" else None
        return deform_mesh(
            self.mesh.V, self.rig_state, self.cage_state, self.settings["method"], deformation, transforms
        )

    def topics_all(self) -> FrozenSet[str]:
        """Every topic (for a full refresh)."""
        return frozenset(
            {
                "mesh",
                "rig",
                "weights",
                "pose",
                "cage",
                "coords",
                "cage_pose",
                "selection",
                "mode",
                "settings",
                "animation",
                "difference",
            }
        )
