"""The ``fieldrig`` command as a user runs it: outputs in every format agree, a pose applied
through the written glTF skin by an independent numpy implementation matches
``fieldrig deform``, and bad input gives one-line errors with the documented exit codes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pygltflib
import pytest
from test_gltf import dense_skin_weights, read_accessor  # the independent glTF reader (pygltflib)

from fieldrig.cli import main
from fieldrig.geometry.export import load_weights

ASSETS = Path(__file__).resolve().parents[1] / "assets"


def run_cli(*args, cwd=None):
    """Run the command in a fresh process, as a user would; returns (code, stdout, stderr)."""
    proc = subprocess.run(
        [sys.executable, "-m", "fieldrig.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        timeout=600,
    )
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(scope="module")
def finger_weights(tmp_path_factory):
    """``fieldrig weights`` on the demo finger, written in every format at once."""
    out = tmp_path_factory.mktemp("weights")
    outputs = [out / f"finger.{ext}" for ext in ("npy", "csv", "dmat", "glb")]
    code, _, err = run_cli(
        "weights",
        ASSETS / "finger.obj",
        "--rig",
        ASSETS / "finger.tgf",
        "--preset",
        "fast",
        *[a for o in outputs for a in ("-o", o)],
        "--save-field",
        out / "finger.field",
    )
    assert code == 0, err
    return out


def test_every_format_holds_the_same_weights(finger_weights):
    from fieldrig.geometry.mesh_io import load_mesh

    W = load_weights(finger_weights / "finger.npy")
    V = load_mesh(ASSETS / "finger.obj").V
    assert W.shape == (len(V), 3)
    assert np.all(W >= 0) and np.allclose(W.sum(axis=1), 1.0)
    W_csv, names = load_weights(finger_weights / "finger.csv", return_names=True)
    assert names == ["bone0", "bone1", "bone2"]
    assert np.array_equal(W_csv, W) and np.array_equal(load_weights(finger_weights / "finger.dmat"), W)
    # The glb, read by pygltflib: same vertices, and a skin whose weights are W (3 ≤ 4 handles,
    # so nothing is pruned).
    g = pygltflib.GLTF2().load(str(finger_weights / "finger.glb"))
    prim = g.meshes[0].primitives[0]
    assert np.allclose(read_accessor(g, prim.attributes.POSITION), V, atol=1e-6)
    assert np.allclose(dense_skin_weights(g, len(g.skins[0].joints))[:, :3], W, atol=1e-6)


def test_saved_field_evaluates_to_the_weights(finger_weights, tmp_path, capsys):
    assert (
        main(
            [
                "weights",
                str(ASSETS / "finger.obj"),
                "--rig",
                str(ASSETS / "finger.tgf"),
                "--field",
                str(finger_weights / "finger.field"),
                "-o",
                str(tmp_path / "again.npy"),
            ]
        )
        == 0
    )
    assert np.allclose(load_weights(tmp_path / "again.npy"), load_weights(finger_weights / "finger.npy"), atol=1e-9)
    assert (
        main(
            [
                "weights",
                str(ASSETS / "legs.obj"),
                "--rig",
                str(ASSETS / "legs.json"),
                "--field",
                str(finger_weights / "finger.field"),
                "-o",
                str(tmp_path / "wrong.npy"),
            ]
        )
        == 1
    )
    assert "finger.field: was trained for handles" in capsys.readouterr().err


# ----------------------------------------------------------------- deform vs glTF
def _axis_angle_quaternion(axis, degrees):
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    half = np.radians(degrees) / 2
    return np.r_[axis * np.sin(half), np.cos(half)]  # glTF order x, y, z, w


def _trs(translation, quaternion):
    x, y, z, w = quaternion
    M = np.eye(4)
    M[:3, :3] = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ]
    M[:3, 3] = translation
    return M


def gltf_lbs(path, pose):
    """Linear blend skinning straight from a glTF file, as a glTF viewer does it: set each
    posed joint node's local TRS, walk the node tree, skin matrix = world × inverse bind."""
    g = pygltflib.GLTF2().load(str(path))
    local = {}
    for i, node in enumerate(g.nodes):
        t = np.asarray(node.translation or [0, 0, 0], float)
        q = np.asarray(node.rotation or [0, 0, 0, 1], float)
        if node.name in pose:
            axis, degrees, shift = pose[node.name]
            q = _axis_angle_quaternion(axis, degrees)
            t = t + shift
        local[i] = _trs(t, q)
    parent = {c: i for i, n in enumerate(g.nodes) for c in (n.children or [])}

    def world(i):
        return (world(parent[i]) if i in parent else np.eye(4)) @ local[i]

    ibm = read_accessor(g, g.skins[0].inverseBindMatrices).reshape(-1, 4, 4).transpose(0, 2, 1)
    S = np.stack([world(j) @ ibm[k] for k, j in enumerate(g.skins[0].joints)])
    V = read_accessor(g, g.meshes[0].primitives[0].attributes.POSITION)
    return np.einsum("nj,jab,nb->na", dense_skin_weights(g, len(S)), S, np.c_[V, np.ones(len(V))])[:, :3]


