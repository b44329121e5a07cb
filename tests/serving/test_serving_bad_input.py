"""Every bad request gets a 4xx with a JSON ``{"error": ...}`` that says what was wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

import serving

BIG = 10**40


def _check(r, status: int, *needles: str) -> None:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"]
    for needle in needles:
        assert needle.lower() in body["error"].lower(), body["error"]


RAW_FORECAST = [
    (b"not json", 400, "not valid json"),
    (b"", 400, "empty"),  # as on :predict and /v2 (one body parser)
    (b"[1, 2]", 422, "object"),
    (b'{"prices": "1,2,3"}', 422, "prices"),
    (b'{"prices": []}', 422, "at least 1"),
    (b'{"prices": [NaN]}', 400, "finite"),  # not JSON: 400 as on :predict
    (b'{"prices": [Infinity, 1]}', 400, "finite"),
    (b'{"prices": [1e39]}', 422, "prices"),
    (b'{"prices": ["1.5"]}', 422, "number"),
    (b'{"prices": [true]}', 422, "number"),
    (b'{"prices": [[1.0]]}', 422, "number"),
    (b'{"prices": [1.0], "version": 0}', 422, "version"),
    (b'{"prices": [1.0], "version": "2"}', 422, "version"),
    (b'{"prices": [1.0], "extra": 1}', 422, "extra"),
]


@pytest.mark.parametrize(("body", "status", "needle"), RAW_FORECAST)
def test_forecast_rejects(client, body, status, needle):
    r = client.post(
        "/v1/stock/forecast", content=body, headers={"content-type": "application/json"}
    )
    _check(r, status, needle)


def test_limits_on_lengths_and_counts(client):
    limit = client.app.state.settings.max_sequence_length
    _check(client.post("/v1/stock/forecast", json={"prices": [1.0] * (limit + 1)}), 400, "limit")
    chars = client.app.state.settings.max_text_chars
    _check(client.post("/v1/text/next", json={"text": "a" * (chars + 1)}), 400, "limit")
    _check(client.post("/v1/text/next", json={"text": "ab", "k": 0}), 422, "k")
    _check(client.post("/v1/text/next", json={"text": "ab", "k": 10_000}), 400, "limit")
    _check(client.post("/v1/text/next", json={"text": 5}), 422, "text")
    _check(
        client.post("/v1/text/generate", json={"text": "a", "max_tokens": 10**6}), 400, "max_tokens"
    )
    _check(
        client.post("/v1/text/generate", json={"text": "a", "temperature": -1}), 422, "temperature"
    )
    _check(client.post("/v1/text/generate", json={"text": "a", "seed": 2**40}), 422, "seed")
    n = client.app.state.settings.max_instances
    _check(
        client.post("/v1/models/stock:predict", json={"instances": [[1.0]] * (n + 1)}),
        400,
        "too many",
    )


def test_body_too_large_is_413(client):
    size = client.app.state.settings.max_body_bytes
    payload = b'{"prices": [' + b"1.0," * (size // 4) + b"1.0]}"
    _check(
        client.post(
            "/v1/stock/forecast", content=payload, headers={"content-type": "application/json"}
        ),
        413,
        "larger",
    )

    def chunks():  # no Content-Length: counted while streaming
        for _ in range(size // 4096 + 2):
            yield b" " * 4096

    _check(client.post("/v1/models/stock:predict", content=chunks()), 413, "larger")


PREDICT = [
    ({"instances": [[1.0, 2.0], [1.0]]}, 400, "ragged"),
    ({"instances": [["a", "b"]]}, 400, "numbers"),
    ({"instances": [[1.0, None]]}, 400, ""),
    ({"instances": [1.0, 2.0]}, 400, "rank"),
    ({"instances": [[[1.0]]]}, 400, "rank"),
    ({"instances": [[]]}, 400, "empty"),
    ({"instances": []}, 400, "non-empty"),
    ({"instances": "x"}, 400, "list"),
    ({"instances": [[1.0]], "inputs": [[1.0]]}, 400, "exactly one"),
    ({}, 400, "exactly one"),
    ({"instances": [[1e39]]}, 400, "too large"),
    ({"instances": [[1.0]], "signature_name": 3}, 400, "signature_name"),
    ({"instances": [[1.0]], "bogus": 1}, 400, "unknown"),
    (
        {"signature_name": "padded", "instances": [{"prices": [1.0], "lengths": 1.5}]},
        400,
        "integers",
    ),
    ({"signature_name": "padded", "instances": [{"prices": [1.0]}]}, 400, "lengths"),
    ({"signature_name": "padded", "inputs": {"prices": [[1.0]], "lengths": [1, 1]}}, 400, "batch"),
    ({"signature_name": "padded", "inputs": {"prices": [[1.0]], "lengths": [2**40]}}, 400, "range"),
]


@pytest.mark.parametrize(("body", "status", "needle"), PREDICT)
def test_predict_rejects(client, body, status, needle):
    _check(client.post("/v1/models/stock:predict", json=body), status, needle)


def test_predict_nan_and_not_json(client):
    for raw in (b'{"instances": [[NaN]]}', b"{", b"[]", b'"x"', b""):
        r = client.post("/v1/models/stock:predict", content=raw)
        assert 400 <= r.status_code < 500, r.text
        assert set(r.json()) == {"error"}


def test_text_scalar_inputs_need_columnar_format(client):
    r = client.post(
        "/v1/models/text:predict",
        json={"signature_name": "next", "instances": [{"text": "a", "k": 2}]},
    )
    _check(r, 400, "columnar")
    r = client.post(
        "/v1/models/text:predict",
        json={"signature_name": "next", "inputs": {"text": ["a"], "k": [2]}},
    )
    _check(r, 400, "rank")
    r = client.post("/v1/models/text:predict", json={"instances": [{"b64": "!!!"}]})
    _check(r, 400, "base64")


@pytest.mark.parametrize(
    ("method", "path", "status", "needle"),
    [
        ("get", "/v1/models/nope", 404, "unknown model"),
        ("get", "/v1/models/stock/versions/9", 404, "no version 9"),
        ("get", "/v1/models/stock/versions/x", 422, "version"),
        ("get", "/v1/models/text/versions/2/metadata", 404, "FAILED"),
        ("post", "/v1/models/nope:predict", 404, "unknown model"),
        ("post", "/v1/models/stock/versions/3:predict", 404, "no version 3"),
        ("get", "/v1/models/nope/card", 404, "unknown model"),
        ("get", "/v2/models/nope", 404, "unknown model"),
        ("get", "/v2/models/nope/ready", 404, "unknown model"),
        ("get", "/nope", 404, "not found"),
        ("get", "/v1/models/stock:predict", 404, "unknown model"),
        ("delete", "/v1/models/stock", 405, "method"),
    ],
)
def test_unknown_things_are_404(client, method, path, status, needle):
    kwargs = {"json": {"instances": [[1.0]]}} if method == "post" else {}
    _check(getattr(client, method)(path, **kwargs), status, needle)


def test_unknown_signature_is_404(client):
    r = client.post(
        "/v1/models/stock:predict", json={"signature_name": "nope", "instances": [[1.0]]}
    )
    _check(r, 404, "no signature `nope`")
    r = client.post("/v1/stock/forecast", json={"prices": [1.0], "version": 7})
    _check(r, 404, "no version 7")


@pytest.mark.parametrize(
    "name",
    [
        "..",
        "..%2F..%2Fetc%2Fpasswd",
        "%2e%2e",
        "stock%00",
        "..%5c..%5cwindows",
        "~root",
        "stock%2F1",
        "%2Fetc%2Fpasswd",
    ],
)
def test_path_tricks_touch_no_file(client, name, monkeypatch):
    """Model names are looked up in memory only: no request opens a file."""
    import builtins
    import os

    opened: list[str] = []
    real_open, real_stat = builtins.open, os.stat

    def spy_open(file, *a, **k):
        opened.append(str(file))
        return real_open(file, *a, **k)

    def spy_stat(path, *a, **k):
        opened.append(str(path))
        return real_stat(path, *a, **k)

    monkeypatch.setattr(builtins, "open", spy_open)
    monkeypatch.setattr(os, "stat", spy_stat)
    for url in (
        f"/v1/models/{name}",
        f"/v1/models/{name}/metadata",
        f"/v1/models/{name}/card",
        f"/v2/models/{name}",
    ):
        r = client.get(url)
        if r.request.url.raw_path.decode() != url:
            continue  # the client normalised the dots away; the server saw a plain path
        assert r.status_code in (404, 405), (url, r.status_code, r.text)
        assert set(r.json()) == {"error"}
    r = client.post(f"/v1/models/{name}:predict", json={"instances": [[1.0]]})
    assert r.status_code in (404, 405), r.text
    monkeypatch.undo()
    # Unmatched paths fall through to the web page's StaticFiles, which stays inside its folder.
    static = os.path.realpath(Path(serving.__file__).parent / "static")
    # (Python may stat its own source files for tracebacks: those are not request data.)
    data = [p for p in opened if not p.endswith(".py")]
    outside = [p for p in data if os.path.commonpath([static, os.path.realpath(p)]) != static]
    assert not outside
