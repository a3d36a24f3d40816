"""The real app in real windows: `fieldrig view` under Xvfb (polyscope's GLFW window and the
Qt panel on xcb), driven by X input events (xdotool) through a user's session
(tests/window_session.py: open, compute, paint a stroke, re-solve, open a character through
the file dialog, play and step its clip, quit), then the screen as X shows it.

Skipped where Xvfb, xdotool or ImageMagick's ``import`` is absent (``.ci/run`` installs them).
"""

import json
import os
import select
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from gltf_build import character
from PIL import Image

HERE = Path(__file__).resolve().parent
SCREEN = (1600, 1000)
pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not all(shutil.which(t) for t in ("Xvfb", "xdotool", "import")),
    reason="needs Xvfb, xdotool and ImageMagick's import (apt-get install xvfb xdotool imagemagick)",
)


@pytest.fixture
def display():
    """A fresh Xvfb server (the number it picked itself), stopped afterwards."""
    read, write = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    number = b""
    while not number.endswith(b"\n"):
        ready, _, _ = select.select([read], [], [], 20)
        chunk = os.read(read, 16) if ready else b""
        if not chunk:
            server.kill()
            pytest.fail("Xvfb did not start")
        number += chunk
    os.close(read)
    yield f":{int(number)}"
    server.terminate()
    server.wait(10)


def _box(image: np.ndarray, window: dict, left=0, top=0, right=None, bottom=None) -> np.ndarray:
    """The pixels of a window's box (window pixels; None: to its edge)."""
    x, y = window["x"], window["y"]
    right = window["width"] if right is None else right
    bottom = window["height"] if bottom is None else bottom
    return image[
        y + max(0, top) : y + min(bottom, window["height"]), x + max(0, left) : x + min(right, window["width"])
    ]


def _shares(pixels: np.ndarray) -> dict:
    """Shares of a box's pixels in viridis' dark purple, its teal and its yellow, lit or shaded."""
    r, g, b = (pixels[..., k].astype(float) for k in range(3))
    return {
        "purple": float(np.mean((g < 0.6 * np.minimum(r, b)) & (b > 40))),
        "teal": float(np.mean((g > r + 30) & (b > r + 30))),
        "yellow": float(np.mean((r > 140) & (g > 140) & (b < 0.55 * g))),
    }


def _drawn(pixels: np.ndarray) -> None:
    """Not blank: many colours, spread out."""
    assert pixels.std() > 20
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 300


def test_a_session_in_the_real_windows(display, tmp_path):
    glb = tmp_path / "character.glb"
    character(glb)
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env.update(DISPLAY=display, QT_QPA_PLATFORM="xcb")
    run = subprocess.run(
        [sys.executable, str(HERE / "window_session.py"), "--out", str(out), "--character", str(glb)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads((out / "report.json").read_text()) if (out / "report.json").is_file() else {}
    assert run.returncode == 0, (run.stderr[-4000:], report)

    view, panel = report["windows"]["view"], report["windows"]["panel"]
    for window in (view, panel):  # both on the screen, side by side
        assert window["x"] >= 0 and window["y"] >= 0
        assert window["x"] + window["width"] <= SCREEN[0] and window["y"] + window["height"] <= SCREEN[1]
    assert panel["x"] >= view["x"] + view["width"]

    compute = report["compute"]
    assert compute["preset"] == "fast" and compute["shape"] == [1202, 3] and compute["progress"] == 1.0

    stroke = report["stroke"]  # the drag painted bone1 up along it, a painted copy kept the computed set
    assert stroke["origin"] == "painted" and stroke["set"] != compute["set"], stroke
    assert stroke["painted"] > 20 and stroke["raised_min"] >= -1e-9 and stroke["raised_max"] > 0.2, stroke
    assert stroke["row_sum_error"] < 1e-9 and not stroke["camera_moved"], stroke

    resolve = report["resolve"]  # the painted rows are the solve's fixed values
    assert resolve["enabled"] and not resolve["errors"], resolve
    assert resolve["painted_row_error"] < 1e-6 and resolve["row_sum_error"] < 1e-6, resolve
    assert resolve["min_weight"] > -1e-6, resolve

    opened = report["open"]
    assert Path(opened["mesh"]) == glb.resolve() and opened["clips"] == ["Bend", "Wave"]
    assert opened["questions"] == ["Unsaved changes: Discard"]  # the painted weights were not saved
    timeline = report["timeline"]  # played, paused, then Right stepped exactly one frame (the clip loops)
    assert timeline["shown_while_playing"] > 0
    assert timeline["after_right"] == (timeline["paused_at"] + 1) % timeline["frames"], timeline
    assert f"frame {timeline['after_right']} /" in timeline["label"]
    assert report["quit"]["answered"] == ("Unsaved changes: Discard" if report["quit"]["unsaved"] else None)

    paint = np.asarray(Image.open(out / "paint.png").convert("RGB"))
    assert paint.shape[:2] == (SCREEN[1], SCREEN[0])
    _drawn(_box(paint, view))
    _drawn(_box(paint, panel))
    # the weight colour map on the finger around the stroke: bone1's weight high along it, low at the ends
    (x0, y0), (x1, y1) = stroke["pixels"]
    finger = _shares(_box(paint, view, min(x0, x1) - 250, min(y0, y1) - 40, max(x0, x1) + 250, max(y0, y1) + 40))
    assert finger["yellow"] > 0.05 and finger["purple"] > 0.05 and finger["teal"] > 0.005, finger
    # the panel: a light window with dark text, its colour bar in the same map
    lit = _box(paint, panel).astype(float).mean(axis=2)
    assert lit.mean() > 170 and np.mean(lit < 90) > 0.005
    bar = _shares(_box(paint, panel))
    assert bar["yellow"] > 0.0005 and bar["purple"] > 0.0005, bar

    shown = np.asarray(Image.open(out / "timeline.png").convert("RGB"))
    _drawn(_box(shown, view))
    _drawn(_box(shown, panel))
    colours = _shares(_box(shown, view, left=view["width"] // 3))  # right of polyscope's own panel
    assert max(colours.values()) > 0.02, colours  # the character, coloured by its weights
    assert np.abs(shown.astype(int) - paint.astype(int)).mean() > 5  # another picture than the stroke's
