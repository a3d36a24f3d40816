"""Skin weights as glTF stores them: at most four influences per ``JOINTS_n``/``WEIGHTS_n``
set, pruned, renormalised, and decoded back to dense (n, J) matrices.

Written weights follow the Khronos rules: float32 values ≥ 0 summing to 1 (the rounding
residual goes to the largest weight), largest first, no joint twice among a vertex's
non-zero weights, unused slots joint 0 with weight 0; joint indices as unsigned bytes for
skins of at most 256 joints, unsigned shorts beyond.
"""

from __future__ import annotations

from typing import List, Tuple

import numpy as np

from fieldrig.core.errors import InputError

MAX_JOINTS = 65536


def prune_weights(W: np.ndarray, max_influences: int = 4) -> Tuple[np.ndarray, np.ndarray]:
    """Keep each vertex's largest weights and renormalise them.

    Parameters
    ----------
    W : (n, H) float
        Non-negative weights (values down to -1e-6 are treated as 0).
    max_influences : int
        How many weights each vertex keeps.

    Returns
    -------
    joints : (n, k) int
        Column indices, largest weight first; ``k = 4 * ceil(max_influences / 4)``. Slots
        beyond the kept influences, and kept influences of weight 0, hold column 0.
    weights : (n, k) float
        Matching weights, each row summing to 1 (float64).
    """
    if int(max_influences) != max_influences or max_influences < 1:
        raise InputError("max_influences", f"expected a positive integer, got {max_influences!r}")
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2 or W.shape[1] == 0:
        raise InputError("W", f"expected an (n, H) weight matrix with H ≥ 1, got shape {W.shape}")
    if not np.all(np.isfinite(W)):
        raise InputError("W", "weights contain NaN or infinite values")
    if W.size and W.min() < -1e-6:
        raise InputError("W", f"weights must be non-negative (minimum {W.min():.3g})")
    W = np.clip(W, 0.0, None)
    n, H = W.shape
    keep = min(int(max_influences), H)
    order = np.argsort(-W, axis=1, kind="stable")[:, :keep]
    kept = np.take_along_axis(W, order, axis=1)
    total = kept.sum(axis=1)
    if np.any(total <= 0):
        bad = np.flatnonzero(total <= 0)
        raise InputError("W", f"{len(bad)} vertices have no weight at all (first: vertex {bad[0]})")
    kept /= total[:, None]
    order[kept == 0] = 0
    k = 4 * -(-int(max_influences) // 4)
    joints = np.zeros((n, k), dtype=np.int64)
    weights = np.zeros((n, k), dtype=np.float64)
    joints[:, :keep], weights[:, :keep] = order, kept
    return joints, weights


def pruned_mass(W: np.ndarray, max_influences: int = 4) -> np.ndarray:
    """The share of each vertex's weight that :func:`prune_weights` drops.

    Parameters
    ----------
    W : (n, H) float
        Non-negative weights.
    max_influences : int

    Returns
    -------
    (n,) float
        1 − (sum of the ``max_influences`` largest weights) / (sum of all weights).
    """
    W = np.clip(np.asarray(W, dtype=np.float64), 0.0, None)
    kept = -np.sort(-W, axis=1)[:, :max_influences].sum(axis=1)
    return 1.0 - kept / np.maximum(W.sum(axis=1), np.finfo(float).tiny)


def skin_sets(W: np.ndarray, max_influences: int = 4) -> List[Tuple[np.ndarray, np.ndarray]]:
    """The ``JOINTS_n``/``WEIGHTS_n`` arrays of weights, one pair per set of four.

    Parameters
    ----------
    W : (n, J) float
        Weights, one column per skin joint.
    max_influences : int

    Returns
    -------
    list of (joints (n, 4) int64, weights (n, 4) float32)
    """
    if W.shape[1] > MAX_JOINTS:
        raise InputError("W", f"{W.shape[1]} joints exceed glTF's {MAX_JOINTS:,} joints per skin")
    joints, weights = prune_weights(W, max_influences)
    w32 = weights.astype(np.float32)
    residual = 1.0 - w32.astype(np.float64).sum(axis=1)
    w32[:, 0] = (w32[:, 0].astype(np.float64) + residual).astype(np.float32)
    return [(joints[:, 4 * s : 4 * s + 4], w32[:, 4 * s : 4 * s + 4]) for s in range(joints.shape[1] // 4)]


def joint_component(n_joints: int) -> int:
    """glTF component type of ``JOINTS_n`` for a skin of ``n_joints``: unsigned byte or short."""
    return 5121 if n_joints <= 256 else 5123


def dense_weights(doc, attributes: dict, n_vertices: int, n_joints: int, source: str):
    """A primitive's ``JOINTS_n``/``WEIGHTS_n`` sets as one dense matrix.

    Parameters
    ----------
    doc : GltfDocument
    attributes : dict
        The primitive's attributes.
    n_vertices, n_joints : int
    source : str
        Name for messages.

    Returns
    -------
    (n_vertices, n_joints) float or None
        Rows as stored (not renormalised); None when the primitive has no ``JOINTS_0``.
    """
    if "JOINTS_0" not in attributes or "WEIGHTS_0" not in attributes:
        return None
    W = np.zeros((n_vertices, n_joints))
    s = 0
    while f"JOINTS_{s}" in attributes and f"WEIGHTS_{s}" in attributes:
        J = doc.accessor(attributes[f"JOINTS_{s}"]).astype(np.int64)
        w = doc.accessor(attributes[f"WEIGHTS_{s}"]).astype(np.float64)
        if J.shape != w.shape or len(J) != n_vertices:
            raise InputError(source, f"JOINTS_{s}/WEIGHTS_{s} do not match the primitive's {n_vertices} vertices")
        used = w != 0
        if np.any(used & ((J < 0) | (J >= n_joints))):
            raise InputError(source, f"JOINTS_{s} names joints outside the skin's 0..{n_joints - 1}")
        J = np.where(used, J, 0)
        np.add.at(W, (np.repeat(np.arange(len(J)), J.shape[1]), J.ravel()), np.where(used, w, 0).ravel())
        s += 1
    return W
