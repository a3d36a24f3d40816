"""check_mesh: counts on tiny meshes with known defects; handles_outside."""

import numpy as np
import pytest
import trimesh

from fieldrig.core.errors import InputError
from fieldrig.geometry.handle_placement import handles_outside
from fieldrig.geometry.mesh_check import check_mesh
from fieldrig.geometry.rig import Rig


@pytest.fixture
def box():
    b = trimesh.creation.box()
    return np.asarray(b.vertices), np.asarray(b.faces)


def test_closed_box_is_clean_and_bbw_feasible(box):
    V, F = box
    r = check_mesh(V, F)
    assert (r.n_vertices, r.n_faces, r.components) == (8, 12, 1)
    assert r.closed and r.bbw_feasible and r.bbw_reason == ""
    assert (
        r.boundary_loops,
        r.non_manifold_edges,
        r.non_manifold_vertices,
        r.self_intersections,
        r.degenerate_faces,
        r.duplicate_vertices,
        r.inconsistent_edges,
    ) == (0, 0, 0, 0, 0, 0, 0)
    assert r.bbox_diagonal == pytest.approx(np.sqrt(3))
    assert any("closed" in s for s in r.summary())


def _without_sides(V, F, *normals):
    n = np.cross(V[F[:, 1]] - V[F[:, 0]], V[F[:, 2]] - V[F[:, 0]])
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    drop = np.zeros(len(F), bool)
    for d in normals:
        drop |= n @ np.asarray(d, float) > 0.99
    return F[~drop]


def test_holes_are_counted_per_loop(box):
    V, F = box
    r = check_mesh(V, _without_sides(V, F, [1, 0, 0]))  # one square hole
    assert (r.boundary_loops, r.boundary_edges) == (1, 4)
    assert not r.closed and not r.bbw_feasible and "not closed" in r.bbw_reason
    r = check_mesh(V, _without_sides(V, F, [1, 0, 0], [-1, 0, 0]))  # a tube: two loops
    assert (r.boundary_loops, r.boundary_edges) == (2, 8)
    r = check_mesh(V, _without_sides(V, F, [1, 0, 0], [0, 0, 1]))  # adjacent sides: one loop of 6
    assert (r.boundary_loops, r.boundary_edges) == (1, 6)


def test_nonmanifold_edge_and_vertex(box):
    V, F = box
    fin = np.vstack([F, [[F[0, 0], F[0, 1], 8]]])
    Vfin = np.vstack([V, [[3.0, 3.0, 3.0]]])
    r = check_mesh(Vfin, fin)
    assert r.non_manifold_edges == 1 and not r.closed and not r.bbw_feasible

    corner = np.vstack([V, V + 1.0])  # second box touching the first at one corner
    r = check_mesh(corner, np.vstack([F, F + 8]))
    assert r.duplicate_vertices == 1 and r.components == 2
    assert r.bbw_feasible  # welded: the two boxes share one (non-manifold) vertex, TetGen copes


def test_self_intersections_and_inconsistent_orientation(box):
    V, F = box
    V2 = np.vstack([V, V + 0.5])
    F2 = np.vstack([F, F + 8])
    r = check_mesh(V2, F2)
    assert r.self_intersections > 0 and r.components == 2
    assert not r.bbw_feasible and "self-intersects" in r.bbw_reason
    flipped = F.copy()
    flipped[0] = flipped[0, ::-1]
    assert check_mesh(V, flipped).inconsistent_edges == 3


def test_degenerate_duplicate_and_unreferenced(box):
    V, F = box
    V2 = np.vstack([V, V[:1], (V[0] + V[1]) / 2, [[9.0, 9, 9]]])
    F2 = np.vstack([F, [[0, 1, 9]]])  # zero-area sliver on an existing edge
    r = check_mesh(V2, F2)
    # The sliver is dropped (counted), which leaves its third vertex unused too.
    assert r.degenerate_faces == 1 and r.duplicate_vertices == 1 and r.unreferenced_vertices == 3
    assert r.n_faces == len(F) and r.closed
    assert not r.bbw_feasible and "used by no face" in r.bbw_reason
    r = check_mesh(V, np.vstack([F, F[:2, ::-1]]))  # the same faces again, flipped
    assert r.duplicate_faces == 2 and r.n_faces == len(F) and r.bbw_feasible


def test_point_cloud_and_bad_arrays(box):
    V, _ = box
    r = check_mesh(V, None)
    assert r.is_point_cloud and not r.bbw_feasible and "point cloud" in r.summary()[0].lower()
    with pytest.raises(InputError, match="outside"):
        check_mesh(V, [[0, 1, 99]])


def test_handles_outside():
    sphere = trimesh.creation.icosphere(subdivisions=3)
    V, F = np.asarray(sphere.vertices), np.asarray(sphere.faces)
    rig = Rig.from_arrays(
        np.array([[0, 0, 0], [0.5, 0, 0], [2.0, 0, 0], [0, 0.2, 0], [0, 3.0, 0]]),
        bones=[[0, 1], [1, 2]],
        point_handles=[3, 4],
    )
    names = rig.handle_names
    for F_ in (F, None):
        msgs = handles_outside(V, F_, rig)
        joined = " ".join(msgs)
        assert len(msgs) == 2
        assert repr(names[1]) in joined and repr(names[3]) in joined  # point at y=3, bone to x=2
        assert repr(names[0]) not in joined and repr(names[2]) not in joined
