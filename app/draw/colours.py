"""Colours that tell handles apart: one palette for the handle list, the bones and the
"dominant handle" view, so a colour means the same handle everywhere."""

from __future__ import annotations

import colorsys

import numpy as np

# Kelly's colours of maximum contrast (without white, black and the near-greys), as RGB in [0, 1].
_KELLY = (
    np.array(
        [
            (0xF3, 0xC3, 0x00),
            (0x87, 0x56, 0x92),
            (0xF3, 0x84, 0x00),
            (0xA1, 0xCA, 0xF1),
            (0xBE, 0x00, 0x32),
            (0xC2, 0xB2, 0x80),
            (0x00, 0x88, 0x56),
            (0xE6, 0x8F, 0xAC),
            (0x00, 0x67, 0xA5),
            (0xF9, 0x93, 0x79),
            (0x60, 0x4E, 0x97),
            (0xF6, 0xA6, 0x00),
            (0xB3, 0x44, 0x6C),
            (0xDC, 0xD3, 0x00),
            (0x88, 0x2D, 0x17),
            (0x8D, 0xB6, 0x00),
            (0x65, 0x45, 0x22),
            (0xE2, 0x58, 0x22),
            (0x2B, 0x3D, 0x26),
        ],
        dtype=np.float64,
    )
    / 255.0
)

#: Viridis (the weight field's colour map) at 0, 1/8, ..., 1, as RGB in [0, 1]: for legends.
VIRIDIS_STOPS = (
    np.array(
        [
            (0x44, 0x01, 0x54),
            (0x47, 0x2D, 0x7B),
            (0x3B, 0x52, 0x8B),
            (0x2C, 0x72, 0x8E),
            (0x21, 0x91, 0x8C),
            (0x28, 0xAE, 0x80),
            (0x5E, 0xC9, 0x62),
            (0xAD, 0xDC, 0x30),
            (0xFD, 0xE7, 0x25),
        ],
        dtype=np.float64,
    )
    / 255.0
)

#: Colour of vertices that no handle influences (weights all zero or not finite).
UNWEIGHTED_COLOR = (1.0, 0.0, 1.0)
#: Colour of the selected bone / joint / cage vertex.
SELECTION_COLOR = (1.0, 0.95, 0.2)


def handle_palette(n: int) -> np.ndarray:
    """Distinct colours for ``n`` handles.

    Returns
    -------
    (n, 3) float
        Kelly's 19 colours first, then hues spaced by the golden ratio.
    """
    if n <= len(_KELLY):
        return _KELLY[:n].copy()
    extra = [
        colorsys.hsv_to_rgb((0.11 + k * 0.618034) % 1.0, 0.75 - 0.25 * (k % 2), 0.9 - 0.2 * (k % 3 == 2))
        for k in range(n - len(_KELLY))
    ]
    return np.vstack([_KELLY, np.array(extra)])


def unweighted_vertices(W: np.ndarray, tol: float = 1e-6) -> np.ndarray:
    """Vertices no handle influences: all weights below ``tol`` in magnitude, or any not finite.

    Parameters
    ----------
    W : (n, H) float

    Returns
    -------
    (k,) int
    """
    finite = np.all(np.isfinite(W), axis=1)
    return np.flatnonzero(~finite | (np.abs(np.where(np.isfinite(W), W, 0.0)).max(axis=1) < tol))


def dominant_handle_colors(W: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Each vertex in the colour of its largest weight; unweighted vertices in magenta.

    Parameters
    ----------
    W : (n, H) float
    palette : (H, 3) float

    Returns
    -------
    (n, 3) float
    """
    colors = palette[np.argmax(np.where(np.isfinite(W), W, -np.inf), axis=1)]
    colors[unweighted_vertices(W)] = UNWEIGHTED_COLOR
    return colors
