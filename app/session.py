"""One model of a working session: the mesh, the rig with its weight sets and pose, the cage
with its coordinates and deformation, the animation being played, settings and camera —
as plain, immutable, picklable values (no Qt).

The app edits it (each undo step swaps one snapshot for another), the compute process
sends parts of it back, and a project file stores it (:mod:`fieldrig.project`): there is
no second model to convert to.

- :class:`WeightSet` — one named table of weights, with where it came from;
- :class:`RigState` — the rig, its weight sets (one active), pose and problems;
- :class:`CageState` — the cage, its coordinates and its deformed vertices;
- :class:`AnimationState` — the clip of the skinned file being played, and the time;
- :class:`Session` — all of them, with the mesh, settings and camera.

:func:`deform_mesh` poses a mesh from a session's parts, :func:`mesh_problems` says what
loading found.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from fieldrig.core.errors import InputError
from fieldrig.geometry.mesh_check import MeshReport
from fieldrig.geometry.mesh_io import MeshData
from fieldrig.geometry.pose import Pose, pose_transforms
from fieldrig.geometry.rig import Rig

#: Where a weight set came from: read from a file (a skin, an imported table), computed
#: by fieldrig, or painted by hand.
WEIGHT_ORIGINS = ("file", "computed", "painted")


@dataclass(frozen=True)
class WeightSet:
    """One named table of skinning weights for the session's mesh and rig.

    Attributes
    ----------
    name : str
        Unique within a :class:`RigState` ("skin", "computed", ...).
    weights : (n, H) float
        One row per mesh vertex, one column per handle of the rig.
    origin : {"file", "computed", "painted"}
    stale : bool
        The rig's joints (or deform flags) changed after the weights were made.
    skinning_field : bytes or None
        The trained :class:`~fieldrig.SkinningField` the weights came from, as the bytes
        its ``save`` writes: a computed set's; for a painted set, the field it was painted
        over, or after a re-solve the refitted field (a re-solve refits it).
    preview : object or None
        A cache: the skinning operator the app's viewer deforms the mesh with (built in the
        compute process together with the weights). Never stored in projects, not compared.
    painted_vertices : (k,) int or None
        The vertices whose rows the user set by hand (brush dabs, typed values, mirrored
        from painted ones), sorted and distinct: with their rows ``weights[painted_vertices]``
        they are the values a re-solve must keep. None for sets nobody painted.
    """

    name: str
    weights: np.ndarray
    origin: str = "computed"
    stale: bool = False
    skinning_field: Optional[bytes] = None
    preview: Any = field(default=None, compare=False, repr=False)
    painted_vertices: Optional[np.ndarray] = None

    def __post_init__(self):
        if self.origin not in WEIGHT_ORIGINS:
            raise InputError("weight set", f"origin must be one of {', '.join(WEIGHT_ORIGINS)}, got {self.origin!r}")
        if not self.name:
            raise InputError("weight set", "a weight set needs a name")
        if self.painted_vertices is not None:
            ids = np.asarray(self.painted_vertices)
            n = len(self.weights)
            if ids.ndim != 1 or (ids.size and (ids.dtype.kind not in "iu" or ids.min() < 0 or ids.max() >= n)):
                raise InputError("weight set", f"painted vertices must be indices in 0..{n - 1}")
            object.__setattr__(self, "painted_vertices", np.unique(ids.astype(np.int64)))


@dataclass(frozen=True)
class RigState:
    """The rig and what depends on it (one undo snapshot).

    Attributes
    ----------
    rig : Rig or None
        None before any handle exists.
    rig_source : str or None
        File the rig was loaded from.
    weight_sets : tuple of WeightSet
        Every table of weights the session holds for this rig, distinct names.
    active : int
        Index of the weight set the app shows, poses with and exports (ignored when there
        is none).
    pose : Pose
    problems : tuple of str
        What the last check or fit found about the rig against the mesh (handles partly or
        wholly outside the shape, excluded handles).
    compare : tuple of str
        The two weight sets compared (A, B) by name, or ``()``: the A/B toggle switches the
        active set between them and the difference view shows how far apart they are.
    locked : tuple of str
        Names of the handles whose weights the weight tools leave alone (sorted, distinct;
        names the rig no longer has are ignored).
    """

    rig: Optional[Rig] = None
    rig_source: Optional[str] = None
    weight_sets: Tuple[WeightSet, ...] = ()
    active: int = 0
    pose: Pose = field(default_factory=Pose)
    problems: Tuple[str, ...] = ()
    compare: Tuple[str, ...] = ()
    locked: Tuple[str, ...] = ()

    def __post_init__(self):
        names = [s.name for s in self.weight_sets]
        if len(set(names)) != len(names):
            raise InputError("weight sets", f"names must be distinct, got {names}")
        if self.weight_sets and not 0 <= self.active < len(self.weight_sets):
            raise InputError("weight sets", f"no weight set {self.active} (there are {len(self.weight_sets)})")
        if self.compare and (len(self.compare) != 2 or not set(self.compare) <= set(names)):
            raise InputError("weight sets", f"compare two of the weight sets {names}, not {list(self.compare)}")

    # ------------------------------------------------------------ the active set
    @property
    def active_set(self) -> Optional[WeightSet]:
        """The weight set in use, or None when there is none."""
        return self.weight_sets[self.active] if self.weight_sets else None

    @property
    def weights(self) -> Optional[np.ndarray]:
        """The active set's weights, (n, H), or None."""
        return None if self.active_set is None else self.active_set.weights

    @property
    def weights_stale(self) -> bool:
        return self.active_set is not None and self.active_set.stale

    @property
    def skinning_field(self) -> Optional[bytes]:
        return None if self.active_set is None else self.active_set.skinning_field

    @property
    def preview(self) -> Any:
        return None if self.active_set is None else self.active_set.preview

    # ---------------------------------------------------------------- edits
    def with_weight_set(self, weight_set: WeightSet) -> "RigState":
        """This state with ``weight_set`` in use: it replaces the set of the same name, or
        is added after the others."""
        sets = list(self.weight_sets)
        names = [s.name for s in sets]
        if weight_set.name in names:
            index = names.index(weight_set.name)
            sets[index] = weight_set
        else:
            index = len(sets)
            sets.append(weight_set)
        return replace(self, weight_sets=tuple(sets), active=index)

    def with_edited_weights(
        self, weights: np.ndarray, painted: Optional[np.ndarray] = None, exact: bool = False
    ) -> "RigState":
        """This state with the active set's weights edited by hand.

        A painted set is edited in place; a set read from a file or computed is kept as it
        was for comparison, and the edit goes into a new painted copy named
        ``"<name> (painted)"`` (``"<name> (painted) 2"``, ... when taken), which becomes
        the active one.

        Parameters
        ----------
        weights : (n, H) float
            The edited table (same shape as the active set's).
        painted : (k,) int, optional
            Vertices the user set by hand in this edit; added to the set's painted vertices.
        exact : bool
            ``painted`` are all the painted vertices after the edit (an edit that moves rows
            between vertices, such as mirroring), not an addition.
        """
        current = self.active_set
        if current is None:
            raise InputError("weights", "there are no weights to edit")
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != current.weights.shape:
            raise InputError("weights", f"expected a {current.weights.shape} table, got {weights.shape}")
        before = current.painted_vertices if current.origin == "painted" else None
        ids = np.zeros(0, np.int64) if painted is None else np.asarray(painted, dtype=np.int64).reshape(-1)
        union = ids if before is None or exact else np.union1d(before, ids)
        if current.origin == "painted":
            edited = replace(current, weights=weights, painted_vertices=union, preview=None)
            sets = list(self.weight_sets)
            sets[self.active] = edited
            return replace(self, weight_sets=tuple(sets))
        name = self.unused_name(f"{current.name} (painted)")
        copy = WeightSet(name, weights, "painted", current.stale, current.skinning_field, painted_vertices=union)
        return self.with_weight_set(copy)

    def resolve_problem(self) -> Optional[str]:
        """Why the active weight set cannot be re-solved (None: it can).

        A re-solve refits the field a painted set was painted over, keeping the painted
        vertices' rows: it needs a painted set, painted vertices and that field, trained for
        the rig's joints as they are.
        """
        current = self.active_set
        if current is None:
            return "There are no weights; compute them, paint, then re-solve."
        if current.skinning_field is None:
            return (
                f"“{current.name}” has no trained field to refit (its weights were read from a file, or painted "
                "over such weights); compute weights, then paint them."
            )
        if current.origin != "painted" or current.painted_vertices is None or not len(current.painted_vertices):
            return "Paint some vertices first: a re-solve keeps their weights and recomputes the rest."
        if current.stale:
            return "The joints moved since the field was trained: compute weights again, then paint and re-solve."
        return None

    def with_resolved(self, weights: np.ndarray, skinning_field: bytes, preview: Any = None) -> "RigState":
        """This state with the active painted set re-solved: ``weights`` (n, H) from the refitted
        field ``skinning_field``; its painted vertices (whose rows the re-solve kept) stay."""
        problem = self.resolve_problem()
        if problem is not None:
            raise InputError("weights", problem)
        current = self.active_set
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != current.weights.shape:
            raise InputError("weights", f"expected a {current.weights.shape} table, got {weights.shape}")
        sets = list(self.weight_sets)
        sets[self.active] = replace(current, weights=weights, skinning_field=skinning_field, preview=preview)
        return replace(self, weight_sets=tuple(sets))

    def locked_mask(self) -> np.ndarray:
        """Which handles are locked, (H,) bool (empty without a rig)."""
        if self.rig is None:
            return np.zeros(0, dtype=bool)
        locked = set(self.locked)
        return np.array([name in locked for name in self.rig.handle_names], dtype=bool)

    def with_locked(self, names) -> "RigState":
        """This state with exactly the handles ``names`` locked."""
        return replace(self, locked=tuple(sorted(set(names))))

    def with_active(self, index: int) -> "RigState":
        """This state with weight set ``index`` in use."""
        return replace(self, active=index)

    def without_weights(self) -> "RigState":
        """This state with no weight set (the handles changed, or the mesh)."""
        return replace(self, weight_sets=(), active=0, compare=())

    def index_of(self, name: str) -> int:
        """Position of the weight set called ``name``."""
        for k, ws in enumerate(self.weight_sets):
            if ws.name == name:
                return k
        raise InputError("weight sets", f"no weight set {name!r} (there are: {', '.join(self.set_names)})")

    @property
    def set_names(self) -> List[str]:
        """The weight sets' names, in order."""
        return [ws.name for ws in self.weight_sets]

    def unused_name(self, base: str) -> str:
        """``base``, or ``base 2``, ``base 3``... : the first that names no weight set."""
        names, k, name = set(self.set_names), 1, base
        while name in names:
            k += 1
            name = f"{base} {k}"
        return name

    def with_renamed(self, index: int, name: str) -> "RigState":
        """Weight set ``index`` called ``name`` (the A/B choice follows it)."""
        name = name.strip()
        old = self.weight_sets[index].name
        if name != old and name in self.set_names:
            raise InputError("weight sets", f"there is already a weight set {name!r}")
        sets = list(self.weight_sets)
        sets[index] = replace(sets[index], name=name)
        compare = tuple(name if n == old else n for n in self.compare)
        return replace(self, weight_sets=tuple(sets), compare=compare)

    def with_duplicate(self, index: int) -> "RigState":
        """A copy of weight set ``index`` ("NAME copy"), added after the others and made
        active: keep a set before recomputing or painting over it. The weights array is
        shared, as arrays are never modified in place."""
        source = self.weight_sets[index]
        copy = replace(source, name=self.unused_name(f"{source.name} copy"))
        return replace(self, weight_sets=self.weight_sets + (copy,), active=len(self.weight_sets))

    def without_set(self, index: int) -> "RigState":
        """Weight set ``index`` removed; the active set stays active (the one before it
        when it is the one removed), an A/B pair that named it is dropped."""
        name = self.weight_sets[index].name
        sets = self.weight_sets[:index] + self.weight_sets[index + 1 :]
        active = self.active - 1 if self.active > index or (self.active == index and index > 0) else self.active
        compare = () if name in self.compare else self.compare
        return replace(self, weight_sets=sets, active=max(0, min(active, len(sets) - 1)), compare=compare)

    def with_compare(self, a: Optional[str], b: Optional[str]) -> "RigState":
        """Compare weight sets ``a`` and ``b`` (names); None for either, or the same name
        twice, clears the choice."""
        if a is None or b is None or a == b:
            return replace(self, compare=())
        self.index_of(a), self.index_of(b)
        return replace(self, compare=(a, b))

    def swapped(self) -> "RigState":
        """The other set of the A/B pair made active (A when neither is active)."""
        if not self.compare:
            return self
        a, b = (self.index_of(n) for n in self.compare)
        return self.with_active(b if self.active == a else a)

    def weight_difference(self) -> Optional[np.ndarray]:
        """Per-vertex distance between the A and B weight sets, ``½ Σ_j |w_A − w_B|`` on
        rows scaled to sum 1, (n,) float in [0, 1]; None without an A/B pair."""
        if not self.compare:
            return None
        from fieldrig.geometry.skin_compare import vertex_weight_l1

        a, b = (self.weight_sets[self.index_of(n)].weights for n in self.compare)
        return vertex_weight_l1(a, b)

    def fitting(self, n_vertices: int) -> "RigState":
        """This state with only the weight sets of ``n_vertices`` rows (another mesh's
        vertices); the active one stays active when it is kept."""
        kept = [k for k, s in enumerate(self.weight_sets) if len(s.weights) == n_vertices]
        active = kept.index(self.active) if self.active in kept else 0
        sets = tuple(self.weight_sets[k] for k in kept)
        compare = self.compare if set(self.compare) <= {s.name for s in sets} else ()
        return replace(self, weight_sets=sets, active=active, compare=compare)

    def marked_stale(self) -> "RigState":
        """Every weight set flagged stale (the joints moved)."""
        return replace(self, weight_sets=tuple(replace(s, stale=True) for s in self.weight_sets))


