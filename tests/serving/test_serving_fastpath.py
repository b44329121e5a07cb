"""serving/fastpath.py: the prediction POSTs served without FastAPI's per-request routing
answer exactly what FastAPI's own path answers (status, headers, body), for good and bad
requests, with and without the API key, and they are counted in /metrics. They are served
either in front of the whole middleware stack (the lane, by default) or from inside it
(`FastRoutes`, where CORS answers a browser's request or FastAPI's instrumentation is on):
both ways are compared with FastAPI's."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from starlette.responses import Response

from serving.requestid import RequestIdFilter
from tests.serving.helpers import wait_ready

KEY = "s3cret-key"
ORIGIN = "https://app.example"
SERIES = [101.0, 102.5, 103.0, 104.25]

# (method, path, body: dict | bytes | None, extra headers)
REQUESTS = [
    ("POST", "/v1/models/stock:predict", {"instances": [SERIES]}, {}),
    ("POST", "/v1/models/stock:predict", {"instances": [SERIES, SERIES[::-1]]}, {}),
    ("POST", "/v1/models/stock:predict", {"inputs": [SERIES]}, {}),
    ("POST", "/v1/models/stock:predict", {"instances": [{"prices": SERIES}]}, {}),
    ("POST", "/v1/models/stock:predict", {"signature_name": "nope", "instances": [SERIES]}, {}),
    ("POST", "/v1/models/stock:predict", {"instances": [[1.0, "x"]]}, {}),
    ("POST", "/v1/models/stock:predict", {"instances": []}, {}),
    ("POST", "/v1/models/stock:predict", {"instances": [SERIES], "extra": 1}, {}),
    ("POST", "/v1/models/stock:predict", b'{"instances": [[NaN, 1.0]]}', {}),
    ("POST", "/v1/models/stock:predict", b"{not json", {}),
    ("POST", "/v1/models/stock:predict", b"", {}),
    ("POST", "/v1/models/stock:predict", b"[1, 2]", {}),
    ("POST", "/v1/models/stock:predict", {"instances": [[-1.0, 2.0]]}, {}),
    ("POST", "/v1/models/nomodel:predict", {"instances": [SERIES]}, {}),
    ("POST", "/v1/models/text:predict", {"instances": ["to be or"]}, {}),
    ("POST", "/v1/models/stock/versions/1:predict", {"instances": [SERIES]}, {}),
    ("POST", "/v1/models/stock/versions/2:predict", {"instances": [SERIES]}, {}),
    ("POST", "/v1/models/stock/versions/007:predict", {"instances": [SERIES]}, {}),
    ("POST", "/v1/models/stock/versions/9:predict", {"instances": [SERIES]}, {}),
    ("POST", "/v1/models/stock/versions/0:predict", {"instances": [SERIES]}, {}),
    # not plain digits: the fast path leaves these to FastAPI's own conversion
    ("POST", "/v1/models/stock/versions/+1:predict", {"instances": [SERIES]}, {}),
    ("POST", "/v1/models/stock/versions/1_0:predict", {"instances": [SERIES]}, {}),
    ("POST", "/v1/models/stock/versions/x:predict", {"instances": [SERIES]}, {}),
    ("POST", "/v1/models/stock/versions/99999999999999999999:predict", {"instances": [SERIES]}, {}),
    ("POST", "/v1/models/a:classify:predict", {"instances": [SERIES]}, {}),
    ("POST", "/v1/models/stock:classify", {"instances": [SERIES]}, {}),
    ("GET", "/v1/models/stock:predict", None, {}),
    ("POST", "/v1/stock/forecast", {"prices": SERIES}, {}),
    ("POST", "/v1/stock/forecast", {"prices": SERIES, "version": 1}, {}),
    ("POST", "/v1/stock/forecast", {"prices": SERIES, "version": 7}, {}),
    ("POST", "/v1/stock/forecast", {"prices": [1.0, -2.0]}, {}),
    ("POST", "/v1/stock/forecast", {"prices": "x"}, {}),
    ("POST", "/v1/stock/forecast", {"prices": SERIES, "unknown": 1}, {}),
    ("POST", "/v1/stock/forecast", b"[]", {}),
    ("POST", "/v1/stock/forecast", b"prices=1", {"content-type": "text/plain"}),
    ("POST", "/v1/text/next", {"text": "to be or not to b", "k": 3}, {}),
    ("POST", "/v1/text/next", {"text": "to be", "k": 10**7}, {}),
    ("POST", "/v1/text/next", {"text": "a\u0000b"}, {}),
    ("POST", "/v1/text/generate", {"text": "to be ", "max_tokens": 8, "seed": 3}, {}),
    ("POST", "/v1/text/generate", {"text": "to be ", "max_tokens": 8, "temperature": 0}, {}),
    ("POST", "/v1/text/generate", {"text": "to be ", "max_tokens": 10**9, "seed": 1}, {}),
    ("POST", "/v1/text/generate", {"text": "to be ", "seed": -1}, {}),
    (
        "POST",
        "/v2/models/stock/infer",
        {"inputs": [{"name": "prices", "shape": [1, 4], "datatype": "FP32", "data": SERIES}]},
        {},
    ),
    (
        "POST",
        "/v2/models/stock/versions/1/infer",
        {"inputs": [{"name": "prices", "shape": [1, 4], "datatype": "FP32", "data": SERIES}]},
        {},
    ),
    (
        "POST",
        "/v2/models/stock/infer",
        {"inputs": [{"name": "prices", "shape": [2, 4], "datatype": "FP32", "data": SERIES}]},
        {},
    ),
    ("POST", "/v2/models/stock/versions/abc/infer", {"inputs": []}, {}),
    ("POST", "/v2/models/nomodel/infer", {"inputs": []}, {}),
]


def _binary_infer() -> tuple[bytes, dict[str, str]]:
    header = (
        b'{"inputs":[{"name":"prices","shape":[1,4],"datatype":"FP32",'
        b'"parameters":{"binary_data_size":16}}],"parameters":{"binary_data_output":true}}'
    )
    body = header + struct.pack("<4f", *SERIES)
    return body, {"inference-header-content-length": str(len(header))}


def _send(client: TestClient, method: str, path: str, body, headers: dict):
    if isinstance(body, dict):
        return client.request(method, path, json=body, headers=headers)
    return client.request(method, path, content=body, headers=headers)


def _comparable(response) -> tuple:
    headers = {k: v for k, v in response.headers.items() if k not in ("x-request-id", "date")}
    return response.status_code, headers, response.content


@pytest.fixture(scope="module")
def clients(model_dir: Path):
    """Two apps on the same repository: with the fast path (the default) and without it."""
    from serving.app import create_app
    from serving.settings import Settings

    def app(fast: bool, **options):
        settings = Settings(
            model_dir=model_dir,
            poll_interval_s=0.0,
            models={"stock": {"specific": [1, 2]}},
            **options,
        )
        return create_app(settings, fast_routes=fast)

    cors = {"cors_origins": [ORIGIN]}
    with (
        TestClient(app(True), raise_server_exceptions=False) as fast,
        TestClient(app(False), raise_server_exceptions=False) as plain,
        TestClient(app(True, api_key=KEY), raise_server_exceptions=False) as fast_key,
        TestClient(app(False, api_key=KEY), raise_server_exceptions=False) as plain_key,
        TestClient(app(True, **cors), raise_server_exceptions=False) as fast_cors,
        TestClient(app(False, **cors), raise_server_exceptions=False) as plain_cors,
        TestClient(app(True, telemetry="on"), raise_server_exceptions=False) as fast_otel,
    ):
        clients = {
            "fast": fast,
            "plain": plain,
            "fast_key": fast_key,
            "plain_key": plain_key,
            "fast_cors": fast_cors,
            "plain_cors": plain_cors,
            "fast_otel": fast_otel,
        }
        for c in clients.values():
            wait_ready(c)
        yield clients


@pytest.fixture
def ways(monkeypatch) -> list[str]:
    """How each planned request was served: "lane" (in front of the middleware stack, which
    then also records "route"), or "route" alone (FastRoutes, inside the stack)."""
    import serving.fastpath as fastpath

    seen: list[str] = []
    serve, route_scope = fastpath.FastLane.serve, fastpath._route_scope

    async def lane(self, *args, **kwargs):
        seen.append("lane")
        return await serve(self, *args, **kwargs)

    def routed(*args, **kwargs):
        seen.append("route")
        return route_scope(*args, **kwargs)

    monkeypatch.setattr(fastpath.FastLane, "serve", lane)
    monkeypatch.setattr(fastpath, "_route_scope", routed)
    return seen


@pytest.fixture
def solved(monkeypatch) -> list[str]:
    """Paths whose request went through FastAPI's dependency solving."""
    import fastapi.routing

    seen: list[str] = []
    original = fastapi.routing.solve_dependencies

    async def counting(*args, **kwargs):
        seen.append(kwargs["request"].url.path)
        return await original(*args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counting)
    return seen


