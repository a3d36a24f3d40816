"""fieldrig.draw: drawing a mesh, its rig, its weights and a pose with polyscope — the app's
3D view and headless images alike. No Qt.

- :mod:`~fieldrig.draw.colours` — one palette for handles everywhere (numpy only);
- :mod:`~fieldrig.draw.scene` — the polyscope structures (mesh, bones, joints, selection,
  unweighted vertices), registered and moved the same way by the app's viewer and by
  the renderer;
- :mod:`~fieldrig.draw.render` — one picture through polyscope's EGL backend
  (:func:`~fieldrig.draw.render.render_image`, public as ``fieldrig.render_image``) and
  image files (:func:`~fieldrig.draw.render.write_image`, Pillow).

May import: :mod:`fieldrig.core`, :mod:`fieldrig.geometry`, numpy, polyscope, Pillow.
Never Qt, torch, :mod:`fieldrig.neural`, the workflow, the CLI or the GUI: a pipeline
draws thumbnails with none of them installed.
"""
