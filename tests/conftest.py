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
