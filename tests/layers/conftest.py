"""Fixtures of the layer tests: the cell kinds every parity test runs over."""

from __future__ import annotations

import pytest

from .parity import KINDS


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    """simple_rnn, lstm, gru (reset_after=True) and gru_reset_before (reset_after=False)."""
    return request.param
