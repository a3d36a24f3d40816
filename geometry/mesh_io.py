"""Loading triangle meshes, triangle soups and point clouds, and validating them.

Formats (chosen by the file suffix, case-insensitive):

======== ===================================================================
``.obj`` Wavefront OBJ: every ``v`` line in file order, all objects/groups
         concatenated (indices are global in OBJ), negative indices, ``v/vt/vn``
         corners; ``vn`` becomes ``N`` when there is one per vertex and faces
         use the same index for both. No faces → a point cloud.
``.ply`` ASCII or binary PLY (via trimesh's parser); ``nx ny nz`` vertex
         properties become ``N``. Polygons are fan-triangulated by trimesh, which
         lists triangles before polygons when a file mixes them. No faces → a point
         cloud.
``.off`` OFF / COFF / NOFF (``NOFF`` normals become ``N``).
``.stl`` ASCII or binary STL. STL stores three corners per triangle and no
         shared vertices, so corners with *bit-identical* coordinates are merged
         (first occurrence order; nothing else is merged) and triangles left with
         two identical corners are dropped, with a warning.
``.glb`` / ``.gltf``  glTF 2.0: triangle primitives (``TRIANGLES``, strips and fans) of
         every mesh node reachable from the default scene, depth first, children
         and primitives in file order, each node's world transform applied (for a
         skinned mesh too, matching the rig :mod:`fieldrig.geometry.gltf` reads:
         joints at their bind pose in that node's frame). ``POINTS`` primitives
         form a point cloud when the file has no triangles. Draco-compressed files
         are refused.
``.xyz`` Point cloud, one point per line: ``x y z`` or ``x y z nx ny nz``
         (spaces or commas; ``#`` comments). Six columns that are not unit
         vectors (colours, say) are ignored with a warning.
======== ===================================================================

Vertices are never reordered or merged (except the STL corner merge above), so weights
computed on ``V`` line up with the file's vertex list. Polygons are triangulated as fans
``(p0, p_i, p_i+1)`` in file order. Open surfaces, holes, non-manifold meshes and
triangle soups load as they are: they are valid input for fieldrig's skinning. Point
clouds without normals get normals estimated by :func:`fieldrig.geometry.normals.estimate_normals`.
"""

from __future__ import annotations

import os
import warnings as pywarnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple, Union

import numpy as np

from fieldrig.core.errors import InputError
from fieldrig.geometry.normals import estimate_normals

PathLike = Union[str, os.PathLike]
_Read = Tuple[np.ndarray, Optional[np.ndarray], Optional[np.ndarray], List[str]]


@dataclass
class MeshData:
    """A loaded mesh or point cloud.

    Attributes
    ----------
    V : (n, 3) float64
        Vertex positions, in the file's order.
    F : (m, 3) int64 or None
        Triangles; None for a point cloud.
    N : (n, 3) float64 or None
        Unit per-vertex normals: read from the file when it has one per vertex, estimated
        for point clouds without them, else None.
    path : str
        The file read.
    warnings : list of str
        Things worth telling the user that did not stop loading (zero-area faces, merged
        STL corners, estimated normals, ignored line elements, ...).
    """

    V: np.ndarray
    F: Optional[np.ndarray]
    N: Optional[np.ndarray]
    path: str
    warnings: List[str] = field(default_factory=list)

    @property
    def is_point_cloud(self) -> bool:
        """True when there are no faces."""
        return self.F is None


