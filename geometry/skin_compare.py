"""Comparison figures of two skins of one asset: how far apart they deform, and how their weights differ.

The standard figure for judging weights on a rigged character is the deformation under the
file's own animation against a reference skin (usually the artist's): per frame and per
vertex the distance between the two linear-blend-skinned positions, summarised as mean,
95th percentile and maximum over every (frame, vertex) pair, each also in % of the
bind-pose bounding-box diagonal. Beside it: the weight L1 distance ``½ Σ_j |w_a − w_b|``
per vertex (0 = identical rows, 1 = disjoint), the share of vertices whose dominant joint
agrees, and the number of unweighted vertices.

Distances are in bind-pose units: each frame's distances are divided by the scale of its
skinning matrices (the median over the joints of ``|det|^(1/3)``), so a file whose scene is
scaled against its stored vertices (assimp's glTF of a centimetre FBX puts ×100 on the
skeleton's root) is measured like the same character without that scale.

Weights are compared as skinning uses them: each row is normalised to sum 1 (FBX's default
link mode and glTF viewers do so; files store rows that sum to 0.94 or 1.38), and a row
with no weight (sum below :data:`UNWEIGHTED`) leaves its vertex at rest, as Blender does.
Frames are sampled uniformly at ``fps`` (30 by default) over the clip, both ends included.

Per-vertex figures (:attr:`SkinComparison.vertex_l1`, :attr:`SkinComparison.vertex_max_distance`)
are kept for difference views.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from fieldrig.core.errors import InputError
from fieldrig.geometry.deform import linear_blend_skinning
from fieldrig.geometry.skinned_asset import Clip, Skeleton

UNWEIGHTED = 1e-6
"""A row whose weights sum below this is unweighted."""


@dataclass
class SkinComparison:
    """Figures of skin ``a`` against reference skin ``b`` on one asset under one clip.

    Attributes
    ----------
    times : (k,) float
        Clip times sampled (seconds).
    diagonal : float
        Bind-pose bounding-box diagonal (the unit of the ``*_pct`` figures).
    mean, p95, max : float
        Vertex distance between the two deformations over every (frame, vertex) pair,
        in bind-space units (each frame divided by its :func:`skinning_scale`).
    vertex_max_distance : (n,) float
        Per vertex, the largest distance over the frames.
    vertex_l1 : (n,) float
        Per vertex, ``½ Σ_j |w_a − w_b|`` of the normalised rows (0 … 1).
    same_dominant : float
        Share (0 … 1) of vertices whose largest weight is on the same joint in both skins
        (a vertex unweighted in either skin does not agree).
    unweighted_a, unweighted_b : int
        Vertices with no weight in ``a`` / ``b``.
    """

    times: np.ndarray
    diagonal: float
    mean: float
    p95: float
    max: float
    vertex_max_distance: np.ndarray
    vertex_l1: np.ndarray
    same_dominant: float
    unweighted_a: int
    unweighted_b: int

    @property
    def mean_pct(self) -> float:
        """Mean distance in % of the bind-pose diagonal."""
        return 100.0 * self.mean / self.diagonal

    @property
    def p95_pct(self) -> float:
        """95th-percentile distance in % of the bind-pose diagonal."""
        return 100.0 * self.p95 / self.diagonal

    @property
    def max_pct(self) -> float:
        """Largest distance in % of the bind-pose diagonal."""
        return 100.0 * self.max / self.diagonal

    @property
    def l1(self) -> float:
        """Mean over vertices of the per-vertex weight L1/2."""
        return float(self.vertex_l1.mean()) if len(self.vertex_l1) else 0.0


def clip_times(clip: Clip, fps: float = 30.0) -> np.ndarray:
    """Times at which a clip is sampled: uniformly at ``fps``, both ends included.

    Returns
    -------
    (k,) float
        ``k = max(1, round(duration · fps)) + 1`` times from 0 to the clip's duration
        (a single time 0 for a clip of no duration).
    """
    if not fps > 0:
        raise InputError("fps", f"expected a positive frame rate, got {fps}")
    if clip.duration <= 0:
        return np.zeros(1)
    return np.linspace(0.0, clip.duration, max(1, int(round(clip.duration * fps))) + 1)


def skinning_transforms_over(clip: Clip, skeleton: Skeleton, times: np.ndarray) -> np.ndarray:
    """The clip's skinning matrices at each time.

    Returns
    -------
    (k, J, 4, 4) float
    """
    return np.stack([clip.skinning_transforms(skeleton, float(t)) for t in times])


def skinning_scale(transforms: np.ndarray) -> float:
    """The scale of one frame's skinning matrices: the median over joints of ``|det|^(1/3)``.

    Parameters
    ----------
    transforms : (J, 4, 4) float

    Returns
    -------
    float
        1 for rigid motion; 100 for a skeleton under a ×100 node.
    """
    det = np.abs(np.linalg.det(np.asarray(transforms, dtype=np.float64)[:, :3, :3]))
    return float(np.median(np.cbrt(det))) if len(det) else 1.0


def normalised_weights(W: np.ndarray) -> np.ndarray:
    """Rows scaled to sum 1; rows summing below :data:`UNWEIGHTED` become zero.

    Parameters
    ----------
    W : (n, J) float

    Returns
    -------
    (n, J) float
    """
    W = np.asarray(W, dtype=np.float64)
    s = W.sum(axis=1, keepdims=True)
    return np.where(s >= UNWEIGHTED, W / np.where(s >= UNWEIGHTED, s, 1.0), 0.0)


def unweighted_vertices(W: np.ndarray) -> np.ndarray:
    """(n,) bool: rows whose weights sum below :data:`UNWEIGHTED`."""
    return np.asarray(W, dtype=np.float64).sum(axis=1) < UNWEIGHTED


def skinned_positions(V: np.ndarray, W: np.ndarray, transforms: np.ndarray) -> np.ndarray:
    """Linear blend skinning with normalised rows; unweighted vertices stay at rest.

    Parameters
    ----------
    V : (n, 3) float
        Bind-space positions.
    W : (n, J) float
        Weights as stored (normalised here).
    transforms : (J, 4, 4) float
        Skinning matrices (``Clip.skinning_transforms``).

    Returns
    -------
    (n, 3) float
    """
    V = np.asarray(V, dtype=np.float64)
    X = linear_blend_skinning(V, normalised_weights(W), transforms)
    rest = unweighted_vertices(W)
    X[rest] = V[rest]
    return X


def vertex_weight_l1(W_a: np.ndarray, W_b: np.ndarray) -> np.ndarray:
    """(n,) float: ``½ Σ_j |w_a − w_b|`` per vertex, on normalised rows (0 … 1)."""
    A, B = _same_shape(W_a, W_b)
    return 0.5 * np.abs(normalised_weights(A) - normalised_weights(B)).sum(axis=1)


def same_dominant_share(W_a: np.ndarray, W_b: np.ndarray) -> float:
    """Share of vertices whose largest weight is on the same joint in both skins (ties: the
    first such joint); a vertex unweighted in either skin does not agree."""
    A, B = _same_shape(W_a, W_b)
    if not len(A):
        return 1.0
    agree = (np.argmax(A, axis=1) == np.argmax(B, axis=1)) & ~unweighted_vertices(A) & ~unweighted_vertices(B)
    return float(agree.mean())


def compare_skins(
    V: np.ndarray,
    W_a: np.ndarray,
    W_b: np.ndarray,
    skeleton: Skeleton,
    clip: Clip,
    fps: float = 30.0,
    times: Optional[np.ndarray] = None,
) -> SkinComparison:
    """Every figure of skin ``W_a`` against the reference ``W_b`` under ``clip``.

    Parameters
    ----------
    V : (n, 3) float
        Bind-space vertex positions of the asset.
    W_a, W_b : (n, J) float
        Two weight sets, one column per skeleton joint.
    skeleton : Skeleton
    clip : Clip
    fps : float, optional
        Sampling rate of the clip (ignored when ``times`` is given).
    times : (k,) float, optional
        Clip times to sample instead.

    Returns
    -------
    SkinComparison
    """
    V = np.asarray(V, dtype=np.float64)
    A, B = _same_shape(W_a, W_b)
    if A.shape != (len(V), skeleton.n_joints):
        raise InputError(
            "weights", f"expected ({len(V)}, {skeleton.n_joints}) weights (vertices × joints), got {A.shape}"
        )
    times = clip_times(clip, fps) if times is None else np.asarray(times, dtype=np.float64)
    T = skinning_transforms_over(clip, skeleton, times)
    D = np.stack(
        [
            np.linalg.norm(skinned_positions(V, A, Tk) - skinned_positions(V, B, Tk), axis=1) / skinning_scale(Tk)
            for Tk in T
        ]
    )
    diagonal = float(np.linalg.norm(V.max(axis=0) - V.min(axis=0))) if len(V) else 0.0
    if not diagonal > 0:
        raise InputError("V", "the vertices span no volume (zero bounding-box diagonal)")
    flat = D.reshape(-1)
    return SkinComparison(
        times=times,
        diagonal=diagonal,
        mean=float(flat.mean()),
        p95=float(np.percentile(flat, 95)),
        max=float(flat.max()),
        vertex_max_distance=D.max(axis=0),
        vertex_l1=vertex_weight_l1(A, B),
        same_dominant=same_dominant_share(A, B),
        unweighted_a=int(unweighted_vertices(A).sum()),
        unweighted_b=int(unweighted_vertices(B).sum()),
    )


def _same_shape(W_a, W_b):
    A, B = np.asarray(W_a, dtype=np.float64), np.asarray(W_b, dtype=np.float64)
    if A.ndim != 2 or A.shape != B.shape:
        raise InputError("weights", f"expected two weight matrices of one shape (n, J), got {A.shape} and {B.shape}")
    return A, B
