"""Cages: simple polygons (2D) and closed triangulated polyhedra (3D), validated.

A cage is the control shape of a cage deformation. Its vertices ``V`` are the handles
whose positions drive every embedded point through generalized barycentric coordinates.

Conventions shared by 2D and 3D (one code path, dimension ``d``):

* ``V`` : (n, d) float64, in the order the user gave them (coordinate columns follow it).
* ``F`` : (m, d) int64 boundary cells: the polygon's edges in 2D, triangles in 3D,
  oriented so that the outward normal is on the right of an edge (counter-clockwise
  polygon) / given by the right-hand rule of a triangle. A clockwise polygon or an
  inward-facing mesh is accepted and re-oriented; the vertex order is never changed.

File formats for :func:`load_cage`:

* ``.json``: ``{"vertices": [[x, y], ...]}`` for a polygon (vertices in loop order,
  either orientation), or ``{"vertices": [[x, y, z], ...], "faces": [[i, j, k], ...]}``
  for a polyhedral cage (0-based indices).
* ``.obj`` / ``.off`` / ``.ply``: a closed triangle (or polygon, fan-triangulated) mesh
  is a 3D cage. A flat file (every ``z`` equal) is a 2D cage: one polygon face, or a flat
  triangulation whose boundary loop passes through every vertex.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Optional, Tuple, Union

import numpy as np

from fieldrig.core.atomic import atomic_write_text
from fieldrig.core.errors import InputError

PathLike = Union[str, os.PathLike]

#: Points closer than this fraction of the cage diameter to the boundary count as on it.
BOUNDARY_TOLERANCE = 1e-9


class Cage:
    """A validated cage.

    Build one with :meth:`Cage.from_arrays`, :func:`load_cage` or :func:`as_cage`; the
    constructor itself does not validate.

    Attributes
    ----------
    V : (n, d) float64
        Cage vertices, d = 2 or 3.
    F : (m, d) int64
        Boundary cells (edges in 2D, triangles in 3D), outward oriented.
    source : str
        Where the cage came from (a file name or an argument name), used in messages.
    """

    def __init__(self, V: np.ndarray, F: np.ndarray, source: str = "cage"):
        self.V = np.ascontiguousarray(V, dtype=np.float64)
        self.F = np.ascontiguousarray(F, dtype=np.int64)
        self.source = source
        self.V.setflags(write=False)
        self.F.setflags(write=False)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arrays(cls, V, F=None, source: str = "cage") -> "Cage":
        """Validate and orient a cage.

        Parameters
        ----------
        V : (n, 2) or (n, 3) array_like of float
            Polygon vertices (2D) or polyhedron vertices (3D).
        F : (m, 2) or (m, 3) array_like of int, optional
            2D: the polygon's edges; omitted means the loop ``0, 1, ..., n-1``.
            3D: the triangles (required).
        source : str
            Name used in error messages.

        Returns
        -------
        Cage

        Raises
        ------
        InputError
            Too few vertices, NaN/inf, duplicate vertices, an open or non-manifold
            boundary, inconsistent orientation, several components, self-intersections,
            degenerate cells.
        """
        try:
            V = np.array(V, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InputError(source, f"cage vertices must be numbers ({exc})") from exc
        if V.ndim != 2 or V.shape[1] not in (2, 3):
            raise InputError(
                source, f"cage vertices must be an (n, 2) polygon or an (n, 3) array with faces, got shape {V.shape}"
            )
        if not np.all(np.isfinite(V)):
            bad = int(np.argmax(~np.all(np.isfinite(V), axis=1)))
            raise InputError(source, f"cage vertex {bad} has NaN or infinite coordinates")
        if V.shape[1] == 2:
            F = _validated_polygon(V, F, source)
        else:
            F = _validated_polyhedron(V, F, source)
        return cls(V, F, source)

    # ------------------------------------------------------------------ properties
    @property
    def dim(self) -> int:
        """2 for a polygon, 3 for a polyhedron."""
        return self.V.shape[1]

    @property
    def n_vertices(self) -> int:
        return len(self.V)

    @property
    def diameter(self) -> float:
        """Length of the bounding-box diagonal."""
        return float(np.linalg.norm(np.ptp(self.V, axis=0)))

    @property
    def hash(self) -> str:
        """SHA-256 (hex) of the vertex positions and oriented cells: identifies the cage."""
        h = hashlib.sha256(b"fieldrig-cage-v1")
        h.update(np.int64(self.dim).tobytes())
        h.update(self.V.astype("<f8").tobytes())
        h.update(self.F.astype("<i8").tobytes())
        return h.hexdigest()

    @property
    def loop(self) -> np.ndarray:
        """2D only: the vertex indices in counter-clockwise loop order, (n,) int."""
        if self.dim != 2:
            raise AttributeError("loop is defined for 2D cages only")
        nxt = np.empty(len(self.V), dtype=np.int64)
        nxt[self.F[:, 0]] = self.F[:, 1]
        order = np.empty(len(self.V), dtype=np.int64)
        order[0] = self.F[0, 0]
        for k in range(1, len(order)):
            order[k] = nxt[order[k - 1]]
        return order

    def cell_measures(self) -> np.ndarray:
        """Edge lengths (2D) or triangle areas (3D), (m,) float."""
        E = self.V[self.F[:, 1:]] - self.V[self.F[:, :1]]
        if self.dim == 2:
            return np.linalg.norm(E[:, 0], axis=1)
        return 0.5 * np.linalg.norm(np.cross(E[:, 0], E[:, 1]), axis=1)

    def cell_normals(self) -> np.ndarray:
        """Outward unit normals of the boundary cells, (m, d) float."""
        E = self.V[self.F[:, 1:]] - self.V[self.F[:, :1]]
        if self.dim == 2:
            N = np.stack([E[:, 0, 1], -E[:, 0, 0]], axis=1)
        else:
            N = np.cross(E[:, 0], E[:, 1])
        return N / np.linalg.norm(N, axis=1, keepdims=True)

    @property
    def measure(self) -> float:
        """Area (2D) or volume (3D) enclosed by the cage."""
        P = self.V[self.F]
        if self.dim == 2:
            return float(0.5 * np.sum(P[:, 0, 0] * P[:, 1, 1] - P[:, 1, 0] * P[:, 0, 1]))
        return float(np.sum(np.einsum("ij,ij->i", P[:, 0], np.cross(P[:, 1], P[:, 2]))) / 6.0)

    # ------------------------------------------------------------------ queries
    def winding_numbers(self, points: np.ndarray) -> np.ndarray:
        """Winding number of the boundary around each point (1 inside, 0 outside), (k,) float."""
        import igl

        points = np.ascontiguousarray(points, dtype=np.float64)
        if len(points) == 0:
            return np.zeros(0)
        return igl.winding_number(self.V, self.F, points)

    def boundary_projection(self, points: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Closest boundary point of each query point, as barycentric weights on a cell.

        Parameters
        ----------
        points : (k, d) float

        Returns
        -------
        distance : (k,) float
            Distance to the boundary.
        cell_vertices : (k, d) int
            The vertices of the closest cell.
        weights : (k, d) float
            Barycentric weights of the closest point on that cell (non-negative, sum 1):
            the exact boundary values of any generalized barycentric coordinates there.
        """
        import igl

        points = np.ascontiguousarray(points, dtype=np.float64)
        if len(points) == 0:
            return np.zeros(0), np.zeros((0, self.dim), np.int64), np.zeros((0, self.dim))
        sq, cell, closest = igl.point_mesh_squared_distance(points, self.V, self.F)
        cell_vertices = self.F[cell]
        A = self.V[cell_vertices]  # (k, d, d): cell corners
        E = A[:, 1:] - A[:, :1]  # (k, d-1, d)
        G = np.einsum("kad,kbd->kab", E, E)  # Gram matrices
        rhs = np.einsum("kad,kd->ka", E, closest - A[:, 0])
        lam = np.linalg.solve(G, rhs[..., None])[..., 0]
        weights = np.concatenate([1.0 - lam.sum(axis=1, keepdims=True), lam], axis=1)
        weights = np.clip(weights, 0.0, None)
        weights /= weights.sum(axis=1, keepdims=True)
        return np.sqrt(np.maximum(sq, 0.0)), cell_vertices, weights

    def boundary_values(self, cell_vertices: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Dense coordinates of boundary points from :meth:`boundary_projection`'s cells.

        Parameters
        ----------
        cell_vertices : (k, d) int
        weights : (k, d) float

        Returns
        -------
        (k, n) float
        """
        out = np.zeros((len(cell_vertices), self.n_vertices))
        np.add.at(out, (np.repeat(np.arange(len(out)), self.dim), cell_vertices.ravel()), weights.ravel())
        return out

    def check_inside(self, points, source: str = "points") -> np.ndarray:
        """Validate query points: finite, right dimension, inside or on the cage.

        Parameters
        ----------
        points : (k, d) array_like of float
        source : str
            Name used in error messages.

        Returns
        -------
        (k, d) float64
            The points as a contiguous array.

        Raises
        ------
        InputError
            Wrong shape, NaN/inf, or some points outside the cage (the message counts them
            and names the first).
        """
        try:
            P = np.ascontiguousarray(points, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InputError(source, f"points must be numbers ({exc})") from exc
        if P.ndim != 2 or P.shape[1] != self.dim:
            shape = P.shape if P.ndim == 2 else f"{P.shape}"
            raise InputError(
                source, f"points must be a (k, {self.dim}) array for a {self.dim}D cage, got shape {shape}"
            )
        if not np.all(np.isfinite(P)):
            raise InputError(
                source, f"point {int(np.argmax(~np.all(np.isfinite(P), axis=1)))} has NaN or infinite coordinates"
            )
        outside = self.winding_numbers(P) < 0.5
        if np.any(outside):
            dist, _, _ = self.boundary_projection(P[outside])
            on_boundary = dist <= BOUNDARY_TOLERANCE * self.diameter
            idx = np.flatnonzero(outside)[~on_boundary]
            if len(idx):
                far = dist[~on_boundary]
                raise InputError(
                    source,
                    f"{len(idx)} of {len(P)} points lie outside the cage (first: point {int(idx[0])} "
                    f"at {P[idx[0]].tolist()}, {float(far[0]):.3g} outside; largest distance "
                    f"{float(far.max()):.3g}, cage diameter {self.diameter:.3g})",
                )
        return P

    # ------------------------------------------------------------------ sampling
    def sample_interior(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """Uniform random points strictly inside the cage, (count, d) float."""
        lo, hi = self.V.min(axis=0), self.V.max(axis=0)
        box = float(np.prod(hi - lo))
        fraction = min(max(self.measure / box, 0.01), 1.0)
        out, have = [], 0
        while have < count:
            batch = int((count - have) / fraction * 1.2) + 16
            P = lo + (hi - lo) * rng.random((batch, self.dim))
            P = P[self.winding_numbers(P) > 0.5]
            out.append(P)
            have += len(P)
        return np.concatenate(out)[:count]

    def sample_boundary(self, count: int, rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Uniform random points on the boundary.

        Returns
        -------
        points : (count, d) float
        cells : (count,) int
            Index of the boundary cell each point lies on.
        weights : (count, d) float
            Barycentric weights of the point on its cell.
        """
        area = self.cell_measures()
        cells = rng.choice(len(self.F), size=count, p=area / area.sum())
        if self.dim == 2:
            t = rng.random(count)
            weights = np.stack([1.0 - t, t], axis=1)
        else:
            r1, r2 = np.sqrt(rng.random(count)), rng.random(count)
            weights = np.stack([1.0 - r1, r1 * (1.0 - r2), r1 * r2], axis=1)
        points = np.einsum("kc,kcd->kd", weights, self.V[self.F[cells]])
        return points, cells, weights

    def __repr__(self) -> str:
        kind = "polygon" if self.dim == 2 else "polyhedron"
        return f"Cage({kind}, {self.n_vertices} vertices, {len(self.F)} cells, source={self.source!r})"


# ---------------------------------------------------------------------- validation
def _check_duplicates(V: np.ndarray, source: str) -> None:
    from scipy.spatial import cKDTree

    tol = 1e-9 * float(np.linalg.norm(np.ptp(V, axis=0)))
    pairs = cKDTree(V).query_pairs(max(tol, 1e-300), output_type="ndarray")
    if len(pairs):
        i, j = sorted(pairs[0].tolist())
        raise InputError(
            source, f"{len(pairs)} pair(s) of cage vertices coincide (first: vertices {i} and {j} at {V[i].tolist()})"
        )


def _validated_polygon(V: np.ndarray, F, source: str) -> np.ndarray:
    n = len(V)
    if n < 3:
        raise InputError(source, f"a polygon cage needs at least 3 vertices, got {n}")
    if F is None:
        F = np.stack([np.arange(n), (np.arange(n) + 1) % n], axis=1)
    F = np.asarray(F)
    if F.ndim != 2 or F.shape[1] != 2 or not np.issubdtype(F.dtype, np.integer):
        raise InputError(source, f"polygon edges must be an (m, 2) integer array, got shape {F.shape}")
    F = F.astype(np.int64)
    if F.min() < 0 or F.max() >= n:
        raise InputError(source, f"a polygon edge refers to a vertex outside 0..{n - 1}")
    _check_duplicates(V, source)
    # one closed loop through every vertex
    out_deg = np.bincount(F[:, 0], minlength=n)
    in_deg = np.bincount(F[:, 1], minlength=n)
    if len(F) != n or np.any(out_deg != 1) or np.any(in_deg != 1):
        raise InputError(
            source, f"polygon edges must form one closed loop through every vertex ({len(F)} edges for {n} vertices)"
        )
    nxt = np.empty(n, np.int64)
    nxt[F[:, 0]] = F[:, 1]
    seen, v = 1, nxt[0]
    while v != 0:
        seen, v = seen + 1, nxt[v]
    if seen != n:
        raise InputError(
            source, f"polygon edges form several loops (the loop through vertex 0 has {seen} of {n} vertices)"
        )
    # self-intersections: any two non-adjacent edges that touch, adjacent edges that fold back
    A, B = V[F[:, 0]], V[F[:, 1]]
    diam = float(np.linalg.norm(np.ptp(V, axis=0)))
    i, j = np.triu_indices(n, k=1)
    adjacent = (F[i, 1] == F[j, 0]) | (F[j, 1] == F[i, 0])
    hit = _segments_touch(A[i], B[i], A[j], B[j], 1e-12 * diam * diam) & ~adjacent
    fold = _adjacent_fold(A, B, F, nxt)
    if np.any(hit):
        k = int(np.argmax(hit))
        raise InputError(
            source,
            f"the polygon self-intersects: edges {F[i[k]].tolist()} and {F[j[k]].tolist()} cross or touch "
            f"({int(hit.sum())} crossing pair(s))",
        )
    if fold is not None:
        raise InputError(source, f"the polygon folds back on itself at vertex {fold} (its two edges overlap)")
    area = 0.5 * float(np.sum(A[:, 0] * B[:, 1] - B[:, 0] * A[:, 1]))
    if abs(area) <= 1e-12 * diam * diam:
        raise InputError(source, "the polygon has zero area")
    return F if area > 0 else F[:, ::-1].copy()


def _cross2(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]


def _segments_touch(a, b, c, d, eps: float) -> np.ndarray:
    """Whether closed segments ab and cd intersect (including touching), vectorised."""
    d1, d2 = _cross2(b - a, c - a), _cross2(b - a, d - a)
    d3, d4 = _cross2(d - c, a - c), _cross2(d - c, b - c)
    proper = (((d1 > eps) & (d2 < -eps)) | ((d1 < -eps) & (d2 > eps))) & (
        ((d3 > eps) & (d4 < -eps)) | ((d3 < -eps) & (d4 > eps))
    )

    def on_segment(p, q, r, orient):  # r on segment pq, given orient = cross(q - p, r - p)
        within = np.all((np.minimum(p, q) - 1e-12 <= r) & (r <= np.maximum(p, q) + 1e-12), axis=-1)
        return (np.abs(orient) <= eps) & within

    return (
        proper | on_segment(a, b, c, d1) | on_segment(a, b, d, d2) | on_segment(c, d, a, d3) | on_segment(c, d, b, d4)
    )


def _adjacent_fold(A: np.ndarray, B: np.ndarray, F: np.ndarray, nxt: np.ndarray) -> Optional[int]:
    """A vertex where the polygon turns back by 180° (its edges overlap), else None."""
    edge_of = np.empty(len(F), np.int64)
    edge_of[F[:, 0]] = np.arange(len(F))
    u = B - A  # edge k: F[k,0] -> F[k,1]
    w = u[edge_of[F[:, 1]]]  # the edge leaving F[k,1]
    cross = _cross2(u, w)
    dot = np.sum(u * w, axis=1)
    scale = np.linalg.norm(u, axis=1) * np.linalg.norm(w, axis=1)
    folds = (np.abs(cross) <= 1e-12 * scale) & (dot < 0)
    return int(F[int(np.argmax(folds)), 1]) if np.any(folds) else None


def _validated_polyhedron(V: np.ndarray, F, source: str) -> np.ndarray:
    from fieldrig.geometry.mesh_check import check_mesh

    if F is None:
        raise InputError(source, "a 3D cage needs triangles: pass (V, F)")
    if len(V) < 4:
        raise InputError(source, f"a polyhedral cage needs at least 4 vertices, got {len(V)}")
    report = check_mesh(V, F, source)  # validates shapes and indices
    F = np.ascontiguousarray(F, dtype=np.int64)
    problems = []
    if report.degenerate_faces:
        problems.append(f"{report.degenerate_faces} zero-area triangle(s)")
    if report.unreferenced_vertices:
        problems.append(f"{report.unreferenced_vertices} vertex(es) used by no triangle")
    if report.boundary_edges:
        problems.append(f"it is not closed ({report.boundary_loops} hole(s), {report.boundary_edges} boundary edges)")
    if report.non_manifold_edges or report.non_manifold_vertices:
        problems.append(
            f"it is not manifold ({report.non_manifold_edges} edge(s), {report.non_manifold_vertices} vertex(es))"
        )
    if report.inconsistent_edges:
        problems.append(f"its triangles are not consistently oriented ({report.inconsistent_edges} edge(s) disagree)")
    if report.components > 1:
        problems.append(f"it has {report.components} separate pieces (a cage is one closed surface)")
    if report.self_intersections:
        problems.append(f"it self-intersects ({report.self_intersections} triangle pair(s))")
    if problems:
        raise InputError(source, "invalid cage: " + "; ".join(problems))
    _check_duplicates(V, source)
    P = V[F]
    volume = float(np.sum(np.einsum("ij,ij->i", P[:, 0], np.cross(P[:, 1], P[:, 2])))) / 6.0
    diam = float(np.linalg.norm(np.ptp(V, axis=0)))
    if abs(volume) <= 1e-12 * diam**3:
        raise InputError(source, "the cage encloses no volume")
    return F if volume > 0 else F[:, ::-1].copy()


# ---------------------------------------------------------------------- files
def load_cage(path: PathLike) -> Cage:
    """Read and validate a cage from ``.json``, ``.obj``, ``.off`` or ``.ply``.

    Parameters
    ----------
    path : str or PathLike

    Returns
    -------
    Cage

    Raises
    ------
    InputError
        Missing or unreadable file, unknown format, or an invalid cage (see
        :meth:`Cage.from_arrays`); the message names the file.
    """
    from fieldrig.core.files import user_path

    path = user_path(path)
    source = str(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        from fieldrig.core.files import read_json

        data = read_json(path, "cage")
        if not isinstance(data, dict) or "vertices" not in data:
            raise InputError(source, "a cage JSON needs a top-level object with a 'vertices' list")
        try:
            V = np.array(data["vertices"], dtype=np.float64)
            F = None if data.get("faces") is None else np.array(data["faces"], dtype=np.int64)
        except (TypeError, ValueError) as exc:
            raise InputError(
                source, f"'vertices' must be a list of 2 or 3 numbers each, 'faces' of 3 integers ({exc})"
            ) from exc
        return Cage.from_arrays(V, F, source)
    if suffix not in (".obj", ".off", ".ply"):
        raise InputError(
            source, f"unknown cage format {suffix or '(no suffix)'!r} (expected .json, .obj, .off or .ply)"
        )
    from fieldrig.geometry.mesh_io import load_mesh

    mesh = load_mesh(path)
    if mesh.F is None:
        raise InputError(source, "the file has no faces: a cage needs a polygon or a closed triangle mesh")
    if np.ptp(mesh.V[:, 2]) == 0.0:
        return Cage.from_arrays(mesh.V[:, :2], _flat_boundary_loop(mesh.F, len(mesh.V), source), source)
    return Cage.from_arrays(mesh.V, mesh.F, source)


def _flat_boundary_loop(F: np.ndarray, n: int, source: str) -> np.ndarray:
    """The boundary edges of a flat triangulation, which must be one loop through every vertex."""
    directed = F[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    keys = np.minimum(directed[:, 0], directed[:, 1]) * n + np.maximum(directed[:, 0], directed[:, 1])
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    boundary = directed[counts[inverse] == 1]
    if len(np.unique(boundary)) != n:
        raise InputError(
            source,
            f"a flat file is read as a 2D polygon cage, but {n - len(np.unique(boundary))} of its "
            f"{n} vertices are not on the boundary (save the polygon as one face)",
        )
    return boundary


def save_cage(cage: Cage, path: PathLike) -> None:
    """Write a cage to ``.json`` or ``.obj`` (atomically); :func:`load_cage` reads it back.

    Parameters
    ----------
    cage : Cage
    path : str or PathLike
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        data = {"vertices": cage.V.tolist()}
        if cage.dim == 3:
            data["faces"] = cage.F.tolist()
        atomic_write_text(path, json.dumps(data, indent=1) + "\n")
    elif suffix == ".obj":
        V3 = cage.V if cage.dim == 3 else np.hstack([cage.V, np.zeros((cage.n_vertices, 1))])
        lines = [f"v {x:.17g} {y:.17g} {z:.17g}" for x, y, z in V3]
        faces = [cage.loop] if cage.dim == 2 else cage.F
        lines += ["f " + " ".join(str(int(i) + 1) for i in face) for face in faces]
        atomic_write_text(path, "\n".join(lines) + "\n")
    else:
        raise InputError(str(path), f"unknown cage format {suffix or '(no suffix)'!r} (expected .json or .obj)")


def as_cage(cage, source: str = "cage") -> Cage:
    """Turn what the public API accepts into a :class:`Cage`.

    Parameters
    ----------
    cage : Cage, str, PathLike, (n, 2) array_like or (V, F) tuple
        A cage object, a cage file, a polygon's vertices in loop order, or a 3D cage's
        vertices and triangles.
    source : str
        Name used in error messages for arrays.

    Returns
    -------
    Cage
    """
    if isinstance(cage, Cage):
        return cage
    if isinstance(cage, (str, os.PathLike)):
        return load_cage(cage)
    if isinstance(cage, tuple) and len(cage) == 2:
        return Cage.from_arrays(cage[0], cage[1], source)
    V = np.asarray(cage, dtype=np.float64) if not isinstance(cage, dict) else None
    if V is None or V.ndim != 2:
        raise InputError(source, "expected a Cage, a cage file, an (n, 2) polygon array or a (V, F) tuple")
    if V.shape[1] == 3:
        raise InputError(source, "an (n, 3) array is not a cage by itself: pass (V, F) with the cage's triangles")
    return Cage.from_arrays(V, None, source)
