"""``fieldrig render``: headless images through polyscope's EGL backend (run in a child
process: polyscope picks its backend once per process, and the GUI tests use the mock)."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fieldrig.geometry.export import save_weights
from fieldrig.geometry.mesh_io import load_mesh
from fieldrig.geometry.pose import Pose, axis_angle_matrix
from fieldrig.geometry.rig import load_rig

ASSETS = Path(__file__).resolve().parents[1] / "assets"
FINGER, FINGER_RIG = ASSETS / "finger.obj", ASSETS / "finger.tgf"


def fieldrig(*args):
    return subprocess.run([sys.executable, "-m", "fieldrig.cli", *map(str, args)], capture_output=True, text=True, timeout=120)


def foreground(path: Path) -> np.ndarray:
    """Mask of pixels that are not the (white) background."""
    from PyQt6.QtGui import QImage

    image = QImage(str(path)).convertToFormat(QImage.Format.Format_RGB888)
    assert not image.isNull(), f"{path} is not an image"
    h, w = image.height(), image.width()
    pixels = np.frombuffer(image.constBits().asstring(image.sizeInBytes()), np.uint8).reshape(h, image.bytesPerLine())
    rgb = pixels[:, :3 * w].reshape(h, w, 3).astype(int)
    return np.abs(rgb - 255).sum(axis=2) > 30


@pytest.fixture(scope="module")
def finger_files(tmp_path_factory):
    """Smooth weights (falling off with the distance to each bone) and a pose bending the tip up."""
    folder = tmp_path_factory.mktemp("render")
    mesh, rig = load_mesh(FINGER), load_rig(FINGER_RIG)
    seg = rig.handle_segments()
    ab = seg[:, 1] - seg[:, 0]
    t = np.clip(np.einsum("hnk,hk->nh", mesh.V[None] - seg[:, None, 0], ab) / (ab * ab).sum(1), 0, 1)
    d = np.linalg.norm(mesh.V[:, None] - (seg[None, :, 0] + t[..., None] * ab[None]), axis=2)
    W = np.exp(-(d / 0.3) ** 2) + 1e-9
    save_weights(folder / "w.npy", W / W.sum(axis=1, keepdims=True))
    Pose().set("bone1", rotation=axis_angle_matrix([0, 0, 1], 80)).save(folder / "bend.json")
    return folder


def test_render_rest_and_posed(finger_files):
    rest, bent = finger_files / "rest.png", finger_files / "bent.png"
    common = ["--rig", FINGER_RIG, "--weights", finger_files / "w.npy", "--view", "front", "--size", 320, 240, "-q"]
    for out, extra in ((rest, []), (bent, ["--pose", finger_files / "bend.json"])):
        result = fieldrig("render", FINGER, *common, *extra, "-o", out)
        assert result.returncode == 0, result.stderr
    a, b = foreground(rest), foreground(bent)
    assert a.shape == (240, 320)
    assert a.mean() > 0.05                      # the finger is there...
    rows_a, rows_b = np.flatnonzero(a.any(axis=1)), np.flatnonzero(b.any(axis=1))
    # ...lying along x at rest; bent 80° at the middle joint, its tip rises well above
    assert rows_b[0] < rows_a[0] - 20
    assert (a != b).mean() > 0.02


def test_render_errors_are_one_line(finger_files, tmp_path):
    result = fieldrig("render", FINGER, "--rig", FINGER_RIG, "--weights", finger_files / "w.npy", "-o", tmp_path / "x.gif")
    assert result.returncode == 1 and "x.gif: expected a .png" in result.stderr
    np.save(tmp_path / "short.npy", np.ones((10, 3)) / 3)
    result = fieldrig("render", FINGER, "--rig", FINGER_RIG, "--weights", tmp_path / "short.npy", "-o", tmp_path / "x.png")
    assert result.returncode == 1 and "weights have shape (10, 3); the mesh has 1202 vertices" in result.stderr
    result = fieldrig("render", FINGER, "--rig", FINGER_RIG, "--weights", finger_files / "w.npy", "--color", "nope",
                      "-o", tmp_path / "x.png")
    assert result.returncode == 1 and "--color: expected dominant, none or a handle name" in result.stderr
    assert not (tmp_path / "x.png").exists()


def test_view_without_a_display_says_so(monkeypatch, capsys):
    from fieldrig.cli import main

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    if not sys.platform.startswith("linux"):
        pytest.skip("the display check is for Linux")
    assert main(["view", str(FINGER)]) == 1
    assert "no display to open windows on" in capsys.readouterr().err
