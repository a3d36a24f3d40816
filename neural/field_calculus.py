"""Closed-form values, gradients and Laplacians of the pieces a skinning field is made of.

Every function returns a triple ``(value, gradient, laplacian)`` with shapes ``(...)``,
``(..., 3)`` and ``(...)``, so that sums, products and quotients compose exactly (no
automatic differentiation: second derivatives of kernel fields are much cheaper by hand).
"""
from __future__ import annotations

from typing import Tuple

import torch

Calc = Tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def quotient(num: Calc, den: Calc) -> Calc:
    """``num / den`` with its gradient and Laplacian (quotient rule, twice)."""
    n, gn, ln = num
    d, gd, ld = den
    value = n / d
    grad = gn / d[..., None] - (n / d ** 2)[..., None] * gd
    lap = ln / d - 2 * (gn * gd).sum(-1) / d ** 2 - n * ld / d ** 2 + 2 * n * (gd * gd).sum(-1) / d ** 3
    return value, grad, lap


def product(a: Calc, b: Calc) -> Calc:
    """``a * b`` with its gradient and Laplacian."""
    va, ga, la = a
    vb, gb, lb = b
    return va * vb, va[..., None] * gb + vb[..., None] * ga, va * lb + vb * la + 2 * (ga * gb).sum(-1)


def compose(f: Tuple[torch.Tensor, torch.Tensor, torch.Tensor], inner: Calc) -> Calc:
    """``f(inner(x))`` given ``f, f', f''`` evaluated at ``inner``'s values (chain rule)."""
    f0, f1, f2 = f
    _, g, l = inner
    return f0, f1[..., None] * g, f1 * l + f2 * (g * g).sum(-1)


def tapered_gaussian(diff: torch.Tensor, sigma: float, radius: float) -> Calc:
    """Gaussian ``exp(-|d|^2 / 2 sigma^2)`` times the taper ``(1 - |d|^2 / R^2)^3``.

    The taper makes the kernel exactly zero, with zero first and second derivatives, at
    ``|d| = R``: a truncated Gaussian would jump there, and its Laplacian would be wrong.

    Parameters
    ----------
    diff : (k, 3) float
        ``x - xi`` for every (point, particle) pair, all within ``radius``.
    sigma, radius : float

    Returns
    -------
    value (k,), gradient (k, 3), laplacian (k,) with respect to x.
    """
    s = (diff * diff).sum(-1)
    e = torch.exp(-s / (2 * sigma ** 2))
    t = torch.clamp(1 - s / radius ** 2, min=0.0)
    e1, e2 = -e / (2 * sigma ** 2), e / (4 * sigma ** 4)
    t1 = -1.0 / radius ** 2
    f0 = e * t ** 3
    f1 = e1 * t ** 3 + 3 * e * t ** 2 * t1
    f2 = e2 * t ** 3 + 6 * e1 * t ** 2 * t1 + 6 * e * t * t1 ** 2
    # s = |diff|^2: grad s = 2 diff, lap s = 6 (three dimensions).
    return compose((f0, f1, f2), (s, 2 * diff, torch.full_like(s, 6.0)))


def smoothstep_bump(u: Calc) -> Calc:
    """``(1 - u)^3`` for ``u < 1``, 0 beyond: 1 at u = 0, C2 at u = 1."""
    v = u[0]
    inside = v < 1
    w = torch.clamp(1 - v, min=0.0)
    f0 = torch.where(inside, w ** 3, torch.zeros_like(v))
    f1 = torch.where(inside, -3 * w ** 2, torch.zeros_like(v))
    f2 = torch.where(inside, 6 * w, torch.zeros_like(v))
    return compose((f0, f1, f2), u)


def scale(a: Calc, c: float) -> Calc:
    """``c * a``."""
    return a[0] * c, a[1] * c, a[2] * c
