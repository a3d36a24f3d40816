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


#: Prepended to a child's code: importing PyQt6 fails there, as on a machine without it.
NO_QT = "import sys; sys.modules['PyQt6'] = None; "


def fieldrig_runs(*runs, prelude: str = ""):
    """Run ``fieldrig`` command lines one after the other in one child process (polyscope
    starts once); returns the CompletedProcess, whose output ends with the exit codes."""
    code = prelude + "from fieldrig.cli import main; print([main(a) for a in %r])" % [list(map(str, r)) for r in runs]
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)


def foreground(path: Path) -> np.ndarray:
    """Mask of pixels that are not the (white) background, read with Qt (not the writer's Pillow)."""
    from PyQt6.QtGui import QImage

    image = QImage(str(path)).convertToFormat(QImage.Format.Format_RGB888)
    assert not image.isNull(), f"{path} is not an image"
    h, w = image.height(), image.width()
    pixels = np.frombuffer(image.constBits().asstring(image.sizeInBytes()), np.uint8).reshape(h, image.bytesPerLine())
    rgb = pixels[:, : 3 * w].reshape(h, w, 3).astype(int)
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
    W = np.exp(-((d / 0.3) ** 2)) + 1e-9
    save_weights(folder / "w.npy", W / W.sum(axis=1, keepdims=True))
    Pose().set("bone1", rotation=axis_angle_matrix([0, 0, 1], 80)).save(folder / "bend.json")
    return folder


def test_render_without_qt(finger_files, tmp_path):
    """``fieldrig render`` and ``fieldrig.render_image`` + ``write_image`` work where PyQt6
    cannot be imported: headless drawing needs polyscope and Pillow only."""
    out_cli, out_api, out_jpg = tmp_path / "cli.png", tmp_path / "api.png", tmp_path / "api.jpg"
    args = ["render", FINGER, "--rig", FINGER_RIG, "--weights", finger_files / "w.npy", "--size", 200, 150, "-q"]
    result = fieldrig_runs([*args, "-o", out_cli], prelude=NO_QT)
    assert result.returncode == 0 and result.stdout.strip().endswith("[0]"), result.stderr
    code = NO_QT + (
        "import numpy as np, fieldrig; from fieldrig.draw.render import write_image; "
        f"m = fieldrig.load_mesh({str(FINGER)!r}); r = fieldrig.load_rig({str(FINGER_RIG)!r}); "
        f"W = np.load({str(finger_files / 'w.npy')!r}); "
        "image = fieldrig.render_image(m.V, m.F, r, W, width=200, height=150, view='front'); "
        f"write_image({str(out_api)!r}, image); write_image({str(out_jpg)!r}, image); "
        "print(image.shape, image.dtype, 'PyQt6' in sys.modules and sys.modules['PyQt6'] is not None)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("(150, 200, 4) uint8 False"), result.stdout
    for path in (out_cli, out_api, out_jpg):
        mask = foreground(path)
        assert mask.shape == (150, 200)
        assert 0.05 < mask.mean() < 0.9, f"{path.name}: {mask.mean():.3f} of the pixels are drawn"


def test_render_rest_and_posed(finger_files):
    rest, bent = finger_files / "rest.png", finger_files / "bent.png"
    common = [
        "render",
        FINGER,
        "--rig",
        FINGER_RIG,
        "--weights",
        finger_files / "w.npy",
        "--view",
        "front",
        "--size",
        320,
        240,
        "-q",
    ]
    result = fieldrig_runs([*common, "-o", rest], [*common, "--pose", finger_files / "bend.json", "-o", bent])
    assert result.returncode == 0 and result.stdout.strip().endswith("[0, 0]"), result.stderr
    a, b = foreground(rest), foreground(bent)
    assert a.shape == (240, 320)
    assert a.mean() > 0.05  # the finger is there...
    rows_a, rows_b = np.flatnonzero(a.any(axis=1)), np.flatnonzero(b.any(axis=1))
    # ...lying along x at rest; bent 80° at the middle joint, its tip rises well above
    assert rows_b[0] < rows_a[0] - 20
    assert (a != b).mean() > 0.02


def test_render_errors_are_one_line(finger_files, tmp_path, capsys):
    from fieldrig.cli import main

    # every check happens before polyscope starts, so this runs in-process
    assert (
        main(
            [
                "render",
                str(FINGER),
                "--rig",
                str(FINGER_RIG),
                "--weights",
                str(finger_files / "w.npy"),
                "-o",
                str(tmp_path / "x.gif"),
            ]
        )
        == 2
    )
    assert "x.gif: unknown image format '.gif' (expected one of .png" in capsys.readouterr().err
    np.save(tmp_path / "short.npy", np.ones((10, 3)) / 3)
    assert (
        main(
            [
                "render",
                str(FINGER),
                "--rig",
                str(FINGER_RIG),
                "--weights",
                str(tmp_path / "short.npy"),
                "-o",
                str(tmp_path / "x.png"),
            ]
        )
        == 1
    )
    assert "weights have shape (10, 3); the mesh has 1202 vertices" in capsys.readouterr().err
    assert (
        main(
            [
                "render",
                str(FINGER),
                "--rig",
                str(FINGER_RIG),
                "--weights",
                str(finger_files / "w.npy"),
                "--color",
                "nope",
                "-o",
                str(tmp_path / "x.png"),
            ]
        )
        == 1
    )
    assert "--color: expected dominant, none or a handle name" in capsys.readouterr().err
    assert main(["render", str(FINGER), "--pose", str(finger_files / "bend.json"), "-o", str(tmp_path / "x.png")]) == 1
    assert "--rig: a pose needs the rig it was made for" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_view_without_a_display_says_so(monkeypatch, capsys):
    from fieldrig.cli import main

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    if not sys.platform.startswith("linux"):
        pytest.skip("the display check is for Linux")
    assert main(["view", str(FINGER)]) == 1
    assert "no display to open windows on" in capsys.readouterr().err


def test_render_a_characters_own_animation(tmp_path):
    """The character's 'Bend' clip at two times gives two different pictures of it, in the
    frame the clip puts it (its armature moves and scales it)."""
    from gltf_build import character

    character(tmp_path / "char.glb")
    common = ["render", tmp_path / "char.glb", "--animation", "Bend", "--view", "front", "--size", 240, 180, "-q"]
    result = fieldrig_runs(
        [*common, "--time", 0.0, "-o", tmp_path / "t0.png"],
        [*common, "--frame", 30, "-o", tmp_path / "t1.png"],
        ["render", tmp_path / "char.glb", "--animation", "Run", "-o", tmp_path / "x.png"],
    )
    assert result.stdout.strip().endswith("[0, 0, 1]"), result.stderr
    assert "has no animation 'Run' (it has 'Bend', 'Wave')" in result.stderr
    a, b = foreground(tmp_path / "t0.png"), foreground(tmp_path / "t1.png")
    assert a.mean() > 0.02 and b.mean() > 0.02 and (a != b).mean() > 0.02
