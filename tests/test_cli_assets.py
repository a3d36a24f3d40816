"""The command line on a skinned character: weights with no --rig (columns = the skin's
joints, the file re-skinned), check, deform and render by the file's own animation, joint
selection."""

import json

import numpy as np
import pytest
from gltf_build import JOINTS, character, read_document, skinned_positions

from fieldrig.cli import main
from fieldrig.geometry.export import load_weights
from fieldrig.geometry.gltf import prune_weights, read_gltf_assets
from fieldrig.geometry.mesh_io import load_mesh


@pytest.fixture(scope="module")
def weighted(tmp_path_factory):
    """The character, and `fieldrig weights char.glb -o out.glb -o out.csv` run once."""
    folder = tmp_path_factory.mktemp("char")
    character(folder / "char.glb")
    argv = ["weights", str(folder / "char.glb"), "-o", str(folder / "out.glb"), "-o", str(folder / "out.csv")]
    return folder, argv


def test_weights_of_a_skinned_file_need_no_rig(weighted, capsys):
    folder, argv = weighted
    assert main(argv + ["--preset", "fast", "--exclude-joints", "twist"]) == 0
    err = capsys.readouterr().err
    assert "'ik_target' lies outside the shape" in err and "excluded" in err  # a warning, not a refusal
    assert "5 joints (3 deforming)" in err
    W, names = load_weights(folder / "out.csv", return_names=True)
    assert names == JOINTS
    assert np.all(W[:, 3] == 0) and np.all(W[:, 4] == 0)  # twist (by choice) and ik_target (outside)
    np.testing.assert_allclose(W.sum(axis=1), 1.0, atol=1e-9)
    # out.glb is the input with its skin weights replaced: same nodes, animations, materials.
    a, _ = read_document(folder / "char.glb")
    b, b_blob = read_document(folder / "out.glb")
    for key in ("nodes", "skins", "animations", "materials", "textures", "images", "scenes", "asset"):
        assert a[key] == b[key], key
    joints, kept = prune_weights(W, 4)
    W_pruned = np.zeros_like(W)
    np.add.at(W_pruned, (np.repeat(np.arange(len(W)), 4), joints.ravel()), kept.ravel())
    np.testing.assert_allclose(read_gltf_assets(folder / "out.glb")[0].artist_weights, W_pruned, atol=1e-6)
    # ... and it plays the file's animation with the new weights.
    code = main(
        ["deform", str(folder / "out.glb"), "--animation", "Bend", "--time", "0.35", "-o", str(folder / "p.obj")]
    )
    assert code == 0
    expected = np.vstack(skinned_positions(b, b_blob, 0, 0.35))
    np.testing.assert_allclose(load_mesh(folder / "p.obj").V, expected, atol=1e-5)


def test_check_reports_the_skin_its_joints_and_their_placement(weighted, capsys):
    folder, _ = weighted
    path = str(folder / "char.glb")
    assert main(["check", path]) == 0
    out = capsys.readouterr().out
    assert "skin of 5 joints; 3 part(s): Body[0]" in out and "Eyes" in out
    assert "animations: Bend (1.00 s), Wave (1.50 s)" in out
    assert "Handle 'ik_target' lies outside the shape (wholly" in out and "it will be excluded" in out
    assert main(["check", path, "--strict", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["subjects"][0]["handles_wholly_outside"] == ["ik_target"]
    assert main(["check", path, "--exclude-joints", "ik_*"]) == 0
    out = capsys.readouterr().out
    assert "Not deforming by choice (1): ik_target." in out
    # the root's handle reaches for its child the IK target: only its inside part counts
    assert "Handle 'root' lies partly outside the shape" in out and "ik_target' lies outside" not in out


def test_deform_by_the_files_animation_matches_the_spec(weighted, capsys):
    folder, _ = weighted
    doc, blob = read_document(folder / "char.glb")
    out = folder / "bent.obj"
    for extra, t in ((["--time", "0.6"], 0.6), (["--frame", "12"], 12 / 30)):
        assert main(["deform", str(folder / "char.glb"), "--animation", "Bend", *extra, "-o", str(out), "-q"]) == 0
        np.testing.assert_allclose(load_mesh(out).V, np.vstack(skinned_positions(doc, blob, 0, t)), atol=1e-5)
    assert main(["deform", str(folder / "char.glb"), "--animation", "Run", "-o", str(out)]) == 1
    assert "has no animation 'Run' (it has 'Bend', 'Wave')" in capsys.readouterr().err


@pytest.mark.parametrize(
    "extra, problem",
    [
        (["--exclude-joints", "nose*"], "--exclude-joints: 'nose*' matches no joint or handle (the rig has: root, mid"),
        (["--deform-joints", "Root"], "--deform-joints: 'Root' matches no joint"),  # globs are case-sensitive
    ],
)
def test_joint_selection_errors(weighted, capsys, extra, problem):
    folder, _ = weighted
    assert main(["weights", str(folder / "char.glb"), "-o", str(folder / "x.npy"), *extra]) == 1
    assert problem in capsys.readouterr().err
    assert not (folder / "x.npy").exists()


def test_an_animation_needs_a_skinned_file(tmp_path, capsys):
    from pathlib import Path

    from fieldrig.assets import __file__ as assets_init

    finger = Path(assets_init).parent / "finger.obj"
    assert main(["deform", str(finger), "--animation", "Bend", "-o", str(tmp_path / "x.obj")]) == 1
    assert "--animation needs a skinned glTF or FBX file" in capsys.readouterr().err


def test_several_skins_give_one_table_each_and_one_re_skinned_file(tmp_path):
    import copy

    from fieldrig import workflow
    from fieldrig.geometry.gltf.document import write_gltf

    character(tmp_path / "one.glb")
    doc, blob = read_document(tmp_path / "one.glb")
    doc["skins"].append(copy.deepcopy(doc["skins"][0]))
    doc["nodes"][9]["skin"] = 1  # the eyes on a second skin
    write_gltf(tmp_path / "two.glb", doc, [bytes(blob)])
    subjects = workflow.load_subjects(tmp_path / "two.glb", exclude=["twist"])
    assert [s.name for s in subjects] == ["two.glb skin 0", "two.glb skin 1"]
    assert all(s.rig.deform.tolist() == [True, True, True, False, True] for s in subjects)
    rng = np.random.default_rng(0)
    results = []
    for s in subjects:
        W = rng.random((len(s.mesh.V), 5))
        results.append(workflow.FitResult(s, W / W.sum(axis=1, keepdims=True)))
    written = workflow.write_outputs([str(tmp_path / "w.npy"), str(tmp_path / "out.glb")], results)
    assert written == [str(tmp_path / "w_skin0.npy"), str(tmp_path / "w_skin1.npy"), str(tmp_path / "out.glb")]
    for k, r in enumerate(results):
        np.testing.assert_array_equal(load_weights(tmp_path / f"w_skin{k}.npy"), r.W)
    first, second = read_gltf_assets(tmp_path / "out.glb")
    np.testing.assert_allclose(second.artist_weights.sum(axis=1), 1.0, atol=1e-6)
    assert first.n_vertices == len(results[0].W) and second.n_vertices == len(results[1].W)
