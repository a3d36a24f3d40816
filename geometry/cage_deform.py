"""Cage deformation: coordinates bound once to a mesh, then ``X' = Φ V'`` per frame.

A :class:`CageBinding` holds the coordinates Φ of a mesh's vertices in a cage and the
hash of that cage; deforming is one matrix product, and saving/loading checks that the
cage is still the one the coordinates were computed for.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np

from fieldrig.core.atomic import atomic_write_bytes
from fieldrig.core.errors import InputError
from fieldrig.geometry.cage import Cage, as_cage

PathLike = Union[str, os.PathLike]


@dataclass
class CageBinding:
    """Coordinates of a mesh's vertices in a cage.

    Attributes
    ----------
    Phi : (m, n) float64
        One row per mesh vertex, one column per cage vertex.
    cage_hash : str
        :attr:`Cage.hash` of the rest cage.
    """

    Phi: np.ndarray
    cage_hash: str

    @classmethod
    def bind(cls, cage, Phi) -> "CageBinding":
        """Bind coordinates (e.g. from :meth:`BarycentricField.evaluate`) to their cage."""
        cage = as_cage(cage)
        Phi = np.ascontiguousarray(Phi, dtype=np.float64)
        if Phi.ndim != 2 or Phi.shape[1] != cage.n_vertices:
            raise InputError("Phi", f"expected coordinates of shape (m, {cage.n_vertices}), got {Phi.shape}")
        return cls(Phi, cage.hash)

    def deform(self, cage_vertices) -> np.ndarray:
        """Mesh vertices for moved cage vertices: ``Φ @ cage_vertices``.

        Parameters
        ----------
        cage_vertices : (n, d) float
            The cage's vertices in the new pose (same order as the rest cage).

        Returns
        -------
        (m, d) float64
        """
        return deform_with_cage(self.Phi, cage_vertices)

    def save(self, path: PathLike) -> None:
        """Write ``.npz`` (Φ and the cage hash), atomically."""
        buffer = io.BytesIO()
        np.savez(buffer, Phi=self.Phi, cage_hash=np.array(self.cage_hash))
        atomic_write_bytes(path, buffer.getvalue())

    @classmethod
    def load(cls, path: PathLike, cage=None) -> "CageBinding":
        """Read a binding; with ``cage``, refuse it unless it is the cage it was made for.

        Raises
        ------
        InputError
            Missing/unreadable file, or a different cage (the message gives both hashes).
        """
        source = str(path)
        if not Path(path).is_file():
            raise InputError(source, "file not found")
        try:
            with np.load(path, allow_pickle=False) as data:
                binding = cls(np.asarray(data["Phi"], dtype=np.float64), str(data["cage_hash"]))
        except (OSError, ValueError, KeyError) as exc:
            raise InputError(source, f"not a cage binding file ({exc})") from exc
        if cage is not None:
            cage = as_cage(cage)
            if cage.hash != binding.cage_hash:
                raise InputError(
                    source,
                    f"the coordinates belong to cage {binding.cage_hash[:16]}…, not to the given "
                    f"cage {cage.hash[:16]}…",
                )
        return binding


def deform_with_cage(Phi, cage_vertices) -> np.ndarray:
    """``X' = Φ V'``: deform points through their cage coordinates.

    Parameters
    ----------
    Phi : (m, n) float
        Coordinates of m points in a cage of n vertices.
    cage_vertices : (n, d) float
        Moved cage vertices.

    Returns
    -------
    (m, d) float64
    """
    Phi = np.asarray(Phi, dtype=np.float64)
    Vc = np.asarray(cage_vertices, dtype=np.float64)
    if Phi.ndim != 2 or Vc.ndim != 2 or Vc.shape[0] != Phi.shape[1]:
        raise InputError(
            "cage_vertices",
            f"expected ({Phi.shape[1] if Phi.ndim == 2 else 'n'}, d) cage vertices for "
            f"coordinates of shape {Phi.shape}, got {Vc.shape}",
        )
    if not np.all(np.isfinite(Vc)):
        raise InputError("cage_vertices", "contain NaN or infinite coordinates")
    return Phi @ Vc


def load_cage_pose(path: PathLike, rest: Cage) -> np.ndarray:
    """Vertex positions of a posed cage file, checked against the rest cage.

    A posed cage may fold or self-intersect (that is a pose, not a rest cage), so it is not
    validated as a cage: only its vertex count, dimension and finiteness are checked.

    Parameters
    ----------
    path : str or PathLike
        .json (``{"vertices": ...}``) or a mesh file (.obj/.off/.ply); a 2D rest cage
        takes x, y.
    rest : Cage

    Returns
    -------
    (n, d) float64
    """
    source = str(path)
    if Path(path).suffix.lower() == ".json":
        from fieldrig.core.files import read_json

        data = read_json(path, "posed cage")
        try:
            V = np.array(data["vertices"], dtype=np.float64)
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(source, f"cannot read cage vertices ({exc})") from exc
    else:
        from fieldrig.geometry.mesh_io import load_mesh

        V = load_mesh(path).V
    if V.ndim != 2 or len(V) != rest.n_vertices:
        raise InputError(source, f"has {len(V) if V.ndim == 2 else 0} vertices, the rest cage {rest.n_vertices}")
    if rest.dim == 2 and V.shape[1] == 3:
        V = V[:, :2]
    if V.shape[1] != rest.dim:
        raise InputError(source, f"is {V.shape[1]}D, the rest cage {rest.dim}D")
    if not np.all(np.isfinite(V)):
        raise InputError(source, "contains NaN or infinite coordinates")
    return V
