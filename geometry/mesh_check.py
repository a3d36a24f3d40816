"""Diagnosing a mesh: topology, defects, and whether libigl's BBW (TetGen) can run on it.

Used by ``fieldrig check``, the GUI's load warnings and :func:`fieldrig.bbw_weights`.
fieldrig's own skinning accepts every mesh :func:`~fieldrig.geometry.mesh_io.clean_mesh`
accepts (after it drops collapsed, zero-area and duplicate faces); the report says what a
user should know, and what the tetrahedral reference needs. Topology is judged on the
faces that are kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from fieldrig.geometry.mesh_io import clean_mesh, weld_identical_vertices

#: Above this many faces the self-intersection test is skipped (it costs ~7 µs per face here).
SELF_INTERSECTION_FACE_LIMIT = 2_000_000


@dataclass
class MeshReport:
    """What :func:`check_mesh` found.

    Attributes
    ----------
    n_vertices, n_faces : int
    is_point_cloud : bool
    components : int
        Connected pieces (by shared vertices); a point cloud counts as 1.
    boundary_edges : int
        Edges with exactly one incident face.
    boundary_loops : int
        Holes: connected chains of boundary edges.
    non_manifold_edges : int
        Edges with three or more incident faces.
    non_manifold_vertices : int
        Vertices whose incident faces form more than one fan (e.g. two cubes touching at a corner).
    inconsistent_edges : int
        Two-face edges whose faces disagree on orientation (both traverse it the same way).
    self_intersections : int or None
        Intersecting face pairs (adjacent faces excluded); None when not checked.
    degenerate_faces : int
        Faces dropped as collapsed (a repeated vertex) or of zero area.
    duplicate_faces : int
        Faces dropped as duplicates of another face.
    duplicate_vertices : int
        Vertices at exactly the same position as an earlier vertex.
    unreferenced_vertices : int
        Vertices used by no kept face.
    closed : bool
        No boundary edges and no non-manifold edges (watertight).
    bbox_min, bbox_max : (3,) float
    bbox_diagonal : float
    bbw_feasible : bool
        Whether :func:`fieldrig.bbw_weights` (TetGen + libigl BBW) can run. It welds
        duplicate vertices first, so this is judged on the welded surface.
    bbw_reason : str
        Why not (empty when feasible).
    """

    n_vertices: int
    n_faces: int
    is_point_cloud: bool
    components: int
    boundary_edges: int
    boundary_loops: int
    non_manifold_edges: int
    non_manifold_vertices: int
    inconsistent_edges: int
    self_intersections: Optional[int]
    degenerate_faces: int
    duplicate_faces: int
    duplicate_vertices: int
    unreferenced_vertices: int
    closed: bool
    bbox_min: np.ndarray
    bbox_max: np.ndarray
    bbox_diagonal: float
    bbw_feasible: bool
    bbw_reason: str

    def summary(self) -> List[str]:
        """The report as short sentences for people, most important first."""
        if self.is_point_cloud:
            lines = [f"Point cloud: {self.n_vertices} points, no faces."]
        else:
            kind = "closed (watertight)" if self.closed else "open"
            lines = [
                f"Triangle mesh: {self.n_vertices} vertices, {self.n_faces} faces, "
                f"{self.components} connected component{'s' if self.components != 1 else ''}, {kind}."
            ]
        lines.append(
            f"Bounding box {np.array2string(self.bbox_min, precision=4)} to "
            f"{np.array2string(self.bbox_max, precision=4)}, diagonal {self.bbox_diagonal:.4g}."
        )
        for count, text in [
            (self.boundary_loops, f"{self.boundary_loops} hole(s): {self.boundary_edges} boundary edges"),
            (self.non_manifold_edges, f"{self.non_manifold_edges} non-manifold edge(s) (three or more faces meet)"),
            (
                self.non_manifold_vertices,
                f"{self.non_manifold_vertices} non-manifold vertex(es) (separate fans meet at one vertex)",
            ),
            (self.inconsistent_edges, f"{self.inconsistent_edges} edge(s) between inconsistently oriented faces"),
            (self.self_intersections or 0, f"{self.self_intersections} pair(s) of intersecting faces"),
            (self.degenerate_faces, f"{self.degenerate_faces} collapsed or zero-area face(s) dropped"),
            (self.duplicate_faces, f"{self.duplicate_faces} duplicate face(s) dropped"),
            (self.duplicate_vertices, f"{self.duplicate_vertices} duplicate vertex(es) (same position as another)"),
            (self.unreferenced_vertices, f"{self.unreferenced_vertices} vertex(es) used by no face"),
        ]:
            if count:
                lines.append(text[0].upper() + text[1:] + ".")
        if self.self_intersections is None and not self.is_point_cloud:
            lines.append(f"Self-intersections not checked (more than {SELF_INTERSECTION_FACE_LIMIT} faces).")
        if self.bbw_feasible:
            welded = " once duplicate vertices are welded" if self.duplicate_vertices else ""
            lines.append(f"libigl BBW reference can run{welded} (closed, edge-manifold, no self-intersections).")
        else:
            lines.append(f"libigl BBW reference cannot run: {self.bbw_reason}. fieldrig's skinning still works.")
        return lines


def check_mesh(V: np.ndarray, F: Optional[np.ndarray], source: str = "mesh") -> MeshReport:
    """Diagnose a triangle mesh or point cloud.

    Parameters
    ----------
    V : (n, 3) float
    F : (m, 3) int or None
        None for a point cloud.
    source : str
        Name used in error messages.

    Returns
    -------
    MeshReport

    Raises
    ------
    InputError
        When the arrays are not a valid mesh at all (see
        :func:`~fieldrig.geometry.mesh_io.validate_mesh`).
    """
    V, F, cleanup = clean_mesh(V, F, source)
    lo, hi = V.min(axis=0), V.max(axis=0)
    duplicates = len(V) - len(np.unique(V, axis=0))
    common = dict(
        n_vertices=len(V),
        bbox_min=lo,
        bbox_max=hi,
        bbox_diagonal=float(np.linalg.norm(hi - lo)),
        duplicate_vertices=duplicates,
    )
    if F is None:
        return MeshReport(
            n_faces=0,
            is_point_cloud=True,
            components=1,
            boundary_edges=0,
            boundary_loops=0,
            non_manifold_edges=0,
            non_manifold_vertices=0,
            inconsistent_edges=0,
            self_intersections=0,
            degenerate_faces=0,
            duplicate_faces=0,
            unreferenced_vertices=0,
            closed=False,
            bbw_feasible=False,
            bbw_reason="a point cloud has no surface to tetrahedralise",
            **common,
        )
    topo = _topology(V, F)
    report = MeshReport(
        n_faces=len(F),
        is_point_cloud=False,
        degenerate_faces=cleanup.collapsed + cleanup.zero_area,
        duplicate_faces=cleanup.duplicate,
        unreferenced_vertices=cleanup.unreferenced,
        bbw_feasible=False,
        bbw_reason="",
        **topo,
        **common,
    )
    if duplicates:
        Vw, Fw, _ = weld_identical_vertices(V, F)
        keep = (Fw[:, 0] != Fw[:, 1]) & (Fw[:, 1] != Fw[:, 2]) & (Fw[:, 0] != Fw[:, 2])
        topo = _topology(Vw, Fw[keep])
    report.bbw_reason = _bbw_obstacles(topo, report.unreferenced_vertices)
    report.bbw_feasible = not report.bbw_reason
    return report


def _topology(V: np.ndarray, F: np.ndarray) -> dict:
    """Edge/vertex topology counts and self-intersections of (V, F)."""
    import igl
    import igl.predicates

    n = len(V)
    directed = F[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    undirected = np.sort(directed, axis=1)
    keys = undirected[:, 0] * n + undirected[:, 1]
    uniq, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    boundary = uniq[counts == 1]
    # same directed edge used twice within a two-face edge => orientations disagree
    dkeys = directed[:, 0] * n + directed[:, 1]
    two_face = counts[inverse] == 2
    d_uniq, d_counts = np.unique(dkeys[two_face], return_counts=True)
    inconsistent = int(np.sum(d_counts > 1))

    used = np.zeros(n, bool)
    used[F.ravel()] = True
    manifold = np.ones(n, bool)
    flags = igl.is_vertex_manifold(F)  # sized by the largest index used
    manifold[: len(flags)] = flags
    non_manifold_vertices = int(np.sum(~manifold & used))

    adj = coo_matrix((np.ones(len(directed)), (directed[:, 0], directed[:, 1])), shape=(n, n))
    _, labels = connected_components(adj, directed=False)
    components = len(np.unique(labels[used]))

    loops = 0
    if len(boundary):
        a, b = boundary // n, boundary % n
        badj = coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
        _, blabels = connected_components(badj, directed=False)
        loops = len(np.unique(blabels[np.concatenate([a, b])]))

    if len(F) <= SELF_INTERSECTION_FACE_LIMIT:
        found, pairs, _ = igl.predicates.find_self_intersections(V, F)
        intersections: Optional[int] = len(pairs) if found else 0
    else:
        intersections = None
    non_manifold_edges = int(np.sum(counts > 2))
    return dict(
        components=components,
        boundary_edges=len(boundary),
        boundary_loops=loops,
        non_manifold_edges=non_manifold_edges,
        non_manifold_vertices=non_manifold_vertices,
        inconsistent_edges=inconsistent,
        self_intersections=intersections,
        closed=len(boundary) == 0 and non_manifold_edges == 0,
    )


def _bbw_obstacles(topo: dict, unreferenced: int) -> str:
    """Why TetGen/BBW cannot run on a surface with this topology ('' when it can)."""
    reasons = []
    if topo["boundary_edges"]:
        reasons.append(
            f"the surface is not closed ({topo['boundary_loops']} hole(s), {topo['boundary_edges']} boundary edges)"
        )
    if topo["non_manifold_edges"]:
        reasons.append(f"{topo['non_manifold_edges']} non-manifold edge(s)")
    if topo["self_intersections"] is None:
        reasons.append("self-intersections were not checked (mesh too large)")
    elif topo["self_intersections"]:
        reasons.append(f"the surface self-intersects ({topo['self_intersections']} face pair(s))")
    if unreferenced:
        reasons.append(f"{unreferenced} vertex(es) used by no face would get no weights")
    return "; ".join(reasons)
