"""One client's request never harms another's: isolation inside a dynamic batch.

Many concurrent clients mix good, bad and seeded requests on every route (task routes,
TF Serving ``:predict``, KServe v2 ``infer``); each answer must equal the answer to the same
request sent alone. Batches are made to merge (a long ``batch_timeout_micros`` and one batch
thread), and the tests check that they did, so the isolation is really exercised.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.savedmodels import write_stock_model, write_text_model
from tests.serving.helpers import wait_ready

GOOD = [2700.5, 2710.25, 2705.0]
ASSERTION = "prices must be finite and > 0 within each row's length"


class BatchSpy:
    """Records the batch size of every model call (to prove requests were merged)."""

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self._lock = threading.Lock()

    def install(self, monkeypatch: pytest.MonkeyPatch) -> BatchSpy:
        from serving.signatures import Signature

        real = Signature.__call__
        spy = self

        def call(sig, arrays):
            batched = sig.batched_inputs
            with spy._lock:
                spy.sizes.append(len(arrays[batched[0]]) if batched else 1)
            return real(sig, arrays)

        monkeypatch.setattr(Signature, "__call__", call)
        return self


def _client(model_dir: Path, app_factory, **settings) -> Iterator:
    from fastapi.testclient import TestClient

    options = {"max_batch_size": 16, "batch_timeout_micros": 30_000, "num_batch_threads": 1}
    app = app_factory(model_dir, **{**options, **settings})
    with TestClient(app, raise_server_exceptions=False) as c:
        wait_ready(c)
        yield c


@pytest.fixture(scope="module")
def iso_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("iso-models")
    write_stock_model(root, 1, growth=1.01)
    write_text_model(root, 1)
    return root


@pytest.fixture(scope="module")
def iso(iso_dir: Path, app_factory) -> Iterator:
    yield from _client(iso_dir, app_factory)


def _send(client, request: tuple[str, dict[str, Any]]) -> tuple[int, Any]:
    path, body = request
    r = client.post(path, content=json.dumps(body), headers={"Content-Type": "application/json"})
    return r.status_code, r.json()


def _same(a: Any, b: Any) -> bool:
    """Equal answers; floats within 1e-6 relative (TensorFlow's kernels may round the last
    bit differently for a batch of 1 and of 16: a softmax over the same row can differ by an
    ulp; strings, tokens, status codes and error messages must be identical)."""
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-6)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _concurrently(client, requests: list, workers: int = 24) -> list[tuple[int, Any]]:
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda req: _send(client, req), requests))


def _generate(text: str, seed: int, max_tokens: int = 12) -> tuple[str, dict]:
    body = {"text": text, "max_tokens": max_tokens, "temperature": 1.0, "seed": seed}
    return "/v1/text/generate", body


def _v2(name: str, inputs: list[dict], signature: str | None = None) -> tuple[str, dict]:
    body: dict[str, Any] = {"inputs": inputs}
    if signature:
        body["parameters"] = {"signature_name": signature}
    return f"/v2/models/{name}/infer", body


def _mixed_requests() -> list[tuple[str, dict]]:
    """Good, bad and seeded requests on every route, shuffled deterministically."""
    good = (
        [("/v1/stock/forecast", {"prices": [p + i for p in GOOD]}) for i in range(6)]
        + [("/v1/models/stock:predict", {"instances": [[p + i for p in GOOD]]}) for i in range(6)]
        + [
            _v2("stock", [{"name": "prices", "datatype": "FP32", "shape": [1, 3], "data": GOOD}])
            for _ in range(4)
        ]
        + [("/v1/text/next", {"text": t, "k": 3}) for t in ("ab", "c", "zz", "")]
    )
    bad = [
        ("/v1/stock/forecast", {"prices": [0, 0, 0]}),
        ("/v1/stock/forecast", {"prices": [2700.0, -1.0]}),
        ("/v1/models/stock:predict", {"instances": [[0.0, 0.0, 0.0]]}),
        ("/v1/models/stock:predict", {"instances": [GOOD, [1.0, -5.0, 2.0]]}),
        _v2("stock", [{"name": "prices", "datatype": "FP32", "shape": [1, 3], "data": [0, 0, 0]}]),
        _v2("stock", [{"name": "prices", "datatype": "FP32", "shape": [1, 2], "data": [-1, 3]}]),
    ]
    seeded = (
        [_generate(t, s) for t in ("ab", "e") for s in (1, 2, 3, 1)]
        + [
            (
                "/v1/models/text:predict",
                {
                    "signature_name": "generate",
                    "inputs": {
                        "text": ["ab"],
                        "max_tokens": 12,
                        "temperature": 1.0,
                        "top_k": 0,
                        "seed": [s],
                    },
                },
            )
            for s in (1, 2, 1)
        ]
        + [
            _v2(
                "text",
                [
                    {"name": "text", "datatype": "BYTES", "shape": [1], "data": ["ab"]},
                    {"name": "max_tokens", "datatype": "INT32", "shape": [], "data": [12]},
                    {"name": "temperature", "datatype": "FP32", "shape": [], "data": [1.0]},
                    {"name": "top_k", "datatype": "INT32", "shape": [], "data": [0]},
                    {"name": "seed", "datatype": "INT32", "shape": [1], "data": [s]},
                ],
                "generate",
            )
            for s in (2, 3, 2)
        ]
    )
    requests = good + bad + seeded
    order = sorted(range(len(requests)), key=lambda i: (i * 7919) % len(requests))
    return [requests[i] for i in order]


def test_every_answer_under_concurrency_equals_the_answer_alone(iso, monkeypatch):
    """The "done when" test: good, bad and seeded requests on every route, sent at once
    (three rounds), answer exactly as each does alone."""
    requests = _mixed_requests()
    alone = [_send(iso, req) for req in requests]
    assert {code for code, _ in alone} == {200, 400, 422}, alone
    spy = BatchSpy().install(monkeypatch)
    for _ in range(3):
        together = _concurrently(iso, requests * 2, workers=32)
        for i, (req, want, got) in enumerate(zip(requests * 2, alone * 2, together, strict=True)):
            assert _same(got, want), (i, req, want, got)
    assert max(spy.sizes) > 1, spy.sizes  # the requests were merged into batches


def test_a_bad_row_fails_only_its_own_request(iso, monkeypatch):
    """50 good and 5 bad `:predict` requests at once: only the 5 get the model's error, and the
    error is the model's own message (not "Graph execution error:", no paths)."""
    spy = BatchSpy().install(monkeypatch)
    good = ("/v1/models/stock:predict", {"instances": [GOOD]})
    bad = ("/v1/models/stock:predict", {"instances": [[0.0, 0.0, 0.0]]})
    requests = [good] * 50 + [bad] * 5
    order = sorted(range(55), key=lambda i: (i * 13) % 55)
    out = _concurrently(iso, [requests[i] for i in order], workers=55)
    answers = {i: out[k] for k, i in enumerate(order)}
    for i in range(50):
        assert answers[i] == (200, {"predictions": [[pytest.approx(2705.0 * 1.01)]]}), answers[i]
    for i in range(50, 55):
        code, body = answers[i]
        assert code == 400 and body == {"error": f"The model rejected the input: {ASSERTION}"}
    assert max(spy.sizes) > 1


