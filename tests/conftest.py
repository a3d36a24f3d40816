"""Shared test setup: headless Qt, optional reference data, small seeded shapes."""

import os
from pathlib import Path

import pytest

if not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SHARED_DATA = Path(os.environ.get("FIELDRIG_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


@pytest.fixture
def shared_data() -> Path:
    """The reference meshes of ../shared/data; tests using it skip when it is absent."""
    if not (SHARED_DATA / "arm.obj").is_file():
        pytest.skip(f"reference data not found at {SHARED_DATA}")
    return SHARED_DATA


#: Debian's assimp-testmodels (``apt-get install assimp-testmodels``), or FIELDRIG_ASSIMP_MODELS.
ASSIMP_MODELS = Path(os.environ.get("FIELDRIG_ASSIMP_MODELS", "/usr/share/assimp/models"))


@pytest.fixture
def assimp_models() -> Path:
    """assimp's test models (real, messy files); tests using them skip when they are absent."""
    if not ASSIMP_MODELS.is_dir():
        pytest.skip(f"assimp test models not found at {ASSIMP_MODELS}")
    return ASSIMP_MODELS
