"""``fieldrig weights`` stopped by SIGINT, SIGTERM or SIGKILL at several moments: its outputs
are all as they were or all complete, never truncated or a mix; a stop exits 130 or 143 with
one line; the temporary files a SIGKILL leaves are removed by the next run writing there."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fieldrig.cli import main
from fieldrig.geometry.export import load_weights

ASSETS = Path(__file__).resolve().parents[1] / "assets"
MESH, RIG = ASSETS / "finger.obj", ASSETS / "finger.tgf"
OUTPUTS = ("w.npy", "w.csv", "w.glb")
OLD = b"an older output\n"


@pytest.fixture(scope="module")
def saved_field(tmp_path_factory):
    """A field of the finger, so that the next run writes without training."""
    path = tmp_path_factory.mktemp("field") / "finger.field"
    assert main(["weights", str(MESH), "--rig", str(RIG), "--preset", "fast", "-q", "-o", str(path) + ".npy",
                 "--save-field", str(path)]) == 0  # fmt: skip
    return path


def _catches_sigterm(pid: int) -> bool:
    """Whether the process has installed its SIGTERM handler (the command is running)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught, 16) & (1 << (signal.SIGTERM - 1)))


def _torch_loaded(pid: int) -> bool:
    try:
        return "libtorch_cpu" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def _temporaries(folder: Path):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and ".~" in p.name)


def _changed(folder: Path) -> bool:
    return any((folder / name).read_bytes() != OLD for name in OUTPUTS if (folder / name).exists())


MOMENTS = {
    "running": lambda proc, folder: _catches_sigterm(proc.pid),
    "training": lambda proc, folder: _torch_loaded(proc.pid),
    "writing": lambda proc, folder: bool(_temporaries(folder)),
    "committed": lambda proc, folder: _changed(folder),
}


def _stop_at(moment: str, signum: int, folder: Path):
    """Start the command, send ``signum`` once ``moment`` is reached; returns (exit code, stderr)."""
    argv = [sys.executable, "-m", "fieldrig", "weights", str(MESH), "--rig", str(RIG), "--preset", "fast", "-q"]
    proc = subprocess.Popen(
        argv + [a for name in OUTPUTS for a in ("-o", str(folder / name))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    reached = MOMENTS[moment]
    deadline = time.monotonic() + 120
    while proc.poll() is None and not reached(proc, folder) and time.monotonic() < deadline:
        time.sleep(0.0005)
    if moment == "training":
        time.sleep(0.5)  # inside the fit (finger, fast: about 1 s of training)
    if proc.poll() is None:
        proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


def _state(folder: Path) -> str:
    """'old' when every output is as it was, 'new' when every one is a complete new file."""
    kinds = set()
    for name in OUTPUTS:
        data = (folder / name).read_bytes()
        if data == OLD:
            kinds.add("old")
            continue
        if name.endswith(".glb"):
            from fieldrig.geometry.gltf import is_skinned_gltf

            assert is_skinned_gltf(folder / name)
        else:
            W = load_weights(folder / name)
            assert W.shape[1] == 3 and np.allclose(W.sum(axis=1), 1.0)
        kinds.add("new")
    assert len(kinds) == 1, f"a mix of old and new outputs: {kinds}"
    return kinds.pop()


@pytest.mark.parametrize(
    "signum, moment",
    [
        (signal.SIGINT, "running"),
        (signal.SIGINT, "training"),
        (signal.SIGINT, "writing"),
        (signal.SIGINT, "committed"),
        (signal.SIGTERM, "training"),
        (signal.SIGTERM, "writing"),
        (signal.SIGKILL, "training"),
        (signal.SIGKILL, "writing"),
        (signal.SIGKILL, "committed"),
    ],
    ids=lambda v: v.name if isinstance(v, signal.Signals) else v,
)
def test_a_stopped_run_leaves_all_old_or_all_new_outputs(tmp_path, saved_field, signum, moment, capsys):
    for name in OUTPUTS:
        (tmp_path / name).write_bytes(OLD)
    code, err = _stop_at(moment, signum, tmp_path)
    state = _state(tmp_path)
    assert "Traceback" not in err
    if code == 0:  # the signal came once the outputs were committed: the run finished
        assert state == "new" and not _temporaries(tmp_path)
    elif signum == signal.SIGKILL:
        assert code == -signal.SIGKILL
    else:
        word = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated"}[signum]
        assert code == 128 + signum and err.strip().splitlines() == [f"fieldrig weights: {word}"]
        assert state == "old" and not _temporaries(tmp_path)
    # The next run writing there completes and removes whatever a killed run left.
    argv = ["weights", str(MESH), "--rig", str(RIG), "--field", str(saved_field), "-q"]
    assert main(argv + [a for name in OUTPUTS for a in ("-o", str(tmp_path / name))]) == 0
    assert _state(tmp_path) == "new" and sorted(os.listdir(tmp_path)) == sorted(OUTPUTS)


def test_an_output_that_cannot_be_written_fails_before_any_work(tmp_path):
    (tmp_path / "afile").write_text("")
    (tmp_path / "outdir.npy").mkdir()
    argv = [sys.executable, "-m", "fieldrig", "weights", str(MESH), "--rig", str(RIG), "-o", str(tmp_path / "ok.npy")]
    for bad, why in (("afile/out.npy", "is a file, not a folder"), ("outdir.npy", "is a folder")):
        start = time.perf_counter()
        proc = subprocess.run(argv + ["-o", str(tmp_path / bad)], capture_output=True, text=True, timeout=60)
        assert time.perf_counter() - start < 2.0
        assert proc.returncode == 1 and proc.stderr.count("\n") == 1
        assert str(tmp_path / bad) in proc.stderr and why in proc.stderr
    assert sorted(os.listdir(tmp_path)) == ["afile", "outdir.npy"]
