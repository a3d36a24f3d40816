"""FEM harmonic coordinates: exact cases (square = bilinear, simplex = barycentric), identities."""

import numpy as np
import pytest
from test_cage import L_SHAPE, extruded_l

from fieldrig.geometry.cage import Cage
from fieldrig.geometry.harmonic_coords import harmonic_coordinates, harmonic_solution


def test_square_gives_bilinear_coordinates():
    square = Cage.from_arrays([[0, 0], [1, 0], [1, 1], [0, 1]])
    P = square.sample_interior(500, np.random.default_rng(0))
    x, y = P.T
    bilinear = np.stack([(1 - x) * (1 - y), x * (1 - y), x * y, (1 - x) * y], axis=1)
    np.testing.assert_allclose(harmonic_coordinates(square, P, elements=20_000), bilinear, atol=2e-4)


def test_tetrahedron_gives_barycentrics():
    V = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], float)
    tet = Cage.from_arrays(V, [[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
    P = tet.sample_interior(200, np.random.default_rng(1))
    expected = np.c_[1 - P.sum(axis=1), P]
    np.testing.assert_allclose(harmonic_coordinates(tet, P, elements=5_000), expected, atol=1e-9)


@pytest.mark.parametrize(
    "make, elements", [(lambda: Cage.from_arrays(L_SHAPE), 10_000), (lambda: Cage.from_arrays(*extruded_l()), 10_000)]
)
def test_valid_coordinates_with_boundary_values(make, elements):
    cage = make()
    rng = np.random.default_rng(2)
    pb, cells, w = cage.sample_boundary(40, rng)
    P = np.vstack([cage.sample_interior(300, rng), pb])
    H = harmonic_coordinates(cage, P, elements=elements)
    assert H.min() >= -1e-12
    np.testing.assert_allclose(H.sum(axis=1), 1.0, atol=1e-9)
    np.testing.assert_allclose(H @ cage.V, P, atol=1e-8 * cage.diameter)
    np.testing.assert_allclose(H[-40:], cage.boundary_values(cage.F[cells], w), atol=1e-9)


def test_refinement_converges():
    cage = Cage.from_arrays(L_SHAPE)
    P = cage.sample_interior(500, np.random.default_rng(3))
    coarse, fine, finer = (harmonic_solution(cage, e).evaluate(P) for e in (2_500, 10_000, 40_000))
    assert np.abs(fine - finer).mean() < 0.5 * np.abs(coarse - finer).mean()
