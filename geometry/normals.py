"""Normals of point clouds: PCA over nearest neighbours, oriented by propagation.

Method (Hoppe et al. 1992): the normal of each point is the direction of least variance of
its ``k`` nearest neighbours; orientation is propagated over a minimum spanning tree of the
kNN graph whose edge cost ``1 - |n_i · n_j|`` prefers flipping across nearly parallel
normals; finally each connected piece is flipped, if needed, so that its normals point
away from its centroid on average.

Limits: two sheets closer than the neighbourhood size (thin plates, touching fingers) get
mixed neighbourhoods and may come out with flipped patches; sharp creases blur over ``k``
points; the global flip assumes each piece is roughly closed around its centroid (for an
open, flat patch the side is arbitrary but consistent). Give normals in the file when they
are known.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import breadth_first_order, connected_components, minimum_spanning_tree
from scipy.spatial import cKDTree

from fieldrig.core.errors import InputError


def estimate_normals(P: np.ndarray, k: int = 16) -> np.ndarray:
    """Consistently oriented unit normals of a point cloud.

    Parameters
    ----------
    P : (n, 3) float
        Points, n >= 3.
    k : int
        Neighbours per point (clamped to n - 1).

    Returns
    -------
    N : (n, 3) float
        Unit normals.
    """
    P = np.asarray(P, dtype=np.float64)
    if P.ndim != 2 or P.shape[1] != 3 or len(P) < 3:
        raise InputError(
            "points", f"need an (n, 3) array with at least 3 points to estimate normals, got shape {P.shape}"
        )
    if int(k) < 2:
        raise InputError("k", f"need at least 2 neighbours, got {k}")
    n = len(P)
    k = min(int(k), n - 1)
    _, nbrs = cKDTree(P).query(P, k=k + 1)
    local = P[nbrs] - P[nbrs].mean(axis=1, keepdims=True)
    cov = np.einsum("nki,nkj->nij", local, local)
    _, vecs = np.linalg.eigh(cov)
    N = vecs[:, :, 0]

    rows = np.repeat(np.arange(n), k)
    cols = nbrs[:, 1:].reshape(-1)
    cost = 1.0 - np.abs(np.einsum("ij,ij->i", N[rows], N[cols])) + 1e-9
    graph = coo_matrix((cost, (rows, cols)), shape=(n, n)).tocsr()
    graph = graph.maximum(graph.T)
    tree = minimum_spanning_tree(graph)
    tree = tree + tree.T
    n_comp, labels = connected_components(tree, directed=False)
    sign = np.ones(n)
    for c in range(n_comp):
        members = np.flatnonzero(labels == c)
        root = members[np.argmax(P[members, 2])]
        order, pred = breadth_first_order(tree, root, directed=False, return_predecessors=True)
        flip = np.einsum("ij,ij->i", N[order[1:]], N[pred[order[1:]]]) < 0
        for node, parent, f in zip(order[1:].tolist(), pred[order[1:]].tolist(), flip.tolist()):
            sign[node] = -sign[parent] if f else sign[parent]
        outward = np.einsum("ij,ij->", N[members] * sign[members, None], P[members] - P[members].mean(axis=0))
        if outward < 0:
            sign[members] *= -1
    return N * sign[:, None]