@pytest.mark.parametrize(("method", "path", "body", "headers"), REQUESTS)
def test_fast_path_answers_exactly_as_fastapi(clients, method, path, body, headers):
    fast = _send(clients["fast"], method, path, body, headers)
    plain = _send(clients["plain"], method, path, body, headers)
    assert _comparable(fast) == _comparable(plain)


@pytest.mark.parametrize(("method", "path", "body", "headers"), REQUESTS)
def test_fast_path_inside_the_stack_answers_exactly_as_fastapi(
    clients, method, path, body, headers
):
    """A browser's request where CORS is on, and any request with FastAPI's instrumentation
    on, is served by FastRoutes inside the middleware stack: the same answers."""
    browser = {**headers, "origin": ORIGIN}
    cors = _send(clients["fast_cors"], method, path, body, browser)
    assert _comparable(cors) == _comparable(
        _send(clients["plain_cors"], method, path, body, browser)
    )
    assert cors.headers.get("access-control-allow-origin") == ORIGIN
    otel = _send(clients["fast_otel"], method, path, body, headers)
    assert _comparable(otel) == _comparable(_send(clients["plain"], method, path, body, headers))


def test_each_planned_request_goes_the_way_that_answers_it_exactly(clients, ways):
    body = {"instances": [SERIES]}
    cases = [
        ("fast", {}, ["lane", "route"]),
        ("fast_cors", {}, ["lane", "route"]),  # no Origin: CORS adds nothing
        ("fast_cors", {"origin": ORIGIN}, ["route"]),  # CORS's headers: inside the stack
        ("fast_otel", {}, ["route"]),  # FastAPI's instrumentation sees the request
        ("plain", {}, []),  # FastAPI's own routing
    ]
    for name, headers, way in cases:
        ways.clear()
        r = clients[name].post("/v1/models/stock:predict", json=body, headers=headers)
        assert r.status_code == 200, (name, r.text)
        assert ways == way, (name, headers, ways)
    ways.clear()
    assert clients["fast"].get("/v1/models/stock").status_code == 200  # not a planned route
    assert ways == []


