"""Editing skinning weights: the rigger's tools.

Brush (add, subtract, replace, smooth) with a falloff, strokes of dabs along a drag path,
normalise, prune, limit the influences per vertex, lock joints, mirror across a plane with
left/right name matching.
Every function takes weights ``W (n, H)`` — one row per vertex, one column per joint —
and returns a new matrix whose rows are on the probability simplex (non-negative, summing
to one); the input is never modified.

Locked joints (``locked``, an (H,) bool mask) keep their weight in every vertex; edits
move weight only among the unlocked joints, so a row's unlocked weights always sum to
one minus its locked weights. When painting a joint up or down, the other unlocked joints
of the vertex give or take the difference in proportion to their weights; a vertex whose
other unlocked joints all have zero weight cannot give weight away, so subtracting there
changes nothing (rather than inventing an influence).
"""

from __future__ import annotations

import re
from typing import List, Optional, Sequence, Tuple

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

from fieldrig.core.errors import InputError

BRUSH_MODES = ("add", "subtract", "replace", "smooth")
FALLOFFS = ("smooth", "linear", "constant")

# (pattern, replacement) pairs tried in order; the first that matches gives the mirrored name.
_SIDE_PATTERNS: List[Tuple[str, str]] = [
    (r"(?<=[._\-\s])([LlRr])$", "side"),  # arm_L, arm.l, arm-R, arm R
    (r"^([LlRr])(?=[._\-])", "side"),  # L_arm, r.arm
    (r"(?<=[._\-])([LlRr])(?=[._\-])", "side"),  # ForeLeg_L_03, hand.L.001
    (r"(Left|Right|left|right|LEFT|RIGHT)", "word"),  # LeftArm, arm_right, mixamorig:RightHand
]
_SWAP = {"L": "R", "R": "L", "l": "r", "r": "l", "Left": "Right", "Right": "Left", "left": "right",
         "right": "left", "LEFT": "RIGHT", "RIGHT": "LEFT"}  # fmt: skip


def mirrored_name(name: str) -> Optional[str]:
    """The name of the joint on the other side, by the usual rigging conventions.

    ``_L/_R``, ``.L/.R``, ``-l/-r`` suffixes, ``L_``/``R.`` prefixes, the same letters
    between separators (``Leg_L_03``, ``hand.L.001``) and the words ``Left``/``Right`` (any
    of three casings) are recognised.

    Returns
    -------
    str or None
        None when the name has no side (a centre joint such as ``Spine``).

    Examples
    --------
    >>> mirrored_name("hand.L"), mirrored_name("LeftArm"), mirrored_name("Spine")
    ('hand.R', 'RightArm', None)
    """
    for pattern, _ in _SIDE_PATTERNS:
        match = re.search(pattern, name)
        if match:
            side = match.group(1)
            return name[: match.start(1)] + _SWAP[side] + name[match.end(1) :]
    return None


def mirror_joint_map(names: Sequence[str]) -> np.ndarray:
    """Column of each joint's mirror image: its other-side joint, or itself.

    Parameters
    ----------
    names : sequence of str
        Joint names, one per weight column.

    Returns
    -------
    (H,) int
        A permutation that is its own inverse.
    """
    index = {n: i for i, n in enumerate(names)}
    out = np.arange(len(names))
    for i, n in enumerate(names):
        other = mirrored_name(n)
        if other is not None and other in index and mirrored_name(other) == n:
            out[i] = index[other]
    return out


