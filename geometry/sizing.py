"""Target particle spacing from the shape's local thickness and the spacing of its handles.

``h(x) = clip(min(largest, thickness(x) / across, handles(x)), smallest, largest)``:

* **thickness.** At random surface samples a few rays are cast inward (the side where
  the winding number is inside), in a cone around the normal; the median distance to
  the surface they meet is the part's thickness ``T`` there (the shape diameter
  function); a ray goes on through a surface with the solid still behind it (a wall
  inside a soup of overlapping parts). Points along the inward ray, across the part,
  get ``T / across``: a finger gets ``across`` particles across it. Samples where no
  side is inside (open sheets) and rays that meet nothing give no thickness.
* **handles.** Handle ``k`` of length scale ``l_k`` (its longest segment, or the distance
  to the nearest other handle for a point) gets ``l_k / along`` along it.

Away from both, the spacing grows by at most ``g`` per unit of distance
(``h(x) <= h(y) + g |x - y|``).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from fieldrig.geometry.domain import ShapeDomain
from fieldrig.geometry.visibility import SegmentVisibility
from fieldrig.geometry.winding import winding_numbers

_CONE = np.deg2rad(25.0)  # tilt of the four side rays of the thickness cone
_ALONG_RAY = 8  # points written along each thickness ray
_WALLS = 3  # walls inside a soup a thickness ray goes through


class SizingField:
    """Target particle spacing ``h(x)`` (see the module docstring), held on the domain's grid.

    Both terms are written into the cells of the domain's candidate grid (the thickness
    along each inward ray, a handle's value along the handle), then spread so that a
    cell's spacing exceeds its neighbour's by at most ``g`` times their distance (a few
    passes of a 27-cell minimum filter). Queries are cell look-ups.

    Parameters
    ----------
    domain : ShapeDomain
    caster : SegmentVisibility or None
        Rays against the surface (None or a point cloud: no thickness term).
    starts, ends : (s, 3) float
        Handle segments.
    scales : (s,) float
        Length scale of each segment's handle (inf: no handle term).
    across, along : float
        Particles across a part's thickness and along a handle's length scale.
    largest, smallest : float
        Bounds of the spacing.
    gradation : float
        Growth of the spacing per unit of distance from a thin part or a handle.
    samples : int
        Surface samples for the thickness.
    rng : numpy.random.Generator
    """

    def __init__(
        self,
        domain: ShapeDomain,
        caster: Optional[SegmentVisibility],
        starts: np.ndarray,
        ends: np.ndarray,
        scales: np.ndarray,
        *,
        across: float,
        along: float,
        largest: float,
        smallest: float,
        gradation: float,
        samples: int,
        rng: np.random.Generator,
    ):
        self.largest, self.smallest, self.gradation = float(largest), float(smallest), float(gradation)
        self._index, self._cell = domain.grid_index, domain.cell_size
        self._grid = np.full(domain.grid_shape, self.largest)
        if caster is not None and caster.has_surface:
            P, N = domain.sample_surface(samples, rng)
            T, inward = local_thickness(domain, caster, P, N)
            finite = np.flatnonzero(np.isfinite(T))
            if len(finite):
                # points along each inward ray, across the part it measures
                t = (np.arange(_ALONG_RAY) + 0.5) / _ALONG_RAY
                pts = P[finite, None, :] + (t[None, :, None] * T[finite, None, None]) * inward[finite, None, :]
                self._write(pts.reshape(-1, 3), np.repeat(T[finite] / across, _ALONG_RAY))
        starts, ends = np.asarray(starts, dtype=np.float64), np.asarray(ends, dtype=np.float64)
        value = np.asarray(scales, dtype=np.float64) / along
        use = np.flatnonzero(np.isfinite(value))
        if len(use):
            length = np.linalg.norm(ends[use] - starts[use], axis=1)
            count = np.ceil(length / (0.5 * self._cell)).astype(np.int64) + 1
            seg = np.repeat(use, count)
            first = np.repeat(np.cumsum(count) - count, count)
            f = (np.arange(len(seg)) - first) / np.maximum(np.repeat(count, count) - 1, 1)
            self._write(starts[seg] + f[:, None] * (ends[seg] - starts[seg]), value[seg])
        self._spread()

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """Target spacing at points.

        Parameters
        ----------
        X : (m, 3) float

        Returns
        -------
        (m,) float
            The largest spacing outside the grid.
        """
        idx, inside = self._index(X)
        h = np.full(len(X), self.largest)
        h[inside] = self._grid[tuple(idx[inside].T)]
        return np.clip(h, self.smallest, self.largest)

    def _write(self, X: np.ndarray, value: np.ndarray) -> None:
        """Lower the cells holding points to the points' values."""
        idx, inside = self._index(X)
        flat = np.ravel_multi_index(tuple(idx[inside].T), self._grid.shape)
        np.minimum.at(self._grid.reshape(-1), flat, value[inside])

    def _spread(self) -> None:
        """Limit the growth to ``gradation`` per unit of distance, across all 26 neighbours."""
        offsets = [np.array(o) for o in np.ndindex(3, 3, 3) if o != (1, 1, 1)]
        cost = [self.gradation * self._cell * float(np.linalg.norm(o - 1)) for o in offsets]
        passes = int(np.ceil(self.largest / (self.gradation * self._cell))) + 1
        n = np.array(self._grid.shape)
        for _ in range(passes):
            padded = np.pad(self._grid, 1, constant_values=np.inf)
            new = self._grid.copy()
            for o, c in zip(offsets, cost):
                np.minimum(new, padded[o[0] : o[0] + n[0], o[1] : o[1] + n[1], o[2] : o[2] + n[2]] + c, out=new)
            if np.array_equal(new, self._grid):
                break
            self._grid = new


