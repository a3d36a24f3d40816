"""Where a rig's handles lie relative to a shape: inside, partly outside or wholly outside,
and the parts of every segment that are inside.

A point is *inside* when its generalized winding number is above 1/2 in magnitude, or
when it lies within ``tolerance × bounding-box diagonal`` of the surface (so handles on
flat or open surfaces, point clouds, and bone tips that touch the skin count as inside).
Every segment is sampled at steps of 1/200 of the diagonal; each run of inside samples
becomes one inside piece, its ends refined by bisection to 1/2^8 of a step. Everything is
computed in a frame centred on the shape's bounding box and scaled by its diagonal, so
units and placement do not change the answer.

Skinning uses the inside pieces as the handles (:func:`fieldrig.fit_skinning_field`): a
handle partly outside keeps its inside part, one wholly outside (an IK target, a root on
the floor, a prop) has no piece and is excluded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

import numpy as np

from fieldrig.geometry.mesh_io import validate_mesh

#: Distance from the surface that still counts as inside, as a fraction of the diagonal.
TOLERANCE = 0.01
_STEPS_PER_DIAGONAL = 200
_BISECTIONS = 8


@dataclass
class HandlePlacement:
    """What :func:`place_handles` found.

    Attributes
    ----------
    names : list of str
        Handle names, in column order.
    inside_fraction : (H,) float
        Share of each handle inside the shape (by length; 0 or 1 for a point handle).
    outside_distance : (H,) float
        Largest distance from the surface of the handle's outside samples (0 when inside).
    starts, ends : (q, 3) float
        The inside pieces of every segment (a point handle inside: one zero-length piece).
    owner : (q,) int
        Column of each piece.
    segment : (q,) int
        Index into the rig's :meth:`~fieldrig.geometry.rig.Rig.handle_segments` of each piece.
    """

    names: List[str]
    inside_fraction: np.ndarray
    outside_distance: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    owner: np.ndarray
    segment: np.ndarray

    @property
    def wholly_outside(self) -> np.ndarray:
        """(k,) int: columns with no part inside."""
        return np.flatnonzero(self.inside_fraction <= 0)

    @property
    def partly_outside(self) -> np.ndarray:
        """(k,) int: columns partly inside, partly outside."""
        return np.flatnonzero((self.inside_fraction > 0) & (self.inside_fraction < 1))

    def sentence(self, handle: int) -> str:
        """One sentence about a handle that is not wholly inside ('' for one that is)."""
        share = self.inside_fraction[handle]
        if share >= 1:
            return ""
        far = f"up to {self.outside_distance[handle]:.3g} from the surface"
        if share <= 0:
            return f"handle {self.names[handle]!r} lies outside the shape (wholly, {far})"
        return f"handle {self.names[handle]!r} lies partly outside the shape ({100 * (1 - share):.0f}% of it, {far})"


def place_handles(
    V: np.ndarray,
    F: Optional[np.ndarray],
    rig,
    N: Optional[np.ndarray] = None,
    tolerance: float = TOLERANCE,
) -> HandlePlacement:
    """Classify a rig's handles against a shape and clip their segments to it.

    Parameters
    ----------
    V : (n, 3) float
    F : (m, 3) int or None
        None for a point cloud (its winding number comes from oriented points).
    rig : Rig
    N : (n, 3) float, optional
        Point-cloud normals; estimated when omitted.
    tolerance : float
        Distance from the surface that counts as inside, as a fraction of the diagonal.

    Returns
    -------
    HandlePlacement
    """
    V, F = validate_mesh(V, F, "mesh", warnings=[])
    if F is None and N is None:
        from fieldrig.geometry.normals import estimate_normals

        N = estimate_normals(V)
    # Work in a unit-size frame: winding numbers and distances do not depend on the units
    # (libigl's fast winding number returns 0 at 1e20 scale otherwise).
    center = 0.5 * (V.min(axis=0) + V.max(axis=0))
    diag = max(float(np.linalg.norm(np.ptp(V, axis=0))), np.finfo(float).tiny)
    V = (V - center) / diag
    band = tolerance
    step = 1.0 / _STEPS_PER_DIAGONAL
    segments = (rig.handle_segments() - center) / diag
    seg_owner = rig.segment_handles()
    length = np.linalg.norm(segments[:, 1] - segments[:, 0], axis=1)
    counts = np.where(length > 0, np.clip(np.ceil(length / step).astype(np.int64) + 1, 2, None), 1)
    seg_of = np.repeat(np.arange(len(segments)), counts)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    t = (np.arange(len(seg_of)) - first) / np.maximum(counts[seg_of] - 1, 1)
    inside, distance = _inside(V, F, N, _along(segments, seg_of, t), band)

    H = rig.n_handles
    offsets = np.cumsum(counts) - counts
    outside_distance = np.zeros(H)
    np.maximum.at(outside_distance, seg_owner[seg_of[~inside]], distance[~inside])
    # Runs of inside samples per segment; their ends that are not segment ends are refined.
    runs: List[list] = []  # [segment, t start, t end]
    requests: List[tuple] = []  # (run, 0 start / 1 end, t outside, t inside)
    for s in range(len(segments)):
        ins, ts = inside[offsets[s] : offsets[s] + counts[s]], t[offsets[s] : offsets[s] + counts[s]]
        for lo, hi in _runs(ins):
            runs.append([s, ts[lo], ts[hi]])
            if lo > 0:
                requests.append((len(runs) - 1, 1, ts[lo - 1], ts[lo]))
            if hi < len(ts) - 1:
                requests.append((len(runs) - 1, 2, ts[hi + 1], ts[hi]))
    if requests:
        req = np.array(requests)
        which = req[:, 0].astype(np.int64)
        seg_req = np.array([runs[r][0] for r in which], dtype=np.int64)
        t_out, t_in = req[:, 2].copy(), req[:, 3].copy()
        for _ in range(_BISECTIONS):
            mid = 0.5 * (t_out + t_in)
            ok = _inside(V, F, N, _along(segments, seg_req, mid), band)[0]
            t_in = np.where(ok, mid, t_in)
            t_out = np.where(ok, t_out, mid)
        for (r, end, _, _), value in zip(requests, t_in):
            runs[r][int(end)] = value
    seg = np.array([r[0] for r in runs], dtype=np.int64)
    ta = np.array([r[1] for r in runs], dtype=np.float64)
    tb = np.array([r[2] for r in runs], dtype=np.float64)
    owner = seg_owner[seg] if len(seg) else np.zeros(0, np.int64)
    covered, total, present = np.zeros(H), np.zeros(H), np.zeros(H, bool)
    np.add.at(total, seg_owner, length)
    np.add.at(covered, owner, (tb - ta) * length[seg])
    present[owner] = True
    fraction = np.where(total > 0, covered / np.maximum(total, np.finfo(float).tiny), present.astype(float))
    fraction = np.where(fraction > 1 - 1e-9, 1.0, np.clip(fraction, 0.0, 1.0))
    fraction[present & (fraction <= 0)] = np.finfo(float).eps  # a piece of zero length: still touching
    original = rig.handle_segments()
    return HandlePlacement(
        list(rig.handle_names),
        fraction,
        outside_distance * diag,
        _along(original, seg, ta),
        _along(original, seg, tb),
        owner,
        seg,
    )


def handles_outside(V: np.ndarray, F: Optional[np.ndarray], rig, N: Optional[np.ndarray] = None) -> List[str]:
    """Handles that are not wholly inside the shape, one sentence each (empty when all are).

    Parameters
    ----------
    V : (n, 3) float
    F : (m, 3) int or None
    rig : Rig
    N : (n, 3) float, optional
        Point-cloud normals.

    Returns
    -------
    list of str
    """
    placement = place_handles(V, F, rig, N)
    return [placement.sentence(h) for h in range(rig.n_handles) if placement.inside_fraction[h] < 1]


def _along(segments: np.ndarray, seg: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Points ``(1 - t) a + t b`` of segments ``seg``, (k, 3)."""
    if len(seg) == 0:
        return np.zeros((0, 3))
    return segments[seg, 0] + t[:, None] * (segments[seg, 1] - segments[seg, 0])


def _inside(V, F, N, Q: np.ndarray, band: float):
    """Inside flags and distances to the surface of query points (see the module docstring)."""
    import igl
    from scipy.spatial import cKDTree

    from fieldrig.geometry.winding import winding_numbers

    if len(Q) == 0:
        return np.zeros(0, bool), np.zeros(0)
    winding = winding_numbers(V, F, Q, N)
    if F is not None:
        distance = np.sqrt(igl.point_mesh_squared_distance(Q, V, F)[0])
    else:
        distance = cKDTree(V).query(Q)[0]
    return (np.abs(winding) > 0.5) | (distance <= band), distance


def _runs(flags: np.ndarray) -> List[tuple]:
    """(first, last) index of every run of True."""
    padded = np.r_[False, flags, False].astype(np.int8)
    edges = np.diff(padded)
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1))
