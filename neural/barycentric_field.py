"""The neural barycentric field: valid generalized barycentric coordinates for any weights.

At a point x inside the cage, each triangulation ``l`` of the cage's
:class:`~fieldrig.geometry.cage_triangulations.TriangulationFamily` has one simplex
``s_l(x)`` containing x, with ordinary barycentric coordinates ``β_l(x)`` (d+1 non-zeros,
continuous in x: the hat functions of that triangulation). The field is the mixture

    φ(x) = Σ_l w_l(x) β_l(x),    w(x) = softmax_l( <e(x), β_l(x)> − penalty_l(x) ),

where ``e(x)`` (one score per cage vertex) is an MLP on Fourier features of x. Each
``β_l(x)`` is a valid coordinate vector and ``w`` is a probability vector, so
non-negativity, partition of unity and linear reproduction (``Σ_i φ_i v_i = x``) hold for
any network weights. The logits ``<e, β_l>`` are the natural parameters of an exponential
family whose sufficient statistics are the candidates ``β_l(x)``: any coordinate vector
in the relative interior of their convex hull is reached by some ``e``. Equal
``β`` give equal logits, so the mixture is continuous wherever the triangulations are.

Boundary interpolation on non-convex cages: with p the closest boundary point of x, δ its
distance over the cage diameter, φ_∂(p) the exact boundary values there, c_l = |β_l(x) −
φ_∂(p)|₁ and t = δ/ρ, triangulations that do not interpolate the boundary at p are pushed
out by

    penalty_l = c_l [γ (t − 1 − log t) + η (1/δ − 1/ρ)]   for δ < ρ, 0 beyond.

Every boundary point lies on a facet of some triangulation of the family (c_l → 0 there);
the others' weights vanish like a power of δ (the log term, mild enough to let coordinates
leave their boundary values like δ^(2/3), as harmonic coordinates do at reflex corners), and
faster than any power inside the thin layer δ < η. So φ(x) → φ_∂(p) as x → p, and on the
boundary itself the exact values are returned (one-hot at a vertex, that edge's / face's
barycentrics).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch

from fieldrig.core.atomic import atomic_path
from fieldrig.core.errors import InputError
from fieldrig.core.progress import ProgressCallback, ProgressReporter
from fieldrig.geometry.cage import BOUNDARY_TOLERANCE, Cage, as_cage
from fieldrig.geometry.cage_triangulations import TriangulationFamily, cage_triangulations, face_neighbours
from fieldrig.neural.device import resolve_device

FORMAT = "fieldrig-barycentric-field"
VERSION = 1
_CHUNK = 8192
#: Bounds points × cage vertices per evaluated chunk (the dense coordinates of a chunk).
_CHUNK_ENTRIES = 1 << 22
#: Plane (or barycentric) evaluations per chunk of a search over all simplices (bounds its memory).
_PLANE_BUDGET = 1 << 22
#: Walk steps before a search over all simplices takes over, and points walked at once.
_MAX_WALK = 200
_WALK_CHUNK = 4096
#: Up to this many simplices per triangulation, points without a hint are located by the
#: plane test of all simplices at once (as fast as a walk at 130 simplices, measured).
_PLANE_SEARCH_MAX = 128


@dataclass
class FieldConfig:
    """Architecture of a :class:`BarycentricField` (see :meth:`default_for` for the defaults
    the API uses for a given cage).

    Attributes
    ----------
    width, depth : int
        Hidden layer width and number of hidden layers of the MLP.
    fourier_features : int
        Number of random Fourier frequencies (each gives a sine and a cosine).
    fourier_scale : float
        Standard deviation of the frequencies, in cycles per half cage diameter.
    logit_scale : float
        Multiplies the network output: the scores ``e`` are ``logit_scale * MLP(x)``.
    random_triangulations : int
        Random regular triangulations in the family (besides the Delaunay one).
    apexes_per_cell : int or None
        None: a forced triangulation for every boundary cell and inner-side vertex; k: only
        until every cell is a facet of k triangulations (see
        :func:`~fieldrig.geometry.cage_triangulations.cage_triangulations`).
    boundary_sharpness : float
        γ: strength of the logarithmic boundary-consistency penalty.
    boundary_band : float
        ρ: width of the band where the penalty acts, as a fraction of the cage diameter.
    boundary_layer : float
        η: thickness (fraction of the diameter) of the thin layer where the penalty grows
        like η/δ and inconsistent candidates vanish faster than any power of δ.
    """

    width: int = 64
    depth: int = 2
    fourier_features: int = 32
    fourier_scale: float = 1.0
    logit_scale: float = 10.0
    random_triangulations: int = 16
    apexes_per_cell: Optional[int] = None
    boundary_sharpness: float = 0.5
    boundary_band: float = 0.1
    boundary_layer: float = 1e-3

    @staticmethod
    def default_for(dim: int, n_vertices: int, sharp: bool = False) -> "FieldConfig":
        """Defaults for a cage.

        Polygons of up to 16 vertices get every forced triangulation (the 12-vertex star:
        83 distinct candidates per point); larger polygons and 3D cages get 64 / 24 random
        ones and forced ones only where cells are not yet facets of 4 / 2 of them (woody's
        21-vertex cage: 65, spot's 40-vertex cage: 25), which keeps the cost per point
        independent of C(n, d+1).
        ``sharp`` (total-variation objectives, whose optimum concentrates on few candidates)
        raises the logit scale from 10 to 50.
        """
        scale = 50.0 if sharp else 10.0
        if dim == 2 and n_vertices <= 16:
            return FieldConfig(apexes_per_cell=None, random_triangulations=16, logit_scale=scale)
        if dim == 2:
            return FieldConfig(apexes_per_cell=4, random_triangulations=64, logit_scale=scale)
        return FieldConfig(apexes_per_cell=2, random_triangulations=24, logit_scale=scale)


@dataclass
class PointGeometry:
    """What the field needs to know about a batch of points, besides the network input.

    Attributes
    ----------
    x : (P, d) float64 tensor
        The points.
    simplex : (P, L) long tensor
        Containing simplex in each triangulation (its index within that triangulation).
    vertices : (d+1, P, L) long tensor
        Cage vertices of the containing simplex in each triangulation.
    bary : (d+1, P, L) float64 tensor
        Barycentric coordinates of the point in those simplices.
    penalty : (P, L) float64 tensor
        Boundary-consistency penalty of each candidate.
    on_boundary : (P,) bool tensor
        Points on the cage boundary: their coordinates are the exact boundary values.
    cell_vertices : (P, d) long tensor
        Closest boundary cell.
    cell_weights : (P, d) float64 tensor
        Barycentric weights of the closest boundary point on that cell.
    """

    x: torch.Tensor
    simplex: torch.Tensor
    vertices: torch.Tensor
    bary: torch.Tensor
    penalty: torch.Tensor
    on_boundary: torch.Tensor
    cell_vertices: torch.Tensor
    cell_weights: torch.Tensor

    def compact(self) -> "PointGeometry":
        """The same geometry in training precision, for storing many points: float32
        barycentrics and penalties, int32 indices (:meth:`take` restores the index type)."""
        return PointGeometry(
            self.x,
            self.simplex.to(torch.int32),
            self.vertices.to(torch.int32),
            self.bary.float(),
            self.penalty.float(),
            self.on_boundary,
            self.cell_vertices.to(torch.int32),
            self.cell_weights.float(),
        )

    def take(self, rows: Union[slice, torch.Tensor]) -> "PointGeometry":
        """The geometry of some of the points (a slice or a (k,) long tensor), with long indices."""
        return PointGeometry(
            self.x[rows],
            self.simplex[rows].long(),
            self.vertices[:, rows].long(),
            self.bary[:, rows],
            self.penalty[rows],
            self.on_boundary[rows],
            self.cell_vertices[rows].long(),
            self.cell_weights[rows],
        )

    @staticmethod
    def concatenate(parts: "list[PointGeometry]") -> "PointGeometry":
        """One geometry for the points of several, in order."""
        return PointGeometry(
            *(
                torch.cat([getattr(p, name) for p in parts], dim=1 if name in ("vertices", "bary") else 0)
                for name in PointGeometry.__dataclass_fields__
            )
        )


class SimplexLocator(torch.nn.Module):
    """Finds the containing simplex of points in every triangulation of a family.

    The plane test: in a regular triangulation the simplex containing x is the one whose
    lifted plane is highest at x (the lower convex hull is the maximum of its facets'
    planes), one matrix product and a max for a batch in all triangulations. Its cost grows
    with the triangulations' size, so it serves small triangulations only; otherwise a
    visibility walk per (point, triangulation) from a start simplex (a nearby point's, or
    one fixed simplex of each triangulation) steps across the face whose barycentric
    coordinate is most negative until none is. Walks terminate in regular triangulations
    (their visibility order is acyclic) and cost the number of simplices crossed; the rare
    pairs still walking after a cap, or stopped by a rounding-level tie, are settled by
    testing every simplex of their triangulation. The same code runs on CPU and CUDA.
    """

    def __init__(self, V: np.ndarray, family: TriangulationFamily):
        super().__init__()
        centre, scale = V.mean(axis=0), 0.5 * float(np.linalg.norm(np.ptp(V, axis=0)))
        U = (V - centre) / scale
        S = family.simplices
        corners = U[S]  # (S, d+1, d)
        L, T = family.members.shape
        d = V.shape[1]
        # β = affine[s] @ (u, 1): the inverse of the simplex's homogeneous corner matrix
        affine = np.linalg.inv(np.concatenate([np.swapaxes(corners, 1, 2), np.ones((len(S), 1, d + 1))], axis=1))
        planes = np.zeros((L, T, d + 1))
        planes[..., d] = -1e30  # padding never wins
        neighbours = -np.ones((L, T, d + 1), dtype=np.int64)
        for l in range(L):
            m = family.members[l, : family.counts[l]]
            A = np.concatenate([corners[m], np.ones((len(m), d + 1, 1))], axis=2)
            planes[l, : len(m)] = np.linalg.solve(A, family.heights[l][S[m]][..., None])[..., 0]
            neighbours[l, : len(m)] = face_neighbours(S[m], len(V))
        self.register_buffer("centre", torch.as_tensor(centre))
        self.scale = scale
        self.register_buffer("simplex_vertices", torch.as_tensor(S.T.copy()))  # (d+1, S)
        self.register_buffer("members", torch.as_tensor(family.members))
        self.register_buffer("neighbours", torch.as_tensor(neighbours))
        # the plane test's planes, kept only where it is used (small triangulations)
        self.register_buffer("planes", torch.as_tensor(planes) if T <= _PLANE_SEARCH_MAX else None)
        self.register_buffer("affine", torch.as_tensor(affine))  # (S, d+1, d+1)
        # start of the walks: the simplex holding the centroid of the cage vertices (in every hull)
        self.register_buffer("start", torch.as_tensor(np.argmax(planes[..., d], axis=1)))
        self.n_triangulations, self.max_simplices = L, T

    def forward(self, x: torch.Tensor, hint: Optional[torch.Tensor] = None):
        """Locate points.

        Parameters
        ----------
        x : (P, d) float64 tensor
        hint : (P, L) long tensor, optional
            Simplices (indices within each triangulation) expected to contain the points or
            to be near them, e.g. those of a point nearby; the walks start there.

        Returns
        -------
        simplex : (P, L) long tensor
            The containing simplex's index within each triangulation (pass as ``hint`` for
            nearby points).
        vertices : (d+1, P, L) long tensor
            Its cage vertices (component-major: reductions over the corners stay cheap).
        bary : (d+1, P, L) float64 tensor
            Barycentric coordinates of the points in it.
        """
        u = (x - self.centre) / self.scale
        P, L = len(u), self.n_triangulations
        which = torch.arange(L, device=u.device).expand(P, L)
        if hint is None and self.max_simplices <= _PLANE_SEARCH_MAX:
            local = self._plane_search(u)
        else:
            local = self.start.expand(P, L).clone() if hint is None else hint.clone()
            for a in range(0, P, _WALK_CHUNK):
                local[a : a + _WALK_CHUNK] = self._walk(u[a : a + _WALK_CHUNK], local[a : a + _WALK_CHUNK])
        simplex = self.members[which, local]
        bary = self._bary(simplex, u)
        tie = bary.amin(dim=0) < -1e-9
        if bool(tie.any()):  # a rounding-level tie, or a walk past its cap: the best simplex of all
            p_idx, l_idx = tie.nonzero(as_tuple=True)
            step = max(1, _PLANE_BUDGET // self.max_simplices)
            for a in range(0, len(p_idx), step):
                p, l = p_idx[a : a + step], l_idx[a : a + step]
                cand = self.members[l]  # (k, T)
                score = self._bary(cand.clamp(min=0), u[p]).amin(dim=0)
                local[p, l] = score.masked_fill(cand < 0, -float("inf")).argmax(dim=1)
            simplex[p_idx, l_idx] = self.members[l_idx, local[p_idx, l_idx]]
            bary[:, p_idx, l_idx] = self._bary(simplex[p_idx, l_idx, None], u[p_idx])[..., 0]
        return local, self.simplex_vertices[:, simplex], bary.clamp(min=0.0)

    def _plane_search(self, u: torch.Tensor) -> torch.Tensor:
        """Containing simplex of points u (P, d) in every triangulation by the plane test, (P, L)."""
        L = self.n_triangulations
        lifted = torch.cat([u, torch.ones_like(u[:, :1])], dim=1)
        local = torch.empty(len(u), L, dtype=torch.long, device=u.device)
        step = max(1, _PLANE_BUDGET // (L * self.max_simplices))
        flat = self.planes.view(-1, self.planes.shape[-1])
        for a in range(0, len(u), step):
            local[a : a + step] = (lifted[a : a + step] @ flat.T).view(-1, L, self.max_simplices).argmax(dim=2)
        return local

    def _walk(self, u: torch.Tensor, local: torch.Tensor) -> torch.Tensor:
        """Walk every (point, triangulation) pair from ``local`` (P, L) to its containing simplex."""
        P, L = local.shape
        flat = local.reshape(-1).clone()
        point = torch.arange(P, device=u.device).repeat_interleave(L)
        tri = torch.arange(L, device=u.device).repeat(P)
        active = torch.arange(P * L, device=u.device)
        for _ in range(_MAX_WALK):
            t, here = tri[active], flat[active]
            b = self._bary(self.members[t, here][:, None], u[point[active]])[..., 0]  # (d+1, k)
            low, face = b.min(dim=0)
            step = self.neighbours[t, here, face]
            move = (low < -1e-12) & (step >= 0)
            flat[active[move]] = step[move]
            active = active[move]
            if len(active) == 0:
                break
        return flat.view(P, L)

    def _bary(self, simplex: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Barycentric coordinates (d+1, P, m) of points u (P, d) in simplices (P, m)."""
        S, k = self.affine.shape[0], self.affine.shape[1]
        lifted = torch.cat([u, torch.ones_like(u[:, :1])], dim=1)
        if S <= simplex.shape[1] * k:  # few distinct simplices: all of them at once, then pick
            every = (lifted @ self.affine.reshape(S * k, k).T).view(len(u), S, k)
            return torch.stack([every[..., j].gather(1, simplex) for j in range(k)])
        A = self.affine[simplex]  # (P, m, d+1, d+1)
        return (A.view(len(u), -1, k) @ lifted[:, :, None]).view(*simplex.shape, k).permute(2, 0, 1)


