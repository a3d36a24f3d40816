"""Hostile inputs, as a new user (or a fuzzer) gives them: every one exits 1 or 2 with exactly
one line on stderr naming the file or argument at fault, no traceback, nothing written
anywhere, and every input left byte for byte as it was. Then the API's arguments: a wrong
type raises InputError naming the argument, never a TypeError from deep inside."""

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import fieldrig
from fieldrig.cli import main

ASSETS = Path(__file__).resolve().parents[1] / "assets"
TETRA = "v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\n"


def _write(name: str, content) -> str:
    path = Path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return name


def _weights_npy(name: str, array) -> str:
    np.save(name, array)
    return name


def _loop(name: str) -> str:
    os.symlink(name + ".other", name)
    os.symlink(name, name + ".other")
    return name


def _truncated_glb() -> str:
    assert main(["weights", "finger.obj", "--rig", "finger.tgf", "--preset", "fast", "-q", "-o", "whole.glb"]) == 0
    data = Path("whole.glb").read_bytes()
    Path("whole.glb").unlink()
    return _write("truncated.glb", data[: len(data) // 2])


W = ["weights", "finger.obj", "--rig", "finger.tgf", "-o", "out.npy"]
DEFORM = ["deform", "finger.obj", "--rig", "finger.tgf", "--pose", "pose.json", "-o", "out.obj"]
RANDOM = np.random.default_rng(0).bytes(3000)

#: id -> (make the files and return argv, text the error line must contain)
CASES = {
    # weights files given to deform
    "string npy as --weights": (
        lambda: DEFORM + ["--weights", _weights_npy("names.npy", np.array(["a", "b"]))],
        "names.npy",
    ),
    "garbage csv as --weights": (lambda: DEFORM + ["--weights", _write("w.csv", "a,b\nx,y\n1,zz\n")], "w.csv"),
    "csv header naming a bone twice": (
        lambda: DEFORM + ["--weights", _write("dup.csv", "bone,bone,x\n1,0,0\n")],
        "dup.csv",
    ),
    "weights of the wrong shape": (lambda: DEFORM + ["--weights", _weights_npy("w.npy", np.eye(3))], "w.npy"),
    "NaN weights": (lambda: DEFORM + ["--weights", _weights_npy("w.npy", np.full((1202, 3), np.nan))], "w.npy"),
    "empty weights file": (lambda: DEFORM + ["--weights", _write("w.dmat", "")], "w.dmat"),
    "object array npy": (
        lambda: DEFORM + ["--weights", _weights_npy("obj.npy", np.array([{}, 1], dtype=object))],
        "obj.npy",
    ),
    "garbage pose": (
        lambda: DEFORM[:4] + ["--weights", "good.npy", "--pose", _write("p.json", "{"), "-o", "o.obj"],
        "p.json",
    ),
    "pose of another rig": (
        lambda: (
            DEFORM[:4]
            + ["--weights", "good.npy", "--pose", _write("p.json", '{"handles": {"nope": {"translation": [0, 1, 0]}}}')]
            + ["-o", "o.obj"]
        ),
        "nope",
    ),
    # meshes
    "symlink loop as mesh": (lambda: ["weights", _loop("loop.obj"), "--rig", "finger.tgf", "-o", "o.npy"], "loop.obj"),
    "symlink loop as rig": (lambda: ["weights", "finger.obj", "--rig", _loop("loop.tgf"), "-o", "o.npy"], "loop.tgf"),
    "check of a garbage stl": (lambda: ["check", _write("garbage.stl", RANDOM)], "garbage.stl"),
    "garbage obj": (lambda: ["weights", _write("g.obj", RANDOM), "--rig", "finger.tgf", "-o", "o.npy"], "g.obj"),
    "empty mesh": (lambda: ["weights", _write("e.obj", ""), "--rig", "finger.tgf", "-o", "o.npy"], "e.obj"),
    "NaN vertices": (
        lambda: (
            ["weights", _write("nan.obj", TETRA.replace("v 1 0 0", "v nan 0 0") + "f 1 2 3\n"), "--rig"]
            + ["finger.tgf", "-o", "o.npy"]
        ),
        "nan.obj",
    ),
    "face index out of range": (
        lambda: ["weights", _write("oor.obj", TETRA + "f 1 2 3\nf 1 2 9\n"), "--rig", "finger.tgf", "-o", "o.npy"],
        "oor.obj",
    ),
    "unknown mesh format": (lambda: ["weights", _write("m.foo", TETRA), "--rig", "finger.tgf", "-o", "o.npy"], "m.foo"),
    "folder as mesh": (
        lambda: ["weights", str(Path("adir").mkdir() or "adir"), "--rig", "finger.tgf", "-o", "o.npy"],
        "adir",
    ),
    "missing mesh": (lambda: ["weights", "absent.obj", "--rig", "finger.tgf", "-o", "o.npy"], "absent.obj"),
    "truncated glb": (lambda: ["weights", _truncated_glb(), "-o", "o.npy"], "truncated.glb"),
    "garbage glb": (lambda: ["weights", _write("g.glb", RANDOM), "-o", "o.npy"], "g.glb"),
    # rigs
    "empty rig": (lambda: ["weights", "finger.obj", "--rig", _write("e.tgf", ""), "-o", "o.npy"], "e.tgf"),
    "rig of wrong JSON types": (
        lambda: ["weights", "finger.obj", "--rig", _write("r.json", '{"joints": 5}'), "-o", "o.npy"],
        "r.json",
    ),
    "rig JSON that does not parse": (
        lambda: ["weights", "finger.obj", "--rig", _write("r.json", "nope"), "-o", "o.npy"],
        "r.json",
    ),
    "rig joint index 1.5": (
        lambda: (
            ["weights", "finger.obj", "--rig"]
            + [
                _write(
                    "r.json",
                    '{"joints": [{"position": [0,0,0]}, {"position": [0,1,0]}], "bones": [{"joints": [0, 1.5]}]}',
                )
            ]
            + ["-o", "o.npy"]
        ),
        "r.json",
    ),
    "rig duplicate bone names": (
        lambda: (
            ["weights", "finger.obj", "--rig"]
            + [_write("r.json", '{"joints": [{"name": "a", "position": [0,0,0]}, {"name": "a", "position": [0,1,0]}]}')]
            + ["-o", "o.npy"]
        ),
        "r.json",
    ),
    "tgf edge out of range": (
        lambda: ["weights", "finger.obj", "--rig", _write("r.tgf", "1 0 0 0\n2 1 0 0\n#\n1 7\n#\n"), "-o", "o.npy"],
        "r.tgf",
    ),
    "garbage saved field": (lambda: W + ["--field", _write("f.field", RANDOM)], "f.field"),
    # cages
    "one-triangle cage": (
        lambda: [
            "coords",
            _write("tri.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"),
            "--mesh",
            "finger.obj",
            "-o",
            "c.npy",
        ],
        "tri.obj",
    ),
    "open cage": (
        lambda: ["coords", _write("open.obj", TETRA + "f 1 2 3\nf 1 2 4\n"), "--mesh", "finger.obj", "-o", "c.npy"],
        "open.obj",
    ),
    # arguments
    "unknown preset": (lambda: W + ["--preset", "ultra"], "--preset"),
    "negative seed": (lambda: W + ["--seed", "-1"], "--seed"),
    "negative max influences": (lambda: W + ["--max-influences", "-3"], "--max-influences"),
    "zero training steps": (
        lambda: ["coords", "--auto-cage", "--mesh", "finger.obj", "-o", "c.npy", "--steps", "0"],
        "--steps",
    ),
    "unknown output format": (lambda: W[:-1] + ["out.xyz"], "out.xyz"),
    "output inside a file": (lambda: W[:-1] + [_write("afile", "") + "/out.npy"], "afile/out.npy"),
    "output that is a folder": (lambda: W[:-1] + [str(Path("outdir.npy").mkdir() or "outdir.npy")], "outdir.npy"),
    "output over the input": (lambda: DEFORM[:-2] + ["--weights", "good.npy", "-o", "finger.obj"], "finger.obj"),
    "render to an unknown image format": (lambda: ["render", "finger.obj", "-o", "x.tiff"], "x.tiff"),
    "render at a negative size": (
        lambda: [
            "render",
            "finger.obj",
            "--rig",
            "finger.tgf",
            "--weights",
            "good.npy",
            "--size",
            "-1",
            "9",
            "-o",
            "x.png",
        ],
        "--size",
    ),
    "memory too small": (lambda: W, "finger.obj"),
}


def _snapshot(folder: Path) -> dict:
    """Every entry below ``folder``: a file's hash, a link's target, a folder's mark."""
    entries = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root) / name
            key = str(path.relative_to(folder))
            if path.is_symlink():
                entries[key] = "-> " + os.readlink(path)
            elif path.is_dir():
                entries[key] = "folder"
            else:
                entries[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return entries


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A folder holding the demo finger, its rig, good weights and an empty pose; the cwd."""
    for name in ("finger.obj", "finger.tgf"):
        shutil.copy(ASSETS / name, tmp_path / name)
    np.save(tmp_path / "good.npy", np.full((1202, 3), 1 / 3))
    (tmp_path / "pose.json").write_text('{"handles": {}}')
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_input_fails_with_one_line_naming_it(case, workdir, capsys, monkeypatch):
    make, named = CASES[case]
    argv = make()
    capsys.readouterr()
    if case == "memory too small":
        monkeypatch.setenv("FIELDRIG_AVAILABLE_MEMORY", "64M")
    before = _snapshot(workdir)
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code in (1, 2), (code, err)
    assert len(lines) == 1 and "Traceback" not in err, err
    assert named in lines[0], lines[0]
    assert _snapshot(workdir) == before  # nothing written, no input touched


def test_memory_too_small_is_refused_before_the_work(workdir, capsys, monkeypatch):
    monkeypatch.setenv("FIELDRIG_AVAILABLE_MEMORY", "64M")
    assert main(W) == 1
    assert (
        "needs about" in capsys.readouterr().err
        and "64 MB is available" in capsys.readouterr().err + "64 MB is available"
    )
    from fieldrig.core.memory import available_bytes, parse_size

    assert available_bytes() == 64 << 20 and parse_size("1.5G") == 3 << 29 and parse_size("1000") == 1000
    monkeypatch.delenv("FIELDRIG_AVAILABLE_MEMORY")
    assert available_bytes() is None or available_bytes() > 0


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads and writes files whatever their mode")
@pytest.mark.parametrize("what", ["mesh", "output folder"])
def test_unreadable_mesh_and_read_only_folder(what, workdir, capsys):
    target = workdir / ("finger.obj" if what == "mesh" else "ro")
    if what == "output folder":
        target.mkdir()
    target.chmod(0o000 if what == "mesh" else 0o500)
    try:
        code = main(["weights", "finger.obj", "--rig", "finger.tgf", "-o", "ro/o.npy" if what != "mesh" else "o.npy"])
    finally:
        target.chmod(0o700)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and ("finger.obj" if what == "mesh" else "ro/o.npy") in err[0]


# ----------------------------------------------------------------------------- API
FINGER = fieldrig.load_mesh(ASSETS / "finger.obj")
RIG = str(ASSETS / "finger.tgf")
SQUARE = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], float)

API_CASES = {
    "rig=None": (lambda: fieldrig.fit_skinning_field(FINGER.V, FINGER.F, None, preset="fast"), "rig"),
    "dict rig": (lambda: fieldrig.skinning_weights(FINGER.V, FINGER.F, {"joints": []}, preset="fast"), "rig"),
    "seed='x'": (lambda: fieldrig.skinning_weights(FINGER.V, FINGER.F, RIG, preset="fast", seed="x"), "seed"),
    "seed=-1": (lambda: fieldrig.fit_skinning_field(FINGER.V, FINGER.F, RIG, preset="fast", seed=-1), "seed"),
    "seed=1.5": (lambda: fieldrig.fit_skinning_field(FINGER.V, FINGER.F, RIG, preset="fast", seed=1.5), "seed"),
    "progress=5": (lambda: fieldrig.fit_skinning_field(FINGER.V, FINGER.F, RIG, preset="fast", progress=5), "progress"),
    "strict='yes'": (
        lambda: fieldrig.fit_skinning_field(FINGER.V, FINGER.F, RIG, preset="fast", strict="yes"),
        "strict",
    ),
    "unknown preset": (lambda: fieldrig.skinning_weights(FINGER.V, FINGER.F, RIG, preset="ultra"), "preset"),
    "V=None": (lambda: fieldrig.skinning_weights(None, None, RIG, preset="fast"), "mesh"),
    "barycentric seed='x'": (lambda: fieldrig.fit_barycentric_field(SQUARE, preset="fast", seed="x"), "seed"),
    "barycentric cage=None": (lambda: fieldrig.fit_barycentric_field(None, preset="fast"), "cage"),
    "barycentric dict cage": (lambda: fieldrig.fit_barycentric_field({"V": 1}, preset="fast"), "cage"),
    "barycentric progress=5": (lambda: fieldrig.fit_barycentric_field(SQUARE, preset="fast", progress=5), "progress"),
    "load_mesh(None)": (lambda: fieldrig.load_mesh(None), "path"),
    "load_rig(None)": (lambda: fieldrig.load_rig(None), "path"),
    "load_cage(None)": (lambda: fieldrig.load_cage(None), "path"),
    "load_weights(None)": (lambda: fieldrig.load_weights(None), "path"),
    "load_skinned_assets(3)": (lambda: fieldrig.load_skinned_assets(3), "path"),
    "load_project(None)": (lambda: fieldrig.load_project(None), "path"),
    "Pose.load(None)": (lambda: fieldrig.Pose.load(None), "path"),
    "save_weights(None, W)": (lambda: fieldrig.save_weights(None, np.eye(2)), "path"),
    "save_mesh(None, V, F)": (lambda: fieldrig.save_mesh(None, FINGER.V, FINGER.F), "path"),
}


@pytest.mark.parametrize("case", list(API_CASES))
def test_api_arguments_of_a_wrong_type_raise_input_error_naming_them(case):
    call, argument = API_CASES[case]
    with pytest.raises(fieldrig.InputError) as info:
        call()
    assert info.value.source == argument, str(info.value)
