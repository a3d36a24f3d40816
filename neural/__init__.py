"""fieldrig.neural: the trained fields (skinning weights, barycentric coordinates) in torch —
fields, energies, training loops, device choice.

May import: :mod:`fieldrig.core`, :mod:`fieldrig.geometry`, torch, numpy, scipy. Never Qt,
polyscope, or the app's layers above (workflow, CLI, GUI).
"""
