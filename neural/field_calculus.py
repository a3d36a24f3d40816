"""Closed-form values, gradients and Laplacians of the kernel field's pieces.

Functions return a triple ``(value, gradient, laplacian)`` with shapes ``(k,)``, ``(k, 3)``
and ``(k,)``; ``order`` says how many of them are wanted (0: value, 1: + gradient,
2: + Laplacian), the others are None. No automatic differentiation: second derivatives of
kernel fields are far cheaper by hand.
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch

Calc = Tuple[torch.Tensor, Optional[torch.Tensor], Optional[torch.Tensor]]


def tapered_gaussian(diff: torch.Tensor, sigma: float, radius: float, order: int = 2) -> Calc:
    """Gaussian ``exp(-|d|^2 / 2 sigma^2)`` times the taper ``(1 - |d|^2 / R^2)^3``.

    The taper makes the kernel exactly zero, with zero first and second derivatives, at
    ``|d| = R``: a truncated Gaussian would jump there, and its Laplacian would be wrong.

    Parameters
    ----------
    diff : (k, 3) float
        ``x - xi`` for every (point, particle) pair, all within ``radius``.
    sigma, radius : float or (k,) float tensor
        Kernel width and support radius, shared or one per pair (per-particle kernels:
        they depend on the particle, not on x, so the derivatives keep their form).
    order : {0, 1, 2}

    Returns
    -------
    value (k,), gradient (k, 3), laplacian (k,) with respect to x.
    """
    s = (diff * diff).sum(-1)
    e = torch.exp(s * (-0.5 / sigma**2))
    t = torch.clamp(1 - s / radius**2, min=0.0)
    t2 = t * t
    value = e * t2 * t
    if order == 0:
        return value, None, None
    # g = f(s) with s = |d|^2:  grad g = 2 f'(s) d,  lap g = 6 f'(s) + 4 s f''(s).
    a, c = -0.5 / sigma**2, -1.0 / radius**2
    f1 = e * t2 * (a * t + 3 * c)
    grad = (2 * f1)[:, None] * diff
    if order == 1:
        return value, grad, None
    f2 = e * t * (a * a * t2 + 6 * a * c * t + 6 * c * c)
    return value, grad, 6 * f1 + 4 * s * f2


def normalised(g: Calc, total: Calc) -> Calc:
    """``g / total`` per pair, where ``total`` is the per-point sum gathered to the pairs.

    Uses ``g = phi total``: ``grad phi = (grad g - phi grad total) / total`` and
    ``lap phi = (lap g - 2 grad phi . grad total - phi lap total) / total``.
    """
    value = g[0] / total[0]
    if g[1] is None:
        return value, None, None
    grad = (g[1] - value[:, None] * total[1]) / total[0][:, None]
    if g[2] is None:
        return value, grad, None
    lap = (g[2] - 2 * (grad * total[1]).sum(-1) - value * total[2]) / total[0]
    return value, grad, lap
