"""An automatic cage around a mesh: coarse, closed, enclosing, not self-intersecting.

3D: the ``offset``-level set of the signed distance to the mesh (marching cubes,
``igl.offset_surface``), decimated by edge collapses (``igl.decimate``) to about the
requested number of vertices; vertices are then pushed outward until every mesh vertex
is strictly inside and no mesh triangle crosses the cage (a very coarse cage that stays
crossed is scaled about the mesh's centre instead).

2D (a flat mesh, or a polygon's interior triangulation): the same level set of the
signed distance to the mesh's boundary, traced by marching squares, then simplified by
Douglas–Peucker with a tolerance below the offset (so the simplified polygon cannot reach
the mesh) chosen to meet the requested vertex count.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from fieldrig.core.errors import InputError
from fieldrig.geometry.cage import Cage


def auto_cage(V, F, vertices: Optional[int] = None, offset: float = 0.04, resolution: int = 64) -> Cage:
    """Build a coarse cage that encloses a mesh.

    Parameters
    ----------
    V : (n, 3) or (n, 2) float
        Mesh vertices. A mesh whose z coordinates are all equal (or an (n, 2) array) gets a
        2D polygon cage in the xy plane.
    F : (m, 3) int
        Mesh triangles.
    vertices : int, optional
        Number of cage vertices to aim for: the cage's resolution (default 40 in 3D, 16
        in 2D). 3D cages get about this many, from 4 up to about the offset surface's
        vertex count at ``resolution``; 2D cages at most this many, from 3. Cages too
        coarse to clear the mesh by the offset are scaled about the mesh's centre until
        they enclose it.
    offset : float
        Distance from the mesh to the cage before simplification, as a fraction of the
        mesh's bounding-box diagonal.
    resolution : int
        Grid cells along the longest side for the level set.

    Returns
    -------
    Cage
        A validated cage (closed, consistently oriented, no self-intersection) with every
        mesh vertex strictly inside.

    Raises
    ------
    InputError
        Bad arguments (``vertices`` below 4 / 3 or above what the resolution gives), or no
        valid cage could be built (the message says what to change).
    """
    from fieldrig.geometry.mesh_io import validate_mesh

    V = np.asarray(V, dtype=np.float64)
    if V.ndim == 2 and V.shape[1] == 2:
        V = np.hstack([V, np.zeros((len(V), 1))])
    V, F = validate_mesh(V, F, "mesh", warnings=[])
    if F is None:
        raise InputError("mesh", "an automatic cage needs a triangle mesh, not a point cloud")
    if not (0 < offset < 1):
        raise InputError("offset", f"expected a fraction of the bounding-box diagonal in (0, 1), got {offset}")
    if resolution < 8:
        raise InputError("resolution", f"expected at least 8 grid cells, got {resolution}")
    flat = np.ptp(V[:, 2]) == 0.0
    target = int(vertices) if vertices is not None else (16 if flat else 40)
    if target < (3 if flat else 4):
        raise InputError(
            "vertices",
            f"a {'polygon' if flat else 'polyhedral'} cage needs at least {3 if flat else 4} vertices, got {target}",
        )
    if flat:
        return _polygon_cage(np.ascontiguousarray(V[:, :2]), F, target, offset, resolution)
    return _polyhedral_cage(V, F, target, offset, resolution)


# ---------------------------------------------------------------------- 3D
def _polyhedral_cage(V: np.ndarray, F: np.ndarray, target: int, offset: float, resolution: int) -> Cage:
    import igl

    diag = float(np.linalg.norm(np.ptp(V, axis=0)))
    pushed_cages = []  # in case none encloses the mesh
    for attempt in range(4):
        level = offset * diag * (1.5**attempt)
        SV, SF, *_ = igl.offset_surface(V, F, level, resolution, igl.SIGNED_DISTANCE_TYPE_WINDING_NUMBER)
        if len(SF) == 0:
            continue
        SV, SF = _largest_component(SV, SF)
        CV, CF, *_ = igl.decimate(SV, SF.astype(np.int32), max(2 * target - 4, 4))
        CV, CF = np.ascontiguousarray(CV), np.ascontiguousarray(CF, dtype=np.int64)
        CV, CF = _unreferenced_removed(CV, CF)
        if len(CV) < 0.9 * target:
            raise InputError(
                "vertices",
                f"{target} cage vertices asked for, but the offset surface at resolution {resolution} has only "
                f"{len(SV)}; ask for fewer or raise the resolution",
            )
        cage, pushed = _inflated_until_enclosing(CV, CF, V, F, level)
        if cage is not None:
            return cage
        if pushed is not None:
            pushed_cages.append(pushed)
    scaled = [c for c in (_scaled_until_enclosing(p, V, F) for p in pushed_cages) if c is not None]
    if scaled:
        return min(scaled, key=lambda c: c.diameter)
    raise InputError(
        "mesh",
        f"could not build an enclosing cage of {target} vertices; try a larger offset, a higher resolution or "
        "more vertices",
    )


def _largest_component(V: np.ndarray, F: np.ndarray):
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    edges = F[:, [0, 1, 1, 2]].reshape(-1, 2)
    _, labels = connected_components(
        coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(len(V), len(V)))
    )
    keep = np.bincount(labels[F[:, 0]]).argmax()
    return _unreferenced_removed(V, F[labels[F[:, 0]] == keep])


def _unreferenced_removed(V: np.ndarray, F: np.ndarray):
    used = np.unique(F)
    remap = -np.ones(len(V), np.int64)
    remap[used] = np.arange(len(used))
    return V[used], remap[F]


def _inflated_until_enclosing(CV, CF, V, F, level):
    """Push cage vertices outward along their normals until the mesh is strictly inside.

    Returns
    -------
    (cage or None, last valid cage or None)
        The enclosing cage, or None and the last valid pushed cage for
        :func:`_scaled_until_enclosing`.
    """
    import igl

    cage = None
    for _ in range(8):
        try:
            pushed = Cage.from_arrays(CV, CF, "automatic cage")
        except InputError:
            return None, cage
        cage = pushed
        if _encloses(cage, V, F):
            return cage, cage
        normals = igl.per_vertex_normals(cage.V, cage.F)
        CV, CF = cage.V + 0.25 * level * normals, cage.F
    return None, cage


def _scaled_until_enclosing(cage: Cage, V: np.ndarray, F: Optional[np.ndarray]) -> Optional[Cage]:
    """A very coarse cage (a handful of vertices around a shape with horns and legs) that
    pushes along normals could not free from the mesh, scaled about the mesh's centre:
    scaling keeps it valid and encloses the mesh once large enough when the cage is
    star-shaped around that centre. Up to 1.15^8 ≈ 3 times its size."""
    centre = 0.5 * (V.min(axis=0) + V.max(axis=0))
    for k in range(1, 9):
        scaled = Cage(centre + 1.15**k * (cage.V - centre), cage.F, "automatic cage")
        if _encloses(scaled, V, F):
            return scaled
    return None


def _encloses(cage: Cage, V: np.ndarray, F: Optional[np.ndarray]) -> bool:
    """Every mesh vertex strictly inside the cage and (3D, F given) no mesh triangle crossing it."""
    import igl.predicates

    if not np.all(cage.winding_numbers(V) > 0.5):
        return False
    if F is None:
        return True
    crossing, *_ = igl.predicates.find_intersections(cage.V, cage.F, V, F, True)
    return not crossing


# ---------------------------------------------------------------------- 2D
def _polygon_cage(P: np.ndarray, F: np.ndarray, target: int, offset: float, resolution: int) -> Cage:
    import igl

    boundary = igl.boundary_facets(F)[0]
    if len(boundary) == 0:
        raise InputError("mesh", "the flat mesh has no boundary")
    diag = float(np.linalg.norm(np.ptp(P, axis=0)))
    level = offset * diag
    lo, hi = P.min(axis=0) - 2 * level, P.max(axis=0) + 2 * level
    h = float(np.max(hi - lo)) / resolution
    nx, ny = np.ceil((hi - lo) / h).astype(int) + 1
    gx, gy = lo[0] + h * np.arange(nx), lo[1] + h * np.arange(ny)
    G = np.stack(np.meshgrid(gx, gy, indexing="ij"), axis=-1).reshape(-1, 2)
    S, *_ = igl.signed_distance(G, P, boundary)
    loops = _marching_squares(S.reshape(nx, ny) - level, gx, gy)
    if not loops:
        raise InputError("mesh", "could not trace the offset outline of the flat mesh")
    loop = max(loops, key=lambda L: abs(_area(L)))
    margin = level - h  # the traced outline is at least this far from the mesh
    best = None
    lo_tol, hi_tol = 0.0, 0.95 * margin
    for _ in range(30):  # largest tolerance (fewest vertices) not above target
        tol = 0.5 * (lo_tol + hi_tol)
        simple = _douglas_peucker_closed(loop, tol)
        if len(simple) <= target:
            hi_tol, best = tol, simple
        else:
            lo_tol = tol
    if best is None:
        return _coarser_polygon_cage(P, loop, target, margin, diag)
    for tol_scale in (1.0, 0.75, 0.5, 0.25):  # shrink the tolerance if simplification self-intersects
        candidate = best if tol_scale == 1.0 else _douglas_peucker_closed(loop, tol_scale * hi_tol)
        try:
            cage = Cage.from_arrays(candidate, None, "automatic cage")
        except InputError:
            continue
        if np.all(cage.winding_numbers(P) > 0.5):
            return cage
    raise InputError("mesh", "could not build an enclosing polygon cage; try a larger offset or more vertices")


def _coarser_polygon_cage(P: np.ndarray, loop: np.ndarray, target: int, margin: float, diag: float) -> Cage:
    """Fewer vertices than the offset allows: the outline simplified beyond the offset
    (the fewest-changing tolerance that reaches ``target`` vertices), then scaled until it
    encloses the mesh."""
    lo_tol, hi_tol, best = 0.95 * margin, diag, None
    for _ in range(30):
        tol = 0.5 * (lo_tol + hi_tol)
        simple = _douglas_peucker_closed(loop, tol)
        if len(simple) <= target:
            hi_tol, best = tol, simple if len(simple) >= 3 else best
        else:
            lo_tol = tol
    try:
        cage = (
            None if best is None else _scaled_until_enclosing(Cage.from_arrays(best, None, "automatic cage"), P, None)
        )
    except InputError:
        cage = None
    if cage is None:
        raise InputError(
            "vertices", f"could not build an enclosing polygon cage of at most {target} vertices; try more vertices"
        )
    return cage


def _area(loop: np.ndarray) -> float:
    x, y = loop[:, 0], loop[:, 1]
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


def _marching_squares(S: np.ndarray, gx: np.ndarray, gy: np.ndarray):
    """Closed loops of the zero level set of S (nx, ny) sampled at grid nodes (gx, gy).

    The grid is assumed to have S > 0 all along its border, so every loop closes.
    """
    inside = S < 0
    nx, ny = S.shape

    # crossing points on horizontal (i,j)-(i+1,j) and vertical (i,j)-(i,j+1) grid edges
    def point(a, b):
        (i0, j0), (i1, j1) = a, b
        s0, s1 = S[i0, j0], S[i1, j1]
        t = s0 / (s0 - s1)
        return np.array([gx[i0] + t * (gx[i1] - gx[i0]), gy[j0] + t * (gy[j1] - gy[j0])])

    segments = {}
    for i in range(nx - 1):
        for j in range(ny - 1):
            c = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)]
            code = sum(1 << k for k in range(4) if inside[c[k]])
            if code in (0, 15):
                continue
            edges = [(c[k], c[(k + 1) % 4]) for k in range(4)]
            crossing = [e for e in edges if inside[e[0]] != inside[e[1]]]
            if len(crossing) == 2:
                pairs = [tuple(crossing)]
            else:  # saddle: decide by the centre value
                centre_inside = S[i : i + 2, j : j + 2].mean() < 0
                e0, e1, e2, e3 = edges
                pairs = [(e0, e1), (e2, e3)] if centre_inside == bool(inside[c[1]]) else [(e3, e0), (e1, e2)]
            for a, b in pairs:
                ka, kb = tuple(sorted(a)), tuple(sorted(b))
                segments.setdefault(ka, []).append(kb)
                segments.setdefault(kb, []).append(ka)
    loops, seen = [], set()
    for start in segments:
        if start in seen:
            continue
        loop, prev, cur = [], None, start
        while cur not in seen:
            seen.add(cur)
            loop.append(point(*cur))
            nxt = [k for k in segments[cur] if k != prev and k not in seen]
            if not nxt:
                break
            prev, cur = cur, nxt[0]
        if len(loop) >= 3:
            loops.append(np.array(loop))
    return loops


def _douglas_peucker_closed(loop: np.ndarray, tol: float) -> np.ndarray:
    """Simplify a closed polyline: split at the two farthest-apart points, simplify both halves."""
    a = 0
    b = int(np.argmax(np.linalg.norm(loop - loop[a], axis=1)))
    first = _douglas_peucker(loop[a : b + 1], tol)
    second = _douglas_peucker(np.vstack([loop[b:], loop[:1]]), tol)
    return np.vstack([first[:-1], second[:-1]])


def _douglas_peucker(line: np.ndarray, tol: float) -> np.ndarray:
    keep = np.zeros(len(line), bool)
    keep[[0, -1]] = True
    stack = [(0, len(line) - 1)]
    while stack:
        i, j = stack.pop()
        if j <= i + 1:
            continue
        seg = line[j] - line[i]
        rel = line[i + 1 : j] - line[i]
        length = np.linalg.norm(seg)
        if length == 0:
            dist = np.linalg.norm(rel, axis=1)
        else:
            t = np.clip(rel @ seg / length**2, 0.0, 1.0)
            dist = np.linalg.norm(rel - t[:, None] * seg, axis=1)
        k = int(np.argmax(dist))
        if dist[k] > tol:
            keep[i + 1 + k] = True
            stack += [(i, i + 1 + k), (i + 1 + k, j)]
    return line[keep]
