"""fieldrig.geometry: meshes, rigs, cages, sampling, visibility, deformation, reference solvers.

numpy / scipy / libigl / trimesh only: nothing here imports torch or Qt.
"""
