"""Atomic file writes: a temporary file in the target folder, then a rename.

Every temporary file is named ``.<target name>.~<pid>.<random><suffix>`` beside its
target, so that

* writers that choose a format by extension still work (the suffix is the target's);
* a process killed before its rename (SIGKILL leaves no chance to clean up) leaves a
  file that the next write to the same folder recognises as orphaned — its process is
  gone — and removes;
* several outputs of one job can be committed together (:func:`atomic_outputs`): all are
  written to temporary files first, then renamed one after the other with SIGINT and
  SIGTERM held back, so an interrupt never leaves some outputs new and others old (a
  SIGKILL between two renames leaves a journal; the next write to that folder completes
  the commit, :func:`finish_interrupted_commits`). Inside
  such a block, the ordinary writers (:func:`atomic_path`, :func:`atomic_write_text`, and
  every ``save_*`` function built on them) called with one of its targets fill that
  target's temporary file, and a nested :func:`atomic_outputs` of its targets joins it:
  the block commits them all;
* a folder's leftovers can be swept whatever their targets (:func:`sweep_orphaned_temporaries`).

:func:`check_writable` tells before a long job whether its outputs can be written at all.
"""

from __future__ import annotations

import json
import os
import re
import signal
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Union

from fieldrig.core.errors import InputError

PathLike = Union[str, os.PathLike]
_TEMP = re.compile(r"^\.(?P<name>.+)\.~(?P<pid>\d+)\.[^.]+(?P<suffix>\.[^.]*)?$")
_JOURNAL = re.compile(r"^\.fieldrig-commit\.~(?P<pid>\d+)\.[^.]+\.json(?P<part>\.part)?$")
_staging = threading.local()  # .temps: {target key: its temporary file} of this thread's open atomic_outputs


@contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    The temporary file keeps the target's suffix. On an exception the temporary file is
    removed and ``path`` is left as it was. Orphaned temporary files of the same target
    (from killed processes) are removed first.
    """
    path = Path(path)
    with atomic_outputs([path]) as (tmp,):
        yield tmp


@contextmanager
def atomic_outputs(paths: Sequence[PathLike]) -> Iterator[List[Path]]:
    """Yield one temporary path per target; on success rename them all onto their targets.

    The renames run back to back with SIGINT and SIGTERM deferred until the last one is
    done (in the main thread), so an interrupt leaves either every target new or every
    target as it was. On an exception every temporary file is removed.

    While the block runs, a write of one of ``paths`` through this module (in this thread)
    goes to its temporary file; an inner ``atomic_outputs`` whose targets all belong to
    an enclosing one yields their temporary files and leaves the commit to it.

    Parameters
    ----------
    paths : sequence of path-like
        Distinct targets; their folders are created when missing.

    Yields
    ------
    list of Path
        Temporary paths, in the order of ``paths``.
    """
    targets = [Path(p) for p in paths]
    keys = [_key(t) for t in targets]
    if len(set(keys)) != len(keys):
        raise InputError(str(targets[0]), "the same output file is named twice")
    staged = _staged()
    if keys and all(k in staged for k in keys):  # joins the enclosing block, which commits
        yield [staged[k] for k in keys]
        return
    temps: List[Path] = []
    try:
        with deferred_signals():  # an interrupt between creating a file and listing it would leak it
            for target in targets:
                target.parent.mkdir(parents=True, exist_ok=True)
                remove_orphaned_temporaries(target)
                fd, tmp = tempfile.mkstemp(
                    prefix=f".{target.name}.~{os.getpid()}.", suffix=target.suffix, dir=target.parent
                )
                os.close(fd)
                temps.append(Path(tmp))
        staged.update((k, tmp) for k, tmp in zip(keys, temps) if k not in staged)
        yield list(temps)
        with deferred_signals():
            journal = _write_journal(list(zip(temps, targets)))
            for tmp, target in zip(temps, targets):
                _commit(tmp, target)
            if journal is not None:
                journal.unlink()
    except BaseException:
        for tmp in temps:
            if tmp.exists():
                tmp.unlink()
        raise
    finally:
        for k, tmp in zip(keys, temps):
            if staged.get(k) == tmp:
                del staged[k]


def atomic_write_text(path: PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def finish_interrupted_commits(folder: PathLike) -> List[Path]:
    """Complete the commits in ``folder`` of processes killed while renaming their outputs.

    Before renaming two or more temporary files onto their targets, :func:`atomic_outputs`
    writes a journal of the pairs beside the first target and removes it after the last
    rename. A journal whose process no longer runs marks a commit cut short (SIGKILL): its
    outputs are a mix of new and old, and every temporary file it lists is complete, so the
    remaining renames are done now.

    Returns
    -------
    list of Path
        The targets completed.
    """
    completed = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return completed
    for entry in entries:
        match = _JOURNAL.match(entry.name)
        if match is None or _alive(int(match["pid"])):
            continue
        try:
            pairs = [] if match["part"] else json.loads(entry.read_text())
            for tmp, target in pairs:
                if Path(tmp).exists():
                    _commit(Path(tmp), Path(target))
                    completed.append(Path(target))
            entry.unlink()
        except (OSError, ValueError, TypeError):
            pass
    return completed


def remove_orphaned_temporaries(target: PathLike) -> List[Path]:
    """Remove the temporary files of ``target`` left by processes that no longer run
    (after completing the commits they were part of, :func:`finish_interrupted_commits`).

    Parameters
    ----------
    target : path-like

    Returns
    -------
    list of Path
        The files removed.
    """
    target = Path(target)
    return _remove_orphans(target.parent, target.name)


def sweep_orphaned_temporaries(folder: PathLike) -> List[Path]:
    """Remove every temporary file in ``folder`` left by a process that no longer runs,
    whatever its target (a missing or unreadable folder has none).

    Parameters
    ----------
    folder : path-like

    Returns
    -------
    list of Path
        The files removed.
    """
    return _remove_orphans(Path(folder), None)


def _remove_orphans(folder: Path, name: Optional[str]) -> List[Path]:
    removed = []
    finish_interrupted_commits(folder)
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP.match(entry.name)
        if match is None or (name is not None and match["name"] != name) or _alive(int(match["pid"])):
            continue
        try:
            entry.unlink()
            removed.append(entry)
        except OSError:
            pass
    return removed


def check_writable(paths: Sequence[PathLike]) -> None:
    """Refuse, before any work, outputs that cannot be written.

    A target can be written when it is not a folder and its nearest existing ancestor is
    a folder this process may create files in (missing folders below it are created at
    write time).

    Raises
    ------
    InputError
        Naming the path and why: an existing folder of that name, a file where a folder
        is needed, or no permission.
    """
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            raise InputError(str(path), "is a folder; give a file name to write")
        ancestor = path.parent
        while not ancestor.exists():
            ancestor = ancestor.parent
        if not ancestor.is_dir():
            raise InputError(str(path), f"cannot be written: {str(ancestor)!r} is a file, not a folder")
        if not os.access(ancestor, os.W_OK | os.X_OK):
            raise InputError(str(path), f"cannot be written: no permission to write in {str(ancestor)!r}")
        if path.exists() and not os.access(path, os.W_OK) and not os.access(path.parent, os.W_OK):
            raise InputError(str(path), "cannot be written: the file is read-only")


@contextmanager
def deferred_signals(signals=(signal.SIGINT, signal.SIGTERM)) -> Iterator[None]:
    """Hold back SIGINT/SIGTERM for the duration of the block, then deliver them.

    Only the main thread can install signal handlers; elsewhere the block runs as is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    previous = {s: signal.signal(s, lambda signum, frame: received.append(signum)) for s in signals}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        for signum in received[:1]:
            os.kill(os.getpid(), signum)


def _write_journal(pairs: List[tuple]) -> Optional[Path]:
    """The journal of a commit of several files (see :func:`finish_interrupted_commits`)."""
    if len(pairs) < 2:
        return None
    fd, part = tempfile.mkstemp(prefix=f".fieldrig-commit.~{os.getpid()}.", suffix=".json.part", dir=pairs[0][1].parent)
    with os.fdopen(fd, "w") as fh:
        json.dump([[os.path.abspath(tmp), os.path.abspath(target)] for tmp, target in pairs], fh)
    journal = Path(part[: -len(".part")])
    os.replace(part, journal)
    return journal


def _commit(tmp: Path, target: Path) -> None:
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes files private (0600); give the mode open() would
    os.replace(tmp, target)


def _staged() -> dict:
    if not hasattr(_staging, "temps"):
        _staging.temps = {}
    return _staging.temps


def _key(path: Path) -> str:
    """A target's identity: its real absolute path (a symlink loop does not raise)."""
    return os.path.realpath(path)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