def test_pose_through_the_glb_skin_matches_fieldrig_deform(finger_weights, tmp_path):
    from fieldrig.geometry.mesh_io import load_mesh

    pose = {
        "bone0": ([0, 1, 0], -25.0, [0.1, 0.0, 0.05]),
        "bone1": ([0, 0, 1], 40.0, [0, 0, 0]),
        "bone2": ([1, 1, 0], 30.0, [0, 0, 0]),
    }
    entries = {
        name: {"axis_angle_deg": [*axis, deg], "translation": list(shift)} for name, (axis, deg, shift) in pose.items()
    }
    (tmp_path / "pose.json").write_text(json.dumps({"format": "fieldrig.pose", "version": 1, "handles": entries}))
    glb = finger_weights / "finger.glb"
    expected = gltf_lbs(glb, {k: (a, d, np.asarray(s)) for k, (a, d, s) in pose.items()})
    V = load_mesh(ASSETS / "finger.obj").V
    assert np.abs(expected - V).max() > 0.5  # the pose really moves the finger

    code, _, err = run_cli(
        "deform",
        ASSETS / "finger.obj",
        "--rig",
        ASSETS / "finger.tgf",
        "--weights",
        glb,
        "--pose",
        tmp_path / "pose.json",
        "-o",
        tmp_path / "posed.obj",
    )
    assert code == 0, err
    assert np.allclose(load_mesh(tmp_path / "posed.obj").V, expected, atol=1e-5)
    # Mesh, rig and weights all from the glb; PLY output.
    code, _, err = run_cli("deform", glb, "--pose", tmp_path / "pose.json", "-o", tmp_path / "posed.ply")
    assert code == 0, err
    assert np.allclose(load_mesh(tmp_path / "posed.ply").V, expected, atol=1e-5)
    # With the full weights (.npy) the result differs from the glb only by float32 rounding here.
    assert (
        main(
            [
                "deform",
                str(ASSETS / "finger.obj"),
                "--rig",
                str(ASSETS / "finger.tgf"),
                "--weights",
                str(finger_weights / "finger.npy"),
                "--pose",
                str(tmp_path / "pose.json"),
                "--method",
                "dqs",
                "-o",
                str(tmp_path / "dqs.glb"),
                "-q",
            ]
        )
        == 0
    )
    assert load_mesh(tmp_path / "dqs.glb").V.shape == V.shape


def test_cage_deformation(tmp_path):
    from fieldrig.geometry.export import save_mesh, save_weights
    from fieldrig.geometry.mesh_io import load_mesh

    # A tetrahedron cage; ordinary barycentric coordinates are exact cage coordinates.
    C = np.array([[0, 0, 0], [2, 0, 0], [0, 2, 0], [0, 0, 2.0]])
    T = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
    P = np.array([[0.2, 0.3, 0.4], [0.5, 0.5, 0.5], [0.1, 0.1, 1.2]])
    Phi = np.c_[1 - P.sum(axis=1) / 2, P / 2]
    save_mesh(tmp_path / "cage.obj", C, T)
    C2 = C @ np.diag([1.0, 2.0, 0.5]) + [1, 0, 0]
    save_mesh(tmp_path / "moved.obj", C2, T)
    save_mesh(tmp_path / "points.ply", P, None)
    save_weights(tmp_path / "phi.npy", Phi)
    code, _, err = run_cli(
        "deform",
        tmp_path / "points.ply",
        "--coords",
        tmp_path / "phi.npy",
        "--cage",
        tmp_path / "cage.obj",
        "--deformed-cage",
        tmp_path / "moved.obj",
        "-o",
        tmp_path / "out.ply",
    )
    assert code == 0, err
    assert np.allclose(load_mesh(tmp_path / "out.ply").V, P @ np.diag([1.0, 2.0, 0.5]) + [1, 0, 0], atol=1e-6)


# ----------------------------------------------------------------------- check
def test_check_reports_a_good_input(capsys):
    assert main(["check", str(ASSETS / "legs.obj"), "--rig", str(ASSETS / "legs.json")]) == 0
    out = capsys.readouterr().out
    assert "closed" in out and "libigl BBW reference can run" in out and "Every deforming handle lies inside" in out