def local_thickness(domain: ShapeDomain, caster: SegmentVisibility, P: np.ndarray, N: np.ndarray) -> np.ndarray:
    """Thickness of the solid behind surface points: median inward ray length over a cone.

    Parameters
    ----------
    domain : ShapeDomain
    caster : SegmentVisibility
    P : (k, 3) float
        Surface points.
    N : (k, 3) float
        Unit normals there (either orientation).

    Returns
    -------
    thickness : (k,) float
        inf where neither side of the surface is inside (open sheets) or most rays
        meet nothing.
    inward : (k, 3) float
        The normal turned to the inside (zero where neither side is).
    """
    step = 1e-4 * domain.diagonal
    # the back first (outward-oriented surfaces), the front only where the back is outside
    side = np.zeros(len(P))
    back = np.abs(winding_numbers(domain.V, domain.F, P - step * N, domain.N)) > 0.5
    side[back] = -1.0
    rest = np.flatnonzero(~back)
    side[rest[np.abs(winding_numbers(domain.V, domain.F, P[rest] + step * N[rest], domain.N)) > 0.5]] = 1.0
    T = np.full(len(P), np.inf)
    use = np.flatnonzero(side != 0)
    if not len(use):
        return T, N * side[:, None]
    inward = N[use] * side[use, None]
    # two tangents per normal
    helper = np.where(np.abs(inward[:, :1]) < 0.9, np.array([[1.0, 0, 0]]), np.array([[0, 1.0, 0]]))
    t1 = np.cross(inward, helper)
    t1 /= np.linalg.norm(t1, axis=1, keepdims=True)
    t2 = np.cross(inward, t1)
    c, s = np.cos(_CONE), np.sin(_CONE)
    directions = [inward] + [c * inward + s * sign * t for t in (t1, t2) for sign in (1.0, -1.0)]
    origin = P[use] + caster.margin * inward
    lengths = np.stack([caster.hit_distance(origin, d) for d in directions], axis=1)
    # Walls inside a soup: where the median ray's hit has the solid behind it, all five
    # rays go on through such walls.
    median = np.argsort(lengths, axis=1)[:, 2]
    row = np.flatnonzero(np.isfinite(lengths[np.arange(len(use)), median]))
    hit_dir = np.stack(directions, axis=1)[row, median[row]]
    beyond = origin[row] + (lengths[row, median[row]] + step)[:, None] * hit_dir
    walls = row[np.abs(winding_numbers(domain.V, domain.F, beyond, domain.N)) > 0.5]
    if len(walls):
        lengths[walls] = np.stack(
            [_through_walls(domain, caster, origin[walls], d[walls], step) for d in directions], axis=1
        )
    T[use] = np.median(lengths, axis=1) + caster.margin  # inf when three or more rays miss
    return T, N * side[:, None]


def _through_walls(domain, caster, origin: np.ndarray, direction: np.ndarray, step: float) -> np.ndarray:
    """Distance to the first surface behind which the ray leaves the solid.

    A hit with the solid still behind it is a wall inside a soup (two overlapping
    parts): the ray goes on through it, up to ``_WALLS`` times.
    """
    total = caster.hit_distance(origin, direction)
    going = np.flatnonzero(np.isfinite(total))
    for _ in range(_WALLS):
        if not len(going):
            break
        beyond = origin[going] + (total[going] + step)[:, None] * direction[going]
        going = going[np.abs(winding_numbers(domain.V, domain.F, beyond, domain.N)) > 0.5]
        if not len(going):
            break
        more = caster.hit_distance(origin[going] + (total[going] + step)[:, None] * direction[going], direction[going])
        total[going] += step + more
        going = going[np.isfinite(more)]
    return total
