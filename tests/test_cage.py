"""Cages: validation with clear errors, orientation, files, projection, automatic cages."""

import json

import numpy as np
import pytest
import trimesh

from fieldrig.core.errors import InputError
from fieldrig.geometry.auto_cage import auto_cage
from fieldrig.geometry.cage import Cage, as_cage, load_cage, save_cage

L_SHAPE = np.array([[0, 0], [2, 0], [2, 1], [1, 1], [1, 2], [0, 2]], float)


def star(n=12, inner=0.45):
    t = np.arange(n)
    r = np.where(t % 2 == 0, 1.0, inner)
    return np.stack([r * np.cos(2 * np.pi * t / n), r * np.sin(2 * np.pi * t / n)], axis=1)


def extruded_l():
    """The L polygon extruded to height 1, triangulated by hand (12 vertices, 20 triangles)."""
    n = len(L_SHAPE)
    V = np.vstack([np.c_[L_SHAPE, np.zeros(n)], np.c_[L_SHAPE, np.ones(n)]])
    bottom = [[0, 2, 1], [0, 3, 2], [0, 5, 3], [5, 4, 3]]  # fan of the L (valid: 0 sees all)
    F = [f for f in bottom] + [[a + n, c + n, b + n] for a, b, c in bottom]
    for i in range(n):
        j = (i + 1) % n
        F += [[i, j, j + n], [i, j + n, i + n]]
    return V, np.array(F)


@pytest.mark.parametrize("V", [L_SHAPE, L_SHAPE[::-1], star(), star()[::-1]])
def test_polygon_either_orientation_is_oriented_ccw_keeping_vertex_order(V):
    cage = Cage.from_arrays(V)
    np.testing.assert_array_equal(cage.V, V)
    assert cage.measure > 0
    assert sorted(cage.loop.tolist()) == list(range(len(V)))
    # outward normals: a point just outside each edge midpoint is outside
    mid = cage.V[cage.F].mean(axis=1)
    assert np.all(cage.winding_numbers(mid + 1e-3 * cage.cell_normals()) < 0.5)
    assert np.all(cage.winding_numbers(mid - 1e-3 * cage.cell_normals()) > 0.5)


def test_polyhedron_inward_faces_are_flipped_and_hash_identifies_cage():
    V, F = extruded_l()
    out = Cage.from_arrays(V, F)
    flipped = Cage.from_arrays(V, F[:, ::-1])
    assert out.measure == pytest.approx(3.0) and flipped.measure == pytest.approx(3.0)
    np.testing.assert_array_equal(out.F, flipped.F)
    assert out.hash == flipped.hash
    assert Cage.from_arrays(V + 1e-6, F).hash != out.hash


@pytest.mark.parametrize(
    "V, F, message",
    [
        (L_SHAPE[:2], None, "at least 3 vertices"),
        (np.array([[0, 0], [1, 0], [1, 1], [0, 1], [1, 0]], float), None, "coincide"),
        (np.array([[0, 0], [1, 1], [1, 0], [0, 1]], float), None, "self-intersects"),
        (np.array([[0, 0], [1, 0], [2, 0]], float), None, "folds back"),
        (np.array([[0, 0], [1, np.nan], [0, 1]], float), None, "NaN"),
        (np.eye(3), None, "(V, F)"),
    ],
)
def test_bad_polygons_are_refused_with_a_clear_message(V, F, message):
    with pytest.raises(InputError) as err:
        as_cage(V) if F is None else Cage.from_arrays(V, F)
    assert message in str(err.value)


def test_bad_polyhedra_are_refused_with_a_clear_message():
    V, F = extruded_l()
    with pytest.raises(InputError, match="not closed"):
        Cage.from_arrays(V, F[:-1])
    bad = F.copy()
    bad[0] = bad[0, ::-1]
    with pytest.raises(InputError, match="consistently oriented"):
        Cage.from_arrays(V, bad)
    tet = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], float)
    tf = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
    with pytest.raises(InputError, match="separate pieces"):
        Cage.from_arrays(np.vstack([tet, tet + 5]), np.vstack([tf, tf + 4]))
    with pytest.raises(InputError, match="self-intersects"):
        Cage.from_arrays(np.vstack([tet, tet * 0.8 + 0.1]), np.vstack([tf, tf + 4]))
    with pytest.raises(InputError, match="at least 4"):
        Cage.from_arrays(tet[:3], tf[:1])
    with pytest.raises(InputError, match="needs triangles"):
        Cage.from_arrays(tet)


def test_points_outside_are_refused_and_boundary_points_accepted():
    cage = Cage.from_arrays(L_SHAPE)
    on = np.array([[0.0, 0.0], [1.0, 1.5], [1.5, 1.0]])
    np.testing.assert_array_equal(cage.check_inside(on), on)
    with pytest.raises(InputError, match="1 of 2 points lie outside"):
        cage.check_inside([[0.5, 0.5], [1.5, 1.5]])
    with pytest.raises(InputError, match=r"\(k, 2\)"):
        cage.check_inside(np.zeros((2, 3)))


