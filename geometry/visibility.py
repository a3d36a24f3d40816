"""Mutual visibility of point pairs through a surface, by ray casting in Embree's BVH."""

from __future__ import annotations

from typing import Optional

import numpy as np

_CHUNK = 262_144  # rays per Embree call (bounds the temporary arrays)


class SegmentVisibility:
    """Tells whether the straight segment between two points crosses the surface.

    Crossings closer than ``margin`` to the segment's start are ignored, so that a start
    point on the surface (a mesh vertex, a surface sample) is not hidden by the triangles
    it lies on; the end point gets no such allowance, so a kernel centre a hair inside
    the surface does not see through it. A point cloud has no surface to block anything:
    every pair is visible.

    Parameters
    ----------
    V : (n, 3) float
    F : (m, 3) int or None
    margin : float
        Length ignored at the start of every segment.
    """

    def __init__(self, V: np.ndarray, F: Optional[np.ndarray], margin: float):
        self.margin = float(margin)
        self._scene = None
        if F is not None and len(F):
            from embreex.mesh_construction import TriangleMesh
            from embreex.rtcore_scene import EmbreeScene

            self._scene = EmbreeScene()
            TriangleMesh(self._scene, np.ascontiguousarray(np.asarray(V)[np.asarray(F)], dtype=np.float32))

    @property
    def has_surface(self) -> bool:
        """Whether there are triangles to cast rays against (False for a point cloud)."""
        return self._scene is not None

    def visible(self, A: np.ndarray, B: np.ndarray) -> np.ndarray:
        """Whether each segment ``A[i] -> B[i]`` is free of surface crossings (see the class).

        Parameters
        ----------
        A, B : (k, 3) float

        Returns
        -------
        (k,) bool
        """
        k = len(A)
        out = np.ones(k, dtype=bool)
        if self._scene is None or k == 0:
            return out
        for start in range(0, k, _CHUNK):
            a, b = A[start : start + _CHUNK], B[start : start + _CHUNK]
            d = b - a
            length = np.sqrt(np.einsum("ij,ij->i", d, d))
            free = length - self.margin
            test = np.flatnonzero(free > 0)
            if not len(test):
                continue
            direction = d[test] / length[test, None]
            origin = a[test] + self.margin * direction
            hit = self._scene.run(
                origin.astype(np.float32),
                direction.astype(np.float32),
                query="OCCLUDED",
                dists=free[test].astype(np.float32),
            )
            out[start + test] = np.asarray(hit) == -1  # embreex: -1 = nothing hit, else the geometry id
        return out

    def hit_distance(self, origins: np.ndarray, directions: np.ndarray) -> np.ndarray:
        """Distance along each ray to the first surface it meets (inf where it meets none).

        Parameters
        ----------
        origins : (k, 3) float
        directions : (k, 3) float
            Unit vectors.

        Returns
        -------
        (k,) float
        """
        out = np.full(len(origins), np.inf)
        if self._scene is None or not len(origins):
            return out
        for start in range(0, len(origins), _CHUNK):
            stop = start + _CHUNK
            dist = np.asarray(
                self._scene.run(
                    np.ascontiguousarray(origins[start:stop], dtype=np.float32),
                    np.ascontiguousarray(directions[start:stop], dtype=np.float32),
                    query="DISTANCE",
                ),
                dtype=np.float64,
            )
            out[start:stop] = np.where(dist < 1e36, dist, np.inf)  # embreex: 1e37 = no hit
        return out
