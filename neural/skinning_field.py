"""The trained skinning field: evaluate weights anywhere, save and load.

``w(x) = (1 - beta(x)) u(x) + beta(x) e_k(x)`` with the kernel field
``u(x) = sum_i k(x, xi_i) p_i / sum_i k(x, xi_i)``: particles ``xi_i`` in the shape, values
``p_i`` on the probability simplex, and a visibility-aware kernel ``k(x, xi) = V(x, xi) g(|x - xi|)``
(g a tapered Gaussian). Convex mixtures of simplex points are on the simplex, so every
weight vector is non-negative and sums to one, for any particle values; ``beta`` makes it
one-hot on the handles (see :mod:`fieldrig.neural.handle_blend`).
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Union

import numpy as np
import torch
from scipy.spatial import cKDTree

from fieldrig.core.errors import InputError
from fieldrig.geometry.visibility import SegmentVisibility
from fieldrig.neural.device import resolve_device
from fieldrig.neural.field_calculus import normalised, tapered_gaussian
from fieldrig.neural.handle_blend import HandleGeometry, handle_blend

_FORMAT = "fieldrig.skinning_field"
_VERSION = 1
_EVAL_CHUNK = 50_000


@dataclass
class KernelPairs:
    """The (point, particle) pairs within the kernel radius that see each other.

    Attributes
    ----------
    rows : (k,) long tensor
        Point index of each pair.
    cols : (k,) long tensor
        Particle index of each pair.
    """

    rows: torch.Tensor
    cols: torch.Tensor


def kernel_pairs(
    X: np.ndarray, tree: cKDTree, radius: float, visibility: Optional[SegmentVisibility], device: torch.device
) -> KernelPairs:
    """Pairs of points and particles closer than ``radius`` and mutually visible.

    Parameters
    ----------
    X : (m, 3) float
    tree : cKDTree of the particles
    radius : float
    visibility : SegmentVisibility or None

    Returns
    -------
    KernelPairs
        Sorted by point.
    """
    near = cKDTree(X).sparse_distance_matrix(tree, radius, output_type="coo_matrix")
    rows, cols = near.row.astype(np.int64), near.col.astype(np.int64)
    if visibility is not None and len(rows):
        keep = visibility.visible(X[rows], tree.data[cols])
        rows, cols = rows[keep], cols[keep]
    order = np.argsort(rows, kind="stable")
    return KernelPairs(torch.as_tensor(rows[order], device=device), torch.as_tensor(cols[order], device=device))


def shepard_basis(
    X: torch.Tensor, particles: torch.Tensor, pairs: KernelPairs, sigma: float, radius: float, order: int = 2
):
    """Normalised kernel ``phi_i(x) = k(x, xi_i) / sum_j k(x, xi_j)`` per pair, with derivatives.

    Parameters
    ----------
    X : (m, 3) tensor
    particles : (n, 3) tensor
    pairs : KernelPairs
    sigma, radius : float
    order : {0, 1, 2}
        Derivatives wanted (see :mod:`fieldrig.neural.field_calculus`).

    Returns
    -------
    phi : Calc
        (k,), (k, 3), (k,) — one entry per pair.
    covered : (m,) bool tensor
        Points that see at least one particle (elsewhere phi is undefined).
    """
    r, c = pairs.rows, pairs.cols
    g = tapered_gaussian(X[r] - particles[c], sigma, radius, order)
    m = len(X)
    sums = [
        None
        if part is None
        else torch.zeros((m,) + part.shape[1:], dtype=X.dtype, device=X.device).index_add_(0, r, part)
        for part in g
    ]
    covered = sums[0] > 1e-12
    sums[0] = torch.where(covered, sums[0], torch.ones_like(sums[0]))
    phi = normalised(g, tuple(None if t is None else t[r] for t in sums))
    return phi, covered


@dataclass
class SkinningField:
    """A trained skinning-weight field.

    Attributes
    ----------
    particles : (n, 3) float
        Kernel centres.
    values : (n, H) float
        Particle values, each row on the probability simplex.
    sigma, radius : float
        Kernel width and support radius.
    rho : float
        Radius of the handle blend.
    handles : HandleGeometry
    handle_names : list of str
    surface_V, surface_F : arrays
        The surface used for visibility (F None for a point cloud).
    margin : float
        Visibility margin (see :class:`~fieldrig.geometry.visibility.SegmentVisibility`).
    info : dict
        Settings and measurements of the training run.
    """

    particles: np.ndarray
    values: np.ndarray
    sigma: float
    radius: float
    rho: float
    handles: HandleGeometry
    handle_names: List[str]
    surface_V: np.ndarray
    surface_F: Optional[np.ndarray]
    margin: float
    info: Dict = field(default_factory=dict)
    device: Optional[str] = None

    def __post_init__(self):
        self._tree = cKDTree(self.particles)
        self._visibility = None

    @property
    def n_handles(self) -> int:
        """Number of weight columns."""
        return self.values.shape[1]

    @property
    def visibility(self) -> SegmentVisibility:
        """Ray caster for the field's surface (built on first use)."""
        if self._visibility is None:
            self._visibility = SegmentVisibility(self.surface_V, self.surface_F, self.margin)
        return self._visibility

    def evaluate(self, points: np.ndarray) -> np.ndarray:
        """Skinning weights at arbitrary points (mesh vertices, another LOD, a point cloud).

        Parameters
        ----------
        points : (m, 3) float

        Returns
        -------
        (m, H) float64
            Non-negative rows summing to one. A point that sees no particle within the
            kernel radius (far outside the shape) takes the kernel field of its nearest
            particles, ignoring visibility.
        """
        X = np.asarray(points, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != 3:
            raise InputError("points", f"expected an (m, 3) array of points, got shape {X.shape}")
        if not np.all(np.isfinite(X)):
            raise InputError("points", "points contain NaN or infinite coordinates")
        dev = resolve_device(self.device) if self.device else torch.device("cpu")
        out = np.empty((len(X), self.n_handles))
        values = torch.as_tensor(self.values, device=dev)
        particles = torch.as_tensor(self.particles, device=dev)
        for lo in range(0, len(X), _EVAL_CHUNK):
            out[lo : lo + _EVAL_CHUNK] = self._evaluate_chunk(X[lo : lo + _EVAL_CHUNK], particles, values, dev)
        return out

    def _evaluate_chunk(self, X: np.ndarray, particles, values, dev) -> np.ndarray:
        Xt = torch.as_tensor(X, device=dev)
        pairs = kernel_pairs(X, self._tree, self.radius, self.visibility, dev)
        phi, covered = shepard_basis(Xt, particles, pairs, self.sigma, self.radius, order=0)
        u = torch.zeros(len(X), self.n_handles, dtype=Xt.dtype, device=dev)
        u.index_add_(0, pairs.rows, phi[0][:, None] * values[pairs.cols])
        lost = torch.nonzero(~covered).flatten().cpu().numpy()
        if len(lost):
            u[lost] = torch.as_tensor(self._fallback(X[lost]), device=dev)
        handle, beta = handle_blend(Xt, self.handles, self.rho, self.visibility.visible)
        w = (1 - beta)[:, None] * u
        w[torch.arange(len(X), device=dev), handle] += beta
        return w.cpu().numpy()

    def _fallback(self, X: np.ndarray) -> np.ndarray:
        k = min(8, len(self.particles))
        dist, idx = self._tree.query(X, k=k)
        dist, idx = dist.reshape(len(X), k), idx.reshape(len(X), k)
        g = np.exp(-(dist**2 - dist[:, :1] ** 2) / (2 * self.sigma**2))
        g /= g.sum(axis=1, keepdims=True)
        return np.einsum("mk,mkh->mh", g, self.values[idx])

    # ------------------------------------------------------------------ files
    def save(self, path: Union[str, os.PathLike]) -> None:
        """Write the field to one file (NumPy ``.npz`` content, any suffix), atomically."""
        from fieldrig.core.atomic import atomic_path

        meta = {
            "format": _FORMAT,
            "version": _VERSION,
            "sigma": self.sigma,
            "radius": self.radius,
            "rho": self.rho,
            "margin": self.margin,
            "n_handles": self.handles.n_handles,
            "handle_names": self.handle_names,
            "info": self.info,
        }
        arrays = dict(
            particles=self.particles,
            values=self.values,
            seg_starts=self.handles.starts,
            seg_ends=self.handles.ends,
            seg_owner=self.handles.owner,
            surface_V=self.surface_V,
            meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
        )
        if self.surface_F is not None:
            arrays["surface_F"] = self.surface_F
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **arrays)

    @classmethod
    def load(cls, path: Union[str, os.PathLike], device: Optional[str] = None) -> "SkinningField":
        """Read a field written by :meth:`save`."""
        source = str(path)
        try:
            with open(path, "rb") as fh:
                data = np.load(io.BytesIO(fh.read()), allow_pickle=False)
                arrays = {k: data[k] for k in data.files}
            meta = json.loads(arrays.pop("meta").tobytes().decode())
        except FileNotFoundError:
            raise InputError(source, "skinning field file not found") from None
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
            raise InputError(source, f"not a fieldrig skinning field ({exc})") from exc
        if meta.get("format") != _FORMAT:
            raise InputError(source, "not a fieldrig skinning field")
        if meta.get("version", 0) > _VERSION:
            raise InputError(source, f"written by a newer fieldrig (format version {meta['version']})")
        handles = HandleGeometry(arrays["seg_starts"], arrays["seg_ends"], arrays["seg_owner"], meta["n_handles"])
        return cls(
            arrays["particles"],
            arrays["values"],
            meta["sigma"],
            meta["radius"],
            meta["rho"],
            handles,
            list(meta["handle_names"]),
            arrays["surface_V"],
            arrays.get("surface_F"),
            meta["margin"],
            meta.get("info", {}),
            device,
        )
