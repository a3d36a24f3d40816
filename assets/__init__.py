"""Small example assets the project generates itself (``python assets/make_assets.py``).

Data files only (meshes, rigs); the generator imports numpy and trimesh, no part of fieldrig.
"""