def normalize(W: np.ndarray, locked: Optional[np.ndarray] = None) -> np.ndarray:
    """Rescale the unlocked weights of every row so the row sums to one.

    Locked weights keep their values, except where the row has no unlocked weight to
    rescale (or its locked weights exceed one): there the locked weights themselves are
    scaled to sum to one, the only way to keep the row on the simplex. All-zero rows
    (unweighted vertices) stay zero.

    Parameters
    ----------
    W : (n, H) float
        Non-negative weights.
    locked : (H,) bool, optional

    Returns
    -------
    (n, H) float
    """
    W = _checked(W)
    lock = _lock_mask(locked, W.shape[1])
    out = W.copy()
    held = out[:, lock].sum(axis=1)
    free = out[:, ~lock].sum(axis=1)
    only_locked = ((free <= 0) | (held > 1.0)) & (held > 0)
    out[np.ix_(only_locked, lock)] /= held[only_locked, None]
    out[np.ix_(only_locked, ~lock)] = 0.0
    ok = ~only_locked & (free > 0)
    out[np.ix_(ok, ~lock)] *= ((1.0 - held[ok]) / free[ok])[:, None]
    return out


def prune(W: np.ndarray, threshold: float, locked: Optional[np.ndarray] = None) -> np.ndarray:
    """Zero the unlocked weights below ``threshold`` and renormalise.

    A row's largest unlocked weight is always kept, so no vertex loses all its influences.

    Parameters
    ----------
    W : (n, H) float
    threshold : float
        In [0, 1).
    locked : (H,) bool, optional
    """
    W = _checked(W)
    if not 0.0 <= float(threshold) < 1.0:
        raise InputError("threshold", f"expected a value in [0, 1), got {threshold!r}")
    lock = _lock_mask(locked, W.shape[1])
    out = W.copy()
    free = np.flatnonzero(~lock)
    if len(free):
        block = out[:, free]
        keep = np.zeros_like(block, dtype=bool)
        keep[np.arange(len(block)), np.argmax(block, axis=1)] = True
        block[(block < threshold) & ~keep] = 0.0
        out[:, free] = block
    return normalize(out, lock)


def limit_influences(W: np.ndarray, max_influences: int, locked: Optional[np.ndarray] = None) -> np.ndarray:
    """Keep each vertex's ``max_influences`` largest weights and renormalise the unlocked ones.

    Locked joints with weight count towards the limit and are always kept.

    Parameters
    ----------
    W : (n, H) float
    max_influences : int
        At least 1.
    locked : (H,) bool, optional
    """
    W = _checked(W)
    if int(max_influences) != max_influences or max_influences < 1:
        raise InputError("max_influences", f"expected a positive integer, got {max_influences!r}")
    lock = _lock_mask(locked, W.shape[1])
    if max_influences >= W.shape[1]:
        return normalize(W, lock)
    rank = W + np.where(lock & (W > 0), 2.0, 0.0)  # locked influences first
    order = np.argsort(-rank, axis=1, kind="stable")
    drop = order[:, int(max_influences) :]
    out = W.copy()
    rows = np.repeat(np.arange(len(W)), drop.shape[1])
    out[rows, drop.ravel()] = np.where(lock[drop.ravel()], out[rows, drop.ravel()], 0.0)
    return normalize(out, lock)


def brush_falloff(distance: np.ndarray, radius: float, kind: str = "smooth") -> np.ndarray:
    """Brush strength profile: 1 at the centre, 0 at ``radius`` and beyond.

    Parameters
    ----------
    distance : (k,) float
    radius : float
        Positive.
    kind : {"smooth", "linear", "constant"}
        ``smooth`` is ``(1 − t²)²`` (t = distance / radius), ``linear`` is ``1 − t``,
        ``constant`` is 1 inside.

    Returns
    -------
    (k,) float in [0, 1]
    """
    if kind not in FALLOFFS:
        raise InputError("falloff", f"unknown falloff {kind!r} (expected one of {', '.join(FALLOFFS)})")
    if not radius > 0:
        raise InputError("radius", f"expected a positive brush radius, got {radius!r}")
    t = np.clip(np.asarray(distance, dtype=np.float64) / radius, 0.0, 1.0)
    inside = np.asarray(distance) < radius
    profile = {"smooth": (1 - t * t) ** 2, "linear": 1 - t, "constant": np.ones_like(t)}[kind]
    return np.where(inside, profile, 0.0)