def load_mesh(path: PathLike, *, normal_neighbours: int = 16) -> MeshData:
    """Read a triangle mesh, triangle soup or point cloud.

    Parameters
    ----------
    path : str or PathLike
        ``.obj``, ``.ply``, ``.off``, ``.stl``, ``.glb``, ``.gltf`` or ``.xyz``.
    normal_neighbours : int
        Neighbours used to estimate normals of a point cloud that has none.

    Returns
    -------
    MeshData

    Raises
    ------
    InputError
        The file is missing, empty, unreadable, of an unknown format, or its content is
        invalid (see :func:`validate_mesh`); the message names the file.
    """
    path = Path(path)
    source = str(path)
    if not path.exists():
        raise InputError(source, "file not found")
    if not path.is_file():
        raise InputError(source, "is not a file")
    suffix = path.suffix.lower()
    reader = _READERS.get(suffix)
    if reader is None:
        raise InputError(
            source, f"unknown mesh format {suffix or '(no suffix)'!r} (expected one of {', '.join(sorted(_READERS))})"
        )
    if path.stat().st_size == 0:
        raise InputError(source, "file is empty")
    V, F, N, notes = reader(path)
    V, F = validate_mesh(V, F, source, warnings=notes)
    if N is not None:
        N = np.asarray(N, dtype=np.float64)
        length = np.linalg.norm(N, axis=1) if N.shape == V.shape else np.zeros(0)
        if N.shape != V.shape or not np.all(np.isfinite(length)) or np.any(length == 0):
            notes.append("the normals in the file are incomplete or zero-length and were not used")
            N = None
        else:
            N = N / length[:, None]
    if F is None and N is None:
        N = estimate_normals(V, k=normal_neighbours)
        notes.append(
            "point cloud without normals: normals estimated from "
            f"{min(normal_neighbours, len(V) - 1)} nearest neighbours"
        )
    return MeshData(V, F, N, source, notes)


