"""Mean value coordinates: ordinary barycentrics on simplices, identities on non-convex cages."""

import numpy as np
import pytest
from test_cage import L_SHAPE, extruded_l, star

from fieldrig.core.errors import InputError
from fieldrig.geometry.cage import Cage
from fieldrig.geometry.mvc import mean_value_coordinates


def simplex_barycentrics(S, P):
    A = np.vstack([S.T, np.ones(len(S))])
    return np.linalg.solve(A, np.vstack([P.T, np.ones(len(P))])).T


@pytest.mark.parametrize(
    "V, F",
    [
        (np.array([[0, 0], [1, 0], [0.2, 1]], float), None),
        (
            np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], float),
            np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]]),
        ),
    ],
)
def test_simplex_cage_gives_ordinary_barycentrics(V, F):
    cage = Cage.from_arrays(V, F)
    P = cage.sample_interior(200, np.random.default_rng(0))
    np.testing.assert_allclose(mean_value_coordinates(cage, P), simplex_barycentrics(V, P), atol=1e-10)


@pytest.mark.parametrize(
    "make",
    [lambda: Cage.from_arrays(star()), lambda: Cage.from_arrays(L_SHAPE), lambda: Cage.from_arrays(*extruded_l())],
)
def test_partition_of_unity_and_linear_reproduction_on_non_convex_cages(make):
    cage = make()
    rng = np.random.default_rng(1)
    P = np.vstack([cage.sample_interior(500, rng), cage.sample_boundary(50, rng)[0], cage.V])
    Phi = mean_value_coordinates(cage, P)
    np.testing.assert_allclose(Phi.sum(axis=1), 1.0, atol=1e-10)
    np.testing.assert_allclose(Phi @ cage.V, P, atol=1e-9 * cage.diameter)
    np.testing.assert_allclose(Phi[-cage.n_vertices :], np.eye(cage.n_vertices), atol=1e-12)


def test_square_centre_and_symmetry():
    square = Cage.from_arrays([[0, 0], [1, 0], [1, 1], [0, 1]])
    np.testing.assert_allclose(mean_value_coordinates(square, [[0.5, 0.5]]), [[0.25] * 4], atol=1e-12)
    # mirror symmetry x -> 1 - x swaps vertices 0<->1 and 2<->3
    P = square.sample_interior(50, np.random.default_rng(2))
    a = mean_value_coordinates(square, P)
    b = mean_value_coordinates(square, np.c_[1 - P[:, 0], P[:, 1]])
    np.testing.assert_allclose(a, b[:, [1, 0, 3, 2]], atol=1e-12)


def test_non_convex_polygon_has_negative_values_somewhere_and_outside_points_are_refused():
    cage = Cage.from_arrays(star(12, 0.3))
    Phi = mean_value_coordinates(cage, cage.sample_interior(2000, np.random.default_rng(3)))
    assert Phi.min() < 0  # MVC is not a positive coordinate on non-convex polygons
    with pytest.raises(InputError, match="outside the cage"):
        mean_value_coordinates(cage, [[5.0, 5.0]])