def brush_vertices(V: np.ndarray, centre: np.ndarray, radius: float) -> Tuple[np.ndarray, np.ndarray]:
    """Vertices within ``radius`` of ``centre`` and their distances.

    Returns
    -------
    vertices : (k,) int
    distance : (k,) float
    """
    d = np.linalg.norm(np.asarray(V, dtype=np.float64) - np.asarray(centre, dtype=np.float64), axis=1)
    inside = np.flatnonzero(d < radius)
    return inside, d[inside]


def paint(
    W: np.ndarray,
    vertices: np.ndarray,
    strength: np.ndarray,
    joint: int,
    mode: str = "add",
    value: float = 1.0,
    locked: Optional[np.ndarray] = None,
    adjacency: Optional[sp.spmatrix] = None,
) -> np.ndarray:
    """One brush dab on ``joint`` at ``vertices``.

    Parameters
    ----------
    W : (n, H) float
    vertices : (k,) int
        Vertices under the brush.
    strength : (k,) float in [0, 1]
        Brush strength times falloff at each of them.
    joint : int
        The painted column.
    mode : {"add", "subtract", "replace", "smooth"}
        ``add``: w += s·value; ``subtract``: w −= s·value; ``replace``: w += s·(value − w);
        ``smooth``: every row moves by s toward the mean row of its neighbours
        (``adjacency`` needed; ``joint`` is then ignored).
    value : float
        The brush weight, in [0, 1].
    locked : (H,) bool, optional
        Locked columns keep their values; painting a locked joint is refused.
    adjacency : (n, n) sparse, optional
        Vertex neighbours (:func:`vertex_adjacency`), for ``smooth``.

    Returns
    -------
    (n, H) float
    """
    W = _checked(W)
    n, H = W.shape
    if mode not in BRUSH_MODES:
        raise InputError("mode", f"unknown brush mode {mode!r} (expected one of {', '.join(BRUSH_MODES)})")
    if not 0.0 <= float(value) <= 1.0:
        raise InputError("value", f"expected a brush weight in [0, 1], got {value!r}")
    lock = _lock_mask(locked, H)
    vertices = np.asarray(vertices, dtype=np.int64).reshape(-1)
    s = np.clip(np.broadcast_to(np.asarray(strength, dtype=np.float64), vertices.shape), 0.0, 1.0)
    if vertices.size and (vertices.min() < 0 or vertices.max() >= n):
        raise InputError("vertices", f"vertex indices outside 0..{n - 1}")
    out = W.copy()
    if mode == "smooth":
        if adjacency is None:
            raise InputError("adjacency", "the smooth brush needs the mesh's vertex neighbours")
        A = sp.csr_matrix(adjacency)[vertices]
        degree = np.asarray(A.sum(axis=1)).ravel()
        mean = np.where(degree[:, None] > 0, (A @ W) / np.maximum(degree, 1)[:, None], W[vertices])
        rows = W[vertices] + s[:, None] * (mean - W[vertices])
        rows[:, lock] = W[np.ix_(vertices, lock)]
        out[vertices] = rows
        return normalize(out, lock)
    if not 0 <= joint < H:
        raise InputError("joint", f"no joint {joint} (the weights have {H} columns)")
    if lock[joint]:
        raise InputError("joint", f"joint {joint} is locked; unlock it to paint it")
    rows = out[vertices]
    held = rows[:, lock].sum(axis=1)
    old = rows[:, joint]
    target = {"add": old + s * value, "subtract": old - s * value, "replace": old + s * (value - old)}[mode]
    others = ~lock.copy()
    others[joint] = False
    rest = rows[:, others].sum(axis=1)
    room = 1.0 - held
    # the joint may only rise as far as the row has room, and only fall as far as the
    # other unlocked joints can take the difference
    new = np.clip(target, np.where(rest > 0, 0.0, old), room)
    scale = np.where(rest > 0, (room - new) / np.where(rest > 0, rest, 1.0), 0.0)
    rows[:, others] *= scale[:, None]
    rows[:, joint] = new
    out[vertices] = rows
    return out


