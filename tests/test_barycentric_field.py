"""The barycentric field: validity for any weights, exact simplices, boundary interpolation, files."""

import numpy as np
import pytest
import torch
from test_cage import L_SHAPE, extruded_l, star

from fieldrig.core.errors import InputError
from fieldrig.geometry.cage import Cage
from fieldrig.neural.barycentric_field import BarycentricField, FieldConfig

TRIANGLE = np.array([[0, 0], [1, 0], [0.3, 0.8]], float)
TET = (
    np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0.2, 0.1, 1]], float),
    np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]]),
)


def assert_valid(Phi, P, cage, tol=1e-9):
    assert Phi.min() >= 0.0
    np.testing.assert_allclose(Phi.sum(axis=1), 1.0, atol=tol)
    np.testing.assert_allclose(Phi @ cage.V, P, atol=tol * cage.diameter)


@pytest.mark.parametrize(
    "make",
    [lambda: Cage.from_arrays(star()), lambda: Cage.from_arrays(L_SHAPE), lambda: Cage.from_arrays(*extruded_l())],
)
@pytest.mark.parametrize("seed", [0, 1])
def test_random_initialisations_are_valid_coordinates(make, seed):
    cage = make()
    field = BarycentricField.create(cage, seed=seed, device="cpu")
    with torch.no_grad():  # large random network weights: validity must not depend on them
        for p in field.network.parameters():
            p.normal_(0.0, 1.0, generator=torch.Generator().manual_seed(seed + 7))
    rng = np.random.default_rng(seed)
    P = np.vstack([cage.sample_interior(3000, rng), cage.sample_boundary(100, rng)[0]])
    Phi = field.evaluate(P)
    assert_valid(Phi, P, cage)
    assert np.abs(Phi - Phi.mean(axis=0)).max() > 0.1  # not a constant field


@pytest.mark.parametrize("V, F", [(TRIANGLE, None), TET])
def test_simplex_cage_gives_exactly_the_ordinary_barycentrics(V, F):
    cage = Cage.from_arrays(V, F)
    field = BarycentricField.create(cage, device="cpu")
    P = cage.sample_interior(500, np.random.default_rng(0))
    expected = np.linalg.solve(np.vstack([V.T, np.ones(len(V))]), np.vstack([P.T, np.ones(len(P))])).T
    np.testing.assert_allclose(field.evaluate(P), expected, atol=1e-12)


@pytest.mark.parametrize("polygon", [L_SHAPE, star(12, 0.45)])
def test_boundary_interpolation_on_non_convex_polygons(polygon):
    cage = Cage.from_arrays(polygon)
    field = BarycentricField.create(cage, seed=3, device="cpu")
    rng = np.random.default_rng(4)
    q, cells, w = cage.sample_boundary(200, rng)
    exact = cage.boundary_values(cage.F[cells], w)
    np.testing.assert_allclose(field.evaluate(q), exact, atol=1e-12)
    np.testing.assert_allclose(field.evaluate(cage.V), np.eye(cage.n_vertices), atol=1e-12)
    # continuity: approaching the boundary along the inward normal converges to the boundary values
    inward = -cage.cell_normals()[cells]
    errors = []
    for h in (1e-2, 1e-4, 1e-6):
        x = q + h * cage.diameter * inward
        ok = cage.winding_numbers(x) > 0.5
        errors.append(np.abs(field.evaluate(x[ok]) - exact[ok]).sum(axis=1).max())
    assert errors[2] < 1e-4 and errors[2] < errors[1] < errors[0]


def test_save_load_round_trip_and_cage_mismatch(tmp_path):
    cage = Cage.from_arrays(star())
    field = BarycentricField.create(cage, seed=5, device="cpu")
    P = cage.sample_interior(300, np.random.default_rng(5))
    field.save(tmp_path / "f.pt")
    back = BarycentricField.load(tmp_path / "f.pt", cage=star())
    np.testing.assert_array_equal(back.evaluate(P), field.evaluate(P))
    assert BarycentricField.load(tmp_path / "f.pt").cage.hash == cage.hash
    other = Cage.from_arrays(star() * 1.01)
    with pytest.raises(InputError) as err:
        BarycentricField.load(tmp_path / "f.pt", cage=other)
    assert cage.hash[:16] in str(err.value) and other.hash[:16] in str(err.value)
    (tmp_path / "junk.pt").write_bytes(b"not a field")
    with pytest.raises(InputError, match="junk.pt"):
        BarycentricField.load(tmp_path / "junk.pt")
    with pytest.raises(InputError, match="not found"):
        BarycentricField.load(tmp_path / "none.pt")


