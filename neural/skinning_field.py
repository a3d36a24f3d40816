"""The trained skinning field: evaluate weights anywhere, save and load.

``w(x) = (1 - beta(x)) u(x) + beta(x) e_k(x)`` with the kernel field
``u(x) = sum_i k(x, xi_i) p_i / sum_i k(x, xi_i)``: particles ``xi_i`` in the shape, values
``p_i`` on the probability simplex, and a visibility-aware kernel ``k(x, xi) = V(x, xi) g(|x - xi|)``
(g a tapered Gaussian). Convex mixtures of simplex points are on the simplex, so every
weight vector is non-negative and sums to one, for any particle values; ``beta`` makes it
one-hot on the handles (see :mod:`fieldrig.neural.handle_blend`). Kernel widths vary
from particle to particle (finer where the shape is thin or handles are close).
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Union

import numpy as np
import scipy.sparse as sp
import torch
from scipy.spatial import cKDTree

from fieldrig.core.errors import InputError
from fieldrig.geometry.visibility import SegmentVisibility
from fieldrig.neural.device import resolve_device
from fieldrig.neural.field_calculus import normalised, tapered_gaussian
from fieldrig.neural.handle_blend import HandleGeometry, handle_blend

_FORMAT = "fieldrig.skinning_field"
_VERSION = 2
_EVAL_CHUNK = 50_000  # points evaluated at once, at most ...
_EVAL_ENTRIES = 250_000  # ... and points × handles at once: a kernel pair holds one value per handle


def evaluation_chunk(n_handles: int) -> int:
    """Points :meth:`SkinningField.evaluate` takes at once: fewer with more handles, so that
    its temporary arrays (kernel pairs × handles) stay a few hundred MB whatever the rig."""
    return max(256, min(_EVAL_CHUNK, _EVAL_ENTRIES // max(int(n_handles), 1)))


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


class KernelSupport:
    """Finds the particles whose kernel support holds a point, for per-particle radii.

    Particles are grouped by radius (groups at most 2^(1/3) apart); each group has its
    own KD-tree, queried with the group's largest radius and then filtered exactly, so a
    fine region beside a coarse one costs no more candidate pairs than its own.

    Parameters
    ----------
    particles : (n, 3) float
    radius : (n,) float
        Support radius of every particle.
    """

    def __init__(self, particles: np.ndarray, radius: np.ndarray):
        self.particles = np.asarray(particles, dtype=np.float64)
        self.radius = np.broadcast_to(np.asarray(radius, dtype=np.float64), (len(self.particles),)).copy()
        group = np.floor(3 * np.log2(self.radius / self.radius.max()) + 1e-9).astype(np.int64)
        self._groups = []
        for g in np.unique(group):
            index = np.flatnonzero(group == g)
            self._groups.append((index, cKDTree(self.particles[index]), float(self.radius[index].max())))

    def nearest(self, X: np.ndarray, k: int):
        """The k nearest particles of every point (distances (m, k), indices (m, k))."""
        if not hasattr(self, "_all"):
            self._all = cKDTree(self.particles)
        k = min(k, len(self.particles))
        dist, idx = self._all.query(X, k=k)
        return dist.reshape(len(X), k), idx.reshape(len(X), k)

    def pairs(
        self, X: np.ndarray, visibility: Optional[SegmentVisibility], device: torch.device, clearance=None
    ) -> KernelPairs:
        """Pairs of points and particles closer than the particle's radius, mutually visible.

        Parameters
        ----------
        X : (m, 3) float
        visibility : SegmentVisibility or None
        device : torch.device
        clearance : callable, optional
            ``clearance(P) -> (k,) float``, a lower bound of the distance from points to
            the surface: a segment shorter than the sum of its ends' clearances lies in
            two empty balls and needs no ray.

        Returns
        -------
        KernelPairs
            Sorted by point.
        """
        points = cKDTree(X)
        rows, cols = [], []
        for index, tree, reach in self._groups:
            near = points.sparse_distance_matrix(tree, reach, output_type="coo_matrix")
            col = index[near.col]
            keep = near.data < self.radius[col]
            rows.append(near.row[keep].astype(np.int64))
            cols.append(col[keep])
        rows, cols = np.concatenate(rows), np.concatenate(cols)
        order = np.argsort(rows, kind="stable")
        rows, cols = rows[order], cols[order]
        if visibility is not None and len(rows):
            test = np.arange(len(rows))
            if clearance is not None:
                d = X[rows] - self.particles[cols]
                length = np.sqrt(np.einsum("ij,ij->i", d, d))
                test = np.flatnonzero(length >= clearance(X)[rows] + self._clearance(clearance)[cols])
            keep = np.ones(len(rows), dtype=bool)
            keep[test] = visibility.visible(X[rows[test]], self.particles[cols[test]])
            rows, cols = rows[keep], cols[keep]
        return KernelPairs(torch.as_tensor(rows, device=device), torch.as_tensor(cols, device=device))

    def _clearance(self, clearance) -> np.ndarray:
        if getattr(self, "_particle_clearance", None) is None:
            self._particle_clearance = clearance(self.particles)
        return self._particle_clearance


def shepard_basis(X: torch.Tensor, particles: torch.Tensor, pairs: KernelPairs, sigma, radius, order: int = 2):
    """Normalised kernel ``phi_i(x) = k(x, xi_i) / sum_j k(x, xi_j)`` per pair, with derivatives.

    Parameters
    ----------
    X : (m, 3) tensor
    particles : (n, 3) tensor
    pairs : KernelPairs
    sigma, radius : float or (n,) tensor
        Kernel width and support radius, shared or per particle.
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
    if isinstance(sigma, torch.Tensor):
        sigma, radius = sigma[c], radius[c]
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

    The field lives in a normalised frame: a point ``x`` of the caller's space is
    evaluated at ``(x - centre) / scale`` (the bounding-box centre and diagonal of the
    shape it was fitted to), so that no tolerance depends on units or placement.

    Attributes
    ----------
    particles : (n, 3) float
        Kernel centres (normalised frame).
    values : (n, H) float
        Particle values, each row on the probability simplex.
    sigma, radius : (n,) float
        Kernel width and support radius of every particle (normalised frame).
    rho : (H,) float
        Radius of the handle blend around each handle (normalised frame).
    handles : HandleGeometry
        In the normalised frame.
    handle_names : list of str
    surface_V, surface_F : arrays
        The surface used for visibility (normalised frame; F None for a point cloud).
    margin : float
        Visibility margin (see :class:`~fieldrig.geometry.visibility.SegmentVisibility`).
    centre : (3,) float
    scale : float
        The frame: ``normalised = (x - centre) / scale``.
    info : dict
        Settings and measurements of the training run.
    """

    particles: np.ndarray
    values: np.ndarray
    sigma: np.ndarray
    radius: np.ndarray
    rho: np.ndarray
    handles: HandleGeometry
    handle_names: List[str]
    surface_V: np.ndarray
    surface_F: Optional[np.ndarray]
    margin: float
    centre: np.ndarray = field(default_factory=lambda: np.zeros(3))
    scale: float = 1.0
    info: Dict = field(default_factory=dict)
    device: Optional[str] = None

    def __post_init__(self):
        n = len(self.particles)
        self.sigma = np.broadcast_to(np.asarray(self.sigma, dtype=np.float64), (n,)).copy()
        self.radius = np.broadcast_to(np.asarray(self.radius, dtype=np.float64), (n,)).copy()
        self.rho = np.broadcast_to(np.asarray(self.rho, dtype=np.float64), (self.values.shape[1],)).copy()
        self.centre = np.asarray(self.centre, dtype=np.float64).reshape(3)
        self.scale = float(self.scale)
        self._support = KernelSupport(self.particles, self.radius)
        self._visibility = None

    @property
    def n_handles(self) -> int:
        """Number of weight columns."""
        return self.values.shape[1]

    @property
    def kernel_widths(self) -> np.ndarray:
        """Kernel sigma of every particle in the caller's units, (n,)."""
        return self.sigma * self.scale

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
            In the caller's space (the space of the shape the field was fitted to).

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
        return self.evaluate_normalised((X - self.centre) / self.scale)

    def evaluate_normalised(self, X: np.ndarray) -> np.ndarray:
        """:meth:`evaluate` for points already in the normalised frame, (m, 3) -> (m, H)."""
        dev = resolve_device(self.device) if self.device else torch.device("cpu")
        out = np.empty((len(X), self.n_handles))
        values = torch.as_tensor(self.values, device=dev)
        particles = torch.as_tensor(self.particles, device=dev)
        sigma = torch.as_tensor(self.sigma, device=dev)
        radius = torch.as_tensor(self.radius, device=dev)
        step = evaluation_chunk(self.n_handles)
        for lo in range(0, len(X), step):
            chunk = X[lo : lo + step]
            out[lo : lo + step] = self._evaluate_chunk(chunk, particles, values, sigma, radius, dev)
        return out

    def interpolation(self, X: np.ndarray) -> sp.csr_matrix:
        """The kernel field's normalised kernels at points (normalised frame), (m, n) sparse.

        ``interpolation(X) @ values`` is the kernel field ``u`` (without the handle blend)
        at points that see a particle; rows of points that see none are zero.
        """
        pairs = self._support.pairs(X, self.visibility, torch.device("cpu"))
        phi, _ = shepard_basis(
            torch.as_tensor(X),
            torch.as_tensor(self.particles),
            pairs,
            torch.as_tensor(self.sigma),
            torch.as_tensor(self.radius),
            order=0,
        )
        return sp.csr_matrix(
            (phi[0].numpy(), (pairs.rows.numpy(), pairs.cols.numpy())), shape=(len(X), len(self.particles))
        )

    def _evaluate_chunk(self, X: np.ndarray, particles, values, sigma, radius, dev) -> np.ndarray:
        Xt = torch.as_tensor(X, device=dev)
        pairs = self._support.pairs(X, self.visibility, dev)
        phi, covered = shepard_basis(Xt, particles, pairs, sigma, radius, order=0)
        u = torch.zeros(len(X), self.n_handles, dtype=Xt.dtype, device=dev)
        u.index_add_(0, pairs.rows, phi[0][:, None] * values[pairs.cols])
        lost = torch.nonzero(~covered).flatten().cpu().numpy()
        if len(lost):
            u[lost] = torch.as_tensor(self._fallback(X[lost]), device=dev)
        handle, beta = handle_blend(Xt, self.handles, torch.as_tensor(self.rho, device=dev), self.visibility.visible)
        w = (1 - beta)[:, None] * u
        w[torch.arange(len(X), device=dev), handle] += beta
        return w.cpu().numpy()

    def _fallback(self, X: np.ndarray) -> np.ndarray:
        dist, idx = self._support.nearest(X, 8)
        exponent = -(dist**2) / (2 * self.sigma[idx] ** 2)
        g = np.exp(exponent - exponent.max(axis=1, keepdims=True))
        g /= g.sum(axis=1, keepdims=True)
        return np.einsum("mk,mkh->mh", g, self.values[idx])

    # ------------------------------------------------------------------ files
    def save(self, path: Union[str, os.PathLike]) -> None:
        """Write the field to one file (NumPy ``.npz`` content, any suffix), atomically."""
        from fieldrig.core.atomic import atomic_path

        meta = {
            "format": _FORMAT,
            "version": _VERSION,
            "margin": self.margin,
            "scale": self.scale,
            "n_handles": self.handles.n_handles,
            "handle_names": self.handle_names,
            "info": self.info,
        }
        arrays = dict(
            particles=self.particles,
            values=self.values,
            sigma=self.sigma,
            radius=self.radius,
            rho=self.rho,
            centre=self.centre,
            seg_starts=self.handles.starts,
            seg_ends=self.handles.ends,
            seg_owner=self.handles.owner,
            seg_isolated=self.handles.isolated_point,
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
        """Read a field written by :meth:`save` (this version or version 1)."""
        source = str(path)
        try:
            with open(path, "rb") as fh:
                content = fh.read()
            if not content.startswith(b"PK"):  # np.load would guess a pickle and say so
                raise ValueError("it is not a NumPy .npz archive")
            data = np.load(io.BytesIO(content), allow_pickle=False)
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
        handles = HandleGeometry(
            arrays["seg_starts"], arrays["seg_ends"], arrays["seg_owner"], meta["n_handles"], arrays.get("seg_isolated")
        )
        # version 1: one kernel width for all particles, fitted in the caller's frame
        return cls(
            arrays["particles"],
            arrays["values"],
            arrays.get("sigma", meta.get("sigma")),
            arrays.get("radius", meta.get("radius")),
            arrays.get("rho", meta.get("rho")),
            handles,
            list(meta["handle_names"]),
            arrays["surface_V"],
            arrays.get("surface_F"),
            meta["margin"],
            arrays.get("centre", np.zeros(3)),
            meta.get("scale", 1.0),
            meta.get("info", {}),
            device,
        )
