"""Project files: a session's round trip, weight sets and the animation, version-1 files,
atomic writes, missing and changed referenced files."""

import json
import shutil
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from fieldrig.core.errors import InputError
from fieldrig.geometry.mesh_io import load_mesh
from fieldrig.geometry.pose import Pose, axis_angle_matrix
from fieldrig.geometry.rig import load_rig
from fieldrig.project import load_project, save_project
from fieldrig.session import AnimationState, CageState, RigState, Session, WeightSet

ASSETS = Path(__file__).resolve().parents[1] / "assets"


@pytest.fixture
def project(tmp_path) -> Session:
    """A session on copies of the finger asset in tmp_path/data, with two weight sets."""
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
    sets = (
        WeightSet("imported", W[:, ::-1].copy(), "file"),
        WeightSet("computed", W, "computed", stale=True, skinning_field=b"\x00field bytes\xff"),
    )
    return Session(
        mesh=mesh,
        rig_state=RigState(rig, str(data / "finger.tgf"), sets, active=1, pose=pose),
        cage_state=CageState(
            cage_V,
            cage_F,
            coordinates=rng.random((len(mesh.V), 4)),
            deformed=cage_V + 0.1,
            barycentric_field=b"bary",
            coordinates_kind="tv",
        ),
        settings={"preset": "fast", "method": "dqs"},
        mode="pose",
        camera='{"fov": 45}',
    )


def test_round_trip_restores_everything(project, tmp_path):
    path = tmp_path / "scene.fieldrig"
    save_project(project, path)
    loaded, warnings = load_project(path)
    assert warnings == []
    assert Path(loaded.mesh.path).resolve() == Path(project.mesh.path).resolve()
    np.testing.assert_array_equal(loaded.mesh.V, project.mesh.V)
    rs, saved = loaded.rig_state, project.rig_state
    np.testing.assert_array_equal(rs.rig.joints, saved.rig.joints)
    np.testing.assert_array_equal(rs.rig.bones, saved.rig.bones)
    assert rs.rig.handle_names == saved.rig.handle_names and rs.rig_source == saved.rig_source
    assert [(s.name, s.origin, s.stale, s.skinning_field) for s in rs.weight_sets] == [
        ("imported", "file", False, None),
        ("computed", "computed", True, b"\x00field bytes\xff"),
    ]
    for a, b in zip(rs.weight_sets, saved.weight_sets):
        np.testing.assert_array_equal(a.weights, b.weights)
        assert a.weights.dtype == b.weights.dtype
    assert rs.active == 1 and rs.weights is rs.weight_sets[1].weights and rs.weights_stale
    for name in ("vertices", "faces", "deformed", "coordinates"):
        np.testing.assert_array_equal(getattr(loaded.cage_state, name), getattr(project.cage_state, name))
        assert getattr(loaded.cage_state, name).dtype == getattr(project.cage_state, name).dtype
    assert loaded.cage_state.barycentric_field == b"bary" and loaded.cage_state.coordinates_kind == "tv"
    assert rs.pose.rotations.keys() == saved.pose.rotations.keys()
    np.testing.assert_array_equal(rs.pose.rotations["bone1"], saved.pose.rotations["bone1"])
    np.testing.assert_array_equal(rs.pose.translations["bone0"], saved.pose.translations["bone0"])
    assert loaded.settings == project.settings and loaded.camera == project.camera and loaded.mode == "pose"
    assert loaded.animation == AnimationState()


def test_weight_sets_that_do_not_fit_the_rig_are_dropped(project, tmp_path):
    """A set with other columns is dropped with a warning; the active one stays active."""
    rs = project.rig_state
    wrong = WeightSet("old rig", np.full((len(project.mesh.V), 5), 0.2), "painted")
    project = replace(project, rig_state=replace(rs, weight_sets=(wrong, *rs.weight_sets), active=2))
    save_project(project, tmp_path / "scene.fieldrig")
    loaded, warnings = load_project(tmp_path / "scene.fieldrig")
    assert warnings == [
        "%s: the stored weights 'old rig' do not match the rig's handles and were dropped"
        % (tmp_path / "scene.fieldrig")
    ]
    assert [s.name for s in loaded.rig_state.weight_sets] == ["imported", "computed"]
    assert loaded.rig_state.active_set.name == "computed"

    # a weight set whose table is not in the file: a damaged project, said so
    with zipfile.ZipFile(tmp_path / "scene.fieldrig") as zf:
        members = {name: zf.read(name) for name in zf.namelist() if name != "weights_1.npy"}
    meta = json.loads(members["project.json"])
    meta["arrays"].remove("weights_1")
    members["project.json"] = json.dumps(meta)
    with zipfile.ZipFile(tmp_path / "damaged.fieldrig", "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    with pytest.raises(InputError, match="damaged project: the weights of 'imported' are missing"):
        load_project(tmp_path / "damaged.fieldrig")


def write_version_1(path, mesh_path, rig, W, skinning_field=None, settings=None):
    """A project as fieldrig wrote them before weight sets (format version 1)."""
    import io

    from fieldrig.geometry.rig import rig_to_json

    meta = {
        "format": "fieldrig-project",
        "version": 1,
        "mesh": {"path": str(Path(mesh_path).resolve()), "relative": Path(mesh_path).name},
        "vertex_count": len(W),
        "skin": None,
        "rig": rig_to_json(rig),
        "rig_source": None,
        "weights_stale": True,
        "pose": None,
        "cage_source": None,
        "settings": settings or {},
        "camera": None,
        "arrays": ["weights"],
        "blobs": [] if skinning_field is None else ["skinning_field"],
    }
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, W, allow_pickle=False)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("weights.npy", buffer.getvalue())
        if skinning_field is not None:
            zf.writestr("skinning_field.bin", skinning_field)
        zf.writestr("project.json", json.dumps(meta))


