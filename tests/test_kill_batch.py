"""``fieldrig batch`` killed at several moments, in a subprocess as a user would kill it.

SIGKILL and SIGINT the moment the first temporary file appears (an asset's outputs being
written), SIGKILL and SIGTERM the moment the first asset's report appears (the second
asset training). After each: no output is truncated, no summary of an earlier run is left
(SIGKILL: none at all; SIGINT/SIGTERM: one that says not everything succeeded, with exit
130/143 and one line on stderr), no process of the run lives on, and the next run removes
the temporary files the killed one left and finishes what it did not. Resume recomputes an
output whose content no longer matches its recorded SHA-256.

The assets are tiny (the demo finger subdivided once, 4,802 vertices, and the legs) with
the ``fast`` preset; the finger writes CSV, DMAT and GLB so that its write lasts long
enough to be caught. A moment missed (the run got past it between two polls) is tried
again with ``--force``.
"""

import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fieldrig.geometry.export import load_weights

ASSETS = Path(__file__).resolve().parents[1] / "assets"
FORMATS = ("csv", "dmat", "glb")
HANDLES = {"finger": 3, "tip": 3}


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """finger (the demo finger subdivided once) and tip (the demo finger), with its TGF rig."""
    import trimesh

    from fieldrig.geometry.export import save_mesh
    from fieldrig.geometry.mesh_io import load_mesh

    d = tmp_path_factory.mktemp("kill") / "assets"
    d.mkdir()
    mesh = load_mesh(ASSETS / "finger.obj")
    save_mesh(d / "finger.obj", *trimesh.remesh.subdivide(mesh.V, mesh.F))
    shutil.copy(ASSETS / "finger.tgf", d / "finger.tgf")
    for suffix in (".obj", ".tgf"):
        shutil.copy(ASSETS / f"finger{suffix}", d / f"tip{suffix}")
    return d


def start(src: Path, out: Path, *extra: str) -> subprocess.Popen:
    """``fieldrig batch`` in its own session (so that every process it starts can be found)."""
    cmd = [sys.executable, "-m", "fieldrig", "batch", str(src), "-o", str(out), "--preset", "fast"]
    cmd += ["--formats", ",".join(FORMATS), "-q", *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def temporaries(out: Path) -> list:
    """The temporary files under ``out`` (``.<target>.~<pid>.<random><suffix>``)."""
    return [p for p in out.rglob(".*") if ".~" in p.name]


def wait_until(proc: subprocess.Popen, condition, timeout_s: float = 120.0) -> bool:
    """Poll ``condition`` every millisecond; False when the run ended first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.001)
    raise AssertionError("the moment never came")


def finish(proc: subprocess.Popen, signum=None) -> tuple:
    """Send ``signum`` (None: none), wait for the run and for every process of its session
    to be gone (they must go by themselves: a worker whose batch was killed exits at once),
    return (exit code, stderr)."""
    if signum is not None:
        os.kill(proc.pid, signum)
    _, err = proc.communicate(timeout=120)
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline:
            os.killpg(proc.pid, 0)
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)  # leave nothing running, then fail
        raise AssertionError("processes of the killed run lived on")
    except ProcessLookupError:
        pass
    return proc.returncode, err


def kill_at(src, out, moment, signum, *extra) -> tuple:
    """Run, send ``signum`` when ``moment(out, started)`` holds; retried (``--force``) when the
    run got past the moment unseen. Returns (exit code, stderr)."""
    for _ in range(4):
        started = time.time_ns()
        proc = start(src, out, *extra)
        if wait_until(proc, lambda started=started: moment(out, started)):
            return finish(proc, signum)
        finish(proc)
        extra = (*extra, "--force")
    raise AssertionError("never caught the run at that moment")


def writing(out: Path, started: int) -> bool:
    """A temporary file is there (the first asset's outputs are being written)."""
    return any(p.stat().st_mtime_ns >= started for p in temporaries(out) if p.exists())


def first_reported(out: Path, started: int) -> bool:
    """This run wrote the first asset's report (the second one is training)."""
    report = out / "finger" / "report.json"
    return report.is_file() and report.stat().st_mtime_ns >= started


def assert_complete(out: Path) -> None:
    """Every output present is whole: tables of the right shape with rows summing to 1, GLB
    files as long as their header says."""
    n_vertices = {"finger": 4802, "tip": 1202}
    for name, H in HANDLES.items():
        for fmt in FORMATS:
            path = out / name / f"{name}.{fmt}"
            if not path.exists():
                continue
            if fmt == "glb":
                data = path.read_bytes()
                assert data[:4] == b"glTF" and struct.unpack("<I", data[8:12])[0] == len(data), path
            else:
                W = load_weights(path)
                assert W.shape == (n_vertices[name], H) and np.allclose(W.sum(axis=1), 1.0), path


def summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


def assert_one_line(err: str, signame: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and f"interrupted by {signame}" in lines[0] and "Traceback" not in err, err


def test_kills_at_several_moments_then_the_next_run_finishes(source, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text(json.dumps({"all_succeeded": True, "assets": []}))  # an earlier run's

    # SIGKILL while the first asset's outputs are being written: no summary, none truncated.
    code, _ = kill_at(source, out, writing, signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert not (out / "summary.json").exists()  # the earlier one went at the start
    assert_complete(out)
    left = temporaries(out)

    # SIGINT at the same moment: exit 130, one line, a summary that says what did not finish.
    code, err = kill_at(source, out, writing, signal.SIGINT)
    assert code == 130
    assert_one_line(err, "SIGINT")
    assert not set(left) & set(temporaries(out))  # the SIGKILLed run's leftovers are gone
    assert not summary(out)["all_succeeded"]
    assert summary(out)["assets"][1] == {
        "name": "tip",
        "status": "failed",
        "error": "interrupted (SIGINT) before it finished",
        "time_s": None,
        "outputs": None,
    }
    assert_complete(out)

    # SIGKILL once the first asset is done (the second one training).
    code, _ = kill_at(source, out, first_reported, signal.SIGKILL)
    assert code == -signal.SIGKILL and not (out / "summary.json").exists()
    assert_complete(out)

    # SIGTERM as soon as the run has begun (its old summary removed): exit 143, one line.
    (out / "summary.json").write_text(json.dumps({"all_succeeded": True, "assets": []}))
    code, err = kill_at(source, out, lambda out, started: not (out / "summary.json").exists(), signal.SIGTERM)
    assert code == 143
    assert_one_line(err, "SIGTERM")
    assert not summary(out)["all_succeeded"]
    assert_complete(out)

    # The next run removes every leftover and finishes; the first asset, whole since its
    # report appeared, is up to date.
    code, err = finish(start(source, out))
    assert code == 0, err
    assert temporaries(out) == []
    assert {a["name"]: a["status"] for a in summary(out)["assets"]} == {"finger": "skipped", "tip": "ok"}
    assert_complete(out)
    assert all((out / n / f"{n}.{f}").is_file() for n in HANDLES for f in FORMATS)
