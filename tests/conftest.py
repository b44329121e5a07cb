"""Shared test setup: quiet TensorFlow, a fixed seed, a check that no test leaves service settings
in the environment, and where the shared reference data lives."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


_SERVICE_VARS = ("SERVING_", "PROMETHEUS_MULTIPROC_DIR")


def _service_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith(_SERVICE_VARS)}


@pytest.fixture(autouse=True)
def _no_leaked_service_settings():
    """A test that leaves ``SERVING_*`` set in this process configures every server a later
    test starts (they inherit the environment): the demo once ran two workers that way."""
    before = _service_environment()
    yield
    after = _service_environment()
    if after != before:
        for key in after.keys() - before.keys():
            del os.environ[key]
        os.environ.update(before)
        pytest.fail(f"the test left the service environment changed: {before} -> {after}")


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
