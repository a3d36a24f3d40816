"""``fieldrig batch``: a corrupt asset is reported and the rest finish, resume skips finished
work and redoes changed work, manifests are validated, and the Dask executor runs the same
jobs on a ``dask.distributed.LocalCluster``."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fieldrig.batch import Asset, BatchOptions, discover_assets, is_up_to_date, read_manifest, run_batch
from fieldrig.cli import main
from fieldrig.core.errors import InputError
from fieldrig.core.files import file_sha256
from fieldrig.geometry.export import load_weights

ASSETS = Path(__file__).resolve().parents[1] / "assets"


@pytest.fixture
def asset_dir(tmp_path):
    """The demo legs (JSON rig), a GLB rigged from the demo finger (its skin is the rig), and a
    corrupt mesh with a TGF rig."""
    from fieldrig.geometry.gltf import write_skinned_gltf
    from fieldrig.geometry.mesh_io import load_mesh
    from fieldrig.geometry.rig import load_rig

    d = tmp_path / "assets"
    d.mkdir()
    for name in ("legs.obj", "legs.json"):
        shutil.copy(ASSETS / name, d / name)
    mesh, rig = load_mesh(ASSETS / "finger.obj"), load_rig(ASSETS / "finger.tgf")
    write_skinned_gltf(d / "rigged.glb", mesh.V, mesh.F, rig, np.full((len(mesh.V), rig.n_handles), 1 / 3))
    (d / "broken.obj").write_text("v 0 0 0\nv 1 0 0\nf 1 2 9\n")
    shutil.copy(ASSETS / "finger.tgf", d / "broken.tgf")
    return d


def test_corrupt_asset_is_reported_and_the_rest_finish_then_resume(asset_dir, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["batch", str(asset_dir), "-o", str(out), "--jobs", "2", "--preset", "fast", "--formats", "npy,glb"]
    assert main(argv) == 1  # one asset failed
    table = capsys.readouterr().out
    assert "3 assets: 2 ok, 0 up to date, 1 failed" in table
    summary = json.loads((out / "summary.json").read_text())
    status = {a["name"]: a["status"] for a in summary["assets"]}
    assert status == {"broken": "failed", "legs": "ok", "rigged": "ok"}
    broken = json.loads((out / "broken" / "report.json").read_text())
    assert "broken.obj" in broken["error"] and "outside 0..1" in broken["error"]
    legs = json.loads((out / "legs" / "report.json").read_text())
    assert legs["figures"]["n_handles"] == 5 and legs["figures"]["partition_of_unity_error"] < 1e-9
    assert legs["time_s"] > 0 and legs["stages_s"]["train"] > 0
    W = load_weights(out / "legs" / "legs.npy")
    assert W.shape == (legs["figures"]["n_vertices"], 5) and np.all(W >= 0)
    rigged = json.loads((out / "rigged" / "report.json").read_text())
    # A skinned GLB on its own: its skin's joints are the columns (the rig's handles, then the
    # bone-end node fieldrig wrote, which does not deform).
    assert rigged["figures"]["handles"] == ["bone0", "bone1", "bone2", "joint3"]
    assert np.all(load_weights(out / "rigged" / "rigged.npy")[:, 3] == 0)
    assert (out / "rigged" / "rigged.glb").is_file()

    # Resume: finished assets are skipped (their outputs untouched), the broken one is tried again.
    mtime = (out / "legs" / "legs.npy").stat().st_mtime_ns
    assert main(argv) == 1
    assert "3 assets: 0 ok, 2 up to date, 1 failed" in capsys.readouterr().out
    assert (out / "legs" / "legs.npy").stat().st_mtime_ns == mtime

    # Repair the broken asset's mesh: its changed input is computed, the others stay skipped.
    shutil.copy(ASSETS / "finger.obj", asset_dir / "broken.obj")
    assert main(argv) == 0
    assert "3 assets: 1 ok, 2 up to date, 0 failed" in capsys.readouterr().out
    # The same finger as the GLB carries (up to its float32 vertices), and the same handles (the
    # GLB's joints, less the end node that does not deform): the same weights.
    W_rigged = load_weights(out / "rigged" / "rigged.npy")[:, :3]
    assert np.abs(load_weights(out / "broken" / "broken.npy") - W_rigged).max() < 1e-3


def test_fingerprint_follows_inputs_and_settings(tmp_path):
    from fieldrig.batch import fingerprint

    for name in ("legs.obj", "legs.json"):
        shutil.copy(ASSETS / name, tmp_path / name)
    asset = Asset("legs", str(tmp_path / "legs.obj"), str(tmp_path / "legs.json"))
    before = fingerprint(asset)
    assert fingerprint(Asset("legs", asset.mesh, asset.rig)) == before
    asset.settings["seed"] = 1
    assert fingerprint(asset) != before
    asset.settings["seed"] = 0
    (tmp_path / "legs.json").write_text((tmp_path / "legs.json").read_text().replace("pelvis", "hips"))
    assert fingerprint(asset) != before


@pytest.fixture
def manifest_dir(tmp_path):
    """A folder with the (empty) files the manifests below name, and a symbolic link loop."""
    for name in ("a.obj", "a.tgf", "b.glb", "x/a.obj"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("")
    (tmp_path / "loop.obj").symlink_to("loop.obj")
    (tmp_path / "dangling.tgf").symlink_to("nowhere.tgf")
    return tmp_path


def test_manifest_settings(manifest_dir):
    (manifest_dir / "m.json").write_text(
        json.dumps(
            {
                "defaults": {"preset": "fast", "formats": ["csv"]},
                "assets": [{"mesh": "a.obj", "rig": "a.tgf"}, {"name": "b2", "mesh": "b.glb", "max_influences": 8}],
            }
        )
    )
    a, b = read_manifest(manifest_dir / "m.json")
    assert (a.name, Path(a.rig).name, a.settings["preset"], a.settings["formats"]) == ("a", "a.tgf", "fast", ["csv"])
    assert (b.name, Path(b.rig).name, b.settings["max_influences"]) == ("b2", "b.glb", 8)


A = {"mesh": "a.obj", "rig": "a.tgf"}
BAD_MANIFESTS = [
    ("{", "invalid JSON"),
    (5, "a manifest is a JSON object or list, not a number"),
    ({"assets": []}, "non-empty 'assets'"),
    ({"assets": [A], "colour": 1}, r"unknown keys \['colour'\]"),
    ({"assets": [A], "defaults": []}, "'defaults' must be an object"),
    ({"assets": [A], "defaults": {"preset": "fast", "speed": 1}}, r"defaults: unknown settings \['speed'\]"),
    ({"assets": ["a.obj"]}, "asset 0: an asset is an object"),
    ({"assets": [{"rig": "a.tgf"}]}, "asset 0: needs a 'mesh'"),
    ({"assets": [{"mesh": 5}]}, "asset 0: 'mesh' must be a file path .* got 5"),
    ({"assets": [{"mesh": "a.obj", "rig": ["a.tgf"]}]}, "asset 0: 'rig' must be a file path"),
    ({"assets": [{"mesh": "a.obj"}]}, "needs a 'rig'"),
    ({"assets": [A, {"mesh": "nope.obj", "rig": "a.tgf"}]}, "asset 1: mesh '.*nope.obj': not found"),
    ({"assets": [{"mesh": "loop.obj", "rig": "a.tgf"}]}, "mesh '.*loop.obj': a symbolic link loop"),
    ({"assets": [{"mesh": "a.obj", "rig": "dangling.tgf"}]}, "rig '.*dangling.tgf': a broken symbolic link"),
    ({"assets": [{"mesh": "x", "rig": "a.tgf"}]}, "mesh '.*x' is a folder"),
    ({"assets": [{**A, "preset": "ultra"}]}, "unknown preset 'ultra'"),
    ({"assets": [{**A, "formats": ["fbx"]}]}, "unknown output formats"),
    ({"assets": [{**A, "formats": "npy"}]}, "'formats' must be a list"),
    ({"assets": [{**A, "seed": 1.5}]}, "'seed' must be an integer, got 1.5"),
    ({"assets": [{**A, "max_influences": 0}]}, "'max_influences' must be a positive integer"),
    ({"assets": [{**A, "max_influences": True}]}, "'max_influences' must be a positive integer"),
    ({"assets": [{**A, "save_field": "yes"}]}, "'save_field' must be true or false"),
    ({"assets": [{**A, "device": 0}]}, "'device' must be a torch device name"),
    ({"assets": [{**A, "colour": 1}]}, r"asset 0: unknown keys \['colour'\]"),
    ({"assets": [A, {"mesh": "x/a.obj", "rig": "a.tgf"}]}, "two assets are named 'a'"),
    ({"assets": [A, {**A, "name": "A"}]}, "two assets are named 'a' and 'A'"),
    ({"assets": [{**A, "name": 3}]}, "the asset name must be a string, got 3"),
    ({"assets": [{**A, "name": "../../escape"}]}, "'../../escape' contains a path separator"),
    ({"assets": [{**A, "name": "/escape"}]}, "'/escape' contains a path separator"),
    ({"assets": [{**A, "name": "a\\b"}]}, "contains a path separator"),
    ({"assets": [{**A, "name": ""}]}, "'' is empty"),
    ({"assets": [{**A, "name": ".."}]}, "'..' starts with '.'"),
    ({"assets": [{**A, "name": ".hidden"}]}, "starts with '.'"),
    ({"assets": [{**A, "name": "a\nb"}]}, "contains a control character"),
    ({"assets": [{**A, "name": "summary.json"}]}, "'summary.json' is reserved"),
    ({"assets": [{**A, "name": "NUL"}]}, "'NUL' is reserved"),
    ({"assets": [{**A, "name": "x" * 201}]}, "is longer than 200 bytes"),
]


@pytest.mark.parametrize("manifest, problem", BAD_MANIFESTS)
def test_a_bad_manifest_fails_at_once_naming_it(manifest_dir, capsys, manifest, problem):
    """Exit 2 and one line naming the manifest and the problem; nothing is written anywhere."""
    path = manifest_dir / "bad.json"
    path.write_text(manifest if isinstance(manifest, str) else json.dumps(manifest))
    before = sorted(p.name for p in manifest_dir.parent.rglob("*"))
    with pytest.raises(InputError, match=problem):
        read_manifest(path)
    assert main(["batch", str(path), "-o", str(manifest_dir / "out"), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and "Traceback" not in err
    assert re.search(problem, err), err
    assert sorted(p.name for p in manifest_dir.parent.rglob("*")) == before


def test_bad_sources_and_output_folders(manifest_dir, capsys):
    (manifest_dir / "m.json").write_text(json.dumps([A]))
    for source, out, problem in [
        (manifest_dir / "nothing", manifest_dir / "out", "nothing: not found"),
        (manifest_dir / "loop.obj", manifest_dir / "out", "loop.obj: a symbolic link loop"),
        (manifest_dir / "m.json", manifest_dir / "a.obj", "a.obj: is a file: -o names the output folder"),
        (manifest_dir / "m.json", manifest_dir / "a.obj" / "out", "'.*a.obj' is a file, not a folder"),
    ]:
        assert main(["batch", str(source), "-o", str(out), "-q"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and re.search(problem, err), err
    assert not (manifest_dir / "out").exists()


def test_nothing_is_written_outside_the_output_folder(tmp_path):
    """Unsafe names given through the API and an asset folder that is a link out of OUTDIR
    are refused before any work; no file appears outside OUTDIR."""
    finger = (str(ASSETS / "finger.obj"), str(ASSETS / "finger.tgf"))
    out = tmp_path / "deep" / "out"
    for name in ("../../escape", str(tmp_path / "abs"), "a/b", "", "..", "."):
        with pytest.raises(InputError, match="an asset name is one folder name"):
            run_batch([Asset(name, *finger)], out, BatchOptions(progress=False))
    assert list(tmp_path.iterdir()) == []  # not even OUTDIR
    out.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / "linked").symlink_to(elsewhere)
    with pytest.raises(InputError, match="linked: is a symbolic link out of the output folder"):
        run_batch([Asset("linked", *finger)], out, BatchOptions(progress=False))
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == [
        "deep",
        "deep/out",
        "deep/out/linked",
        "elsewhere",
    ]


def test_resume_recomputes_an_output_whose_content_changed_and_sweeps_leftovers(tmp_path):
    asset = Asset("finger", str(ASSETS / "finger.obj"), str(ASSETS / "finger.tgf"))
    asset.settings.update(preset="fast", formats=["npy", "csv"])
    out = tmp_path / "out"
    options = BatchOptions(progress=False)
    [report] = run_batch([asset], out, options).reports
    npy, csv = out / "finger" / "finger.npy", out / "finger" / "finger.csv"
    assert report["sha256"] == {"finger.npy": file_sha256(npy), "finger.csv": file_sha256(csv)}
    assert json.loads((out / "finger" / "report.json").read_text())["sha256"] == report["sha256"]
    W = load_weights(npy)

    # Temporary files of a dead process (a killed run) go; a live writer's stay.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    orphans = [
        out / "finger" / f".finger.npy.~{dead.stdout.strip()}.abc123.npy",
        out / f".summary.json.~{dead.stdout.strip()}.x.json",
    ]
    live = out / "finger" / f".finger.csv.~{os.getpid()}.def456.csv"
    for p in orphans + [live]:
        p.write_bytes(b"half")
    assert run_batch([asset], out, options).counts() == {"ok": 0, "skipped": 1, "failed": 0}
    assert not any(p.exists() for p in orphans) and live.exists()
    live.unlink()

    with open(npy, "r+b") as fh:
        fh.truncate(6)
    summary = run_batch([asset], out, options)
    assert summary.counts() == {"ok": 1, "skipped": 0, "failed": 0}
    assert np.array_equal(load_weights(npy), W)  # the same seed gives the same weights
    assert is_up_to_date(asset, out)
    csv.write_text(csv.read_text().replace("bone0", "bone9"))  # edited by hand, same size
    assert not is_up_to_date(asset, out)


def test_missing_rig_fails_that_asset_only(tmp_path):
    (tmp_path / "in").mkdir()
    shutil.copy(ASSETS / "finger.obj", tmp_path / "in" / "lonely.obj")
    [asset] = discover_assets(tmp_path / "in")
    summary = run_batch([asset], tmp_path / "out", BatchOptions(progress=False))
    assert not summary.all_succeeded
    assert "lonely.tgf" in summary.reports[0]["error"] and "not found" in summary.reports[0]["error"]


def test_dask_executor_on_a_local_cluster(tmp_path):
    distributed = pytest.importorskip("distributed")
    assets = [
        Asset("finger", str(ASSETS / "finger.obj"), str(ASSETS / "finger.tgf")),
        Asset("bad", str(tmp_path / "missing.obj"), str(ASSETS / "finger.tgf")),
    ]
    for a in assets:
        a.settings.update(preset="fast", formats=["npy"])
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        summary = run_batch(
            assets, tmp_path / "out", BatchOptions(executor="dask", scheduler=cluster.scheduler_address, progress=False)
        )
    status = {r["name"]: r["status"] for r in summary.reports}
    assert status == {"finger": "ok", "bad": "failed"}
    W = load_weights(tmp_path / "out" / "finger" / "finger.npy")
    assert W.shape[1] == 3 and np.allclose(W.sum(axis=1), 1.0)
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["counts"] == {"ok": 1, "skipped": 0, "failed": 1}


def test_a_crashing_worker_fails_alone(tmp_path):
    """A job that kills its process (here: SIGSEGV, as a native crash would) is reported as
    failed, and the batch goes on to run and report the next job (which fails for its own,
    ordinary reason: a missing file, so that no training is needed). The crash is injected
    through the only module the fork server preloads, so it lives only in this throwaway
    process's workers (and neither job needs torch)."""
    (tmp_path / "crashhook.py").write_text(
        "import os, signal\nimport fieldrig.batch.jobs as b\n_compute = b._compute\n"
        "def crash(asset, *args):\n"
        "    if asset.name == 'crash':\n        os.kill(os.getpid(), signal.SIGSEGV)\n"
        "    return _compute(asset, *args)\n"
        "b._compute = crash\n"
    )
    script = (
        "import json, sys\nimport fieldrig.batch as b\nimport fieldrig.batch.local_executor as le\n"
        "le.WORKER_PRELOAD[:] = ['crashhook']\n"
        f"assets = [b.Asset(n, {str(ASSETS / 'finger.obj')!r}, "
        f"{str(ASSETS / 'finger.tgf')!r}) for n in ('crash', 'next')]\n"
        f"assets[1].mesh = {str(tmp_path / 'missing.obj')!r}\n"
        "for a in assets:\n    a.settings.update(preset='fast', formats=['npy'])\n"
        f"s = b.run_batch(assets, {str(tmp_path / 'out')!r}, b.BatchOptions(jobs=1, progress=False))\n"
        "print(json.dumps({r['name']: [r['status'], r['error']] for r in s.reports}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"},
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["next"][0] == "failed" and "missing.obj" in result["next"][1]
    assert result["crash"][0] == "failed" and "SIGSEGV" in result["crash"][1]
    assert "SIGSEGV" in json.loads((tmp_path / "out" / "crash" / "report.json").read_text())["error"]
