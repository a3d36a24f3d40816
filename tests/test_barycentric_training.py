"""Training: objectives move the field the right way; cage deformation identities; the public API.

Few steps, small batches: these tests check trends and identities. The full-quality figures
(agreement with FEM harmonic coordinates, locality, timings) are printed by bench/coords.py.
These trainings are thousands of small tensor operations: one torch thread runs them
fastest (several times faster than two on a busy 2-core machine), so the module uses one.
"""

from dataclasses import replace

import numpy as np
import pytest
import torch
from test_cage import L_SHAPE, extruded_l, star

import fieldrig
from fieldrig.core.errors import InputError
from fieldrig.core.progress import Cancelled
from fieldrig.geometry.cage import Cage
from fieldrig.geometry.cage_deform import CageBinding, deform_with_cage, load_cage_pose
from fieldrig.neural.barycentric_energies import StencilValues, arap_energy
from fieldrig.neural.barycentric_field import BarycentricField
from fieldrig.neural.barycentric_training import BARYCENTRIC_PRESETS, BarycentricPreset


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


FAST = replace(BARYCENTRIC_PRESETS["fast"], steps=80, batch=192, boundary_batch=48, pool=2048)
QUICK = dict(preset=FAST, device="cpu")


def quick(**changes):
    """QUICK with some preset fields changed."""
    return dict(QUICK, preset=replace(FAST, **changes))


SQUARE = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], float)


def bilinear(P):
    x, y = P.T
    return np.stack([(1 - x) * (1 - y), x * (1 - y), x * y, (1 - x) * y], axis=1)


@pytest.fixture(scope="module")
def square_field():
    return fieldrig.fit_barycentric_field(SQUARE, objective="dirichlet", seed=0, **QUICK)


def test_dirichlet_on_a_square_approaches_bilinear_harmonic_coordinates(square_field):
    P = Cage.from_arrays(SQUARE).sample_interior(2000, np.random.default_rng(0))
    before = BarycentricField.create(SQUARE, seed=0, device="cpu").evaluate(P)
    after = square_field.evaluate(P)
    err_before, err_after = np.abs(before - bilinear(P)).mean(), np.abs(after - bilinear(P)).mean()
    assert err_after < 0.01 and err_after < 0.7 * err_before
    history = square_field.history
    assert history[-1]["dirichlet"] < history[0]["dirichlet"]


def test_identity_pose_and_rigid_motions_move_the_mesh_rigidly(square_field):
    cage = Cage.from_arrays(SQUARE)
    X = cage.sample_interior(300, np.random.default_rng(1))
    binding = CageBinding.bind(cage, square_field.evaluate(X))
    np.testing.assert_allclose(binding.deform(cage.V), X, atol=1e-12)
    angle = 0.7
    R = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    t = np.array([3.0, -2.0])
    np.testing.assert_allclose(binding.deform(cage.V @ R.T + t), X @ R.T + t, atol=1e-12)


def test_3d_rigid_motion_through_a_fresh_field_and_binding_files(tmp_path):
    cage = Cage.from_arrays(*extruded_l())
    field = BarycentricField.create(cage, seed=2, device="cpu")
    X = cage.sample_interior(300, np.random.default_rng(2))
    binding = CageBinding.bind(cage, field.evaluate(X))
    q = np.array([0.3, -0.5, 0.2, 0.787])
    q /= np.linalg.norm(q)
    w, x, y, z = q
    R = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )
    np.testing.assert_allclose(deform_with_cage(binding.Phi, cage.V @ R.T + 1.5), X @ R.T + 1.5, atol=1e-12)
    binding.save(tmp_path / "b.npz")
    np.testing.assert_array_equal(CageBinding.load(tmp_path / "b.npz", cage).Phi, binding.Phi)
    with pytest.raises(InputError, match="belong to cage"):
        CageBinding.load(tmp_path / "b.npz", Cage.from_arrays(L_SHAPE))
    (tmp_path / "pose.json").write_text('{"vertices": %s}' % (cage.V[:5].tolist()))
    with pytest.raises(InputError, match="has 5 vertices"):
        load_cage_pose(tmp_path / "pose.json", cage)