def test_check_flags_handles_outside_and_holes(tmp_path, capsys):
    from fieldrig.geometry.export import save_mesh
    from fieldrig.geometry.mesh_io import load_mesh

    mesh = load_mesh(ASSETS / "finger.obj")
    save_mesh(tmp_path / "holey.obj", mesh.V, mesh.F[10:])
    (tmp_path / "far.tgf").write_text("1 0 0 0\n2 1.2 0 0\n3 1.2 3 0\n#\n1 2\n2 3\n#\n")
    argv = ["check", str(tmp_path / "holey.obj"), "--rig", str(tmp_path / "far.tgf"), "--json"]
    assert main(argv) == 0  # bone1 pokes out: its inside part is used
    report = json.loads(capsys.readouterr().out)
    subject = report["subjects"][0]
    assert report["ok"] is True and subject["report"]["boundary_loops"] >= 1
    assert subject["handles_partly_outside"] == ["bone1"] and subject["handles_wholly_outside"] == []
    assert subject["report"]["bbw_feasible"] is False
    assert main(argv + ["--strict"]) == 1  # pipelines that want the refusal
    assert json.loads(capsys.readouterr().out)["ok"] is False
    assert main(argv + ["--exclude-joints", "bone1"]) == 0
    subject = json.loads(capsys.readouterr().out)["subjects"][0]
    assert subject["handles_excluded"] == ["bone1"] and subject["handles_partly_outside"] == []


