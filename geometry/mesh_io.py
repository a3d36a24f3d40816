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
         (first occurrence order; nothing else is merged), with a warning.
``.glb`` / ``.gltf``  glTF 2.0: triangle primitives (``TRIANGLES``, strips and fans) of
         every mesh node reachable from the default scene, depth first, children
         and primitives in file order (:func:`fieldrig.geometry.gltf.gltf_geometry`).
         Skinned meshes are read in their bind pose (the stored positions: the spec
         ignores a skinned mesh node's transform), so they line up with the rig read
         from the same file; other meshes are placed by their node's world
         transform. ``POINTS`` primitives form a point cloud when the file has no
         triangles. Draco-compressed files are refused.
``.xyz`` Point cloud, one point per line: ``x y z`` or ``x y z nx ny nz``
         (spaces or commas; ``#`` comments). Six columns that are not unit
         vectors (colours, say) are ignored with a warning.
======== ===================================================================

Vertices are never reordered or merged (except the STL corner merge above), so weights
computed on ``V`` line up with the file's vertex list. Faces skinning cannot use —
collapsed (a repeated index), zero-area and duplicate faces — are dropped with a warning
that counts them (:func:`clean_mesh`); vertices no face uses are kept and counted.
Polygons are triangulated as fans
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
from fieldrig.core.files import user_path
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
        Things worth telling the user that did not stop loading (dropped faces, merged
        STL corners, estimated normals, ignored line elements, ...).
    cleanup : MeshCleanup
        The faces dropped on loading (collapsed, zero-area, duplicate) and the vertices no
        face uses.
    """

    V: np.ndarray
    F: Optional[np.ndarray]
    N: Optional[np.ndarray]
    path: str
    warnings: List[str] = field(default_factory=list)
    cleanup: MeshCleanup = field(default_factory=lambda: MeshCleanup())

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
    path = user_path(path)
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
    V, F, cleanup = clean_mesh(V, F, source)
    notes += cleanup.notes()
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
    return MeshData(V, F, N, source, notes, cleanup)


@dataclass
class MeshCleanup:
    """Faces :func:`clean_mesh` dropped, and vertices no face uses.

    Attributes
    ----------
    collapsed : int
        Faces that repeat a vertex index.
    zero_area : int
        Faces of zero area (collinear corners), among those left.
    duplicate : int
        Faces with the same three vertices as an earlier face (either orientation).
    unreferenced : int
        Vertices used by no kept face (kept: they still get weights).
    n_faces : int
        Faces given (before dropping).
    """

    collapsed: int = 0
    zero_area: int = 0
    duplicate: int = 0
    unreferenced: int = 0
    n_faces: int = 0

    @property
    def dropped(self) -> int:
        """Faces dropped in all."""
        return self.collapsed + self.zero_area + self.duplicate

    @classmethod
    def total(cls, cleanups) -> "MeshCleanup":
        """The counts of several meshes (parts of one asset) added up; None entries are skipped."""
        out = cls()
        for c in cleanups:
            if c is not None:
                for key in ("collapsed", "zero_area", "duplicate", "unreferenced", "n_faces"):
                    setattr(out, key, getattr(out, key) + getattr(c, key))
        return out

    def notes(self) -> List[str]:
        """One sentence per kind of problem found (empty when none)."""
        notes = []
        for count, what in (
            (self.collapsed, "collapsed (they repeat a vertex)"),
            (self.zero_area, "of zero area"),
            (self.duplicate, "duplicates of another face"),
        ):
            if count:
                notes.append(f"{count} of {self.n_faces} faces are {what} and were dropped")
        if self.unreferenced:
            notes.append(f"{self.unreferenced} vertices are used by no face (they still get weights)")
        return notes


def validate_mesh(
    V, F, source: str = "mesh", warnings: Optional[List[str]] = None
) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """Check vertices and faces, drop unusable faces, and return contiguous float64 / int64 arrays.

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
        What :func:`clean_mesh` dropped or noticed is appended here; when omitted it is
        issued as Python ``UserWarning``.

    Returns
    -------
    V : (n, 3) float64
        Unchanged in number and order.
    F : (k, 3) int64 or None
        The faces that were kept, in their order.

    Raises
    ------
    InputError
        See :func:`clean_mesh`.
    """
    V, F, cleanup = clean_mesh(V, F, source)
    notes = cleanup.notes()
    if warnings is None:
        for note in notes:
            pywarnings.warn(f"{source}: {note}", UserWarning, stacklevel=2)
    else:
        warnings.extend(notes)
    return V, F


def clean_mesh(V, F, source: str = "mesh") -> Tuple[np.ndarray, Optional[np.ndarray], MeshCleanup]:
    """Validate a mesh and drop the faces skinning cannot use.

    Collapsed faces (a repeated vertex index), zero-area faces and duplicate faces (the same
    three vertices as an earlier face) are dropped; vertices are never removed or
    reordered, so per-vertex results still line up with the input (vertices no face uses
    are counted, and still get weights).

    Parameters
    ----------
    V : (n, 3) array_like
    F : (m, 3) array_like of int, or None
        None for a point cloud.
    source : str
        File or argument name used in messages.

    Returns
    -------
    V : (n, 3) float64
    F : (k, 3) int64 or None
    cleanup : MeshCleanup

    Raises
    ------
    InputError
        Wrong shapes, no vertices, NaN/inf coordinates, no faces, indices out of range,
        non-integer indices, or no usable face left.
    """
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
        return V, None, MeshCleanup()

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
    cleanup = MeshCleanup(n_faces=len(F))
    collapsed = (F[:, 0] == F[:, 1]) | (F[:, 1] == F[:, 2]) | (F[:, 0] == F[:, 2])
    cleanup.collapsed = int(collapsed.sum())
    F = F[~collapsed]
    zero = zero_area_faces(V, F) if len(F) else np.zeros(0, bool)
    cleanup.zero_area = int(zero.sum())
    F = F[~zero]
    if len(F) == 0:
        raise InputError(
            source,
            f"none of its {cleanup.n_faces} faces is usable ({cleanup.collapsed} collapsed, "
            f"{cleanup.zero_area} of zero area)",
        )
    _, first = np.unique(np.sort(F, axis=1), axis=0, return_index=True)
    keep = np.zeros(len(F), bool)
    keep[first] = True
    cleanup.duplicate = int((~keep).sum())
    F = np.ascontiguousarray(F[keep])
    used = np.zeros(len(V), bool)
    used[F.ravel()] = True
    cleanup.unreferenced = int((~used).sum())
    return V, F, cleanup


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

    _check_stl_kind(path)
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
    return V, F, None, [f"STL corners merged where bit-identical: {len(corners)} corners -> {len(V)} vertices"]


def _check_stl_kind(path: Path) -> None:
    """Refuse a file that is neither binary STL (84 + 50 bytes per triangle, the count at
    byte 80) nor ASCII text starting with ``solid`` — before trimesh guesses at its text."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(84)
    if len(head) == 84 and size == 84 + 50 * int.from_bytes(head[80:84], "little"):
        return
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        text = ""
    if not text.lstrip().lower().startswith("solid"):
        raise InputError(
            str(path),
            f"cannot read STL file: neither binary STL (its {size:,} bytes do not match the triangle count in "
            "its header) nor ASCII STL (it does not begin with 'solid')",
        )


def _read_gltf(path: Path) -> _Read:
    from fieldrig.geometry.gltf import gltf_geometry

    return gltf_geometry(path)


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
