"""Project files: round trip, atomic writes, missing and changed referenced files."""

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fieldrig.core.errors import InputError
from fieldrig.geometry.mesh_io import load_mesh
from fieldrig.geometry.pose import Pose, axis_angle_matrix
from fieldrig.geometry.rig import load_rig
from fieldrig.project import Project, load_project, save_project

ASSETS = Path(__file__).resolve().parents[1] / "assets"


@pytest.fixture
def project(tmp_path) -> Project:
    """A project referring to copies of the finger asset in tmp_path/data."""
    data = tmp_path / "data"
    data.mkdir()
    for name in ("finger.obj", "finger.tgf"):
        shutil.copy(ASSETS / name, data / name)
    mesh = load_mesh(data / "finger.obj")
    rig = load_rig(data / "finger.tgf")
    rng = np.random.default_rng(0)
    W = rng.random((len(mesh.V), rig.n_handles))
    W /= W.sum(axis=1, keepdims=True)
    cage_V = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1.0]])
    cage_F = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
    pose = Pose().set("bone1", rotation=axis_angle_matrix([0, 0, 1], 30)).set("bone0", translation=[0, 0.1, 0])
    return Project(
        mesh=mesh,
        rig=rig,
        rig_source=str(data / "finger.tgf"),
        weights=W,
        weights_stale=True,
        pose=pose,
        cage_vertices=cage_V,
        cage_faces=cage_F,
        cage_pose=cage_V + 0.1,
        coordinates=rng.random((len(mesh.V), 4)),
        skinning_field=b"\x00field bytes\xff",
        settings={"preset": "fast", "method": "dqs"},
        camera='{"fov": 45}',
    )


def test_round_trip_restores_everything(project, tmp_path):
    path = tmp_path / "scene.fieldrig"
    save_project(project, path)
    loaded = load_project(path)
    assert loaded.warnings == []
    assert Path(loaded.mesh.path).resolve() == Path(project.mesh.path).resolve()
    np.testing.assert_array_equal(loaded.mesh.V, project.mesh.V)
    np.testing.assert_array_equal(loaded.rig.joints, project.rig.joints)
    np.testing.assert_array_equal(loaded.rig.bones, project.rig.bones)
    assert loaded.rig.handle_names == project.rig.handle_names
    for name in ("weights", "cage_vertices", "cage_faces", "cage_pose", "coordinates"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(project, name))
        assert getattr(loaded, name).dtype == getattr(project, name).dtype
    assert loaded.pose.rotations.keys() == project.pose.rotations.keys()
    np.testing.assert_array_equal(loaded.pose.rotations["bone1"], project.pose.rotations["bone1"])
    np.testing.assert_array_equal(loaded.pose.translations["bone0"], project.pose.translations["bone0"])
    assert loaded.weights_stale is True
    assert loaded.skinning_field == project.skinning_field
    assert loaded.settings == project.settings and loaded.camera == project.camera
    assert loaded.rig_source == project.rig_source


def test_project_folder_can_move(project, tmp_path):
    save_project(project, tmp_path / "scene.fieldrig")
    moved = tmp_path.parent / (tmp_path.name + "-moved")
    shutil.move(tmp_path, moved)
    try:
        loaded = load_project(moved / "scene.fieldrig")
        assert Path(loaded.mesh.path) == (moved / "data" / "finger.obj").resolve()
    finally:
        shutil.move(moved, tmp_path)


def test_missing_mesh_is_an_error_naming_it(project, tmp_path):
    path = tmp_path / "scene.fieldrig"
    save_project(project, path)
    (tmp_path / "data" / "finger.obj").unlink()
    with pytest.raises(InputError, match=r"scene\.fieldrig: the mesh it refers to is missing: .*finger\.obj"):
        load_project(path)


def test_changed_mesh_warns_and_drops_arrays_that_no_longer_fit(project, tmp_path):
    path = tmp_path / "scene.fieldrig"
    save_project(project, path)
    mesh_file = tmp_path / "data" / "finger.obj"
    lines = mesh_file.read_text().splitlines()
    mesh_file.write_text("\n".join(lines + ["v 9 9 9"]) + "\n")  # one vertex more
    loaded = load_project(path)
    assert any("changed since the project was saved" in w for w in loaded.warnings)
    assert any("weights and coordinates were dropped" in w for w in loaded.warnings)
    assert loaded.weights is None and loaded.coordinates is None and loaded.skinning_field is None
    assert loaded.rig is not None and loaded.cage_vertices is not None


def test_missing_rig_source_only_warns(project, tmp_path):
    path = tmp_path / "scene.fieldrig"
    save_project(project, path)
    (tmp_path / "data" / "finger.tgf").unlink()
    loaded = load_project(path)
    assert any("finger.tgf: the rig file is missing" in w for w in loaded.warnings)
    np.testing.assert_array_equal(loaded.rig.joints, project.rig.joints)


def test_failed_save_leaves_the_old_file(project, tmp_path, monkeypatch):
    path = tmp_path / "scene.fieldrig"
    save_project(project, path)
    before = path.read_bytes()
    monkeypatch.setattr(np.lib.format, "write_array", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        save_project(project, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "scene.fieldrig"]


@pytest.mark.parametrize(
    "content, message",
    [
        (b"not a zip", "not a fieldrig project or damaged"),
        (None, "not a fieldrig project"),
    ],
)
def test_bad_project_files(tmp_path, content, message):
    path = tmp_path / "bad.fieldrig"
    if content is None:
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("project.json", json.dumps({"format": "something-else"}))
    else:
        path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        load_project(path)
    with pytest.raises(InputError, match="project file not found"):
        load_project(tmp_path / "nope.fieldrig")
    with pytest.raises(InputError, match="end in '.fieldrig'"):
        save_project(Project(), tmp_path / "x.zip")
