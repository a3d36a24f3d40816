"""The Weights tab's tools on the active weight set: normalise, prune, limit influences,
mirror, type one vertex's weight, lock handles.

Each is one undoable document edit (:meth:`~fieldrig.gui.document.Document.edit_weights`:
a file or computed set is kept and the edit goes into its painted copy) and returns the
sentence the status bar shows; what cannot be done raises
:class:`~fieldrig.core.errors.InputError` with the reason, and changes nothing. Locked
handles keep their weights in every tool.
"""

from __future__ import annotations

import numpy as np

from fieldrig.core.errors import InputError
from fieldrig.geometry import weight_edit
from fieldrig.gui.document import Document

#: Mirror planes: label → axis.
MIRROR_AXES = {"X": 0, "Y": 1, "Z": 2}


def _usable(doc: Document, what: str) -> np.ndarray:
    if not doc.weights_usable():
        raise InputError(what, "there are no weights for this mesh and rig; compute or import them first")
    return doc.weights


def _changed_rows(before: np.ndarray, after: np.ndarray) -> int:
    return int(np.count_nonzero(np.any(before != after, axis=1)))


def normalize(doc: Document) -> str:
    """Rescale every vertex's unlocked weights so its weights sum to one."""
    W = _usable(doc, "Normalize")
    out = weight_edit.normalize(W, doc.rig_state.locked_mask())
    doc.edit_weights(out, "Normalize weights")
    return f"Normalized: {_changed_rows(W, out):,} vertices changed."


def prune(doc: Document, threshold: float) -> str:
    """Drop unlocked weights below ``threshold`` (each vertex keeps its largest) and renormalise."""
    W = _usable(doc, "Prune")
    out = weight_edit.prune(W, threshold, doc.rig_state.locked_mask())
    dropped = int(np.count_nonzero((W > 0) & (out == 0)))
    doc.edit_weights(out, f"Prune weights below {threshold:g}")
    return f"Pruned {dropped:,} weights below {threshold:g}."


def limit_influences(doc: Document, max_influences: int) -> str:
    """Keep each vertex's ``max_influences`` largest weights (locked ones count and stay)."""
    W = _usable(doc, "Limit influences")
    out = weight_edit.limit_influences(W, max_influences, doc.rig_state.locked_mask())
    doc.edit_weights(out, f"Limit to {max_influences} influences")
    return f"Limited to {max_influences} influences: {_changed_rows(W, out):,} vertices changed."


def mirror(doc: Document, axis: str = "X", from_positive: bool = True) -> str:
    """Copy one side's weights onto the other across the plane through the origin normal to
    ``axis``, swapping left and right handles by name (``_L``/``_R``, ``.L``/``.R``,
    ``Left``/``Right``, ...). Painted vertices follow their rows: a target vertex is painted
    when its source is. Locked handles keep their weights (the rows are renormalised around
    them)."""
    W = _usable(doc, "Mirror")
    if axis not in MIRROR_AXES:
        raise InputError("Mirror", f"axis must be one of {', '.join(MIRROR_AXES)}, got {axis!r}")
    V, names = doc.mesh.V, doc.rig.handle_names
    source, side, unmatched = weight_edit.mirror_vertex_map(V, MIRROR_AXES[axis], 0.0, from_positive)
    if not np.any(side > 0) or not np.any(side < 0):
        raise InputError("Mirror", f"the mesh does not reach both sides of the {axis} = 0 plane")
    out, _ = weight_edit.mirror_weights(W, V, names, MIRROR_AXES[axis], 0.0, from_positive)
    lock = doc.rig_state.locked_mask()
    out[:, lock] = W[:, lock]
    out = weight_edit.normalize(out, lock)
    active = doc.rig_state.active_set
    painted_before = active.painted_vertices if active.origin == "painted" else None
    painted = None if painted_before is None else np.flatnonzero(np.isin(source, painted_before))
    direction = "+ → −" if from_positive else "− → +"
    doc.edit_weights(out, f"Mirror weights {axis} {direction}", painted, exact=painted is not None)
    pairs = int(np.count_nonzero(weight_edit.mirror_joint_map(names) != np.arange(len(names)))) // 2
    moved = int(np.count_nonzero(side < 0))
    text = f"Mirrored {moved:,} vertices across {axis} = 0 ({direction}), {pairs} left/right pairs"
    if unmatched:
        text += f"; {unmatched:,} had no mirror vertex and took the nearest one's weights"
    return text + "."


def set_vertex_weight(doc: Document, vertex: int, handle: int, value: float) -> str:
    """Set one vertex's weight of ``handle`` to ``value``; its other unlocked weights are
    rescaled so the row still sums to one (the brush's ``replace`` at full strength)."""
    W = _usable(doc, "Vertex weight")
    if not 0 <= vertex < len(W):
        raise InputError("Vertex weight", f"no vertex {vertex}")
    lock, name = doc.rig_state.locked_mask(), doc.rig.handle_names[handle]
    if lock[handle]:
        raise InputError("Vertex weight", f"{name} is locked; unlock it to change its weights")
    out = weight_edit.paint(W, [vertex], 1.0, handle, "replace", value, lock)
    if not np.isclose(out[vertex, handle], value, rtol=0, atol=1e-9):
        got = out[vertex, handle]
        raise InputError(
            "Vertex weight",
            f"{name} can only be {got:.4f} at vertex {vertex}: the other handles are locked or have no weight there",
        )
    doc.edit_weights(out, f"Set {name} at vertex {vertex}", [vertex])
    return f"Vertex {vertex}: {name} = {value:.4f}, the others rescaled."


def set_locked(doc: Document, handle: int, locked: bool) -> str:
    """Lock or unlock one handle's weights."""
    if doc.rig is None:
        raise InputError("Lock", "there is no rig")
    name = doc.rig.handle_names[handle]
    names = set(doc.rig_state.locked)
    names = names | {name} if locked else names - {name}
    doc.set_locked(names, f"{'Lock' if locked else 'Unlock'} {name}")
    return f"{name} {'locked: the weight tools leave it alone' if locked else 'unlocked'}."