class CoordinateNetwork(torch.nn.Module):
    """Random Fourier features of the normalised point, then an MLP: one score per cage vertex."""

    def __init__(self, dim: int, n_vertices: int, config: FieldConfig, generator: torch.Generator):
        super().__init__()
        self.register_buffer(
            "frequencies",
            torch.randn(dim, config.fourier_features, generator=generator, dtype=torch.float64).float()
            * config.fourier_scale,
        )
        layers, width_in = [], 2 * config.fourier_features + dim
        for _ in range(config.depth):
            layers += [torch.nn.Linear(width_in, config.width), torch.nn.SiLU()]
            width_in = config.width
        layers.append(torch.nn.Linear(width_in, n_vertices))
        self.mlp = torch.nn.Sequential(*layers)
        with torch.no_grad():
            for module in self.mlp:
                if isinstance(module, torch.nn.Linear):
                    bound = 1.0 / np.sqrt(module.in_features)
                    module.weight.copy_(torch.rand(module.weight.shape, generator=generator) * 2 * bound - bound)
                    module.bias.copy_(torch.rand(module.bias.shape, generator=generator) * 2 * bound - bound)
            self.mlp[-1].weight.mul_(0.1)
            self.mlp[-1].bias.zero_()
        self.logit_scale = config.logit_scale

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """Scores (P, n) at normalised points u (P, d) (float32)."""
        angle = 2.0 * np.pi * (u @ self.frequencies)
        return self.logit_scale * self.mlp(torch.cat([torch.sin(angle), torch.cos(angle), u], dim=1))


