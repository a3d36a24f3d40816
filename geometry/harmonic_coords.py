"""Harmonic coordinates by finite elements: the reference the neural coordinates are held to.

The cage interior is triangulated (2D, Triangle via ``igl.triangle``) or tetrahedralised
(3D, TetGen via ``igl.copyleft.tetgen``) with a bound on the element size; each coordinate
function solves Laplace's equation with piecewise-linear P1 elements (``igl.harmonic``),
with the exact cage boundary values at every boundary node (one-hot at cage vertices,
linear along edges / faces, also at nodes the mesher added on the boundary). Query points
are located in the mesh and the P1 solution is interpolated there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from fieldrig.core.errors import InputError
from fieldrig.geometry.cage import BOUNDARY_TOLERANCE, Cage, as_cage

#: Default number of elements the mesh aims for (2D triangles, 3D tetrahedra).
DEFAULT_ELEMENTS = {2: 40_000, 3: 150_000}


@dataclass
class HarmonicSolution:
    """P1 harmonic coordinates on a simplicial mesh of the cage interior.

    Attributes
    ----------
    nodes : (N, d) float
        Mesh nodes; the first n are the cage vertices.
    elements : (E, d+1) int
        Triangles (2D) or tetrahedra (3D).
    values : (N, n) float
        Harmonic coordinates at the nodes.
    """

    nodes: np.ndarray
    elements: np.ndarray
    values: np.ndarray

    def evaluate(self, points: np.ndarray) -> np.ndarray:
        """Interpolate the coordinates at points inside the mesh, (k, n) float."""
        element, bary = locate_in_simplices(self.nodes, self.elements, points)
        return np.einsum("kc,kcn->kn", bary, self.values[self.elements[element]])


def harmonic_coordinates(cage, points, elements: Optional[int] = None) -> np.ndarray:
    """Harmonic coordinates of a cage at points inside it, by P1 finite elements.

    Parameters
    ----------
    cage : Cage, path, (n, 2) array or (V, F) tuple
        See :func:`fieldrig.geometry.cage.as_cage`.
    points : (k, d) float
        Query points inside the cage (or on its boundary).
    elements : int, optional
        Number of mesh elements to aim for; default 40,000 triangles in 2D and 150,000
        tetrahedra in 3D. The error against the exact harmonic coordinates shrinks as it
        grows.

    Returns
    -------
    (k, n) float
        Row i holds the coordinates of point i, one column per cage vertex.

    Raises
    ------
    InputError
        Invalid cage, points outside it, or a mesher failure.
    """
    cage = as_cage(cage)
    P = cage.check_inside(points)
    return harmonic_solution(cage, elements).evaluate(P)


def harmonic_solution(cage: Cage, elements: Optional[int] = None) -> HarmonicSolution:
    """Mesh the cage interior and solve for its harmonic coordinates at the nodes.

    Parameters
    ----------
    cage : Cage
    elements : int, optional
        See :func:`harmonic_coordinates`.

    Returns
    -------
    HarmonicSolution
    """
    import igl

    target = int(elements or DEFAULT_ELEMENTS[cage.dim])
    if target < 1:
        raise InputError("elements", f"expected a positive number of elements, got {elements}")
    size = cage.measure / target
    if cage.dim == 2:
        import igl.triangle

        # equilateral triangles of area `size` fill the polygon with about `target` of them
        nodes, elems, *_ = igl.triangle.triangulate(cage.V, cage.F, flags=f"pq30a{_plain(size)}Q")
    else:
        import igl.copyleft.tetgen

        # regular tetrahedra of volume ~ size / 3 reach about `target` elements
        nodes, elems, *_ = igl.copyleft.tetgen.tetrahedralize(cage.V, cage.F, flags=f"pq1.414a{_plain(size * 3.0)}Q")
    if len(elems) == 0 or not np.allclose(nodes[: cage.n_vertices], cage.V):
        raise InputError(cage.source, "the mesher failed to mesh the cage interior")
    dist, cells, weights = cage.boundary_projection(nodes)
    boundary = np.flatnonzero(dist <= BOUNDARY_TOLERANCE * cage.diameter)
    bc = cage.boundary_values(cells[boundary], weights[boundary])
    bc[boundary < cage.n_vertices] = np.eye(cage.n_vertices)[boundary[boundary < cage.n_vertices]]
    values = igl.harmonic(nodes, elems, boundary, bc, 1)
    return HarmonicSolution(nodes, elems, values)


def _plain(x: float) -> str:
    """A number without exponent notation (Triangle and TetGen do not parse ``1e-05``)."""
    return np.format_float_positional(x, precision=12, unique=False, fractional=False, trim="-")


def locate_in_simplices(nodes: np.ndarray, elements: np.ndarray, points: np.ndarray):
    """Find the simplex containing each point and its barycentric coordinates there.

    Parameters
    ----------
    nodes : (N, d) float
    elements : (E, d+1) int
        Triangles (d = 2) or tetrahedra (d = 3) covering the points.
    points : (k, d) float

    Returns
    -------
    element : (k,) int
    bary : (k, d+1) float
        Barycentric coordinates in that element (non-negative up to rounding, sum 1).

    Raises
    ------
    InputError
        A point lies in no element.
    """
    from scipy.spatial import cKDTree

    d = nodes.shape[1]
    corners = nodes[elements]
    origin = corners[:, 0]
    inv = np.linalg.inv(np.swapaxes(corners[:, 1:] - origin[:, None], 1, 2))  # (E, d, d)

    def bary(elem: np.ndarray, P: np.ndarray) -> np.ndarray:
        lam = np.einsum("...ij,...j->...i", inv[elem], P - origin[elem])
        return np.concatenate([1.0 - lam.sum(axis=-1, keepdims=True), lam], axis=-1)

    k = min(16, len(elements))
    _, near = cKDTree(corners.mean(axis=1)).query(points, k=k)
    near = near.reshape(len(points), k)
    lam = bary(near, points[:, None, :])  # (k_pts, k, d+1)
    best = np.argmax(lam.min(axis=-1), axis=1)
    element = near[np.arange(len(points)), best]
    result = lam[np.arange(len(points)), best]
    missed = np.flatnonzero(result.min(axis=1) < -1e-9)
    for start in range(0, len(missed), 256):  # rare: search every element
        idx = missed[start : start + 256]
        all_lam = bary(np.arange(len(elements))[None, :], points[idx, None, :])
        b = np.argmax(all_lam.min(axis=-1), axis=1)
        element[idx] = b
        result[idx] = all_lam[np.arange(len(idx)), b]
    outside = result.min(axis=1) < -1e-7 * max(1.0, d)
    if np.any(outside):
        raise InputError(
            "points", f"{int(outside.sum())} points lie in no mesh element (first: point {int(np.argmax(outside))})"
        )
    result = np.clip(result, 0.0, None)
    return element, result / result.sum(axis=1, keepdims=True)
