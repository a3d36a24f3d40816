"""Small example assets the project generates itself (``python assets/make_assets.py``)."""
