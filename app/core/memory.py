"""Memory a job may use, and a clear refusal when a predicted peak will not fit.

A job that runs out of memory does not fail cleanly: the kernel kills it, or a native
library (Embree, BLAS) crashes on a failed allocation. Jobs that can predict their peak
check it first with :func:`require_memory`.

The memory available is the least of: the system's ``MemAvailable`` (``/proc/meminfo``),
the room left under the process's cgroup limit (v2 ``memory.max``, v1
``memory.limit_in_bytes``) and under its address-space limit (``ulimit -v``). The
environment variable ``FIELDRIG_AVAILABLE_MEMORY`` (bytes, or with a K/M/G/T suffix, e.g.
``4G``) replaces all of them.
"""

from __future__ import annotations

import os
import re
import resource
from pathlib import Path
from typing import Optional

from fieldrig.core.errors import InputError

#: Environment variable that sets the memory available (overrides what the system says).
AVAILABLE_MEMORY_VARIABLE = "FIELDRIG_AVAILABLE_MEMORY"
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str) -> int:
    """Bytes from ``"123"``, ``"512M"``, ``"4G"``, ``"1.5GB"`` (binary units, case-insensitive).

    Raises
    ------
    InputError
        Naming :data:`AVAILABLE_MEMORY_VARIABLE` when the text is not a size.
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([KMGT]?)(?:I?B)?\s*", str(text), re.IGNORECASE)
    if match is None:
        raise InputError(AVAILABLE_MEMORY_VARIABLE, f"expected a size such as 4G or 512M, got {text!r}")
    return int(float(match[1]) * _UNITS[match[2].upper()])


def available_bytes() -> Optional[int]:
    """The memory this process may still allocate, in bytes (None when nothing says)."""
    override = os.environ.get(AVAILABLE_MEMORY_VARIABLE)
    if override:
        return parse_size(override)
    limits = [v for v in (_meminfo_available(), _cgroup_room(), _address_space_room()) if v is not None]
    return min(limits) if limits else None


def require_memory(needed: int, source: str, what: str, advice: str) -> None:
    """Refuse a job whose predicted peak does not fit in the memory available.

    Parameters
    ----------
    needed : int
        Predicted peak, bytes.
    source : str
        What the message names (the input file, or the argument).
    what : str
        The job, for the message ("the fit of 1,000,000 vertices × 200 handles").
    advice : str
        How to make it smaller.

    Raises
    ------
    InputError
        ``source: WHAT needs about X GB of memory and Y GB is available (ADVICE)``.
    """
    available = available_bytes()
    if available is not None and needed > available:
        raise InputError(
            source,
            f"{what} needs about {format_bytes(needed)} of memory and {format_bytes(available)} is available "
            f"({advice})",
        )


def format_bytes(n: float) -> str:
    """``"1.2 GB"``, ``"350 MB"`` (binary units)."""
    return f"{n / (1 << 30):.1f} GB" if n >= 1 << 30 else f"{n / (1 << 20):.0f} MB"


def _meminfo_available() -> Optional[int]:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_room() -> Optional[int]:
    """Limit minus usage of this process's memory cgroup (v2, else v1)."""
    for limit_file, usage_file in (
        ("memory.max", "memory.current"),
        ("memory.limit_in_bytes", "memory.usage_in_bytes"),
    ):
        for folder in _cgroup_folders():
            try:
                limit = (folder / limit_file).read_text().strip()
                usage = int((folder / usage_file).read_text().strip())
            except (OSError, ValueError):
                continue
            if limit.isdigit() and int(limit) < 1 << 60:  # v1 writes "no limit" as a huge number
                return max(int(limit) - usage, 0)
    return None


def _cgroup_folders():
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return []
    folders = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers in ("", "memory") or "memory" in controllers.split(","):
            base = Path("/sys/fs/cgroup") if controllers == "" else Path("/sys/fs/cgroup/memory")
            folders += [base / path.lstrip("/"), base]
    return folders


def _address_space_room() -> Optional[int]:
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    try:
        used = int(Path("/proc/self/statm").read_text().split()[0]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        used = 0
    return max(soft - used, 0)