# ----------------------------------------------------------------- bad usage
@pytest.mark.parametrize(
    "argv",
    [
        ["weights", "m.obj", "-o", "w.npy"],  # --rig missing (an OBJ has no skin)
        ["weights", "m.obj", "--rig", "r.tgf", "-o", "w.xlsx"],  # unknown output format
        ["weights", "m.obj", "--rig", "r.tgf", "-o", "w.glb", "--max-influences", "0"],
        ["weights", "m.obj", "--rig", "r.tgf", "-o", "w.npy", "--preset", "ultra"],
        ["coords", "--mesh", "m.obj", "-o", "phi.npy"],  # neither CAGE nor --auto-cage
        ["deform", "m.obj", "-o", "x.obj"],  # neither --pose nor a cage
        ["deform", "m.obj", "--pose", "p.json", "--deformed-cage", "c.obj", "-o", "x.obj"],
        ["batch", "dir", "-o", "out", "--jobs", "0"],
        ["batch", "dir", "-o", "out", "--formats", "npy,fbx"],
        ["batch", "dir", "-o", "out", "--scheduler", "tcp://x:1"],  # --scheduler without dask
        ["weights", "a.glb", "--rig", "a.glb", "-o", "a.glb"],  # would overwrite the input
        ["weights", "m.obj", "--rig", "r.tgf", "-o", "w.npy", "--field", "f", "--save-field", "g"],
        ["deform", "m.obj", "--pose", "p.json", "--weights", "w.npy", "-o", "m.obj"],
        ["frobnicate"],
        [],
    ],
)
def test_usage_errors_exit_2_without_traceback(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err and "error:" in err


def test_help_everywhere_with_examples_and_no_heavy_imports():
    code = (
        "import sys, contextlib, io\nfrom fieldrig.cli import main\n"
        "for cmd in ([], ['weights'], ['coords'], ['deform'], ['batch'], ['check']):\n"
        "    buf = io.StringIO()\n"
        "    with contextlib.redirect_stdout(buf):\n"
        "        try: main(cmd + ['--help'])\n"
        "        except SystemExit as e: assert e.code == 0\n"
        "    assert 'examples:' in buf.getvalue(), cmd\n"
        "print(sorted(m for m in ('torch', 'PyQt6', 'polyscope') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "make_bad, problem",
    [
        (lambda d: None, "not found"),
        (lambda d: (d / "m.obj").write_text("v 0 0 nan\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"), "NaN"),
    ],
)
def test_bad_input_file_exits_1_with_one_line(tmp_path, make_bad, problem):
    make_bad(tmp_path)
    (tmp_path / "r.tgf").write_text("1 0 0 0\n2 1 0 0\n#\n1 2\n#\n")
    code, out, err = run_cli("weights", tmp_path / "m.obj", "--rig", tmp_path / "r.tgf", "-o", tmp_path / "w.npy")
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "m.obj" in lines[0] and problem in lines[0], err
    assert not (tmp_path / "w.npy").exists()


def test_bad_rig_exits_1(tmp_path):
    (tmp_path / "r.tgf").write_text("1 0 0 0\n#\n1 7\n#\n")
    code, _, err = run_cli("check", ASSETS / "finger.obj", "--rig", tmp_path / "r.tgf")
    assert code == 1 and "r.tgf" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_handles_outside_the_shape_name_the_rig_file(tmp_path, capsys):
    (tmp_path / "far.tgf").write_text("1 0 0 0\n2 1.2 0 0\n3 1.2 3 0\n#\n1 2\n2 3\n#\n")
    argv = ["weights", str(ASSETS / "finger.obj"), "--rig", str(tmp_path / "far.tgf"), "-o", str(tmp_path / "w.npy")]
    assert main(argv + ["-q", "--strict"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "far.tgf: handle 'bone1' lies partly outside the shape" in err
    assert main(argv + ["--preset", "fast"]) == 0  # without --strict: a warning, and its inside part is used
    err = capsys.readouterr().err
    assert "1 warning(s)" in err and "handle 'bone1' lies partly outside the shape" in err
    W = np.load(tmp_path / "w.npy")
    assert W.shape[1] == 2 and W[:, 1].max() == pytest.approx(1.0)


def test_cage_deformation_2d(tmp_path):
    from fieldrig.geometry.cage import Cage, save_cage
    from fieldrig.geometry.export import save_mesh, save_weights
    from fieldrig.geometry.mesh_io import load_mesh

    C = np.array([[0, 0], [3, 0], [0, 3.0]])
    P = np.array([[0.5, 0.5, 0.0], [1.0, 1.5, 0.0], [2.0, 0.5, 0.0], [0.2, 2.0, 0.0]])
    Phi = np.c_[1 - P[:, :2].sum(axis=1) / 3, P[:, :2] / 3]
    save_cage(Cage.from_arrays(C), tmp_path / "tri.json")
    save_cage(Cage.from_arrays(C * [2.0, 1.0] + [0, 1]), tmp_path / "moved.json")
    save_mesh(tmp_path / "flat.obj", P, np.array([[0, 1, 2], [0, 1, 3]]))
    save_weights(tmp_path / "phi.npy", Phi)
    assert (
        main(
            [
                "deform",
                str(tmp_path / "flat.obj"),
                "--coords",
                str(tmp_path / "phi.npy"),
                "--cage",
                str(tmp_path / "tri.json"),
                "--deformed-cage",
                str(tmp_path / "moved.json"),
                "-o",
                str(tmp_path / "out.obj"),
                "-q",
            ]
        )
        == 0
    )
    assert np.allclose(load_mesh(tmp_path / "out.obj").V, P * [2.0, 1.0, 1.0] + [0, 1, 0])


def test_coords_with_an_automatic_cage_then_cage_deformation(tmp_path):
    """Generalized barycentric coordinates are non-negative, sum to 1 and reproduce the points
    from the cage (Φ · cage = points) after any number of training steps, so two suffice."""
    from fieldrig.geometry.cage import load_cage
    from fieldrig.geometry.export import save_mesh
    from fieldrig.geometry.mesh_io import load_mesh

    code, _, err = run_cli(
        "coords",
        "--auto-cage",
        "--cage-vertices",
        "12",
        "--mesh",
        ASSETS / "legs.obj",
        "-o",
        tmp_path / "phi.csv",
        "--preset",
        "fast",
        "--steps",
        "2",
        "-q",
    )
    assert code == 0, err
    cage = load_cage(tmp_path / "phi.cage.obj")  # written beside the coordinates
    Phi, names = load_weights(tmp_path / "phi.csv", return_names=True)
    V = load_mesh(ASSETS / "legs.obj").V
    assert Phi.shape == (len(V), len(cage.V)) and names[0] == "cage0"
    assert np.allclose(Phi @ cage.V, V, atol=1e-6) and np.allclose(Phi.sum(axis=1), 1) and Phi.min() >= -1e-9
    # A translated cage translates the mesh.
    save_mesh(tmp_path / "moved.obj", cage.V + [0.5, 0, 0], cage.F)
    assert (
        main(
            [
                "deform",
                str(ASSETS / "legs.obj"),
                "--coords",
                str(tmp_path / "phi.csv"),
                "--cage",
                str(tmp_path / "phi.cage.obj"),
                "--deformed-cage",
                str(tmp_path / "moved.obj"),
                "-o",
                str(tmp_path / "moved.ply"),
                "-q",
            ]
        )
        == 0
    )
    assert np.allclose(load_mesh(tmp_path / "moved.ply").V, V + [0.5, 0, 0], atol=1e-5)
