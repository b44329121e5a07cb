"""FastAPI's OpenTelemetry instrumentation: on for a process that configured a provider (or
asked FastAPI to configure one), off otherwise, as `SERVING_TELEMETRY` says.

The scenarios run in a fresh process: OpenTelemetry's global tracer provider can be set only
once per process, and these tests must not leave one behind in the test session."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from serving import telemetry
from serving.settings import Settings

SCENARIOS = textwrap.dedent(
    """
    import json, sys, tempfile
    from fastapi.testclient import TestClient
    from opentelemetry import trace
    from serving.app import create_app
    from serving.settings import Settings

    spans = []

    class Tracer(trace.NoOpTracer):
        def start_span(self, name, *args, **kwargs):
            spans.append(name)
            return super().start_span(name, *args, **kwargs)

    class Provider(trace.TracerProvider):
        def get_tracer(self, *args, **kwargs):
            return Tracer()

    models = tempfile.mkdtemp()

    def app(mode):
        return create_app(Settings(model_dir=models, poll_interval_s=0, telemetry=mode))

    def spans_of(app):
        spans.clear()
        with TestClient(app) as client:
            assert client.get("/healthz").status_code == 200
            # A prediction route, which the service otherwise serves in front of FastAPI
            # (serving/fastpath.py): with instrumentation on it goes through FastAPI too.
            client.post("/v1/stock/forecast", json={"prices": [1.0, 2.0]})
        return list(spans)

    seen = {}
    before = {mode: app(mode) for mode in ("auto", "on")}
    trace.set_tracer_provider(Provider())
    seen["auto, provider set after the app"] = spans_of(before["auto"])
    seen["on, provider set after the app"] = spans_of(before["on"])
    for mode in ("auto", "on", "off"):
        seen[mode + ", provider set before the app"] = spans_of(app(mode))
    json.dump(seen, sys.stdout)
    """
)


@pytest.fixture(scope="module")
def spans() -> dict[str, list[str]]:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", SCENARIOS],
        capture_output=True,
        text=True,
        cwd=root,
        check=False,
        timeout=300,
        env={**_env(), "PYTHONPATH": str(root)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "FASTAPI_OTEL"))}


def test_a_configured_provider_sees_every_request(spans):
    for mode in ("auto", "on"):
        seen = spans[f"{mode}, provider set before the app"]
        assert "GET" in seen and "POST" in seen, spans


def test_on_asks_per_request_so_a_later_provider_is_seen(spans):
    seen = spans["on, provider set after the app"]
    assert "GET" in seen and "POST" in seen, spans


def test_unconfigured_at_creation_or_off_means_no_instrumentation(spans):
    assert spans["auto, provider set after the app"] == []
    assert spans["off, provider set before the app"] == []


def test_fastapi_auto_configure_keeps_fastapis_defaults(monkeypatch):
    monkeypatch.setattr(telemetry, "provider_configured", lambda: False)
    monkeypatch.delenv("FASTAPI_OTEL_AUTO_CONFIGURE", raising=False)
    assert telemetry.fastapi_config("auto") == telemetry.OFF
    monkeypatch.setenv("FASTAPI_OTEL_AUTO_CONFIGURE", "true")
    assert telemetry.fastapi_config("auto") is None
    assert telemetry.fastapi_config("off") == telemetry.OFF
    assert telemetry.fastapi_config("on") is None


def test_a_bad_mode_names_the_setting(monkeypatch):
    monkeypatch.setenv("SERVING_TELEMETRY", "sometimes")
    with pytest.raises(ValidationError, match="telemetry"):
        Settings()