def test_arap_estimator_is_zero_for_rigid_poses_and_training_lowers_it():
    cage = Cage.from_arrays(L_SHAPE)
    field = BarycentricField.create(cage, seed=3, device="cpu")
    rng = np.random.default_rng(3)
    x = cage.sample_interior(200, rng)
    R = np.linalg.qr(rng.standard_normal((200, 2, 2)))[0]
    eps = 0.01 * cage.diameter
    y = x[:, None, :] + eps * np.swapaxes(R, 1, 2)
    ok = (cage.winding_numbers(y.reshape(-1, 2)) > 0.5).reshape(200, 2).all(axis=1)
    x, y, R = x[ok], y[ok], R[ok]
    phi = field(field.geometry_of(np.concatenate([x[:, None], y], axis=1).reshape(-1, 2)), torch.float64).view(
        len(x), 3, -1
    )
    s = StencilValues(
        phi[:, 0],
        phi[:, 1:],
        torch.ones(len(x), 2, dtype=torch.float64),
        torch.as_tensor(R),
        phi[:0, 0],
        phi[:0, 0],
        torch.zeros(0, dtype=torch.bool),
        eps,
        cage.diameter,
        0.0,
    )
    c, s_ = np.cos(1.1), np.sin(1.1)
    rigid = torch.as_tensor((cage.V @ np.array([[c, -s_], [s_, c]]).T + 2.0)[None])
    assert float(arap_energy(s, rigid).detach()) < 1e-12
    # shear the upper arm of the L; an affine pose would teach nothing (J is exact for any coordinates)
    bent = cage.V.copy()
    bent[[4, 5]] += [0.8, 0.0]
    trained = fieldrig.fit_barycentric_field(cage, objective="arap", poses=[bent], seed=3, **QUICK)
    assert trained.history[-1]["arap"] < trained.history[0]["arap"]


def test_tv_gives_more_local_coordinates_than_dirichlet():
    cage = Cage.from_arrays(star(8, 0.5))
    P = cage.sample_interior(1000, np.random.default_rng(4))
    kw = quick(steps=100)
    active = {
        obj: (fieldrig.fit_barycentric_field(cage, objective=obj, seed=4, **kw).evaluate(P) > 1e-3).sum(axis=1).mean()
        for obj in ("dirichlet", "tv")
    }
    assert active["tv"] < 0.85 * active["dirichlet"]


def test_influence_limit_and_pins():
    cage = Cage.from_arrays(L_SHAPE)
    P = cage.sample_interior(1000, np.random.default_rng(5))
    far = np.linalg.norm(P - cage.V[0], axis=1) > 1.0
    free_field = fieldrig.fit_barycentric_field(cage, seed=5, **QUICK)
    free = free_field.evaluate(P)
    limited = fieldrig.fit_barycentric_field(cage, influence={0: 0.8}, seed=5, **QUICK).evaluate(P)
    assert limited[far, 0].mean() < 0.8 * free[far, 0].mean()
    point = np.array([[0.5, 0.5]])
    target = np.array([[0.5, 0.25, 0.0, 0.0, 0.0, 0.25]])  # valid: 0.5*(0,0) + 0.25*(2,0) + 0.25*(0,2)
    pinned = fieldrig.fit_barycentric_field(cage, pins=(point, target), seed=5, **QUICK)
    unpinned_error = np.abs(free_field.evaluate(point) - target).sum()
    assert np.abs(pinned.evaluate(point) - target).sum() < 0.5 * unpinned_error


def test_progress_reports_and_cancels():
    events = []
    fieldrig.fit_barycentric_field(SQUARE, seed=0, progress=events.append, **quick(steps=20))
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    with pytest.raises(Cancelled):
        fieldrig.fit_barycentric_field(SQUARE, seed=0, progress=lambda e: e.fraction < 0.3, **QUICK)