@pytest.mark.parametrize("field", [None, b"trained"])
def test_version_1_projects_read_as_one_weight_set(tmp_path, field):
    shutil.copy(ASSETS / "finger.obj", tmp_path / "finger.obj")
    rig = load_rig(ASSETS / "finger.tgf")
    W = np.full((1202, rig.n_handles), 1 / rig.n_handles)
    path = tmp_path / "old.fieldrig"
    write_version_1(path, tmp_path / "finger.obj", rig, W, field, {"preset": "high", "mode": "weights"})
    session, warnings = load_project(path)
    assert warnings == []
    (ws,) = session.rig_state.weight_sets
    assert (ws.name, ws.origin) == (("imported", "file") if field is None else ("computed", "computed"))
    assert ws.stale and ws.skinning_field == field
    np.testing.assert_array_equal(session.rig_state.weights, W)
    assert session.settings == {"preset": "high"} and session.mode == "weights"
    save_project(session, path)  # written again, in the current format
    assert json.loads(zipfile.ZipFile(path).read("project.json"))["version"] == 3
    again, _ = load_project(path)
    assert [(s.name, s.origin, s.stale) for s in again.rig_state.weight_sets] == [(ws.name, ws.origin, True)]


def test_project_folder_can_move(project, tmp_path):
    save_project(project, tmp_path / "scene.fieldrig")
    moved = tmp_path.parent / (tmp_path.name + "-moved")
    shutil.move(tmp_path, moved)
    try:
        loaded, _ = load_project(moved / "scene.fieldrig")
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
    loaded, warnings = load_project(path)
    assert any("changed since the project was saved" in w for w in warnings)
    assert any("weights and coordinates were dropped" in w for w in warnings)
    assert loaded.rig_state.weight_sets == () and loaded.cage_state.coordinates is None
    assert loaded.cage_state.barycentric_field is None and loaded.cage_state.coordinates_kind is None
    assert loaded.rig_state.rig is not None and loaded.cage_state.vertices is not None


def test_missing_rig_source_only_warns(project, tmp_path):
    path = tmp_path / "scene.fieldrig"
    save_project(project, path)
    (tmp_path / "data" / "finger.tgf").unlink()
    loaded, warnings = load_project(path)
    assert any("finger.tgf: the rig file is missing" in w for w in warnings)
    np.testing.assert_array_equal(loaded.rig_state.rig.joints, project.rig_state.rig.joints)


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
        save_project(Session(), tmp_path / "x.zip")


def test_a_skinned_files_session_keeps_its_skin_weights_and_clip(tmp_path):
    """A character's session reopens as the same skin, with its clip and time; a clip the
    file no longer has is dropped with a warning."""
    from gltf_build import character

    from fieldrig.workflow import asset_subjects, source_weights

    character(tmp_path / "char.glb")
    (subject,) = asset_subjects(tmp_path / "char.glb")
    skin = WeightSet("skin", source_weights(subject), "file")
    session = Session(
        mesh=subject.mesh,
        asset=subject.asset,
        asset_index=0,
        rig_state=RigState(subject.rig, str(tmp_path / "char.glb"), (skin,)),
        animation=AnimationState("Bend", 0.5),
    )
    save_project(session, tmp_path / "char.fieldrig")
    loaded, warnings = load_project(tmp_path / "char.fieldrig")
    assert warnings == [] and loaded.animation == AnimationState("Bend", 0.5)
    assert loaded.asset_index == 0 and [c.name for c in loaded.asset.clips] == ["Bend", "Wave"]
    np.testing.assert_array_equal(loaded.mesh.V, subject.mesh.V)
    np.testing.assert_array_equal(loaded.rig_state.weights, skin.weights)

    save_project(replace(session, animation=AnimationState("Run", 1.0)), tmp_path / "char.fieldrig")
    loaded, warnings = load_project(tmp_path / "char.fieldrig")
    assert loaded.animation == AnimationState() and warnings == [
        f"{tmp_path / 'char.fieldrig'}: the mesh has no animation 'Run' any more; no clip plays"
    ]