def test_task_route_refuses_prices_the_model_refuses(iso):
    for prices in ([0, 0, 0], [2700.0, -1.0], [1e-45 * 0]):
        r = iso.post("/v1/stock/forecast", json={"prices": prices})
        assert r.status_code == 422, r.text
        assert "prices" in r.json()["error"] and "greater than 0" in r.json()["error"]


def test_same_seed_same_continuation_under_load(iso, monkeypatch):
    """32 concurrent identical seeded generations give one continuation, the one it gives
    alone; mixed seeds each give their own, whatever they are batched with."""
    spy = BatchSpy().install(monkeypatch)
    same = _generate("To be", 1, 20)
    alone = _send(iso, same)
    assert alone[0] == 200
    out = _concurrently(iso, [same] * 32, workers=32)
    assert {json.dumps(b) for _, b in out} == {json.dumps(alone[1])}

    mixed = [_generate(t, s, 20) for s in range(8) for t in ("To be", "ab")] * 3
    want = {json.dumps(req): _send(iso, req) for req in mixed}
    got = _concurrently(iso, mixed, workers=48)
    for req, answer in zip(mixed, got, strict=True):
        assert _same(answer, want[json.dumps(req)]), req
    assert len({b["continuation"] for _, b in want.values()}) > 4  # seeds matter
    assert max(spy.sizes) > 1


def test_a_request_without_seed_still_samples_at_random(iso):
    req = ("/v1/text/generate", {"text": "ab", "max_tokens": 20, "temperature": 2.0})
    assert len({_send(iso, req)[1]["continuation"] for _ in range(5)}) > 1


def test_an_old_export_with_one_seed_per_batch_stays_reproducible(tmp_path, app_factory):
    """Exports from before per-row seeds (``seed`` int32 []): same seed, same answer, because
    such calls are never merged."""
    write_text_model(tmp_path, 1, scalar_seed=True)
    for c in _client(tmp_path, app_factory):
        req = _generate("ab", 5, 20)
        alone = _send(c, req)
        assert alone[0] == 200
        out = _concurrently(c, [req] * 16, workers=16)
        assert all(answer == alone for answer in out)


def test_model_errors_give_the_first_useful_line():
    from serving.service import model_message

    def err(text: str) -> Exception:
        e = Exception(text)
        e.message = text  # type: ignore[attr-defined]
        return e

    raw = (
        "Graph execution error:\n\nDetected at node Assert/Assert defined at (most recent call "
        "last):\n<stack traces unavailable>\nassertion failed: [prices must be finite and > 0 "
        "within each row\\'s length]\n\t [[{{node Assert/Assert}}]] "
        "[Op:__inference_signature_wrapper_f_142]"
    )
    assert model_message(err(raw)) == ASSERTION
    positive = (
        "Graph execution error:\n\nDetected at node assert_positive/Assert defined at (most "
        'recent call last):\n  File "/home/me/x.py", line 3, in f\nassertion failed: [every '
        "length must be >= 1.  ] [Condition x > 0 did not hold element-wise:] [x = ] [0]"
    )
    assert model_message(err(positive)) == "every length must be >= 1"
    other = (
        "Graph execution error:\n\nDetected at node G defined at (most recent call last):\n"
        '  File "/srv/app/model.py", line 9\nindices[0] = 7 is not in [0, 5)\n'
        "\t [[{{node GatherV2}}]] [Op:__inference_f_1]"
    )
    assert model_message(err(other)) == "indices[0] = 7 is not in [0, 5)"
    assert "/srv" not in model_message(err("cannot read /srv/models/stock/2/x.pb"))


def test_same_seed_same_continuation_in_another_process(iso, live_server):
    """The live server (another process, its own copy of the fixture) answers a seeded
    generation exactly as this process does."""
    import httpx

    for seed in (0, 1, 12345):
        path, body = _generate("abc", seed, 25)
        here = _send(iso, (path, body))
        there = httpx.post(live_server.url + path, json=body, timeout=30)
        assert there.status_code == 200 and here[0] == 200
        assert there.json()["continuation"] == here[1]["continuation"]
