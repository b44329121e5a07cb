"""Property-based fuzzing of every operation in the OpenAPI schema (schemathesis), against
the live uvicorn server: no input may produce a 5xx, and every 4xx carries ``{"error": ...}``.

The default run keeps a small, bounded number of examples per operation; `make test-slow`
runs the same fuzzer with many more (marked slow).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error


@schemathesis.check
def error_body_is_json(ctx, response, case):
    """Every 4xx is JSON with one string field ``error`` (the contract's error shape)."""
    if 400 <= response.status_code < 500:
        body = response.json()
        assert isinstance(body, dict) and set(body) == {"error"}, body
        assert isinstance(body["error"], str) and body["error"]


CHECKS = [not_a_server_error, error_body_is_json]
_QUIET = [
    HealthCheck.too_slow,
    HealthCheck.filter_too_much,
    HealthCheck.data_too_large,
    HealthCheck.function_scoped_fixture,
]


def _fuzz(url: str, max_examples: int, derandomize: bool) -> list[str]:
    """Run every operation's strategy for ``max_examples``; return the operations run."""
    from hypothesis import given

    api = schemathesis.openapi.from_url(f"{url}/openapi.json")
    ran = []
    for result in api.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=max_examples,
            deadline=None,
            suppress_health_check=_QUIET,
            derandomize=derandomize,
            database=None,
        )
        def check(case) -> None:
            case.call_and_validate(checks=CHECKS, timeout=10)

        check()
        ran.append(f"{operation.method.upper()} {operation.path}")
    return ran


def test_fuzz_openapi_bounded(live_server):
    ran = _fuzz(live_server.url, max_examples=5, derandomize=True)
    assert "POST /v1/models/{name}:predict" in ran and "POST /v2/models/{name}/infer" in ran
    assert "POST /v1/stock/forecast" in ran and len(ran) >= 20


@pytest.mark.slow
def test_fuzz_openapi_long(live_server):
    _fuzz(live_server.url, max_examples=200, derandomize=False)