def test_an_unexpected_error_is_answered_and_counted_as_the_stack_does(
    clients, monkeypatch, caplog
):
    """An exception no handler takes: the app's 500 answer (ServerErrorMiddleware's), the
    request counted as a 500, the error logged; the same in front of the stack and in it."""
    from serving.service import Service

    async def broken(self, *args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(Service, "predict", broken)
    body = {"text": "to be ", "max_tokens": 4, "seed": 1}

    def count(client) -> float:
        for line in client.get("/metrics").text.splitlines():
            if line.startswith("serving_requests_total{") and all(
                x in line for x in ('route="/v1/text/generate"', 'status="500"')
            ):
                return float(line.split()[-1])
        return 0.0

    answers = {}
    caplog.handler.addFilter(RequestIdFilter())  # as the service's log handlers have
    for name in ("fast", "fast_cors", "plain"):
        client = clients[name]
        before = count(client)
        caplog.clear()
        rid = f"broken-{name}"
        answers[name] = client.post("/v1/text/generate", json=body, headers={"X-Request-ID": rid})
        assert answers[name].status_code == 500
        assert answers[name].json() == {"error": "Internal error; see the server log."}
        assert count(client) == before + 1, name
        logged = [
            r for r in caplog.records if "unexpected error on POST /v1/text/generate" in r.message
        ]
        # The one request an operator most needs to find: its id in the log and the answer.
        assert [r.request_id for r in logged] == [rid], name
        assert answers[name].headers["x-request-id"] == rid, name
        made = client.post("/v1/text/generate", json=body)  # an id the service made
        assert made.status_code == 500 and made.headers["x-request-id"] != "-"
    assert _comparable(answers["fast"]) == _comparable(answers["plain"])
    assert _comparable(answers["fast_cors"]) == _comparable(answers["plain"])


def test_fast_path_answers_binary_and_gzip_bodies_exactly_as_fastapi(clients):
    body, headers = _binary_infer()
    cases = [
        ("/v2/models/stock/infer", body, headers),
        (
            "/v1/models/stock:predict",
            gzip.compress(b'{"instances": [[101.0, 102.5, 103.0]]}'),
            {"content-encoding": "gzip"},
        ),
    ]
    for path, data, extra in cases:
        fast = _send(clients["fast"], "POST", path, data, extra)
        plain = _send(clients["plain"], "POST", path, data, extra)
        assert fast.status_code == 200
        assert _comparable(fast) == _comparable(plain)


@pytest.mark.parametrize(
    "headers",
    [{}, {"x-api-key": "wrong"}, {"x-api-key": KEY}, {"authorization": f"Bearer {KEY}"}],
)
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/models/stock:predict", {"instances": [SERIES]}),
        ("/v1/models/stock:predict", b"{not json"),
        ("/v1/stock/forecast", {"prices": "x"}),
        ("/v1/text/generate", {"text": "to be ", "max_tokens": 4, "seed": 5}),
    ],
)
def test_fast_path_checks_the_api_key_as_fastapi(clients, path, body, headers):
    fast = _send(clients["fast_key"], "POST", path, body, headers)
    plain = _send(clients["plain_key"], "POST", path, body, headers)
    assert _comparable(fast) == _comparable(plain)
    assert (fast.status_code == 401) == (
        headers.get("x-api-key", "") != KEY and not headers.get("authorization")
    )


