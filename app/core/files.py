"""Reading a user's text and JSON files, with errors that name the file; hashing files."""

from __future__ import annotations

import errno
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Union


def user_path(path: Any, argument: str = "path") -> Path:
    """A path given by a user (an API argument or a command-line file), as a Path.

    Parameters
    ----------
    path : str or PathLike
    argument : str
        The argument's name, for the message when ``path`` is not a path at all.

    Raises
    ------
    InputError
        ``path`` is not a str or PathLike (naming ``argument``), or it is a symbolic link
        that leads back to itself (naming the path).
    """
    from fieldrig.core.errors import InputError

    if not isinstance(path, (str, os.PathLike)) or isinstance(os.fspath(path), bytes):
        raise InputError(argument, f"expected a file path, got {type(path).__name__}")
    path = Path(path)
    try:
        path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(str(path), "is a symbolic link loop (it leads back to itself)") from exc
    return path


def same_file(a: Union[str, os.PathLike], b: Union[str, os.PathLike]) -> bool:
    """Whether two paths name the same file (through symbolic links; a link loop does not raise)."""
    return os.path.realpath(a) == os.path.realpath(b)


def read_text(path: Union[str, os.PathLike], what: str) -> str:
    """The text of a user's file.

    Parameters
    ----------
    path : str or PathLike
    what : str
        What the file holds ("rig", "pose", ...), for the messages.

    Raises
    ------
    InputError
        The file is missing, unreadable, not text, or empty.
    """
    from fieldrig.core.errors import InputError

    path = user_path(path)
    if path.is_dir():
        raise InputError(str(path), f"is a folder, not a {what} file")
    if not path.is_file():
        raise InputError(str(path), f"{what} file not found")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(str(path), f"cannot read {what} file ({exc})") from exc
    if not text.strip():
        raise InputError(str(path), f"{what} file is empty")
    return text


def read_json(path: Union[str, os.PathLike], what: str) -> Any:
    """Parse a user's JSON file (errors as in :func:`read_text`, plus invalid JSON)."""
    from fieldrig.core.errors import InputError

    text = read_text(path, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(str(path), f"invalid JSON ({exc.msg} at line {exc.lineno})") from exc


def file_sha256(path: Union[str, os.PathLike]) -> str:
    """SHA-256 of a file's content, as hex (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