#: :attr:`CageState.coordinates_kind` of mean value coordinates (closed form, bound at once).
MEAN_VALUE = "mvc"


@dataclass(frozen=True)
class CageState:
    """The cage and what depends on it (one undo snapshot).

    Attributes
    ----------
    vertices : (c, d) float or None
        Rest cage, d = 2 or 3.
    faces : (k, 3) int or (k, 2) int or None
    source : str or None
        File the cage was loaded from (None for an automatic cage).
    coordinates : (n, c) float or None
        Barycentric coordinates of the mesh vertices.
    barycentric_field : bytes or None
        The trained barycentric field the coordinates came from, as saved bytes.
    deformed : (c, d) float or None
        The cage's vertices as moved by the user (the rest cage before any move).
    coordinates_kind : str or None
        Which coordinates these are: :data:`MEAN_VALUE` (closed form), the objective a
        trained field was fitted with (``"dirichlet"``, ``"tv"``), or None when unknown
        (coordinates from elsewhere, projects of earlier versions).
    """

    vertices: Optional[np.ndarray] = None
    faces: Optional[np.ndarray] = None
    source: Optional[str] = None
    coordinates: Optional[np.ndarray] = None
    barycentric_field: Optional[bytes] = None
    deformed: Optional[np.ndarray] = None
    coordinates_kind: Optional[str] = None


