"""Families of triangulations of a cage's vertices: the candidate simplices of the
neural barycentric coordinates.

A regular triangulation of the cage vertices (the projection of the lower convex hull of
the vertices lifted to heights ``h``) covers their convex hull, hence the whole cage; its
piecewise-linear hat functions are valid generalized barycentric coordinates that vary
continuously. The field mixes the simplex that contains a point in each triangulation of
a family, so a point has exactly one candidate per triangulation and no ``C(n, d+1)``
enumeration is ever needed.

The family holds three kinds of triangulations:

* the Delaunay triangulation (heights ``|v|²``);
* random regular triangulations (``|v|²`` scaled by a random factor plus noise), which
  supply simplices that reach across the cage and outside non-convex cages — without
  those, harmonic coordinates of non-convex cages are not representable;
* for boundary cells ``f`` (edge or triangle) and vertices ``a`` on their inner
  side, a triangulation that contains the simplex ``f ∪ {a}`` (lift ``f ∪ {a}`` to 0 and
  every other vertex above): every cage boundary point then lies on a facet of some
  triangulation, which is what makes exact boundary interpolation possible on non-convex
  cages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Optional

import numpy as np

from fieldrig.core.errors import InputError
from fieldrig.geometry.cage import Cage


@dataclass
class TriangulationFamily:
    """Several triangulations of the same cage vertices.

    Attributes
    ----------
    simplices : (S, d+1) int
        The distinct simplices of all triangulations (sorted vertex indices).
    members : (L, T) int
        Triangulation ``l`` consists of ``simplices[members[l, :counts[l]]]``; the rest of
        the row is padding (-1).
    counts : (L,) int
        Number of simplices of each triangulation.
    heights : (L, n) float
        The lifting heights that define each triangulation (its lower convex hull).
    """

    simplices: np.ndarray
    members: np.ndarray
    counts: np.ndarray
    heights: np.ndarray

    @property
    def n_triangulations(self) -> int:
        return len(self.members)


def regular_triangulation(points: np.ndarray, heights: np.ndarray) -> np.ndarray:
    """The regular triangulation of points lifted to the given heights.

    Parameters
    ----------
    points : (n, d) float
    heights : (n,) float
        Must be in general position (no d+2 lifted points on a common hyperplane near
        the lower hull); :func:`lower_hull_violation` tells.

    Returns
    -------
    (T, d+1) int
        Full-dimensional simplices of the lower convex hull of ``(points, heights)``,
        projected back. Points lifted above that hull are not used.
    """
    from scipy.spatial import ConvexHull

    n, d = points.shape
    if n == d + 1:
        return np.arange(n)[None, :]
    lifted = np.hstack([points, heights[:, None]])
    hull = ConvexHull(lifted, qhull_options="Qt Qc")
    lower = hull.equations[:, -2] < -1e-12
    simplices = hull.simplices[lower]
    return simplices[_volumes(points, simplices) > 1e-12 * _volume_scale(points)]


def lower_hull_violation(points: np.ndarray, heights: np.ndarray, simplices: np.ndarray) -> float:
    """How far the lifted triangulation bends down across any of its interior faces.

    Zero (up to rounding) exactly when the lifted piecewise-linear surface is convex, i.e.
    when the simplex containing a point is the one whose plane is highest there (local
    convexity at every face implies it globally). Vertices the triangulation does not use
    do not matter for that.

    Returns
    -------
    float
        The largest height by which the far vertex of a neighbouring simplex lies below
        a simplex's plane (0 when none does).
    """
    d = points.shape[1]
    A = np.concatenate([points[simplices], np.ones((len(simplices), d + 1, 1))], axis=2)
    planes = np.linalg.solve(A, heights[simplices][..., None])[..., 0]  # (T, d+1)
    neighbours = face_neighbours(simplices, len(points))
    t, j = np.nonzero(neighbours >= 0)
    other = simplices[neighbours[t, j]]  # the neighbour's far vertex is the one not in simplex t
    far = other[~np.any(other[:, :, None] == simplices[t][:, None, :], axis=2)]
    below = np.einsum("kc,kc->k", planes[t, :d], points[far]) + planes[t, d] - heights[far]
    return float(max(below.max(initial=0.0), 0.0))


def face_neighbours(simplices: np.ndarray, n: int) -> np.ndarray:
    """Across-face neighbours in one triangulation: (T, d+1) simplex indices, -1 on its hull.

    Parameters
    ----------
    simplices : (T, d+1) int
        Sorted vertex lists (equal faces then have equal rows).
    n : int
        Number of vertices.

    Returns
    -------
    (T, d+1) int
        Entry ``[t, j]`` is the simplex sharing the face of ``simplices[t]`` opposite its
        corner ``j``.
    """
    T, k = simplices.shape
    faces = np.stack([np.delete(simplices, j, axis=1) for j in range(k)], axis=1).reshape(-1, k - 1)
    keys = faces @ (n ** np.arange(k - 2, -1, -1, dtype=np.int64))
    order = np.argsort(keys, kind="stable")
    same = keys[order[1:]] == keys[order[:-1]]
    a, b = order[:-1][same], order[1:][same]
    out = -np.ones(T * k, dtype=np.int64)
    out[a], out[b] = b // k, a // k
    return out.reshape(T, k)


def _generic_regular_triangulation(points: np.ndarray, heights: np.ndarray, rng: np.random.Generator, source: str):
    """Regular triangulation, perturbing tied heights until it is well defined.

    The tolerance, 1e-8 of the unit-size heights, is rounding in the planes of slivers
    (up to 3e-9 measured on 640- and 3,000-vertex cages): a point that the plane test
    then puts in a neighbouring simplex is caught by the locator's barycentric check.
    """
    fixed = heights == 0.0
    for attempt in range(8):
        simplices = regular_triangulation(points, heights)
        if lower_hull_violation(points, heights, simplices) <= 1e-8:
            return simplices, heights
        heights = heights + np.where(fixed, 0.0, 10.0 ** (attempt - 6) * rng.random(len(heights)))
    raise InputError(source, "could not triangulate the cage vertices (are many of them on a common sphere or plane?)")


def cage_triangulations(
    cage: Cage,
    random_triangulations: int = 16,
    apexes_per_cell: Optional[int] = None,
    seed: int = 0,
    progress: Optional[Callable[[int], None]] = None,
) -> TriangulationFamily:
    """Build the triangulation family of a cage (see the module text).

    Parameters
    ----------
    cage : Cage
    random_triangulations : int
        Number of random regular triangulations (besides the Delaunay one).
    apexes_per_cell : int or None
        None: for every boundary cell and every inner-side vertex, a triangulation forcing
        that simplex. An integer k: forced triangulations are added only until every cell is
        a facet of at least k triangulations of the family (cells on the convex hull, or
        that the Delaunay triangulation happens to contain, need none), which keeps the
        family small on large 3D cages.
    seed : int
        Seeds the random heights and apex choices.
    progress : callable, optional
        Called with the number of triangulations built so far, after each one.

    Returns
    -------
    TriangulationFamily
    """
    rng = np.random.default_rng(seed)
    V = (cage.V - cage.V.mean(axis=0)) / (0.5 * cage.diameter)  # unit-size, centred
    n, d = V.shape
    sq = np.sum(V * V, axis=1)
    lifts: List[np.ndarray] = [sq + 1e-6 * rng.random(n)]
    for _ in range(random_triangulations):
        lifts.append(sq * rng.uniform(0.0, 2.0) + rng.normal(0.0, rng.uniform(0.05, 0.5), n))
    tri = []
    for k, h in enumerate(lifts):
        simplices, lifts[k] = _generic_regular_triangulation(V, h, rng, cage.source)
        tri.append(np.sort(simplices, axis=1))
        if progress is not None:
            progress(len(tri))
    cells = np.sort(cage.F, axis=1)
    covered = np.zeros(len(cells), np.int64)
    for t in tri:
        covered += _facet_mask(t, cells, n)
    normals = cage.cell_normals()
    for f in rng.permutation(len(cells)):
        if apexes_per_cell is not None and covered[f] >= apexes_per_cell:
            continue
        cell = cage.F[f]
        inner = np.flatnonzero((V - V[cell[0]]) @ -normals[f] > 1e-9)
        inner = inner[_simplex_quality(V, np.hstack([np.repeat(cell[None], len(inner), 0), inner[:, None]])) > 1e-3]
        inner = rng.permutation(inner)
        if apexes_per_cell is not None:  # only as many as needed for the cell to lie on that many facets
            inner = inner[: max(apexes_per_cell - covered[f], 0)]
        for a in inner:
            forced = np.append(cell, a)
            centre = V[forced].mean(axis=0)
            h = np.sum((V - centre) ** 2, axis=1) * rng.uniform(0.5, 1.5) + 0.05 + 1e-3 * rng.random(n)
            h[forced] = 0.0
            simplices, h = _generic_regular_triangulation(V, h, rng, cage.source)
            lifts.append(h)
            tri.append(np.sort(simplices, axis=1))
            covered += _facet_mask(tri[-1], cells, n)
            if progress is not None:
                progress(len(tri))
    tri, lifts = _distinct(tri, lifts)
    counts = np.array([len(t) for t in tri])
    allsimp = np.concatenate(tri)
    simplices, inverse = np.unique(allsimp, axis=0, return_inverse=True)
    members = -np.ones((len(tri), counts.max()), dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    for l in range(len(tri)):
        members[l, : counts[l]] = inverse.reshape(-1)[offsets[l] : offsets[l + 1]]
    return TriangulationFamily(simplices.astype(np.int64), members, counts, np.stack(lifts))


def _distinct(tri: List[np.ndarray], lifts: List[np.ndarray]):
    """The triangulations without repeats (few-vertex cages have few triangulations: a
    tetrahedron has one), with their heights."""
    seen, keep = set(), []
    for k, t in enumerate(tri):
        key = t[np.lexsort(t.T[::-1])].tobytes()  # rows are sorted vertex lists; sort the rows too
        if key not in seen:
            seen.add(key)
            keep.append(k)
    return [tri[k] for k in keep], [lifts[k] for k in keep]


def _facet_mask(simplices: np.ndarray, cells: np.ndarray, n: int) -> np.ndarray:
    """Which boundary cells (sorted (m, d) vertex lists) are faces of a triangulation's simplices."""
    k = simplices.shape[1]
    faces = np.concatenate([np.delete(simplices, j, axis=1) for j in range(k)])  # sorted rows stay sorted
    weights = n ** np.arange(k - 2, -1, -1)
    return np.isin(cells @ weights, faces @ weights)


def _volume_scale(points: np.ndarray) -> float:
    return float(np.prod(np.ptp(points, axis=0)))


def _volumes(points: np.ndarray, simplices: np.ndarray) -> np.ndarray:
    """Unsigned volumes (areas in 2D) of simplices, (T,) float."""
    E = points[simplices[:, 1:]] - points[simplices[:, :1]]
    return np.abs(np.linalg.det(E))


def _simplex_quality(points: np.ndarray, simplices: np.ndarray) -> np.ndarray:
    """Volume over (mean edge length)^d, normalised to 1 for a regular simplex; (T,) float."""
    d = points.shape[1]
    P = points[simplices]
    i, j = np.triu_indices(d + 1, k=1)
    mean_edge = np.linalg.norm(P[:, i] - P[:, j], axis=2).mean(axis=1)
    regular = {2: np.sqrt(3.0) / 2.0, 3: 1.0 / np.sqrt(2.0)}[d]  # |det| of a unit regular simplex
    return _volumes(points, simplices) / (regular * mean_edge**d + 1e-300)
