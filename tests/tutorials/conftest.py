"""One Jupyter kernel for all the lessons' notebook runs in a test session.

Each lesson still starts from a clean namespace (``helpers.FRESH_START``); sharing the kernel
saves starting one and importing TensorFlow and Keras again for every lesson.
"""

from __future__ import annotations

import pytest

from tests.tutorials.helpers import start_kernel


@pytest.fixture(scope="session")
def notebook_kernel():
    pytest.importorskip("nbclient")
    km = start_kernel()
    try:
        yield km
    finally:
        km.shutdown_kernel(now=True)
