"""The solid a skinning field lives in, and random samples of it and of its surface.

The domain is ``{x : |winding number(x)| > 1/2}`` united with a band of points closer than
``band`` to the surface where ``|winding number| > 1/4``. The winding number gives the
enclosed volume of closed meshes and degrades gracefully on meshes with holes and on
triangle soups; the band gives open sheets and thin or broken scans (which enclose no
volume) a domain of their own.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
from scipy.spatial import cKDTree

from fieldrig.core.errors import InputError
from fieldrig.geometry.mesh_io import face_areas
from fieldrig.geometry.winding import point_areas, winding_numbers

_BATCH = 200_000
_BLOCK = 4  # cells per side of the blocks whose winding number is evaluated once
_PROBE = 30_000  # volume estimate: relative error ~ 1 / sqrt(inside fraction * _PROBE)


class ShapeDomain:
    """Winding-number interior plus a thin band around a mesh, soup or oriented point cloud.

    Parameters
    ----------
    V : (n, 3) float
        Vertices or points.
    F : (m, 3) int or None
        Triangles; None for a point cloud.
    N : (n, 3) float, optional
        Point normals (required for a point cloud).
    band_fraction : float
        Half-thickness of the band, as a fraction of the bounding-box diagonal.
    seed : int
        Seed of the samples used to estimate the volume and to measure distances.
    """

    def __init__(
        self,
        V: np.ndarray,
        F: Optional[np.ndarray],
        N: Optional[np.ndarray] = None,
        band_fraction: float = 0.004,
        seed: int = 0,
    ):
        self.V = np.asarray(V, dtype=np.float64)
        self.F = None if F is None else np.asarray(F, dtype=np.int64)
        if self.F is None and N is None:
            raise InputError("N", "a point cloud needs normals to define its inside")
        self.N = None if N is None else np.asarray(N, dtype=np.float64)
        lo, hi = self.V.min(axis=0), self.V.max(axis=0)
        self.diagonal = float(np.linalg.norm(hi - lo))
        if self.diagonal <= 0:
            raise InputError("V", "all vertices are at the same place")
        rng = np.random.default_rng(seed)
        if self.F is None:
            self.area_weights = point_areas(self.V)
            spacing = float(np.median(cKDTree(self.V).query(self.V, k=2)[0][:, 1]))
            self.band = max(band_fraction * self.diagonal, spacing)
            surface = self.V
        else:
            self.area_weights = face_areas(self.V, self.F)
            self.band = band_fraction * self.diagonal
            count = int(np.clip(self.area / (0.5 * self.band) ** 2, 10_000, 400_000))
            surface = self.sample_surface(count, rng)[0]
        self._near = cKDTree(surface)
        pad = 2.0 * self.band
        self.lower, self.upper = lo - pad, hi + pad
        self._cells, self._solid, self._cell = self._candidate_cells(surface, trust_gaps=self.F is not None)
        # Volume: the fraction of uniform points of the candidate cells that are inside.
        probe, solid, _ = self._cell_points(_PROBE, rng)
        self.fraction = float(self._contains(probe, solid).mean())
        if self.fraction == 0.0:
            raise InputError("mesh", "the shape encloses no volume and no sample fell within its surface band")
        self.volume = self.fraction * len(self._cells) * self._cell**3
        self._clearance = self._clearance_grid() if self.F is not None else None

    @property
    def area(self) -> float:
        """Surface area (sum of triangle areas, or of the areas the points stand for)."""
        return float(self.area_weights.sum())

    def contains(self, Q: np.ndarray) -> np.ndarray:
        """Whether points lie in the domain.

        Parameters
        ----------
        Q : (q, 3) float

        Returns
        -------
        (q,) bool
        """
        winding = np.abs(winding_numbers(self.V, self.F, Q, self.N))
        inside = winding > 0.5
        # The band only where the winding number says "half inside": near open sheets,
        # holes and soups, not just outside a closed surface (|w| ~ 0 there).
        rest = np.flatnonzero(~inside & (winding > 0.25))
        if len(rest):
            inside[rest] = self._near.query(Q[rest], distance_upper_bound=self.band)[0] <= self.band
        return inside

    def _candidate_cells(self, surface: np.ndarray, trust_gaps: bool):
        """Cells of a grid (64 per side) that may hold domain points.

        Cells within one cell of a surface sample are candidates whose points must be
        tested. A cell farther from every surface sample is crossed by no surface (the
        samples are far denser than the cells), so its centre decides for all of it:
        clearly inside (|w| > 0.9) makes it a *solid* candidate, accepted without tests.
        Point clouds can have gaps wider than a cell, so there no cell is solid.

        Returns
        -------
        cells : (c, 3) int
            Grid indices of the candidate cells.
        solid : (c,) bool
        size : float
            Cell edge length.
        """
        box = self.upper - self.lower
        size = float(np.prod(box) / 64**3) ** (1 / 3)
        shape = np.maximum(np.ceil(box / size).astype(np.int64), 1)
        near = np.zeros(shape, dtype=bool)
        idx = np.minimum(((surface - self.lower) / size).astype(np.int64), shape - 1)
        near[tuple(idx.T)] = True
        grown = near.copy()
        for axis in range(3):
            for shift in (-1, 1):
                grown |= np.roll(near, shift, axis=axis) & _not_wrapped(shape, axis, shift)
        far = np.argwhere(~grown)
        # A block of 4^3 cells with no cell near the surface holds no surface: the winding
        # number is constant over it, one evaluation decides all its cells.
        padded = np.zeros(-(-shape // _BLOCK) * _BLOCK, dtype=bool)
        padded[: shape[0], : shape[1], : shape[2]] = grown
        b = padded.shape[0] // _BLOCK, padded.shape[1] // _BLOCK, padded.shape[2] // _BLOCK
        touched = padded.reshape(b[0], _BLOCK, b[1], _BLOCK, b[2], _BLOCK).any(axis=(1, 3, 5))
        block = far // _BLOCK
        free = ~touched[tuple(block.T)]
        winding = np.empty(len(far))
        _, first, inverse = np.unique(np.ravel_multi_index(block[free].T, b), return_index=True, return_inverse=True)
        centres = self.lower + (far + 0.5) * size
        winding[free] = np.abs(winding_numbers(self.V, self.F, centres[free][first], self.N))[inverse.ravel()]
        winding[~free] = np.abs(winding_numbers(self.V, self.F, centres[~free], self.N))
        inside = np.zeros(shape, dtype=bool)
        inside[tuple(far[winding > 0.5].T)] = True
        cells = np.argwhere(grown | inside)
        solid = inside[tuple(cells.T)] & trust_gaps
        solid[solid] = (
            winding[np.searchsorted(np.ravel_multi_index(far.T, shape), np.ravel_multi_index(cells[solid].T, shape))]
            > 0.9
        )
        return cells, solid, size

    @property
    def cell_centres(self) -> np.ndarray:
        """Centres of the candidate cells that may hold domain points, (c, 3)."""
        return self.lower + (self._cells + 0.5) * self._cell

    @property
    def grid_shape(self) -> Tuple[int, int, int]:
        """Cells per axis of the grid the candidate cells belong to."""
        return tuple(int(v) for v in np.maximum(np.ceil((self.upper - self.lower) / self._cell).astype(np.int64), 1))

    def grid_index(self, Q: np.ndarray):
        """The grid cell of every point, and whether it lies in the grid.

        Returns
        -------
        index : (q, 3) int
        inside : (q,) bool
        """
        idx = np.floor((np.asarray(Q) - self.lower) / self._cell).astype(np.int64)
        return idx, np.all((idx >= 0) & (idx < np.array(self.grid_shape)), axis=1)

    @property
    def cell_size(self) -> float:
        """Edge length of the candidate cells."""
        return self._cell

    def clearance(self, Q: np.ndarray) -> np.ndarray:
        """A lower bound of the distance from points to the surface (0 where unknown).

        Surfaces lie only in cells that are not solid (see ``_candidate_cells``), so a
        point of a cell whose centre is ``D`` cells from the nearest non-solid cell centre
        is at least ``(D - sqrt 3)`` cells from any surface. Point clouds get 0.

        Parameters
        ----------
        Q : (q, 3) float

        Returns
        -------
        (q,) float
        """
        if self._clearance is None:
            return np.zeros(len(Q))
        idx, inside = self.grid_index(Q)
        out = np.zeros(len(Q))
        out[inside] = self._clearance[tuple(idx[inside].T)]
        return out

    def _clearance_grid(self) -> np.ndarray:
        from scipy.ndimage import distance_transform_edt

        solid = np.zeros(self.grid_shape, dtype=bool)
        solid[tuple(self._cells[self._solid].T)] = True
        if not solid.any():
            return np.zeros(self.grid_shape)
        return np.maximum(distance_transform_edt(solid) - np.sqrt(3.0), 0.0) * self._cell

    def _cell_points(self, count: int, rng: np.random.Generator, prob: Optional[np.ndarray] = None):
        """Random points of the candidate cells (uniform, or cells drawn with ``prob``).

        Returns
        -------
        points : (count, 3) float
        solid : (count,) bool
            Whether each lies in a solid cell.
        cell : (count,) int
            Candidate cell of each point.
        """
        if prob is None:
            pick = rng.integers(0, len(self._cells), count)
        else:
            pick = np.minimum(np.searchsorted(np.cumsum(prob), rng.random(count) * prob.sum()), len(prob) - 1)
        points = self.lower + (self._cells[pick] + rng.random((count, 3))) * self._cell
        return points, self._solid[pick], pick

    def _contains(self, Q: np.ndarray, solid: np.ndarray) -> np.ndarray:
        inside = solid.copy()
        test = np.flatnonzero(~solid)
        inside[test] = self.contains(Q[test])
        return inside

    def sample(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """Uniform random points of the domain.

        Rejection sampling in the candidate cells of a grid (see ``_candidate_cells``):
        far fewer candidates are rejected than in the bounding box, and points of cells
        wholly inside need no winding number.

        Parameters
        ----------
        count : int
        rng : numpy.random.Generator

        Returns
        -------
        (count, 3) float
        """
        found, total, rate = [], 0, 0.5
        while total < count:
            need = count - total
            batch, solid, _ = self._cell_points(int(min(_BATCH, 1.3 * need / rate + 64)), rng)
            keep = batch[self._contains(batch, solid)]
            rate = max(len(keep) / len(batch), 0.01)
            found.append(keep)
            total += len(keep)
        return np.concatenate(found)[:count]

    def sample_weighted(
        self, count: int, rng: np.random.Generator, cell_density: np.ndarray
    ) -> Tuple[np.ndarray, np.ndarray]:
        """Random domain points drawn with a density that varies by candidate cell.

        A cell is drawn with probability proportional to ``cell_density``, a point uniform
        in it, and points outside the domain are rejected; each point carries the volume
        it stands for, proportional to the inverse of its density and summing to the
        domain's volume, so ``sum_m weight_m f(x_m)`` estimates the integral of f.

        Parameters
        ----------
        count : int
        rng : numpy.random.Generator
        cell_density : (c,) float
            Relative density in each candidate cell (see :attr:`cell_centres`), > 0.

        Returns
        -------
        points : (count, 3) float
        weights : (count,) float
        """
        prob = np.asarray(cell_density, dtype=np.float64)
        prob = prob / prob.sum()
        found, cells, total, rate = [], [], 0, 0.5
        while total < count:
            need = count - total
            batch, solid, pick = self._cell_points(int(min(_BATCH, 1.3 * need / rate + 64)), rng, prob)
            keep = self._contains(batch, solid)
            rate = max(keep.mean(), 0.01)
            found.append(batch[keep])
            cells.append(pick[keep])
            total += int(keep.sum())
        points, cell = np.concatenate(found)[:count], np.concatenate(cells)[:count]
        weights = 1.0 / prob[cell]
        return points, weights * (self.volume / weights.sum())

    @property
    def element_centres(self) -> np.ndarray:
        """Centroids of the triangles (or the points of a cloud), (m, 3)."""
        return self.V if self.F is None else self.V[self.F].mean(axis=1)

    def sample_surface(
        self, count: int, rng: np.random.Generator, density: Optional[np.ndarray] = None
    ) -> Tuple[np.ndarray, np.ndarray]:
        """Random surface points with unit normals, uniform by area or with a varying density.

        Parameters
        ----------
        count : int
        rng : numpy.random.Generator
        density : (m,) float, optional
            Relative density per triangle (per point of a cloud), see :attr:`element_centres`.

        Returns
        -------
        points : (count, 3) float
        normals : (count, 3) float
            Face normals of a mesh, point normals of a cloud.

        With ``density``, also ``weights : (count,) float``: the area each point stands
        for (inverse to its density, summing to the area).
        """
        p = self.area_weights if density is None else self.area_weights * density
        p = p / p.sum()
        idx = rng.choice(len(p), size=count, p=p)
        points, normals = self._surface_points(idx, rng)
        if density is None:
            return points, normals
        weights = 1.0 / np.asarray(density, dtype=np.float64)[idx]
        return points, normals, weights * (self.area / weights.sum())

    def _surface_points(self, idx: np.ndarray, rng: np.random.Generator):
        count = len(idx)
        if self.F is None:
            return self.V[idx], self.N[idx]
        T = self.V[self.F[idx]]
        uv = rng.random((count, 2))
        flip = uv.sum(axis=1) > 1
        uv[flip] = 1 - uv[flip]
        points = T[:, 0] + uv[:, :1] * (T[:, 1] - T[:, 0]) + uv[:, 1:] * (T[:, 2] - T[:, 0])
        normals = np.cross(T[:, 1] - T[:, 0], T[:, 2] - T[:, 0])
        normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-300)
        return points, normals


def _not_wrapped(shape, axis: int, shift: int) -> np.ndarray:
    """Mask that drops the slice ``np.roll`` wrapped around along ``axis``."""
    mask = np.ones(shape, dtype=bool)
    index = [slice(None)] * 3
    index[axis] = 0 if shift > 0 else -1
    mask[tuple(index)] = False
    return mask