def test_boundary_projection_gives_exact_boundary_values():
    cage = Cage.from_arrays(L_SHAPE)
    dist, cells, w = cage.boundary_projection(np.array([[0.5, 0.1], [1.5, 1.0], [0.9, 0.9]]))
    np.testing.assert_allclose(dist, [0.1, 0.0, np.sqrt(0.02)], atol=1e-12)  # last: nearest is the reflex corner
    values = cage.boundary_values(cells, w)
    np.testing.assert_allclose(values[1], [0, 0, 0.5, 0.5, 0, 0], atol=1e-12)
    np.testing.assert_allclose(values.sum(axis=1), 1.0)


def test_files_round_trip_and_flat_obj_is_a_polygon(tmp_path):
    poly = Cage.from_arrays(star())
    for name in ("p.json", "p.obj"):
        save_cage(poly, tmp_path / name)
        back = load_cage(tmp_path / name)
        assert back.dim == 2 and back.hash == poly.hash
    V, F = extruded_l()
    solid = Cage.from_arrays(V, F)
    for name in ("s.json", "s.obj"):
        save_cage(solid, tmp_path / name)
        assert load_cage(tmp_path / name).hash == solid.hash
    (tmp_path / "bad.json").write_text(json.dumps({"vertices": [[0, 0], [1, 1], [1, 0], [0, 1]]}))
    with pytest.raises(InputError, match="bad.json: the polygon self-intersects"):
        load_cage(tmp_path / "bad.json")
    with pytest.raises(InputError, match="not found"):
        load_cage(tmp_path / "missing.obj")
    with pytest.raises(InputError, match="unknown cage format"):
        load_cage(tmp_path / "x.stl")


def test_auto_cage_encloses_a_3d_mesh():
    mesh = trimesh.creation.capsule(height=1.0, radius=0.4, count=[16, 16])
    V, F = np.asarray(mesh.vertices), np.asarray(mesh.faces)
    cage = auto_cage(V, F, vertices=20, resolution=32)
    assert cage.dim == 3 and 10 <= cage.n_vertices <= 30
    assert np.all(cage.winding_numbers(V) > 0.5)
    assert cage.boundary_projection(V)[0].min() > 0


def test_auto_cage_of_a_flat_mesh_is_an_enclosing_polygon():
    import igl.triangle

    outline = star(10, 0.5) * 2.0
    n = len(outline)
    TV, TF, *_ = igl.triangle.triangulate(outline, np.c_[np.arange(n), (np.arange(n) + 1) % n], flags="pqa0.05Q")
    V = np.c_[TV, np.zeros(len(TV))]
    cage = auto_cage(V, TF, vertices=12)
    assert cage.dim == 2 and cage.n_vertices <= 16
    assert np.all(cage.winding_numbers(TV) > 0.5)
    assert cage.boundary_projection(TV)[0].min() > 0


@pytest.mark.parametrize("vertices", [4, 6, 150])
def test_auto_cage_resolution_from_a_tetrahedron_to_many_vertices(vertices):
    """A few vertices around a non-convex shape (the L prism) need the cage scaled past the
    shape's reentrant corner; many vertices follow the offset surface closely."""
    mesh = trimesh.Trimesh(*extruded_l()).subdivide().subdivide()
    V, F = np.asarray(mesh.vertices), np.asarray(mesh.faces)
    cage = auto_cage(V, F, vertices=vertices, resolution=32)
    assert cage.dim == 3 and cage.n_vertices == vertices
    assert np.all(cage.winding_numbers(V) > 0.5)
    assert cage.boundary_projection(V)[0].min() > 0


def test_auto_cage_with_too_few_or_too_many_vertices_is_a_clear_error():
    with pytest.raises(InputError) as err:
        auto_cage(*extruded_l(), vertices=3)
    assert err.value.source == "vertices" and "at least 4" in str(err.value)
    with pytest.raises(InputError) as err:  # more than the offset surface has at this resolution
        auto_cage(*extruded_l(), vertices=100_000, resolution=16)
    assert err.value.source == "vertices" and "raise the resolution" in str(err.value)
    import igl.triangle

    outline = star(10, 0.5) * 2.0
    n = len(outline)
    TV, TF, *_ = igl.triangle.triangulate(outline, np.c_[np.arange(n), (np.arange(n) + 1) % n], flags="pqa0.05Q")
    polygon = auto_cage(np.c_[TV, np.zeros(len(TV))], TF, vertices=4)  # fewer than the offset allows: scaled
    assert polygon.n_vertices <= 4 and np.all(polygon.winding_numbers(TV) > 0.5)
    with pytest.raises(InputError, match="at least 3"):
        auto_cage(np.c_[TV, np.zeros(len(TV))], TF, vertices=2)
