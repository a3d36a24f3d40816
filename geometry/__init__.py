"""fieldrig.geometry: meshes, rigs, cages, sampling, visibility, deformation, reference solvers.

Reading and checking inputs (meshes, soups, point clouds, glTF and FBX characters, rigs,
cages), domains and visibility, skinning and cage deformation, the reference solvers
(libigl BBW, harmonic and mean value coordinates), weight editing and comparison, exports.

May import: :mod:`fieldrig.core`, numpy, scipy, libigl, trimesh, embreex, pygltflib, ufbx.
Never torch, Qt, polyscope or any other part of fieldrig.
"""
