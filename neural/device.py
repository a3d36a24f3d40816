"""Choice of the torch device: CUDA when present, CPU otherwise."""

from __future__ import annotations

from typing import Optional, Union

import torch

from fieldrig.core.errors import InputError


def resolve_device(device: Optional[Union[str, torch.device]] = None) -> torch.device:
    """Return the torch device to compute on.

    Parameters
    ----------
    device : str, torch.device or None
        ``None`` or ``"auto"`` picks CUDA when available, else CPU. ``"cuda"`` without a
        usable GPU raises :class:`InputError` rather than silently falling back.

    Returns
    -------
    torch.device
    """
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise InputError("device", f"unknown device {device!r} (expected 'cpu', 'cuda' or 'auto')") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError("device", "CUDA was requested but no CUDA GPU is available to torch")
    return dev
