"""Weights and mesh files: exact round trips, libigl compatibility, clear errors, atomic writes."""

import numpy as np
import pytest

from fieldrig.core.errors import InputError
from fieldrig.geometry.export import load_weights, read_dmat, save_mesh, save_weights, write_dmat


@pytest.fixture
def W():
    rng = np.random.default_rng(3)
    W = rng.random((37, 5)) ** 3
    W[4] = [1, 0, 0, 0, 0]
    return W / W.sum(axis=1, keepdims=True)


NAMES = ["upper arm", "fore,arm", 'hand "L"', "thumb", "ünïcode"]


@pytest.mark.parametrize("suffix", [".npy", ".csv", ".dmat"])
def test_weights_round_trip_is_exact(tmp_path, W, suffix):
    path = tmp_path / f"w{suffix}"
    save_weights(path, W, NAMES)
    W2, names = load_weights(path, return_names=True)
    assert W2.dtype == np.float64 and W2.shape == W.shape
    assert np.array_equal(W2, W)
    assert names == (NAMES if suffix == ".csv" else [f"handle{i}" for i in range(5)])


def test_dmat_is_libigl_dmat(tmp_path, W):
    igl = pytest.importorskip("igl")
    write_dmat(tmp_path / "w.dmat", W)
    assert np.array_equal(igl.readDMAT(str(tmp_path / "w.dmat")), W)
    header = (tmp_path / "w.dmat").read_text().splitlines()[0]
    assert header == f"{W.shape[1]} {W.shape[0]}"  # columns first, as libigl writes
    igl.writeDMAT(str(tmp_path / "bin.dmat"), W, False)
    assert np.array_equal(read_dmat(tmp_path / "bin.dmat"), W)


def test_reference_dmat_reads(shared_data):
    W = read_dmat(shared_data / "arm-weights.dmat")
    assert W.shape == (8311, 4)
    assert np.allclose(W.sum(axis=1), 1.0, atol=1e-6)


def test_csv_without_header(tmp_path):
    (tmp_path / "w.csv").write_text("0.25,0.75\n1,0\n")
    W, names = load_weights(tmp_path / "w.csv", return_names=True)
    assert np.array_equal(W, [[0.25, 0.75], [1, 0]]) and names == ["handle0", "handle1"]


@pytest.mark.parametrize(
    "name, content, problem",
    [
        ("missing.npy", None, "not found"),
        ("empty.dmat", "", "empty"),
        ("bad.dmat", "two three\n1\n", "header"),
        ("short.dmat", "2 2\n1\n2\n3\n", "promises 4"),
        ("ragged.csv", "a,b\n1,2\n3\n", "row 3"),
        ("text.csv", "a,b\n1,x\n", "not all numbers"),
        ("nan.csv", "a\nnan\n", "NaN"),
        ("junk.npy", "not numpy at all", ".npy"),
        ("w.txt", "1 2", "unknown weights format"),
    ],
)
def test_bad_weight_files_name_file_and_problem(tmp_path, name, content, problem):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(InputError) as err:
        load_weights(path)
    assert str(path) in str(err.value) and problem in str(err.value)


def test_failed_write_keeps_the_old_file(tmp_path, W):
    path = tmp_path / "w.csv"
    save_weights(path, W, NAMES)
    before = path.read_bytes()
    bad = W.copy()
    bad[3, 1] = np.nan
    with pytest.raises(InputError, match="NaN"):
        save_weights(path, bad, NAMES)
    with pytest.raises(InputError, match="3 names given for 5"):
        save_weights(path, W, NAMES[:3])
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.csv"]  # no temporary left behind


@pytest.mark.parametrize("suffix", [".obj", ".ply", ".off", ".glb"])
def test_save_mesh_keeps_vertex_order(tmp_path, suffix):
    from fieldrig.geometry.mesh_io import load_mesh

    rng = np.random.default_rng(0)
    V = rng.random((9, 3))
    F = np.array([[0, 1, 2], [2, 1, 3], [4, 5, 6], [6, 7, 8], [8, 0, 4]])
    save_mesh(tmp_path / f"m{suffix}", V, F)
    mesh = load_mesh(tmp_path / f"m{suffix}")
    assert np.allclose(mesh.V, V, atol=1e-6) and np.array_equal(mesh.F, F)


@pytest.mark.parametrize("suffix", [".ply", ".xyz", ".obj"])
def test_save_point_cloud(tmp_path, suffix):
    from fieldrig.geometry.mesh_io import load_mesh

    V = np.random.default_rng(1).random((30, 3))
    save_mesh(tmp_path / f"p{suffix}", V, None)
    mesh = load_mesh(tmp_path / f"p{suffix}")
    assert mesh.F is None and np.allclose(mesh.V, V, atol=1e-6)


def test_save_mesh_rejects_point_cloud_stl(tmp_path):
    with pytest.raises(InputError, match="point cloud cannot be written as .stl"):
        save_mesh(tmp_path / "p.stl", np.zeros((3, 3)), None)