def test_weight_sets_are_named_once_and_have_an_origin():
    W = np.eye(3)
    state = RigState().with_weight_set(WeightSet("a", W, "file")).with_weight_set(WeightSet("b", W))
    assert [s.name for s in state.weight_sets] == ["a", "b"] and state.active == 1
    replaced = state.with_weight_set(WeightSet("a", 2 * W, "painted"))
    assert [s.origin for s in replaced.weight_sets] == ["painted", "computed"] and replaced.active == 0
    assert replaced.marked_stale().weights_stale and not replaced.without_weights().weight_sets
    with pytest.raises(InputError, match="origin must be one of file, computed, painted"):
        WeightSet("c", W, "guessed")
    with pytest.raises(InputError, match="names must be distinct"):
        RigState(weight_sets=(WeightSet("a", W), WeightSet("a", W)))


def test_painted_vertices_and_locked_handles_round_trip(project, tmp_path):
    """A painted set keeps which vertices were painted; locks are kept by name; a version-2
    file (which had neither) opens with none painted and none locked."""
    rs = project.rig_state
    W = rs.weights.copy()
    W[[5, 9, 400]] = [1.0, 0.0, 0.0]
    state = rs.with_edited_weights(W, painted=np.array([400, 5, 9, 5])).with_locked(["bone2", "bone0"])
    path = tmp_path / "painted.fieldrig"
    save_project(replace(project, rig_state=state), path)
    loaded, warnings = load_project(path)
    assert warnings == []
    ls = loaded.rig_state
    assert [(s.name, s.origin) for s in ls.weight_sets][-1] == ("computed (painted)", "painted")
    assert ls.active == 2 and ls.locked == ("bone0", "bone2") and ls.locked_mask().tolist() == [True, False, True]
    np.testing.assert_array_equal(ls.active_set.painted_vertices, [5, 9, 400])
    np.testing.assert_array_equal(ls.weights, W)
    assert [s.painted_vertices for s in ls.weight_sets[:2]] == [None, None]

    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist() if not name.startswith("painted_")}
    meta = json.loads(members["project.json"])
    meta["version"], meta["arrays"] = 2, [a for a in meta["arrays"] if not a.startswith("painted_")]
    del meta["locked"]
    members["project.json"] = json.dumps(meta)
    with zipfile.ZipFile(tmp_path / "v2.fieldrig", "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    old, warnings = load_project(tmp_path / "v2.fieldrig")
    assert warnings == [] and old.rig_state.locked == () and old.rig_state.active_set.painted_vertices is None
    np.testing.assert_array_equal(old.rig_state.weights, W)


def test_editing_weights_paints_a_copy_and_keeps_the_original():
    W = np.full((4, 2), 0.5)
    state = RigState(weight_sets=(WeightSet("computed", W),))
    edited = np.array([[1.0, 0.0], [0.5, 0.5], [0.5, 0.5], [0.0, 1.0]])
    first = state.with_edited_weights(edited, painted=[0])
    assert [(s.name, s.origin) for s in first.weight_sets] == [
        ("computed", "computed"),
        ("computed (painted)", "painted"),
    ]
    assert first.active == 1 and first.weight_sets[0].weights is W and np.all(W == 0.5)
    second = first.with_edited_weights(edited, painted=[3])  # a painted set is edited in place
    assert len(second.weight_sets) == 2
    np.testing.assert_array_equal(second.active_set.painted_vertices, [0, 3])
    moved = second.with_edited_weights(edited, painted=[1], exact=True)  # rows moved between vertices
    np.testing.assert_array_equal(moved.active_set.painted_vertices, [1])
    again = second.with_active(0).with_edited_weights(edited)  # painting the original again: a second copy
    assert again.active_set.name == "computed (painted) 2" and again.active_set.painted_vertices.size == 0
    with pytest.raises(InputError, match=r"expected a \(4, 2\) table"):
        state.with_edited_weights(np.zeros((3, 2)))
    with pytest.raises(InputError, match="no weights to edit"):
        RigState().with_edited_weights(W)
    with pytest.raises(InputError, match="painted vertices must be indices in 0..3"):
        WeightSet("p", W, "painted", painted_vertices=np.array([4]))
