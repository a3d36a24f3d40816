"""Atomic writes: no partial files, no orphans after a kill, several outputs committed together."""

import os
import signal
import stat
import subprocess
import sys
import textwrap

import pytest

from fieldrig.core.atomic import (
    atomic_outputs,
    atomic_write_text,
    check_writable,
    deferred_signals,
    remove_orphaned_temporaries,
)
from fieldrig.core.errors import InputError


def _killed_inside_a_write(target):
    """Run a process that starts an atomic write of ``target`` and is SIGKILLed before the rename."""
    code = textwrap.dedent(f"""
        import os, signal
        from fieldrig.core.atomic import atomic_path
        with atomic_path({str(target)!r}) as tmp:
            tmp.write_text("half")
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    result = subprocess.run([sys.executable, "-c", code])
    assert result.returncode == -signal.SIGKILL


def test_a_killed_write_leaves_the_target_and_an_orphan_that_the_next_write_removes(tmp_path):
    target = tmp_path / "out.glb"
    target.write_text("old")
    _killed_inside_a_write(target)
    orphans = [p for p in tmp_path.iterdir() if p.name != "out.glb"]
    assert target.read_text() == "old" and len(orphans) == 1 and orphans[0].suffix == ".glb"
    atomic_write_text(target, "new")
    assert target.read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["out.glb"]


def test_orphans_of_other_targets_and_of_live_processes_are_kept(tmp_path):
    mine = tmp_path / f".out.glb.~{os.getpid()}.abc123.glb"
    other = tmp_path / ".other.glb.~999999999.abc123.glb"
    mine.write_text("")
    other.write_text("")
    assert remove_orphaned_temporaries(tmp_path / "out.glb") == []
    assert mine.exists() and other.exists()


def test_all_outputs_or_none(tmp_path):
    a, b = tmp_path / "w.npy", tmp_path / "w.csv"
    a.write_text("old a")
    b.write_text("old b")
    with pytest.raises(RuntimeError):
        with atomic_outputs([a, b]) as (ta, tb):
            ta.write_text("new a")
            raise RuntimeError("the second writer failed")
    assert (a.read_text(), b.read_text()) == ("old a", "old b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.csv", "w.npy"]
    with atomic_outputs([a, b]) as (ta, tb):
        assert ta.suffix == ".npy" and tb.suffix == ".csv"
        ta.write_text("new a")
        tb.write_text("new b")
    assert (a.read_text(), b.read_text()) == ("new a", "new b")
    assert stat.S_IMODE(a.stat().st_mode) == 0o666 & ~_umask()


def test_the_same_output_twice_is_refused(tmp_path):
    with pytest.raises(InputError, match="named twice"):
        with atomic_outputs([tmp_path / "a.npy", tmp_path / "." / "a.npy"]):
            pass


def test_an_interrupt_during_the_commit_arrives_after_it():
    with pytest.raises(KeyboardInterrupt):
        with deferred_signals():
            os.kill(os.getpid(), signal.SIGINT)
            reached = True
    assert reached


@pytest.mark.parametrize(
    "make, name, message",
    [
        (lambda d: (d / "afile").write_text("x"), "afile/out.npy", "is a file, not a folder"),
        (lambda d: (d / "outdir.npy").mkdir(), "outdir.npy", "is a folder"),
        (lambda d: None, "new/deeper/out.npy", None),
    ],
)
def test_check_writable(tmp_path, make, name, message):
    make(tmp_path)
    if message is None:
        check_writable([tmp_path / name])
        assert not (tmp_path / "new").exists()  # checking creates nothing
    else:
        with pytest.raises(InputError, match=message):
            check_writable([tmp_path / name])


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_check_writable_refuses_a_read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(InputError, match="no permission"):
            check_writable([folder / "out.npy"])
    finally:
        folder.chmod(0o700)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_writers_inside_a_block_fill_its_temporaries_and_commit_with_it(tmp_path):
    from fieldrig.core.atomic import atomic_path

    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("old a")
    with pytest.raises(RuntimeError):
        with atomic_outputs([a, b]):
            atomic_write_text(a, "new a")  # lands in a's temporary file, not in a
            assert a.read_text() == "old a" and len(os.listdir(tmp_path)) == 3
            raise RuntimeError("b's writer failed")
    assert sorted(os.listdir(tmp_path)) == ["a.txt"] and a.read_text() == "old a"
    with atomic_outputs([a, b]) as temps:
        with atomic_outputs([b]) as (inner,), atomic_path(a) as ta:  # both join the block
            assert [ta, inner] == temps
        atomic_write_text(a, "new a")
        atomic_write_text(b, "new b")
        assert not b.exists()
    assert (a.read_text(), b.read_text()) == ("new a", "new b") and sorted(os.listdir(tmp_path)) == ["a.txt", "b.txt"]