class BarycentricField(torch.nn.Module):
    """Trained (or freshly initialised) generalized barycentric coordinates of a cage.

    Create one with :func:`fieldrig.fit_barycentric_field` (trained) or
    :meth:`BarycentricField.create` (initialised); :meth:`evaluate` gives the coordinates
    anywhere inside the cage, :meth:`save` / :meth:`load` store it in one file tied to the
    cage's hash.

    Attributes
    ----------
    cage : Cage
    config : FieldConfig
    history : list of dict
        Training log (step, loss and each objective term), empty when untrained.
    """

    def __init__(self, cage: Cage, config: FieldConfig, family: TriangulationFamily, seed: int = 0):
        super().__init__()
        self.cage = cage
        self.config = config
        self.family = family
        self.seed = seed
        generator = torch.Generator().manual_seed(seed)
        self.locator = SimplexLocator(cage.V, family)
        self.network = CoordinateNetwork(cage.dim, cage.n_vertices, config, generator)
        self.history: list = []

    @classmethod
    def create(
        cls, cage, config: Optional[FieldConfig] = None, seed: int = 0, device=None, progress=None
    ) -> "BarycentricField":
        """A freshly initialised field (valid coordinates already, just not optimised).

        Parameters
        ----------
        cage : Cage, path, (n, 2) array or (V, F) tuple
        config : FieldConfig, optional
            Defaults to :meth:`FieldConfig.default_for` the cage.
        seed : int
            Seeds the network initialisation and the triangulation family.
        device : str, torch.device or None
            None/"auto": CUDA when available, else CPU.
        progress : callable, optional
            Called with the number of triangulations built so far, after each one.

        Returns
        -------
        BarycentricField
        """
        cage = as_cage(cage)
        config = config or FieldConfig.default_for(cage.dim, cage.n_vertices)
        family = cage_triangulations(cage, config.random_triangulations, config.apexes_per_cell, seed, progress)
        return cls(cage, config, family, seed).to(resolve_device(device))

    @property
    def device(self) -> torch.device:
        return self.locator.centre.device

    @property
    def n_candidates(self) -> int:
        """Candidates per point (one per triangulation)."""
        return self.locator.n_triangulations

    # ------------------------------------------------------------------ geometry
    def point_geometry(
        self,
        x: np.ndarray,
        distance: np.ndarray,
        cell_vertices: np.ndarray,
        cell_weights: np.ndarray,
        hint: Optional[torch.Tensor] = None,
    ) -> PointGeometry:
        """Candidates and penalties of points whose closest boundary point is known.

        Parameters
        ----------
        x : (P, d) float
            Points inside the cage.
        distance, cell_vertices, cell_weights
            From :meth:`Cage.boundary_projection` of ``x``.
        hint : (P, L) long tensor, optional
            Simplices expected to contain the points (see :meth:`SimplexLocator.forward`).

        Returns
        -------
        PointGeometry
        """
        dev = self.device
        xt = torch.tensor(x, dtype=torch.float64, device=dev)
        simplex, vertices, bary = self.locator(xt, hint)
        cv = torch.as_tensor(cell_vertices, dtype=torch.long, device=dev)
        cw = torch.as_tensor(cell_weights, dtype=torch.float64, device=dev)
        delta = torch.as_tensor(distance, dtype=torch.float64, device=dev) / self.cage.diameter
        # φ_∂(p) at each candidate's vertices (the closest cell's weight where a vertex is one
        # of its corners), then |β − φ_∂|₁ over all cage vertices
        at_candidate = sum(
            (vertices == cv[None, :, c, None]) * cw[None, :, c, None] for c in range(cv.shape[1])
        )  # (d+1, P, L)
        mismatch = (bary - at_candidate).abs().sum(dim=0) + 1.0 - at_candidate.sum(dim=0)
        t = (delta / self.config.boundary_band).clamp(min=1e-300, max=1.0)
        strength = self.config.boundary_sharpness * (t - 1.0 - torch.log(t)) + self.config.boundary_layer * (
            1.0 / delta.clamp(min=1e-300) - 1.0 / self.config.boundary_band
        ).clamp(min=0.0)
        return PointGeometry(
            xt, simplex, vertices, bary, mismatch * strength[:, None], delta <= BOUNDARY_TOLERANCE, cv, cw
        )

    def geometry_of(self, points: np.ndarray) -> PointGeometry:
        """:meth:`point_geometry` for points given alone (projects them on the boundary)."""
        return self.point_geometry(points, *self.cage.boundary_projection(points))

    # ------------------------------------------------------------------ evaluation
    def forward(self, geometry: PointGeometry, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Coordinates (P, n) of a batch, differentiable in the network weights.

        Parameters
        ----------
        geometry : PointGeometry
        dtype : torch.dtype
            float32 for training; float64 gives validity residuals at rounding level.
        """
        u = ((geometry.x - self.locator.centre) / self.locator.scale).float()
        scores = self.network(u).to(dtype)  # (P, n)
        bary = geometry.bary.to(dtype)
        logits = -geometry.penalty.to(dtype)
        for v, b in zip(geometry.vertices, bary):
            logits = logits + scores.gather(1, v) * b
        weights = torch.softmax(logits, dim=1)
        phi = torch.zeros_like(scores)
        for v, b in zip(geometry.vertices, bary):
            phi = phi.scatter_add(1, v, weights * b)
        if bool(geometry.on_boundary.any()):
            exact = torch.zeros_like(phi).scatter_add(1, geometry.cell_vertices, geometry.cell_weights.to(dtype))
            phi = torch.where(geometry.on_boundary[:, None], exact, phi)
        return phi

    @torch.no_grad()
    def evaluate(self, points, progress: Optional[ProgressCallback] = None) -> np.ndarray:
        """Coordinates at points inside the cage.

        Parameters
        ----------
        points : (k, d) float
            Inside the cage or on its boundary.
        progress : callable, optional
            Receives a :class:`~fieldrig.core.progress.ProgressEvent` after each chunk of
            points; returning False cancels (:class:`~fieldrig.core.progress.Cancelled`).

        Returns
        -------
        (k, n) float64
            Non-negative, rows sum to 1, ``Φ @ cage.V`` reproduces the points.

        Raises
        ------
        InputError
            Points of the wrong shape or outside the cage.
        """
        P = self.cage.check_inside(points)
        out = np.empty((len(P), self.cage.n_vertices))
        step = min(_CHUNK, max(64, _CHUNK_ENTRIES // self.cage.n_vertices))
        reporter = ProgressReporter(progress)
        for start in range(0, len(P), step):
            chunk = P[start : start + step]
            out[start : start + len(chunk)] = self(self.geometry_of(chunk), torch.float64).cpu().numpy()
            done = start + len(chunk)
            reporter.report(f"evaluating {done:,}/{len(P):,} points", done / len(P))
        return out

    # ------------------------------------------------------------------ files
    def save(self, path: Union[str, os.PathLike]) -> None:
        """Write the field to one file (atomically), tied to the cage's hash.

        Parameters
        ----------
        path : str or PathLike
            Conventionally ``.pt``.
        """
        f = self.family
        data = {
            "format": FORMAT,
            "version": VERSION,
            "cage_hash": self.cage.hash,
            "seed": self.seed,
            "cage_V": torch.tensor(self.cage.V),
            "cage_F": torch.tensor(self.cage.F),
            "config": asdict(self.config),
            "family": {
                "simplices": torch.as_tensor(f.simplices),
                "members": torch.as_tensor(f.members),
                "counts": torch.as_tensor(f.counts),
                "heights": torch.as_tensor(f.heights),
            },
            "network": {k: v.detach().cpu() for k, v in self.network.state_dict().items()},
            "history": self.history,
        }
        with atomic_path(path) as tmp:
            torch.save(data, tmp)

    @classmethod
    def load(cls, path: Union[str, os.PathLike], cage=None, device=None) -> "BarycentricField":
        """Read a field written by :meth:`save`.

        Parameters
        ----------
        path : str or PathLike
        cage : Cage, path, array or (V, F) tuple, optional
            The cage the field is expected to belong to; a different cage (by hash) is
            refused. Omitted: the cage stored in the file is used.
        device : str, torch.device or None

        Returns
        -------
        BarycentricField

        Raises
        ------
        InputError
            Missing or unreadable file, not a fieldrig barycentric field, or a cage
            mismatch (the message gives both hashes).
        """
        source = str(path)
        if not Path(path).is_file():
            raise InputError(source, "file not found")
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises several unrelated types for bad files
            raise InputError(source, f"cannot read a barycentric field ({exc.__class__.__name__}: {exc})") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise InputError(source, "not a fieldrig barycentric field file")
        if data.get("version") != VERSION:
            raise InputError(source, f"field file version {data.get('version')} is not supported (expected {VERSION})")
        stored = Cage(data["cage_V"].numpy(), data["cage_F"].numpy(), source)
        if stored.hash != data["cage_hash"]:
            raise InputError(source, "the file is corrupt (its cage does not match its recorded hash)")
        if cage is not None:
            cage = as_cage(cage)
            if cage.hash != stored.hash:
                raise InputError(
                    source,
                    f"the field was trained for cage {stored.hash[:16]}…, not for the given cage "
                    f"{cage.hash[:16]}… ({cage.n_vertices} vertices; the field's cage has "
                    f"{stored.n_vertices})",
                )
        else:
            cage = stored
        fam = data["family"]
        family = TriangulationFamily(
            fam["simplices"].numpy(), fam["members"].numpy(), fam["counts"].numpy(), fam["heights"].numpy()
        )
        field = cls(cage, FieldConfig(**data["config"]), family, int(data["seed"]))
        field.network.load_state_dict(data["network"])
        field.history = list(data.get("history", []))
        return field.to(resolve_device(device))
