"""fieldrig.gui: the desktop app (polyscope viewer window + PyQt6 panel). Imports Qt and polyscope.

Modules, by responsibility:

- :mod:`~fieldrig.gui.app` — the event loop: both windows in one process and thread, a
  QTimer driving ``ps.frame_tick()``; ``fieldrig view`` starts it.
- :mod:`~fieldrig.gui.document` — the :class:`~fieldrig.session.Session` being edited, the
  selection, and the ``QUndoStack`` whose steps swap the session's snapshots.
- :mod:`~fieldrig.gui.rig_edit` — rig edits as pure functions (no Qt).
- :mod:`~fieldrig.gui.viewer` — the polyscope bridge: draws the document (through
  :mod:`fieldrig.draw.scene`, shared with the headless renderer), gizmo, clicks;
  :mod:`~fieldrig.gui.preview` — the per-frame skinning.
- :mod:`~fieldrig.gui.tools` — what a click does; :mod:`~fieldrig.gui.picking` — surface
  and volume placement.
- :mod:`~fieldrig.gui.controller` — open, compute, export, save, as background jobs;
  :mod:`~fieldrig.gui.jobs` — the compute process, progress and cancel;
  :mod:`~fieldrig.gui.work` — what runs there.
- :mod:`~fieldrig.gui.panel`, :mod:`~fieldrig.gui.tabs` (one module per tab),
  :mod:`~fieldrig.gui.widgets` — the Qt panel.

May import everything below it: :mod:`fieldrig.core`, :mod:`fieldrig.geometry`,
:mod:`fieldrig.neural` (in the compute process), the API layer (:mod:`fieldrig.session`,
:mod:`fieldrig.project`, :mod:`fieldrig.workflow`) and :mod:`fieldrig.draw`; Qt and
polyscope. Never the CLI or batch. Only :mod:`~fieldrig.gui.work` and what it runs are
loaded in the compute process, which has no Qt.
"""