def validate_mesh(
    V, F, source: str = "mesh", warnings: Optional[List[str]] = None
) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """Check vertices and faces and return them as contiguous float64 / int64 arrays.

    Parameters
    ----------
    V : (n, 3) array_like
        Vertex positions.
    F : (m, 3) array_like of int, or None
        Triangles; None means a point cloud. An empty (0, 3) array is an error: a mesh
        was promised but has no faces.
    source : str
        File or argument name used in messages.
    warnings : list of str, optional
        Non-fatal findings (some zero-area faces, unreferenced vertices) are appended here;
        when omitted they are issued as Python ``UserWarning``.

    Returns
    -------
    V : (n, 3) float64
    F : (m, 3) int64 or None

    Raises
    ------
    InputError
        Wrong shapes, no vertices, NaN/inf coordinates, no faces, indices out of range,
        faces repeating a vertex, or every face of zero area.
    """
    notes: List[str] = [] if warnings is None else warnings
    try:
        V = np.ascontiguousarray(V, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(source, f"vertex positions must be numbers ({exc})") from exc
    if V.ndim != 2 or (V.size and V.shape[1] != 3):
        raise InputError(source, f"vertex positions must be an (n, 3) array, got shape {V.shape}")
    if len(V) == 0:
        raise InputError(source, "contains no vertices")
    bad = ~np.all(np.isfinite(V), axis=1)
    if np.any(bad):
        raise InputError(
            source,
            f"{int(bad.sum())} of {len(V)} vertices have NaN or infinite "
            f"coordinates (first: vertex {int(np.argmax(bad))})",
        )
    if F is None:
        return V, None

    F = np.asarray(F)
    if F.size and not np.issubdtype(F.dtype, np.integer):
        if not np.issubdtype(F.dtype, np.floating) or not np.all(np.isfinite(F)) or np.any(F != np.round(F)):
            raise InputError(source, f"face indices must be integers, got {F.dtype}")
    if F.ndim != 2 or (F.size and F.shape[1] != 3):
        raise InputError(source, f"faces must be an (m, 3) array of vertex indices, got shape {F.shape}")
    if len(F) == 0:
        raise InputError(source, "contains no faces (a point cloud has F = None)")
    F = np.ascontiguousarray(F, dtype=np.int64)
    out = np.any((F < 0) | (F >= len(V)), axis=1)
    if np.any(out):
        i = int(np.argmax(out))
        raise InputError(
            source, f"{int(out.sum())} faces index vertices outside 0..{len(V) - 1} (first: face {i} = {F[i].tolist()})"
        )
    repeated = (F[:, 0] == F[:, 1]) | (F[:, 1] == F[:, 2]) | (F[:, 0] == F[:, 2])
    if np.any(repeated):
        i = int(np.argmax(repeated))
        raise InputError(
            source,
            f"{int(repeated.sum())} faces repeat a vertex index (first: "
            f"face {i} = {F[i].tolist()}); remove these collapsed faces",
        )
    zero = zero_area_faces(V, F)
    if np.all(zero):
        raise InputError(source, f"all {len(F)} faces have zero area")
    if np.any(zero):
        notes.append(f"{int(zero.sum())} of {len(F)} faces have zero area (first: face {int(np.argmax(zero))})")
    used = np.zeros(len(V), bool)
    used[F.ravel()] = True
    if not np.all(used):
        notes.append(f"{int((~used).sum())} of {len(V)} vertices are used by no face")
    if warnings is None:
        for note in notes:
            pywarnings.warn(f"{source}: {note}", UserWarning, stacklevel=2)
    return V, F


def face_areas(V: np.ndarray, F: np.ndarray) -> np.ndarray:
    """Triangle areas.

    Parameters
    ----------
    V : (n, 3) float
    F : (m, 3) int

    Returns
    -------
    (m,) float
    """
    return 0.5 * np.linalg.norm(np.cross(V[F[:, 1]] - V[F[:, 0]], V[F[:, 2]] - V[F[:, 0]]), axis=1)


def zero_area_faces(V: np.ndarray, F: np.ndarray) -> np.ndarray:
    """Faces whose area is zero up to rounding (below 1e-14 × the squared bounding-box diagonal).

    Parameters
    ----------
    V : (n, 3) float
    F : (m, 3) int

    Returns
    -------
    (m,) bool
    """
    diag2 = float(np.sum(np.ptp(V, axis=0) ** 2))
    return face_areas(V, F) <= 1e-14 * max(diag2, 1e-300)


def weld_identical_vertices(V: np.ndarray, F: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge vertices with bit-identical coordinates, keeping first-occurrence order.

    Parameters
    ----------
    V : (n, 3) float
    F : (m, 3) int

    Returns
    -------
    V_welded : (k, 3) float
        The distinct positions, ordered by first occurrence in ``V``.
    F_welded : (m, 3) int64
        ``F`` re-indexed into ``V_welded`` (faces are kept, even if they collapse).
    index : (n,) int64
        Row of ``V_welded`` for every input vertex.
    """
    _, first, inverse = np.unique(V, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    index = rank[inverse.reshape(-1)].astype(np.int64)
    return V[first[order]], index[np.asarray(F, dtype=np.int64)], index


# ------------------------------------------------------------------ helpers
def _fan_triangulate(flat: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Triangles ``(p0, p_i, p_i+1)`` of polygons given as concatenated corner lists.

    Parameters
    ----------
    flat : (sum(lengths),) int
        Corners of all polygons, one after the other.
    lengths : (k,) int
        Corners per polygon, each >= 3.

    Returns
    -------
    (sum(lengths - 2), 3) int64, polygons in order.
    """
    flat = np.asarray(flat, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    starts = np.cumsum(lengths) - lengths
    n_tri = lengths - 2
    poly = np.repeat(np.arange(len(lengths)), n_tri)
    i = np.arange(n_tri.sum()) - np.repeat(np.cumsum(n_tri) - n_tri, n_tri) + 1
    s = starts[poly]
    return np.stack([flat[s], flat[s + i], flat[s + i + 1]], axis=1)


def _text_lines(path: Path) -> List[str]:
    data = path.read_bytes()
    if b"\0" in data[:4096]:
        raise InputError(str(path), f"is not a text {path.suffix.lstrip('.').upper()} file (binary content)")
    return data.decode("utf-8", errors="replace").splitlines()


def _numbers(parts: List[str], source: str, lineno: int, what: str) -> List[float]:
    try:
        return [float(p) for p in parts]
    except ValueError:
        raise InputError(source, f"line {lineno}: {what} must be numbers, got {' '.join(parts)[:60]!r}") from None


# ------------------------------------------------------------------ readers
def _read_obj(path: Path) -> _Read:
    source = str(path)
    v_tokens: List[str] = []
    v_lines: List[int] = []
    vn_tokens: List[str] = []
    f_tokens: List[str] = []  # vertex index of every face corner
    f_normal_tokens: List[str] = []  # normal index of corners that give one, and their vertex index
    f_normal_vertex: List[str] = []
    f_lengths: List[int] = []
    f_vertex_counts: List[int] = []
    f_lines: List[int] = []
    skipped = 0
    for lineno, line in enumerate(_text_lines(path), 1):
        parts = line.split()
        if not parts:
            continue
        tag = parts[0]
        if tag == "v":
            if len(parts) < 4:
                raise InputError(source, f"line {lineno}: a vertex needs 3 coordinates, got {line.strip()[:60]!r}")
            v_tokens += parts[1:4]
            v_lines.append(lineno)
        elif tag == "vn" and len(parts) >= 4:
            vn_tokens += parts[1:4]
        elif tag == "f":
            if len(parts) < 4:
                raise InputError(source, f"line {lineno}: a face needs at least 3 corners, got {line.strip()[:60]!r}")
            if "/" in line:
                for corner in parts[1:]:
                    fields = corner.split("/")
                    f_tokens.append(fields[0])
                    if len(fields) > 2 and fields[2]:
                        f_normal_tokens.append(fields[2])
                        f_normal_vertex.append(fields[0])
            else:
                f_tokens += parts[1:]
            f_lengths.append(len(parts) - 1)
            f_vertex_counts.append(len(v_lines))
            f_lines.append(lineno)
        elif tag in ("l", "p"):
            skipped += 1
    notes = [f"{skipped} line/point elements ignored"] if skipped else []
    V = _parse_numbers(v_tokens, float, np.repeat(v_lines, 3), source, "vertex coordinates").reshape(-1, 3)
    N = (
        _parse_numbers(vn_tokens, float, [], source, "normals").reshape(-1, 3)
        if len(vn_tokens) == len(v_tokens)
        else None
    )
    if not f_tokens:
        return V, None, N, notes
    corner_lines = np.repeat(f_lines, f_lengths)
    idx = _parse_numbers(f_tokens, int, corner_lines, source, "face corners")
    if np.any(idx == 0):
        raise InputError(source, f"line {corner_lines[np.argmax(idx == 0)]}: OBJ indices start at 1, got 0")
    idx = np.where(idx > 0, idx - 1, np.repeat(f_vertex_counts, f_lengths) + idx)
    if N is not None and f_normal_tokens:
        # vertex normals only when every corner that names a normal names its vertex's own
        named = _parse_numbers(f_normal_tokens, int, [], source, "face normals")
        owner = _parse_numbers(f_normal_vertex, int, [], source, "face corners")
        if not np.array_equal(
            np.where(named > 0, named - 1, len(N) + named), np.where(owner > 0, owner - 1, len(V) + owner)
        ):
            N = None
    return V, _fan_triangulate(idx, np.array(f_lengths)), N, notes


def _parse_numbers(tokens: List[str], kind, lines, source: str, what: str) -> np.ndarray:
    """Convert text tokens to a flat float64 (``kind=float``) or int64 (``int``) array; on
    failure name the first bad token and its line."""
    try:
        return np.array(tokens, dtype=np.float64 if kind is float else np.int64).reshape(-1)
    except (ValueError, OverflowError, TypeError):
        for k, token in enumerate(tokens):
            try:
                kind(token)
            except (ValueError, OverflowError):
                where = f"line {lines[k]}: " if k < len(lines) else ""
                raise InputError(source, f"{where}{what} must be numbers, got {str(token)[:40]!r}") from None
        raise


def _read_off(path: Path) -> _Read:
    source = str(path)
    lines = [(i, s) for i, s in ((i, ln.split("#", 1)[0].split()) for i, ln in enumerate(_text_lines(path), 1)) if s]
    if not lines or not lines[0][1][0].upper().endswith("OFF"):
        raise InputError(source, "not an OFF file (the first line must be OFF, COFF or NOFF)")
    header = lines[0][1][0].upper()
    has_normals = "N" in header.replace("OFF", "")
    counts = lines[0][1][1:] or (lines[1][1] if len(lines) > 1 else [])
    body = lines[1:] if lines[0][1][1:] else lines[2:]
    try:
        n_v, n_f = int(counts[0]), int(counts[1])
    except (IndexError, ValueError):
        raise InputError(source, "the OFF header must give the vertex and face counts") from None
    if len(body) < n_v + n_f:
        raise InputError(
            source, f"the header announces {n_v} vertices and {n_f} faces but the file has only {len(body)} data lines"
        )
    rows = [_numbers(s[: 6 if has_normals else 3], source, i, "vertex coordinates") for i, s in body[:n_v]]
    if any(len(r) < (6 if has_normals else 3) for r in rows):
        raise InputError(source, "a vertex line has too few numbers")
    data = np.array(rows, dtype=np.float64).reshape(n_v, -1)
    flat: List[int] = []
    lengths: List[int] = []
    for lineno, s in body[n_v : n_v + n_f]:
        try:
            k = int(s[0])
            corners = [int(x) for x in s[1 : 1 + k]]
        except ValueError:
            raise InputError(source, f"line {lineno}: a face line must be integers, got {' '.join(s)[:60]!r}") from None
        if k < 3 or len(corners) != k:
            raise InputError(source, f"line {lineno}: a face needs at least 3 corners, given as 'k i1 ... ik'")
        flat += corners
        lengths.append(k)
    F = _fan_triangulate(np.array(flat), np.array(lengths)) if lengths else None
    return data[:, :3], F, data[:, 3:6] if has_normals else None, []


def _read_ply(path: Path) -> _Read:
    from trimesh.exchange.ply import load_ply

    try:
        with open(path, "rb") as fh:
            d = load_ply(fh)
    except Exception as exc:  # trimesh raises ValueError/KeyError/struct.error on bad files
        raise InputError(str(path), f"cannot read PLY file ({type(exc).__name__}: {exc})") from exc
    V = np.asarray(d.get("vertices", np.zeros((0, 3))), dtype=np.float64)
    F = d.get("faces")
    F = None if F is None or len(F) == 0 else np.asarray(F).reshape(-1, 3)
    return V, F, d.get("vertex_normals"), []


def _read_stl(path: Path) -> _Read:
    from trimesh.exchange.stl import load_stl

    try:
        with open(path, "rb") as fh:
            d = load_stl(fh)
    except Exception as exc:  # trimesh raises HeaderError/ValueError on bad files
        raise InputError(str(path), f"cannot read STL file ({type(exc).__name__}: {exc})") from exc
    if "vertices" not in d:
        raise InputError(str(path), "cannot read STL file (neither ASCII nor binary STL)")
    corners = np.asarray(d["vertices"], dtype=np.float64)[np.asarray(d["faces"]).reshape(-1)]
    if len(corners) == 0:
        return corners.reshape(0, 3), None, None, []
    V, F, _ = weld_identical_vertices(corners, np.arange(len(corners)).reshape(-1, 3))
    notes = [f"STL corners merged where bit-identical: {len(corners)} corners -> {len(V)} vertices"]
    collapsed = (F[:, 0] == F[:, 1]) | (F[:, 1] == F[:, 2]) | (F[:, 0] == F[:, 2])
    if np.any(collapsed):
        notes.append(f"{int(collapsed.sum())} STL triangles with two identical corners dropped")
        F = F[~collapsed]
    return V, F, None, notes


def _read_gltf(path: Path) -> _Read:
    from fieldrig.geometry.gltf import GltfDocument

    doc = GltfDocument(path)
    gl = doc.json
    if "KHR_draco_mesh_compression" in gl.get("extensionsRequired", []):
        raise InputError(str(path), "Draco-compressed glTF is not supported; export it without mesh compression")
    world = doc.node_world_matrices()
    tri_parts: List[Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]] = []
    point_parts: List[np.ndarray] = []
    skipped = 0
    for node_index in _scene_nodes_depth_first(gl, str(path)):
        node = gl["nodes"][node_index]
        if "mesh" not in node:
            continue
        M = world[node_index]
        for prim in gl["meshes"][node["mesh"]].get("primitives", []):
            attrs = prim.get("attributes", {})
            if "POSITION" not in attrs:
                continue
            P = doc.accessor(attrs["POSITION"])[:, :3].astype(np.float64) @ M[:3, :3].T + M[:3, 3]
            N = None
            if "NORMAL" in attrs:
                N = doc.accessor(attrs["NORMAL"])[:, :3].astype(np.float64) @ np.linalg.inv(M[:3, :3])
            mode = prim.get("mode", 4)
            idx = doc.accessor(prim["indices"]).reshape(-1).astype(np.int64) if "indices" in prim else np.arange(len(P))
            if mode == 0:
                point_parts.append(P[idx])
            elif mode in (4, 5, 6):
                tri_parts.append((P, _primitive_triangles(idx, mode), N))
            else:
                skipped += 1
    notes = [f"{skipped} line primitives ignored"] if skipped else []
    if tri_parts:
        if point_parts:
            notes.append(f"{len(point_parts)} point primitives ignored (the file also has triangles)")
        offsets = np.cumsum([0] + [len(p) for p, _, _ in tri_parts])
        V = np.concatenate([p for p, _, _ in tri_parts])
        F = np.concatenate([f + o for (_, f, _), o in zip(tri_parts, offsets)])
        N = np.concatenate([n for _, _, n in tri_parts]) if all(n is not None for _, _, n in tri_parts) else None
        return V, F, N, notes
    V = np.concatenate(point_parts) if point_parts else np.zeros((0, 3))
    return V, None, None, notes


def _scene_nodes_depth_first(gl: dict, source: str) -> List[int]:
    """Nodes of the default scene (else scene 0, else all parentless nodes), depth first."""
    nodes = gl.get("nodes", [])
    scenes = gl.get("scenes", [])
    if scenes:
        scene = gl.get("scene", 0)
        roots = list(scenes[scene if 0 <= scene < len(scenes) else 0].get("nodes", []))
    else:
        children = {c for n in nodes for c in n.get("children", [])}
        roots = [i for i in range(len(nodes)) if i not in children]
    order: List[int] = []
    stack = list(reversed(roots))
    while stack:
        i = stack.pop()
        if i in order or not 0 <= i < len(nodes):
            raise InputError(source, f"node {i} is listed twice or does not exist (the node tree is broken)")
        order.append(i)
        stack.extend(reversed(nodes[i].get("children", [])))
    return order


def _primitive_triangles(idx: np.ndarray, mode: int) -> np.ndarray:
    """Triangles of a glTF primitive: 4 = list, 5 = strip, 6 = fan."""
    if mode == 4:
        return idx[: len(idx) // 3 * 3].reshape(-1, 3)
    k = np.arange(max(len(idx) - 2, 0))
    if mode == 6:
        return np.stack([np.full_like(k, idx[0]), idx[k + 1], idx[k + 2]], axis=1)
    odd = k % 2 == 1  # strips alternate winding
    return np.stack([idx[k], np.where(odd, idx[k + 2], idx[k + 1]), np.where(odd, idx[k + 1], idx[k + 2])], axis=1)


def _read_xyz(path: Path) -> _Read:
    source = str(path)
    rows: List[List[float]] = []
    width = None
    for lineno, line in enumerate(_text_lines(path), 1):
        parts = line.split("#", 1)[0].replace(",", " ").split()
        if not parts:
            continue
        if len(parts) not in (3, 6):
            raise InputError(source, f"line {lineno}: expected 'x y z' or 'x y z nx ny nz', got {len(parts)} values")
        if width is None:
            width = len(parts)
        elif len(parts) != width:
            raise InputError(source, f"line {lineno}: {len(parts)} values where earlier lines have {width}")
        rows.append(_numbers(parts, source, lineno, "coordinates"))
    data = np.array(rows, dtype=np.float64).reshape(len(rows), width or 3)
    if width != 6:
        return data, None, None, []
    lengths = np.linalg.norm(data[:, 3:], axis=1)
    if np.any(np.abs(lengths - 1.0) > 0.05):  # e.g. colours in 0..255
        return data[:, :3], None, None, ["columns 4-6 are not unit normals and were ignored"]
    return data[:, :3], None, data[:, 3:], []


_READERS: Dict[str, Callable[[Path], _Read]] = {
    ".obj": _read_obj,
    ".ply": _read_ply,
    ".off": _read_off,
    ".stl": _read_stl,
    ".glb": _read_gltf,
    ".gltf": _read_gltf,
    ".xyz": _read_xyz,
}
