"""Shared test setup: quiet TensorFlow, a fixed seed, and where the shared reference data lives."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _seed():
    import keras

    keras.utils.set_random_seed(0)
    yield


@pytest.fixture
def shared_data() -> Path:
    """`../shared/data` when it exists beside the repository; the test is skipped otherwise."""
    if not SHARED_DATA.is_dir():
        pytest.skip(
            "../shared/data is not beside this checkout (it is not shipped with the project)"
        )
    return SHARED_DATA