def test_prediction_posts_skip_fastapis_dependency_solving(clients, solved):
    fast = clients["fast"]
    assert fast.post("/v1/models/stock:predict", json={"instances": [SERIES]}).status_code == 200
    assert fast.post("/v1/stock/forecast", json={"prices": SERIES}).status_code == 200
    assert (
        fast.post("/v1/models/stock/versions/1:predict", json={"inputs": [SERIES]}).status_code
        == 200
    )
    assert solved == []
    # Anything else still goes through FastAPI: other routes, and params it converts itself.
    assert fast.get("/v1/models/stock").status_code == 200
    fast.post("/v1/models/stock/versions/+1:predict", json={"instances": [SERIES]})
    assert solved == ["/v1/models/stock", "/v1/models/stock/versions/+1:predict"]
    plain = clients["plain"]
    assert plain.post("/v1/models/stock:predict", json={"instances": [SERIES]}).status_code == 200
    assert solved[-1] == "/v1/models/stock:predict"


def test_fast_path_answer_equals_the_plain_signature_call(clients, model_dir):
    import tensorflow as tf

    fn = tf.saved_model.load(str(model_dir / "stock" / "2")).signatures["serving_default"]
    want = fn(prices=tf.constant([SERIES], tf.float32))["forecast"].numpy()
    got = clients["fast"].post("/v1/models/stock:predict", json={"instances": [SERIES]})
    assert np.array_equal(np.asarray(got.json()["predictions"], np.float32), want)


def test_metrics_count_fast_path_requests_by_route_template(clients):
    fast = clients["fast"]

    def count(route: str, status: str) -> float:
        for line in fast.get("/metrics").text.splitlines():
            labels = (f'route="{route}"', f'status="{status}"', 'method="POST"')
            if line.startswith("serving_requests_total{") and all(x in line for x in labels):
                return float(line.split()[-1])
        return 0.0

    cases = [
        ("/v1/models/stock:predict", "/v1/models/{name}:predict", "200", {"instances": [SERIES]}),
        ("/v1/models/stock:predict", "/v1/models/{name}:predict", "400", {"instances": []}),
        ("/v1/text/next", "/v1/text/next", "200", {"text": "to be", "k": 2}),
        (
            "/v2/models/nomodel/versions/2/infer",
            "/v2/models/{name}/versions/{version}/infer",
            "404",
            {"inputs": [{"name": "prices", "shape": [1, 1], "datatype": "FP32", "data": [1.0]}]},
        ),
    ]
    for path, template, status, body in cases:
        before = count(template, status)
        assert fast.post(path, json=body).status_code == int(status)
        assert count(template, status) == before + 1


def test_a_fixed_path_is_looked_up_unless_an_earlier_route_also_matches_it():
    """FastAPI answers with the first route that matches: a fixed path that an earlier
    route's pattern also matches is served by that earlier route, here too."""
    from serving.fastpath import _Plans, fast_routes

    app = FastAPI()

    @app.post("/x/{name}")
    async def named(name: str, request: Request) -> Response:
        return Response(name)

    @app.post("/x/y")
    async def fixed(request: Request) -> Response:
        return Response("fixed")

    @app.post("/z")
    async def other(request: Request) -> Response:
        return Response("z")

    plans = _Plans(lambda a: fast_routes(a, [named, fixed, other]))
    assert plans.match(app, "/x/y")[0].route.endpoint is named
    assert plans.match(app, "/x/q")[:2] == (plans.match(app, "/x/y")[0], {"name": "q"})
    assert plans.match(app, "/z")[0].route.endpoint is other
    assert plans.match(app, "/nowhere") is None


def test_openapi_still_lists_the_fast_routes(clients):
    paths = clients["fast"].get("/openapi.json").json()["paths"]
    for path in (
        "/v1/models/{name}:predict",
        "/v1/models/{name}/versions/{version}:predict",
        "/v2/models/{name}/infer",
        "/v1/stock/forecast",
        "/v1/text/generate",
    ):
        assert "post" in paths[path]