#: Playback speeds the app offers, as factors of real time.
SPEED_RANGE = (0.1, 4.0)


@dataclass(frozen=True)
class AnimationState:
    """Where the session is in a skinned file's animation, and how it plays.

    Attributes
    ----------
    clip : str or None
        Name of one of the asset's clips; None: no clip plays (the pose applies).
    time : float
        Seconds from the clip's start.
    loop : bool
        Playback starts again at the end (else it stops there).
    speed : float
        Playback speed, a factor of real time within :data:`SPEED_RANGE`.
    """

    clip: Optional[str] = None
    time: float = 0.0
    loop: bool = True
    speed: float = 1.0

    def __post_init__(self):
        if not np.isfinite(self.time):
            raise InputError("animation", f"the time must be a finite number of seconds, got {self.time!r}")
        low, high = SPEED_RANGE
        if not low <= self.speed <= high:
            raise InputError("animation", f"the speed must be within {low}–{high}× real time, got {self.speed!r}")


@dataclass(frozen=True)
class Session:
    """Everything a working session holds.

    Attributes
    ----------
    mesh : MeshData or None
        The mesh (its ``path`` is what a project refers to).
    asset : SkinnedAsset or None
        The skin the mesh is the bind pose of, when it is one.
    asset_index : int or None
        That skin's position among its file's skins; None for a plain mesh.
    rig_state : RigState
    cage_state : CageState
    animation : AnimationState
    settings : dict
        JSON-serialisable app settings (preset, device, objective, method, ...).
    mode : str
        What the app was doing ("rig", "weights", "pose", "cage").
    camera : str or None
        The viewer's camera as polyscope view JSON.
    """

    mesh: Optional[MeshData] = None
    asset: Any = None
    asset_index: Optional[int] = None
    rig_state: RigState = field(default_factory=RigState)
    cage_state: CageState = field(default_factory=CageState)
    animation: AnimationState = field(default_factory=AnimationState)
    settings: Dict[str, Any] = field(default_factory=dict)
    mode: str = "rig"
    camera: Optional[str] = None

    def without_caches(self) -> "Session":
        """This session without what can be rebuilt (previews, the loaded asset): what is
        sent to another process to be saved."""
        sets = tuple(replace(s, preview=None) for s in self.rig_state.weight_sets)
        return replace(self, asset=None, rig_state=replace(self.rig_state, weight_sets=sets))


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
    method: str = "lbs",
    deformation: str = "pose",
    transforms: Optional[np.ndarray] = None,
) -> np.ndarray:
    """Rest positions deformed by a pose (skinning) or a moved cage, in float64.

    Parameters
    ----------
    V : (n, 3) float
        Rest positions.
    rig_state, cage_state : RigState, CageState
        The active weights and pose; the coordinates and deformed cage.
    method : {"lbs", "dqs"}
        Skinning method for ``deformation="pose"``.
    deformation : {"pose", "cage"}
    transforms : (H, 4, 4) float, optional
        Absolute handle transforms to skin with instead of the pose's (a clip's frame).

    Returns
    -------
    (n, 3) float
        ``V`` itself when the weights or coordinates needed are missing or do not fit.
    """
    from fieldrig.geometry.deform import dual_quaternion_skinning, linear_blend_skinning

    if deformation == "cage":
        Phi, moved = cage_state.coordinates, cage_state.deformed
        if Phi is None or moved is None or Phi.shape != (len(V), len(moved)):
            return V
        X = Phi @ moved
        return X if X.shape[1] == 3 else np.hstack([X, V[:, X.shape[1] :]])
    rig, W = rig_state.rig, rig_state.weights
    if rig is None or W is None or W.shape != (len(V), rig.n_handles):
        return V
    skin: Callable = dual_quaternion_skinning if method == "dqs" else linear_blend_skinning
    T = pose_transforms(rig, rig_state.pose) if transforms is None else transforms
    return np.asarray(skin(V, W, T))
