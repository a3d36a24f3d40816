"""Weight matrices on disk: NumPy ``.npy``, ``.csv`` with a header of handle names, and
libigl's ``.dmat``.

DMAT (libigl ``readDMAT``/``writeDMAT``): an ASCII first line ``<#columns> <#rows>``, then
the values in column-major order, one per line. The binary variant starts with the line
``0 0``, then ``<#columns> <#rows>``, then the column-major doubles (little-endian);
both are read, ASCII is written (it is what libigl, gpytoolbox and MATLAB read by default).

Every file is written atomically (a temporary file beside the target, then a rename).

>>> save_weights("arm.csv", W, ["upper", "lower"])        # doctest: +SKIP
>>> W2, names = load_weights("arm.csv", return_names=True)  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from fieldrig.core.atomic import atomic_path, atomic_write_text
from fieldrig.core.errors import InputError
from fieldrig.core.files import user_path
from fieldrig.core.vocabulary import MESH_OUTPUT_SUFFIXES, WEIGHT_TABLE_SUFFIXES

PathLike = Union[str, os.PathLike]

#: File extensions :func:`save_weights` and :func:`load_weights` understand.


def _checked_matrix(W, source: str) -> np.ndarray:
    W = np.asarray(W)
    if not (np.issubdtype(W.dtype, np.number) or W.dtype == bool):
        raise InputError(source, f"expected a matrix of numbers, got {W.dtype.name} values")
    W = W.astype(np.float64)
    if W.ndim == 1:
        W = W[:, None]
    if W.ndim != 2:
        raise InputError(source, f"expected a 2-D (n, k) matrix, got an array of shape {W.shape}")
    if not np.all(np.isfinite(W)):
        bad = int((~np.isfinite(W)).any(axis=1).sum())
        raise InputError(source, f"{bad} rows contain NaN or infinite values")
    return W


# --------------------------------------------------------------------------- DMAT
def write_dmat(path: PathLike, A: np.ndarray) -> None:
    """Write a matrix as libigl ASCII DMAT, atomically.

    Parameters
    ----------
    path : str or PathLike
    A : (n, k) float
        Written column-major with 17 significant digits (exact for float64).
    """
    A = _checked_matrix(A, str(path))
    n, k = A.shape
    body = "\n".join(repr(float(v)) for v in A.T.ravel())
    atomic_write_text(path, f"{k} {n}\n{body}\n" if A.size else f"{k} {n}\n")


def read_dmat(path: PathLike) -> np.ndarray:
    """Read a libigl DMAT file (ASCII or binary).

    Parameters
    ----------
    path : str or PathLike

    Returns
    -------
    (n, k) float
    """
    path = Path(path)
    data = _read_bytes(path, "DMAT")
    first, _, rest = data.partition(b"\n")
    cols, rows = _dmat_header(first, path)
    if (cols, rows) == (0, 0) and rest:
        second, _, payload = rest.partition(b"\n")
        cols, rows = _dmat_header(second, path)
        count = cols * rows
        if len(payload) < 8 * count:
            raise InputError(str(path), f"binary DMAT holds {len(payload) // 8} values, its header promises {count}")
        values = np.frombuffer(payload[: 8 * count], dtype="<f8")
    else:
        try:
            values = np.array(rest.split(), dtype=np.float64)
        except ValueError as exc:
            raise InputError(str(path), f"DMAT values are not all numbers ({exc})") from exc
        if values.size != cols * rows:
            raise InputError(
                str(path), f"DMAT holds {values.size} values, its header '{cols} {rows}' promises {cols * rows}"
            )
    return values.reshape(cols, rows).T.copy()


def _dmat_header(line: bytes, path: Path) -> Tuple[int, int]:
    parts = line.split()
    try:
        cols, rows = int(parts[0]), int(parts[1])
        if len(parts) != 2 or cols < 0 or rows < 0:
            raise ValueError
    except (ValueError, IndexError):
        raise InputError(
            str(path), f"not a DMAT file: the header line should be '<columns> <rows>', got {line[:40]!r}"
        ) from None
    return cols, rows


# ---------------------------------------------------------------------------- CSV
def _write_csv(path: PathLike, W: np.ndarray, names: Sequence[str]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(names)
    for row in W:
        writer.writerow([repr(float(v)) for v in row])
    atomic_write_text(path, buf.getvalue())


def _read_csv(path: Path) -> Tuple[np.ndarray, List[str]]:
    text = _read_bytes(path, "CSV").decode("utf-8", errors="replace")
    rows = [r for r in csv.reader(io.StringIO(text)) if r]
    if not rows:
        raise InputError(str(path), "CSV file has no rows")
    header, body = rows[0], rows[1:]
    try:
        [float(v) for v in header]
        header, body = [], rows  # no header: the first row is data
    except ValueError:
        pass
    twice = sorted({name for name in header if header.count(name) > 1})
    if twice:
        raise InputError(str(path), f"the header names column(s) {', '.join(map(repr, twice))} more than once")
    k = len(header) if header else len(body[0]) if body else 0
    for i, r in enumerate(body):
        if len(r) != k:
            raise InputError(str(path), f"row {i + 1 + bool(header)} has {len(r)} values, expected {k}")
    try:
        W = np.array(body, dtype=np.float64).reshape(len(body), k)
    except ValueError as exc:
        raise InputError(str(path), f"CSV values are not all numbers ({exc})") from exc
    return W, header or [f"handle{i}" for i in range(k)]


# ------------------------------------------------------------------------- public
def save_weights(path: PathLike, W: np.ndarray, handle_names: Optional[Sequence[str]] = None) -> None:
    """Write a weight matrix, choosing the format by extension; atomic.

    Parameters
    ----------
    path : str or PathLike
        ``.npy`` (float64), ``.csv`` (a header row of handle names, then one row per
        vertex, 17 significant digits) or ``.dmat`` (libigl ASCII).
    W : (n, H) float
        One row per vertex, one column per handle.
    handle_names : sequence of H str, optional
        The CSV header; defaults to ``handle0..``. Ignored by ``.npy`` and ``.dmat``.
    """
    suffix = user_path(path).suffix.lower()
    if suffix not in WEIGHT_TABLE_SUFFIXES:
        raise InputError(
            str(path), f"unknown weights format {suffix!r} (expected one of {', '.join(WEIGHT_TABLE_SUFFIXES)})"
        )
    W = _checked_matrix(W, "W")
    if handle_names is None:
        handle_names = [f"handle{i}" for i in range(W.shape[1])]
    if len(handle_names) != W.shape[1]:
        raise InputError("handle_names", f"{len(handle_names)} names given for {W.shape[1]} weight columns")
    if suffix == ".npy":
        with atomic_path(path) as tmp:
            np.save(tmp, W)
    elif suffix == ".csv":
        _write_csv(path, W, list(handle_names))
    else:
        write_dmat(path, W)


def load_weights(path: PathLike, return_names: bool = False):
    """Read a weight matrix written by :func:`save_weights` (or by libigl / NumPy).

    Parameters
    ----------
    path : str or PathLike
        ``.npy``, ``.csv`` (with or without a header row) or ``.dmat``.
    return_names : bool
        Also return the handle names (the CSV header; ``handle0..`` otherwise).

    Returns
    -------
    W : (n, H) float
    names : list of H str
        Only when ``return_names``.
    """
    path = user_path(path)
    suffix = path.suffix.lower()
    if suffix not in WEIGHT_TABLE_SUFFIXES:
        raise InputError(
            str(path), f"unknown weights format {suffix!r} (expected one of {', '.join(WEIGHT_TABLE_SUFFIXES)})"
        )
    names = None
    if suffix == ".npy":
        _read_bytes(path, "NumPy")
        try:
            W = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise InputError(str(path), f"not a readable .npy array ({exc})") from exc
    elif suffix == ".csv":
        W, names = _read_csv(path)
    else:
        W = read_dmat(path)
    W = _checked_matrix(W, str(path))
    if not return_names:
        return W
    return W, names or [f"handle{i}" for i in range(W.shape[1])]


def _read_bytes(path: Path, kind: str) -> bytes:
    if not path.is_file():
        raise InputError(str(path), f"{kind} file not found")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(str(path), f"cannot read file ({exc.strerror})") from exc
    if not data.strip():
        raise InputError(str(path), f"{kind} file is empty")
    return data


# -------------------------------------------------------------------------- meshes
#: File extensions :func:`save_mesh` writes (``.ply`` and ``.xyz`` also for point clouds).


def save_mesh(path: PathLike, V: np.ndarray, F: Optional[np.ndarray]) -> None:
    """Write a triangle mesh or a point cloud, keeping the vertex order; atomic.

    Parameters
    ----------
    path : str or PathLike
        ``.obj``, ``.ply``, ``.off``, ``.stl`` or ``.glb`` for meshes; ``.ply``, ``.obj``
        or ``.xyz`` for point clouds (``F`` None).
    V : (n, 3) float
    F : (m, 3) int or None
    """
    import trimesh

    path = user_path(path)
    suffix = path.suffix.lower()
    if suffix not in MESH_OUTPUT_SUFFIXES:
        raise InputError(
            str(path), f"unknown mesh format {suffix!r} (expected one of {', '.join(MESH_OUTPUT_SUFFIXES)})"
        )
    V = np.asarray(V, dtype=np.float64)
    if V.ndim != 2 or V.shape[1] != 3:
        raise InputError("V", f"expected (n, 3) vertex positions, got shape {V.shape}")
    if F is None:
        if suffix not in (".ply", ".obj", ".xyz"):
            raise InputError(str(path), f"a point cloud cannot be written as {suffix} (use .ply, .obj or .xyz)")
        if suffix == ".xyz":
            atomic_write_text(path, "".join(f"{x!r} {y!r} {z!r}\n" for x, y, z in V.tolist()))
            return
        if suffix == ".obj":
            atomic_write_text(path, "".join(f"v {x!r} {y!r} {z!r}\n" for x, y, z in V.tolist()))
            return
        geometry = trimesh.PointCloud(V)
    else:
        geometry = trimesh.Trimesh(V, np.asarray(F, dtype=np.int64), process=False)
    with atomic_path(path) as tmp:
        if suffix == ".obj":
            data = trimesh.exchange.obj.export_obj(geometry, include_normals=False, include_texture=False, digits=17)
            tmp.write_text(data)
        else:
            geometry.export(str(tmp), file_type=suffix[1:])