def test_same_seed_same_field():
    kw = quick(steps=10)
    P = Cage.from_arrays(SQUARE).sample_interior(100, np.random.default_rng(6))
    a = fieldrig.fit_barycentric_field(SQUARE, seed=7, **kw).evaluate(P)
    b = fieldrig.fit_barycentric_field(SQUARE, seed=7, **kw).evaluate(P)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "kwargs, source, message",
    [
        (dict(objective="harmonic"), "objective", "unknown objective"),
        (dict(objective={"dirichlet": -1.0}), "objective", "non-negative"),
        (dict(objective="arap"), "objective", "needs example cage poses"),
        (dict(objective={"dirichlet": 1.0, "pins": 1.0}), "objective", "needs pins data"),
        (dict(pins=([[0.5, 0.5]], [[1.0, 0, 0, 0]])), "pins", "not valid coordinates"),
        (dict(influence={9: 0.5}), "influence", "does not exist"),
        (dict(poses=[np.zeros((3, 2))], objective="arap"), "poses", "each pose must be"),
        (dict(preset="slow"), "preset", "unknown preset"),
        (dict(preset={"steps": 10}), "preset", "a preset name or a BarycentricPreset"),
        (dict(seed=-1), "seed", "non-negative integer"),
        (dict(seed=1.5), "seed", "non-negative integer"),
        (dict(progress="bar"), "progress", "callable"),
        (dict(config="big"), "config", "FieldConfig"),
        (dict(device="tpu"), "device", "unknown device"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs, source, message):
    with pytest.raises(InputError, match=message) as err:
        fieldrig.fit_barycentric_field(SQUARE, **{**dict(device="cpu", preset="fast"), **kwargs})
    assert err.value.source == source


@pytest.mark.parametrize(
    "change, source",
    [
        (dict(steps=0), "steps"),
        (dict(batch=2.5), "batch"),
        (dict(pool=True), "pool"),
        (dict(learning_rate=-1.0), "learning_rate"),
        (dict(epsilon=0.7), "epsilon"),
        (dict(cpu_threads=0), "cpu_threads"),
    ],
)
def test_bad_preset_fields_are_clear_errors(change, source):
    with pytest.raises(InputError) as err:
        replace(BARYCENTRIC_PRESETS["balanced"], **change)
    assert err.value.source == source


def test_the_api_takes_keywords_and_preset_objects():
    with pytest.raises(TypeError):
        fieldrig.fit_barycentric_field(SQUARE, "tv")  # objective is keyword-only
    assert fieldrig.BARYCENTRIC_PRESETS["balanced"] == BarycentricPreset()
    assert fieldrig.BarycentricPreset is BarycentricPreset


def test_points_outside_are_refused_before_training():
    with pytest.raises(InputError, match="outside the cage"):
        fieldrig.barycentric_coordinates(SQUARE, [[0.5, 0.5], [2.0, 0.5]], preset="fast", device="cpu")


def test_setup_stages_report_progress_and_can_be_cancelled():
    events = []
    fieldrig.fit_barycentric_field(Cage.from_arrays(*extruded_l()), progress=events.append, **quick(steps=5))
    stages = [e.stage for e in events]
    first_step = next(i for i, s in enumerate(stages) if s.startswith("training step"))
    setup = {s.split(" (")[0] for s in stages[:first_step]}
    assert {"building triangulations", "sampling stencils", "locating stencils", "locating boundary pairs"} <= setup
    # the setup has its share of the fraction (its time), and the fraction never goes back
    assert 0 < events[first_step - 1].fraction < events[first_step].fraction < 1
    assert all(a.fraction <= b.fraction for a, b in zip(events, events[1:]))
    with pytest.raises(Cancelled, match="building triangulations"):
        fieldrig.fit_barycentric_field(SQUARE, progress=lambda e: False, **QUICK)


def test_a_fit_predicted_to_take_hours_is_refused_before_it_starts():
    with pytest.raises(InputError, match="min on a 2-core CPU"):
        fieldrig.fit_barycentric_field(SQUARE, **quick(steps=10**7))


def test_the_fit_restores_torch_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        fieldrig.fit_barycentric_field(SQUARE, **quick(steps=2, cpu_threads=1))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