def test_seed_determines_the_field_and_points_outside_are_refused():
    cage = Cage.from_arrays(L_SHAPE)
    P = cage.sample_interior(100, np.random.default_rng(6))
    a, b, c = (BarycentricField.create(cage, seed=s, device="cpu").evaluate(P) for s in (1, 1, 2))
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-6
    with pytest.raises(InputError, match="outside the cage"):
        BarycentricField.create(cage, device="cpu").evaluate([[1.5, 1.5]])


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised without a GPU")
def test_cuda_without_gpu_is_a_clear_error():
    with pytest.raises(InputError, match="CUDA"):
        BarycentricField.create(Cage.from_arrays(L_SHAPE), device="cuda")


def test_candidates_per_point_do_not_grow_with_all_simplices():
    """50+ vertex 3D cage: a point sees one simplex per triangulation, not all C(n, 4)."""
    import trimesh

    sphere = trimesh.creation.uv_sphere(count=[8, 10])  # 62 vertices
    cage = Cage.from_arrays(sphere.vertices * [1.0, 0.6, 0.8], sphere.faces)
    field = BarycentricField.create(cage, FieldConfig(random_triangulations=2, apexes_per_cell=1), device="cpu")
    assert field.n_candidates <= 3 + len(cage.F)
    assert field.n_candidates * field.locator.max_simplices < 62 * 61 * 60 * 59 // 24 // 10
    P = cage.sample_interior(500, np.random.default_rng(7))
    assert_valid(field.evaluate(P), P, cage)


def test_walks_find_the_containing_simplex_from_any_start():
    """A 3D cage whose triangulations are too large for the plane test: every point is
    located by walks, from the fixed start or from a wrong hint, and its barycentrics in the
    simplex found reproduce it (they would not, once clamped, in a simplex not containing it)."""
    import trimesh

    sphere = trimesh.creation.uv_sphere(count=[10, 12])
    cage = Cage.from_arrays(sphere.vertices * [1.0, 0.6, 0.8], sphere.faces)
    locator = BarycentricField.create(
        cage, FieldConfig(random_triangulations=4, apexes_per_cell=1), device="cpu"
    ).locator
    assert locator.max_simplices > 128 and locator.planes is None  # walks only
    P = cage.sample_interior(2000, np.random.default_rng(8))
    x = torch.as_tensor(P)
    bad_hint = torch.zeros(len(P), locator.n_triangulations, dtype=torch.long)
    for hint in (None, bad_hint):
        local, vertices, bary = locator(x, hint)
        np.testing.assert_allclose(bary.sum(dim=0).numpy(), 1.0, atol=1e-12)
        corners = torch.tensor(cage.V)[vertices]  # (d+1, P, L, d)
        x_again = (bary[..., None] * corners).sum(dim=0).numpy()
        np.testing.assert_allclose(x_again, np.broadcast_to(P[:, None, :], x_again.shape), atol=1e-12)


def test_face_neighbours_and_the_regularity_check():
    from fieldrig.geometry.cage_triangulations import face_neighbours, lower_hull_violation, regular_triangulation

    rng = np.random.default_rng(9)
    V = rng.random((40, 2))
    h = np.sum(V * V, axis=1)
    S = np.sort(regular_triangulation(V, h), axis=1)
    N = face_neighbours(S, len(V))
    t, j = np.nonzero(N >= 0)
    shared = [len(set(S[a]) & set(S[b])) for a, b in zip(t, N[t, j])]
    assert shared and set(shared) == {2}  # neighbours share an edge
    assert np.all(N[N[t, j]][np.arange(len(t))].max(axis=1) < len(S))  # indices in range
    from scipy.spatial import ConvexHull

    assert int((N < 0).sum()) == len(ConvexHull(V).simplices)  # one missing neighbour per hull edge
    assert lower_hull_violation(V, h, S) < 1e-12  # the Delaunay triangulation is regular for |v|²
    assert lower_hull_violation(V, -h, S) > 1e-3  # ... and not for -|v|²


def test_a_tetrahedron_cage_has_one_candidate():
    cage = Cage.from_arrays(*TET)
    assert BarycentricField.create(cage, device="cpu").n_candidates == 1