def dab_centres(last: np.ndarray, target: np.ndarray, spacing: float) -> np.ndarray:
    """Where a stroke puts its next dabs as the brush moves from its last dab to ``target``.

    Dabs go every ``spacing`` along the straight segment, starting one spacing after
    ``last`` (which already has a dab); the distance left over is carried to the next move,
    so a slow drag and a fast one put dabs equally far apart.

    Parameters
    ----------
    last : (3,) float
        The previous dab's centre.
    target : (3,) float
        Where the brush is now.
    spacing : float
        Positive.

    Returns
    -------
    (k, 3) float
        The new centres (none while the brush moved less than ``spacing``).
    """
    if not spacing > 0:
        raise InputError("spacing", f"expected a positive dab spacing, got {spacing!r}")
    last, target = np.asarray(last, dtype=np.float64), np.asarray(target, dtype=np.float64)
    length = float(np.linalg.norm(target - last))
    k = int(np.floor(length / spacing + 1e-9))
    if k == 0:
        return np.zeros((0, 3))
    return last + np.outer(np.arange(1, k + 1) * spacing / length, target - last)


class BrushStroke:
    """One press-drag-release of the weight brush: dabs on one table of weights.

    Without ``accumulate`` (the default, as in Blender) a stroke acts once per vertex: a
    vertex takes the strongest brush strength any dab of the stroke gave it, applied to the
    weights from before the stroke, so going over the same place again in one stroke does
    not add more. With ``accumulate`` every dab applies on top of the last. The smooth brush
    always accumulates (each dab smooths what is there).

    Parameters
    ----------
    W : (n, H) float
        The weights when the stroke starts (not modified).
    V : (n, 3) float
        Vertex positions the brush radius is measured in (what the user sees).
    joint : int
        The painted column (ignored by ``smooth``).
    mode : {"add", "subtract", "replace", "smooth"}
    value : float
        Brush weight in [0, 1].
    radius : float
        Brush radius in the units of ``V``.
    strength : float
        In [0, 1]: the brush's strength at its centre.
    falloff : {"smooth", "linear", "constant"}
    locked : (H,) bool, optional
        Locked joints keep their weights; painting a locked joint is refused.
    adjacency : (n, n) sparse, optional
        Vertex neighbours (:func:`vertex_adjacency`), needed by ``smooth``.
    accumulate : bool

    Attributes
    ----------
    weights : (n, H) float
        The weights with the dabs so far.
    """

    def __init__(
        self,
        W: np.ndarray,
        V: np.ndarray,
        joint: int,
        mode: str = "add",
        value: float = 1.0,
        radius: float = 1.0,
        strength: float = 1.0,
        falloff: str = "smooth",
        locked: Optional[np.ndarray] = None,
        adjacency: Optional[sp.spmatrix] = None,
        accumulate: bool = False,
    ):
        self._before = _checked(W)
        n, H = self._before.shape
        self.V = np.asarray(V, dtype=np.float64)
        if self.V.shape != (n, 3):
            raise InputError("V", f"expected ({n}, 3) positions, got {self.V.shape}")
        if mode not in BRUSH_MODES:
            raise InputError("mode", f"unknown brush mode {mode!r} (expected one of {', '.join(BRUSH_MODES)})")
        if not 0.0 <= float(strength) <= 1.0:
            raise InputError("strength", f"expected a brush strength in [0, 1], got {strength!r}")
        if not 0.0 <= float(value) <= 1.0:
            raise InputError("value", f"expected a brush weight in [0, 1], got {value!r}")
        self.lock = _lock_mask(locked, H)
        if mode != "smooth":
            if not 0 <= joint < H:
                raise InputError("joint", f"no joint {joint} (the weights have {H} columns)")
            if self.lock[joint]:
                raise InputError("joint", f"joint {joint} is locked; unlock it to paint it")
        elif adjacency is None:
            raise InputError("adjacency", "the smooth brush needs the mesh's vertex neighbours")
        brush_falloff(np.zeros(1), radius, falloff)  # checks radius and falloff up front
        self.joint, self.mode, self.value, self.radius = joint, mode, float(value), float(radius)
        self.strength, self.falloff, self.adjacency = float(strength), falloff, adjacency
        self.accumulate = accumulate or mode == "smooth"
        self.weights = self._before.copy()
        self._reached = np.zeros(n)  # strongest strength each vertex got in this stroke

    @property
    def painted(self) -> np.ndarray:
        """Vertices the stroke has changed so far, (k,) int, sorted."""
        return np.flatnonzero(self._reached > 0)

    def dab(self, centre: np.ndarray) -> np.ndarray:
        """One dab at ``centre`` (3,); returns the vertices whose rows it changed, (k,) int."""
        vertices, distance = brush_vertices(self.V, centre, self.radius)
        s = self.strength * brush_falloff(distance, self.radius, self.falloff)
        vertices, s = vertices[s > 0], s[s > 0]
        if not len(vertices):
            return vertices
        if self.mode == "smooth":
            self.weights = paint(self.weights, vertices, s, 0, "smooth", locked=self.lock, adjacency=self.adjacency)
            self._reached[vertices] = np.maximum(self._reached[vertices], s)
            return vertices
        rows = np.arange(len(vertices))
        if self.accumulate:
            start = self.weights[vertices]
        else:
            s = np.maximum(self._reached[vertices], s)
            start = self._before[vertices]
        self.weights[vertices] = paint(start, rows, s, self.joint, self.mode, self.value, self.lock)
        self._reached[vertices] = np.maximum(self._reached[vertices], s)
        return vertices


