"""Checks of the API's plain arguments, raising :class:`~fieldrig.core.errors.InputError`
named after the argument (a ``TypeError`` from deep inside numpy or torch names nothing)."""

from __future__ import annotations

import numbers
from typing import Any, Callable, Optional

import numpy as np

from fieldrig.core.errors import InputError


def checked_seed(seed: Any, argument: str = "seed") -> int:
    """A random seed: a non-negative integer (not a bool).

    Returns
    -------
    int
    """
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise InputError(argument, f"expected a non-negative integer, got {seed!r}")
    return int(seed)


def checked_callback(callback: Any, argument: str = "progress") -> Optional[Callable]:
    """A progress callback: a callable or None."""
    if callback is not None and not callable(callback):
        raise InputError(argument, f"expected a callable or None, got {type(callback).__name__}")
    return callback


def checked_flag(value: Any, argument: str) -> bool:
    """A yes/no option: a bool (numpy's included), not 0/1 or a string."""
    if not isinstance(value, (bool, np.bool_)):
        raise InputError(argument, f"expected True or False, got {value!r}")
    return bool(value)
