"""Clients with the habits of TF Serving, KServe/Triton, curl and health probes.

HEAD on every GET route, JSON bodies whatever the Content-Type, 400 (never 500) for a lone
surrogate with the connection kept, 501 for TF Serving APIs this server does not have, the
v2 repository index (with tritonclient), compressed request bodies (with tritonclient, and a
zip bomb), and the same ``k`` limit on every route.
"""

from __future__ import annotations

import gzip
import http.client
import re
import zlib

import numpy as np
import pytest

from tests.fixtures.savedmodels import expected_stock_forecast

FILL = {"name": "stock", "version": "1", "label": "stable"}


def _get_paths(client) -> list[str]:
    """Every GET route of the OpenAPI schema, with its parameters filled, and the page."""
    paths = []
    for template, ops in client.get("/openapi.json").json()["paths"].items():
        if "get" in ops:
            paths.append(re.sub(r"\{(\w+)\}", lambda m: FILL[m.group(1)], template))
    return [*paths, "/", "/docs", "/openapi.json", "/app.js"]


def test_head_answers_like_get_on_every_get_route(client):
    paths = _get_paths(client)
    assert "/healthz" in paths and "/v1/models/stock" in paths
    for path in paths:
        got, head = client.get(path), client.head(path)
        assert head.status_code == got.status_code, (path, head.status_code, got.status_code)
        assert head.content == b"", path
        assert head.headers.get("content-type") == got.headers.get("content-type"), path
    assert client.head("/healthz").status_code == 200


def test_head_on_the_live_server_healthz(live_server):
    conn = http.client.HTTPConnection("127.0.0.1", live_server.port, timeout=10)
    try:
        conn.request("HEAD", "/healthz")
        resp = conn.getresponse()
        assert resp.status == 200 and resp.read() == b""
    finally:
        conn.close()


def test_the_live_server_does_not_name_its_software(live_server):
    # No `server: uvicorn` (nothing for a scanner to match versions against); `date` stays,
    # as HTTP asks of an origin server with a clock.
    conn = http.client.HTTPConnection("127.0.0.1", live_server.port, timeout=10)
    try:
        conn.request("GET", "/healthz")
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200
        assert resp.getheader("server") is None and resp.getheader("date")
        assert resp.getheader("x-request-id")
    finally:
        conn.close()


LONE_SURROGATE = b'{"text": "ab\\ud800"}'


@pytest.mark.parametrize("path", ["/v1/text/next", "/v1/text/generate"])
def test_lone_surrogate_is_400_on_task_routes(client, path):
    r = client.post(path, content=LONE_SURROGATE, headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert "surrogate" in r.json()["error"]


def test_lone_surrogate_keeps_the_connection_alive(live_server):
    conn = http.client.HTTPConnection("127.0.0.1", live_server.port, timeout=30)
    try:
        headers = {"Content-Type": "application/json"}
        conn.request("POST", "/v1/text/next", body=LONE_SURROGATE, headers=headers)
        bad = conn.getresponse()
        assert bad.status == 400, bad.read()
        bad.read()
        assert not bad.will_close
        sock = conn.sock
        conn.request("POST", "/v1/text/next", body=b'{"text": "ab", "k": 2}', headers=headers)
        good = conn.getresponse()
        assert good.status == 200, good.read()
        good.read()
        assert conn.sock is sock  # the same keep-alive connection
    finally:
        conn.close()


@pytest.mark.parametrize(
    "content_type", [None, "application/x-www-form-urlencoded", "text/plain; charset=utf-8"]
)
def test_task_routes_read_json_whatever_the_content_type(client, content_type):
    """``curl -d '{...}'`` sends form-urlencoded; the body is JSON all the same."""
    headers = {} if content_type is None else {"content-type": content_type}
    r = client.post("/v1/stock/forecast", content=b'{"prices": [10.0, 20.0]}', headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["forecast"] == pytest.approx(
        expected_stock_forecast([10.0, 20.0], growth=1.02).tolist()
    )
    r = client.post("/v1/text/next", content=b'{"text": "ab", "k": 2}', headers=headers)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/v1/models/stock:classify"),
        ("post", "/v1/models/stock:regress"),
        ("post", "/v1/models/stock/versions/1:classify"),
        ("post", "/v1/models/stock/versions/1:regress"),
        ("post", "/v1/models/stock/labels/stable:predict"),
        ("post", "/v1/models/stock/labels/stable:classify"),
        ("get", "/v1/models/stock/labels/stable"),
        ("get", "/v1/models/stock/labels/stable/metadata"),
    ],
)
def test_tf_serving_apis_without_support_say_so(client, method, path):
    kwargs = {"json": {"examples": [{"x": 1.0}]}} if method == "post" else {}
    r = getattr(client, method)(path, **kwargs)
    assert r.status_code == 501, r.text
    assert re.search(r"is not supported by this server; use .*:predict", r.json()["error"])


