"""serving/entry.py: the app is entered below FastAPI's own layers only where they would just
pass the request on, and through all of them otherwise (FastAPI's instrumentation on, a
``root_path``, a parent app's body limit, a middleware added in front of ours)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.settings import Settings
from tests.serving.helpers import wait_ready

SERIES = [101.0, 102.5, 103.0, 104.25]


@pytest.fixture
def layers(monkeypatch) -> list[str]:
    """The FastAPI layers each request went through, in order."""
    from fastapi._body_limit import AppBodyLimitMiddleware
    from fastapi.telemetry._asgi import ExceptionTelemetryMiddleware

    seen: list[str] = []

    def spy(cls: type, name: str) -> None:
        original = cls.__call__

        async def call(self, scope, receive, send):
            if scope["type"] == "http":
                seen.append(name)
            await original(self, scope, receive, send)

        monkeypatch.setattr(cls, "__call__", call)

    spy(FastAPI, "FastAPI")
    spy(ExceptionTelemetryMiddleware, "telemetry")
    spy(AppBodyLimitMiddleware, "body limit")
    return seen


def _app(model_dir: Path, **options) -> FastAPI:
    return create_app(Settings(model_dir=model_dir, poll_interval_s=0.0, **options))


def _requests(client: TestClient) -> list[int]:
    return [
        client.get("/healthz").status_code,
        client.post("/v1/models/stock:predict", json={"instances": [SERIES]}).status_code,
        client.post("/v1/models/nomodel:predict", json={"instances": [SERIES]}).status_code,
    ]


def test_the_service_is_entered_below_fastapis_idle_layers(model_dir, layers):
    with TestClient(_app(model_dir)) as client:
        wait_ready(client)
        layers.clear()
        assert _requests(client) == [200, 200, 404]
        assert client.get("/v1/models/stock").headers["x-request-id"]
    assert layers == []


@pytest.mark.parametrize(
    "change",
    [
        "telemetry on",  # the instrumentation asks per request whether a provider is set
        "root_path",  # FastAPI puts it in the scope
        "debug",  # the 500 answer is a traceback page
        "middleware in front",  # a layer of the user's own must run
    ],
)
def test_every_fastapi_layer_runs_where_it_could_do_something(model_dir, layers, change):
    app = _app(model_dir, telemetry="on" if change == "telemetry on" else "off")
    seen: list[str] = []
    if change == "root_path":
        app.root_path = "/api"
    elif change == "debug":
        app.debug = True
    elif change == "middleware in front":

        class Mine:
            def __init__(self, app):
                self.app = app

            async def __call__(self, scope, receive, send):
                if scope["type"] == "http":
                    seen.append(scope["path"])
                await self.app(scope, receive, send)

        app.add_middleware(Mine)
    with TestClient(app) as client:
        wait_ready(client)
        layers.clear()
        assert _requests(client) == [200, 200, 404]
    assert layers == ["FastAPI", "telemetry", "body limit"] * 3
    if change == "middleware in front":
        assert seen[-3:] == ["/healthz", "/v1/models/stock:predict", "/v1/models/nomodel:predict"]


def test_a_parent_apps_body_limit_goes_through_fastapi(model_dir, layers):
    """A request that carries a parent app's body limit (Starlette's scope key) is left to
    FastAPI's body-limit layer, which answers that limit's refusal."""
    app = _app(model_dir)

    async def parent(scope, receive, send):
        if scope["type"] == "http":
            scope["starlette.max_body_size"] = 1 << 20
        await app(scope, receive, send)

    with TestClient(parent) as client:
        wait_ready(client)
        layers.clear()
        assert client.get("/healthz").status_code == 200
    assert layers == ["FastAPI", "telemetry", "body limit"]
