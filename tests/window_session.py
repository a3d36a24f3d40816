"""A user's session in the real `fieldrig view`, every input a real X event (xdotool); run by
tests/test_e2e_window.py under Xvfb, in its own process:

    DISPLAY=:N python tests/window_session.py --out OUT --character CHARACTER.glb

It runs ``fieldrig view assets/finger.obj --rig assets/finger.tgf`` (the command's own
``main``) and, from the app's event loop, looks up where widgets are and sends clicks and
keys through the X server: the Weights tab, the fast preset in its drop-down, *Compute
weights*; bone1 in the handle list and *Selected handle's weight*; P, then a brush stroke
dragged across the finger in the 3D view; *Re-solve*. Then Ctrl+O, the
character's path typed into the file dialog, *Discard* for the unsaved changes; a clip
chosen in the timeline's drop-down, *Play*, *Play* again to pause, Right in the 3D view to
step one frame; Ctrl+Q and *Discard*. Screenshots of the whole screen (``import -window
root``) after the stroke (``OUT/paint.png``) and after the step (``OUT/timeline.png``).
What it saw goes to ``OUT/report.json``; it exits with `fieldrig view`'s code, or 1 with
the failed step's error.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import traceback
from pathlib import Path

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QApplication, QFileDialog, QLineEdit, QMessageBox

from fieldrig import cli
from fieldrig.gui.panel import MainWindow
from fieldrig.gui.scripting import StepRunner, click, polls, until, xdotool

ROOT = Path(__file__).resolve().parents[1]
MESH, RIG = ROOT / "assets" / "finger.obj", ROOT / "assets" / "finger.tgf"
#: The handle whose weight is shown and painted.
PAINTED = "bone1"


def window_geometry(wid: str) -> dict:
    """x, y, width, height of an X window."""
    shell = dict(line.split("=") for line in xdotool("getwindowgeometry", "--shell", wid).split())
    return {key.lower(): int(shell[key]) for key in ("X", "Y", "WIDTH", "HEIGHT")}


def screenshot(path: Path) -> None:
    subprocess.run(["import", "-window", "root", str(path)], check=True, timeout=30)


def answer(choices):
    """Click the first of ``choices`` that the question box shown offers; its title and the
    choice, or None when no question is shown."""
    box = QApplication.activeModalWidget()
    if not isinstance(box, QMessageBox) or not box.isVisible():
        return None
    offered = {b.text(): b for b in box.buttons()}
    chosen = next((c for c in choices if c in offered), None)
    if chosen is None:
        raise RuntimeError(f"the question {box.text()!r} offers {sorted(offered)}, none of {choices}")
    click(offered[chosen])
    return f"{box.windowTitle()}: {chosen}"


class Session:
    def __init__(self, out: Path, character: Path):
        self.out, self.character = out, character
        self.report: dict = {}

    def steps(self):
        yield from until(lambda: self.window() is not None, "panel window", 60)
        win = self.win = self.window()
        doc, jobs = win.doc, win.jobs
        yield from until(lambda: doc.mesh is not None and doc.rig is not None and not jobs.busy, "mesh and rig", 90)
        view_id = self.view_id = xdotool("search", "--name", "^fieldrig viewer$").split()[0]
        panel_id = xdotool("search", "--name", "^fieldrig —").split()[0]
        self.report["windows"] = {"view": window_geometry(view_id), "panel": window_geometry(panel_id)}

        # the Weights tab, the fast preset, Compute weights: clicks
        tabs = win.tabs
        bar = tabs.tabBar()
        click(bar, bar.tabRect([tabs.tabText(i) for i in range(tabs.count())].index("Weights")))
        yield from until(lambda: tabs.tabText(tabs.currentIndex()) == "Weights", "Weights tab after the click", 10)
        tab = win.weights_tab
        click(tab.preset)
        popup = tab.preset.view()
        yield from until(popup.isVisible, "preset list after the click", 10)
        yield from polls(5)
        click(popup.viewport(), popup.visualRect(popup.model().index(tab.preset.findText("fast"), 0)))
        yield from until(lambda: doc.settings["preset"] == "fast", "fast preset after the click", 10)
        progress = []
        jobs.progressed.connect(lambda event: progress.append(event.fraction))
        start = time.perf_counter()
        click(tab.compute)
        yield from until(lambda: jobs.busy, "job after the Compute click", 10)
        yield from until(lambda: not jobs.busy, "end of the weights job", 120)
        if doc.weights is None or win.errors:
            raise RuntimeError(f"computing weights failed: {win.errors}")
        self.report["compute"] = {
            "preset": doc.settings["preset"],
            "seconds": time.perf_counter() - start,
            "shape": list(doc.weights.shape),
            "progress": max(progress, default=None),
            "set": doc.rig_state.active_set.name,
        }

        # bone1's weight in the view, then the brush: P, a stroke dragged across the finger
        (item,) = tab.tree.findItems(PAINTED, Qt.MatchFlag.MatchExactly | Qt.MatchFlag.MatchRecursive, 0)
        click(tab.tree.viewport(), tab.tree.visualItemRect(item))
        handle = doc.rig.handle_names.index(PAINTED)
        yield from until(lambda: doc.selected_handle == handle, f"{PAINTED} selected after the click", 10)
        click(tab.show_weight)
        yield from until(lambda: doc.settings["colouring"] == "weight", "weight colouring after the click", 10)
        xdotool("key", "p")
        yield from until(lambda: win.brush.active, "brush after P", 10)
        yield from self.stroke(handle)
        screenshot(self.out / "paint.png")
        yield from self.resolve()

        # File ▸ Open mesh (Ctrl+O): the character's path typed into the dialog
        xdotool("key", "ctrl+o")
        yield from until(lambda: isinstance(QApplication.activeModalWidget(), QFileDialog), "file dialog", 20)
        dialog = QApplication.activeModalWidget()
        name = dialog.findChild(QLineEdit, "fileNameEdit")
        click(name)
        yield from polls(5)
        xdotool("type", "--delay", "2", str(self.character))
        yield from until(lambda: name.text() == str(self.character), "typed path", 20)
        xdotool("key", "Return")
        asked, deadline = [], time.perf_counter() + 60
        while doc.mesh is None or Path(doc.mesh.path) != self.character or jobs.busy:
            said = answer(["Discard", "Discard rig"])
            if said:
                asked.append(said)
                yield from polls(10)
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{self.character} not open after 60 s (questions answered: {asked})")
            yield from polls(1)
        if win.errors or not doc.clip_names():
            raise RuntimeError(f"{self.character}: opened without clips ({win.errors})")
        self.report["open"] = {"questions": asked, "mesh": doc.mesh.path, "clips": doc.clip_names()}
        yield from self.timeline()

        # File ▸ Quit (Ctrl+Q) while the clip plays: the app asks about unsaved changes, if any, and ends
        click(win.timeline.play)  # the panel takes the keyboard back
        yield from until(lambda: win.timeline.playback.playing, "playing after the Play click", 10)
        self.report["quit"] = {"unsaved": not doc.undo_stack.isClean(), "answered": None}
        xdotool("key", "ctrl+q")
        while True:  # the app's end stops these steps
            yield from polls(5)
            said = answer(["Discard"])
            if said:
                self.report["quit"]["answered"] = said

    def window(self):
        return next((w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()), None)

    def stroke(self, handle: int):
        """A stroke along the front of the finger's middle, dragged in the 3D view."""
        import polyscope as ps

        from fieldrig.draw.scene import screen_points

        doc = self.win.doc
        V, before = doc.mesh.V, doc.weights.copy()
        x = (V[:, 0] - V[:, 0].min()) / np.ptp(V[:, 0])
        front = (V[:, 2] > np.quantile(V[:, 2], 0.9)) & (x > 0.3) & (x < 0.7)
        ends = np.flatnonzero(front)[[np.argmin(x[front]), np.argmax(x[front])]]
        xy, _ = screen_points(V[ends])
        path = np.linspace(xy[0], xy[1], 25).round().astype(int)
        camera = np.asarray(ps.get_view_camera_parameters().get_view_mat())
        xdotool("mousemove", "--window", self.view_id, *path[0])
        yield from polls(3)
        xdotool("mousedown", 1)
        yield from polls(3)
        for point in path[1:]:
            xdotool("mousemove", "--window", self.view_id, *point)
            yield from polls(2)
        xdotool("mouseup", 1)
        yield from polls(10)
        active = doc.rig_state.active_set
        painted = np.array([] if active.painted_vertices is None else active.painted_vertices, dtype=int)
        W = doc.weights
        self.report["stroke"] = {
            "pixels": [path[0].tolist(), path[-1].tolist()],
            "set": active.name,
            "origin": active.origin,
            "painted": int(len(painted)),
            "raised_max": float((W[painted, handle] - before[painted, handle]).max()) if len(painted) else 0.0,
            "raised_min": float((W[painted, handle] - before[painted, handle]).min()) if len(painted) else 0.0,
            "row_sum_error": float(np.abs(W.sum(axis=1) - 1).max()),
            "camera_moved": bool(not np.allclose(np.asarray(ps.get_view_camera_parameters().get_view_mat()), camera)),
            "status": self.win.statusBar().currentMessage(),
        }
        xdotool("key", "Escape")  # the brush off (the panel has the keyboard)
        yield from until(lambda: not self.win.brush.active, "brush off after Esc", 10)

    def resolve(self):
        """Click Re-solve (the test fails when it is disabled): the painted rows must stay, the rest on the simplex."""
        win, doc = self.win, self.win.doc
        button = win.weights_tab.resolve
        self.report["resolve"] = {"enabled": button.isEnabled(), "tip": button.toolTip()}
        if not button.isEnabled():
            return
        active = doc.rig_state.active_set
        painted, rows = active.painted_vertices.copy(), active.weights[active.painted_vertices].copy()
        click(button)
        yield from polls(10)
        yield from until(lambda: not win.jobs.busy, "end of the re-solve", 60)
        W = doc.weights
        self.report["resolve"].update(
            errors=[list(e) for e in win.errors],
            set=doc.rig_state.active_set.name,
            painted_row_error=float(np.abs(W[painted] - rows).max()),
            row_sum_error=float(np.abs(W.sum(axis=1) - 1).max()),
            min_weight=float(W.min()),
        )

    def timeline(self):
        """Choose a clip in the timeline's drop-down, play and pause it, step one frame by Right in the 3D view."""
        win, doc = self.win, self.win.doc
        strip = win.timeline
        playback = strip.playback
        wanted = doc.clip_names()[0]
        click(strip.clip)
        popup = strip.clip.view()
        yield from until(popup.isVisible, "clip list after the click", 10)
        yield from polls(5)
        click(popup.viewport(), popup.visualRect(popup.model().index(strip.clip.findData(wanted), 0)))
        yield from until(lambda: doc.animation.clip == wanted, "clip chosen after the click", 10)
        tabs = win.tabs
        bar = tabs.tabBar()
        click(bar, bar.tabRect([tabs.tabText(i) for i in range(tabs.count())].index("Weights")))
        yield from until(lambda: doc.mode == "weights", "Weights tab after the click", 10)
        click(strip.play)
        yield from until(lambda: playback.playing, "playing after the Play click", 10)
        start = time.perf_counter()
        yield from until(lambda: time.perf_counter() - start > 0.6, "", 5)
        click(strip.play)
        yield from until(lambda: not playback.playing, "paused after the second click", 10)
        shown, frame = playback.shown, playback.frame
        xdotool("mousemove", "--window", self.view_id, 700, 300)
        xdotool("windowfocus", "--sync", self.view_id)
        yield from polls(5)
        xdotool("key", "Right")
        yield from until(lambda: playback.frame != frame, "a new frame after Right", 10)
        yield from polls(10)
        screenshot(self.out / "timeline.png")
        shown_at = np.asarray(win.brush.viewer.displayed_positions())
        self.report["timeline"] = {
            "clip": wanted,
            "diagonal_shown_over_rest": float(
                np.linalg.norm(np.ptp(shown_at, axis=0)) / np.linalg.norm(np.ptp(doc.mesh.V, axis=0))
            ),
            "shown_while_playing": shown,
            "paused_at": frame,
            "frames": doc.clip_frames().n_frames,
            "after_right": playback.frame,
            "label": strip.time_label.text(),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--character", required=True, help="a skinned glTF with clips (tests/gltf_build.py)")
    parser.add_argument("--timeout", type=float, default=240.0)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    qt = QApplication(sys.argv[:1])  # `fieldrig view` takes this one: the steps need its event loop first
    session = Session(out, Path(args.character).resolve())
    # the last step quits through the File menu; a failed one quits here
    runner = StepRunner(session.steps(), args.timeout, lambda: qt.quit() if runner.error is not None else None)
    code = cli.main(["view", str(MESH), "--rig", str(RIG)])
    with open(out / "report.json", "w") as f:
        json.dump(session.report, f, indent=1)
    if runner.error is not None:
        traceback.print_exception(runner.error)
        print(f"window session failed: {runner.error!r}", file=sys.stderr)
        return 1
    if "quit" not in session.report:
        print("fieldrig view ended before the steps did", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