def test_v2_repository_index_in_process(client):
    r = client.post("/v2/repository/index")
    assert r.status_code == 200, r.text
    index = {(e["name"], e["version"]): e for e in r.json()}
    assert index[("stock", "1")]["state"] == "READY"
    assert index[("text", "2")]["state"] == "UNAVAILABLE"
    assert "text/2/saved_model.pb" in index[("text", "2")]["reason"]
    ready = client.post("/v2/repository/index", json={"ready": True}).json()
    assert all(e["state"] == "READY" for e in ready) and ("text", "2") not in {
        (e["name"], e["version"]) for e in ready
    }
    # Load and unload are not offered, so the extension that promises them is not advertised.
    assert "model_repository" not in client.get("/v2").json()["extensions"]
    for action in ("load", "unload"):
        r = client.post(f"/v2/repository/models/stock/{action}")
        assert r.status_code == 501 and "not supported" in r.json()["error"]


def test_tritonclient_repository_index_and_compressed_requests(live_server):
    tritonhttp = pytest.importorskip("tritonclient.http")
    triton = tritonhttp.InferenceServerClient(url=f"127.0.0.1:{live_server.port}")
    try:
        index = triton.get_model_repository_index()
        assert {"name": "stock", "version": "1", "state": "READY"} in index, index
        prices = np.array([[10.0, 20.0, 30.0]], np.float32)
        want = expected_stock_forecast([10.0, 20.0, 30.0])
        for algorithm in (None, "gzip", "deflate"):
            inp = tritonhttp.InferInput("prices", list(prices.shape), "FP32")
            inp.set_data_from_numpy(prices, binary_data=algorithm == "gzip")
            result = triton.infer("stock", [inp], request_compression_algorithm=algorithm)
            np.testing.assert_allclose(result.as_numpy("forecast")[0], want, rtol=1e-6)
    finally:
        triton.close()


def test_compressed_bodies_are_limited_after_decompression(client):
    limit = client.app.state.settings.max_body_bytes
    body = b'{"prices": [10.0, 20.0]}'
    for encoding, data in (("gzip", gzip.compress(body)), ("deflate", zlib.compress(body))):
        r = client.post(
            "/v1/stock/forecast",
            content=data,
            headers={"content-type": "application/json", "content-encoding": encoding},
        )
        assert r.status_code == 200, (encoding, r.text)
    bomb = gzip.compress(b'{"prices": [1.0' + b" " * (limit * 4) + b"]}")
    assert len(bomb) < limit // 10
    r = client.post(
        "/v1/models/stock:predict",
        content=bomb,
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert r.status_code == 413 and "after decompression" in r.json()["error"], r.text
    r = client.post(
        "/v1/stock/forecast", content=b"\x1f\x8bnot gzip", headers={"content-encoding": "gzip"}
    )
    assert r.status_code == 400 and "gzip" in r.json()["error"]
    r = client.post("/v1/stock/forecast", content=body, headers={"content-encoding": "br"})
    assert r.status_code == 415 and "br" in r.json()["error"]


def test_one_k_limit_on_every_route(client):
    limit = client.app.state.settings.max_k
    k = limit * 10_000
    task = client.post("/v1/text/next", json={"text": "ab", "k": k})
    tfs = client.post(
        "/v1/models/text:predict",
        json={"signature_name": "next", "inputs": {"text": ["ab"], "k": k}},
    )
    v2 = client.post(
        "/v2/models/text/infer",
        json={
            "parameters": {"signature_name": "next"},
            "inputs": [
                {"name": "text", "shape": [1], "datatype": "BYTES", "data": ["ab"]},
                {"name": "k", "shape": [], "datatype": "INT32", "data": [k]},
            ],
        },
    )
    for r in (task, tfs, v2):
        assert r.status_code == 400, r.text
        assert r.json()["error"] == f"`k` is {k}; the limit is {limit}."
    ok = client.post(
        "/v1/models/text:predict",
        json={"signature_name": "next", "inputs": {"text": ["ab"], "k": limit}},
    )
    assert ok.status_code == 200, ok.text