def vertex_adjacency(n: int, F: Optional[np.ndarray], V: Optional[np.ndarray] = None, k: int = 8) -> sp.csr_matrix:
    """Vertex neighbours: the edges of the triangles, or the ``k`` nearest points of a cloud.

    Parameters
    ----------
    n : int
        Number of vertices.
    F : (m, 3) int or None
    V : (n, 3) float, optional
        Needed for a point cloud (F None).
    k : int

    Returns
    -------
    (n, n) csr_matrix
        Symmetric, 1 for neighbours, 0 on the diagonal.
    """
    if F is not None:
        F = np.asarray(F, dtype=np.int64)
        i = np.concatenate([F[:, 0], F[:, 1], F[:, 2]])
        j = np.concatenate([F[:, 1], F[:, 2], F[:, 0]])
    else:
        if V is None:
            raise InputError("V", "a point cloud's neighbours need its points")
        kk = min(k + 1, n)
        _, idx = cKDTree(V).query(V, k=kk)
        i = np.repeat(np.arange(n), kk - 1)
        j = idx[:, 1:].ravel()
    A = sp.coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n)).tocsr()
    A = ((A + A.T) > 0).astype(np.float64)
    A.setdiag(0)
    A.eliminate_zeros()
    return A.tocsr()


def mirror_vertex_map(
    V: np.ndarray,
    axis: int = 0,
    plane: float = 0.0,
    from_positive: bool = True,
    tolerance: Optional[float] = None,
) -> Tuple[np.ndarray, np.ndarray, int]:
    """Where each vertex takes its weights from when one side is mirrored onto the other.

    Parameters
    ----------
    V : (n, 3) float
        Rest positions.
    axis : {0, 1, 2}
        The plane's normal axis (0 = x: left/right of a character facing ±z).
    plane : float
        Its coordinate.
    from_positive : bool
        Copy from the side where the coordinate is above ``plane`` (else below).
    tolerance : float, optional
        Distance that counts as "on the plane" and as a matched mirror vertex; default
        1e-4 × the bounding-box diagonal.

    Returns
    -------
    source : (n, ) int
        For a vertex on the target side, the source-side vertex nearest to its mirror image;
        every other vertex is its own source.
    side : (n,) int
        +1 on the source side, 0 on the plane (within ``tolerance``), −1 on the target side.
    unmatched : int
        Target vertices whose mirror image is farther than ``tolerance`` from every source
        vertex (an asymmetric mesh); they still take the nearest one.
    """
    V = np.asarray(V, dtype=np.float64)
    if V.ndim != 2 or V.shape[1] != 3:
        raise InputError("V", f"expected (n, 3) positions, got {V.shape}")
    if axis not in (0, 1, 2):
        raise InputError("axis", f"expected 0, 1 or 2, got {axis!r}")
    tol = tolerance if tolerance is not None else 1e-4 * float(np.linalg.norm(np.ptp(V, axis=0)))
    offset = (V[:, axis] - plane) * (1 if from_positive else -1)
    side = np.where(offset > tol, 1, np.where(offset < -tol, -1, 0))
    source = np.arange(len(V))
    sources, targets = np.flatnonzero(side > 0), np.flatnonzero(side < 0)
    unmatched = 0
    if len(targets) and len(sources):
        reflected = V[targets].copy()
        reflected[:, axis] = 2 * plane - reflected[:, axis]
        dist, nearest = cKDTree(V[sources]).query(reflected)
        source[targets] = sources[nearest]
        unmatched = int((dist > tol).sum())
    return source, side, unmatched


