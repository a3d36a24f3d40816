"""Reading a user's text and JSON files, with errors that name the file; hashing files."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Union


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

    path = Path(path)
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