def mirror_weights(
    W: np.ndarray,
    V: np.ndarray,
    names: Sequence[str],
    axis: int = 0,
    plane: float = 0.0,
    from_positive: bool = True,
    tolerance: Optional[float] = None,
) -> Tuple[np.ndarray, int]:
    """Copy the weights of one side onto the other, swapping left and right joints.

    Each vertex on the target side takes the row of the source vertex nearest to its
    mirror image (:func:`mirror_vertex_map`), with columns permuted by
    :func:`mirror_joint_map`; vertices on the plane get the average of their row and its
    mirror, so a symmetric shape gets exactly symmetric weights.

    Parameters
    ----------
    W : (n, H) float
    V : (n, 3) float
    names : sequence of str
        Joint names (one per column).
    axis, plane, from_positive, tolerance
        As in :func:`mirror_vertex_map`.

    Returns
    -------
    W : (n, H) float
    unmatched : int
        Target vertices with no source vertex within ``tolerance`` of their mirror image.
    """
    W = _checked(W)
    V = np.asarray(V, dtype=np.float64)
    if V.shape != (len(W), 3):
        raise InputError("V", f"expected ({len(W)}, 3) positions, got {V.shape}")
    if len(names) != W.shape[1]:
        raise InputError("names", f"{len(names)} names for {W.shape[1]} weight columns")
    source, side, unmatched = mirror_vertex_map(V, axis, plane, from_positive, tolerance)
    perm = mirror_joint_map(names)
    out = W.copy()
    target, middle = (side < 0) & np.any(side > 0), side == 0  # no source side: nothing to copy
    out[target] = W[source[target]][:, perm]
    out[middle] = 0.5 * (W[middle] + W[middle][:, perm])
    return out, unmatched


def _checked(W) -> np.ndarray:
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2 or W.shape[1] == 0:
        raise InputError("W", f"expected an (n, H) weight matrix, got shape {W.shape}")
    if not np.all(np.isfinite(W)) or (W.size and W.min() < -1e-9):
        raise InputError("W", "weights must be finite and non-negative")
    return np.clip(W, 0.0, None)


def _lock_mask(locked, H: int) -> np.ndarray:
    if locked is None:
        return np.zeros(H, dtype=bool)
    lock = np.asarray(locked, dtype=bool).reshape(-1)
    if lock.shape != (H,):
        raise InputError("locked", f"expected one flag per joint ({H}), got {lock.shape[0]}")
    return lock
