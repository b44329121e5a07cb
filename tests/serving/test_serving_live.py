"""Against a real `keras-rnn serve` (uvicorn) process on 127.0.0.1: the v2 client library,
hot swap under concurrent load with zero failed requests, and a bounded load test."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest

from tests.fixtures.savedmodels import (
    expected_stock_forecast,
    expected_text_next,
    write_stock_model,
)


def test_tritonclient_v2_json_and_binary(live_server):
    import tritonclient.http as triton

    client = triton.InferenceServerClient(url=live_server.url.removeprefix("http://"))
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("stock") and client.is_model_ready("stock", "1")
    assert not client.is_model_ready("nope")
    meta = client.get_model_metadata("stock")
    assert meta["name"] == "stock" and meta["platform"] == "tensorflow_savedmodel"
    assert meta["inputs"] == [{"name": "prices", "datatype": "FP32", "shape": [-1, -1]}]

    prices = np.array([[1.0, 2.0, 100.0], [4.0, 5.0, 6.0]], np.float32)
    want = np.stack([expected_stock_forecast(p, growth=1.01) for p in prices.tolist()])
    for binary in (False, True):  # JSON tensors and the binary tensor extension
        inp = triton.InferInput("prices", list(prices.shape), "FP32")
        inp.set_data_from_numpy(prices, binary_data=binary)
        outputs = [triton.InferRequestedOutput("forecast", binary_data=binary)]
        result = client.infer("stock", [inp], outputs=outputs, model_version="1")
        np.testing.assert_array_equal(result.as_numpy("forecast"), want)
    inp = triton.InferInput("prices", list(prices.shape), "FP32")
    inp.set_data_from_numpy(prices)
    result = client.infer("stock", [inp])  # library defaults: binary in, binary out
    np.testing.assert_array_equal(result.as_numpy("forecast"), want)

    text = np.array([b"ab", b""], dtype=object)
    t_in = triton.InferInput("text", [2], "BYTES")
    t_in.set_data_from_numpy(text)
    k_in = triton.InferInput("k", [], "INT32")
    k_in.set_data_from_numpy(np.array(3, np.int32), binary_data=False)
    result = client.infer("text", [t_in, k_in], parameters={"signature_name": "next"})
    tokens = result.as_numpy("tokens")
    assert [t.decode() for t in tokens[0]] == [t for t, _ in expected_text_next("ab", 3)]
    np.testing.assert_allclose(
        result.as_numpy("probabilities")[0], [p for _, p in expected_text_next("ab", 3)], rtol=1e-6
    )

    from tritonclient.utils import InferenceServerException

    for binary, message in ((True, "NaN"), (False, "not valid JSON")):  # JSON has no NaN
        bad = triton.InferInput("prices", [1, 2], "FP32")
        bad.set_data_from_numpy(np.array([[1.0, np.nan]], np.float32), binary_data=binary)
        with pytest.raises(InferenceServerException, match=message):
            client.infer("stock", [bad])
    client.close()


def test_request_ids_metrics_and_bad_body_over_http(live_server):
    with httpx.Client(base_url=live_server.url, timeout=10) as http:
        r = http.post(
            "/v1/stock/forecast",
            json={"prices": [1.0, 2.0]},
            headers={"X-Request-ID": "live-req-1"},
        )
        assert r.status_code == 200 and r.headers["x-request-id"] == "live-req-1"
        r = http.post(
            "/v1/stock/forecast", content=b"{oops", headers={"content-type": "application/json"}
        )
        assert r.status_code == 400 and "JSON" in r.json()["error"]
        r = http.post("/v1/models/stock:predict", content=b"x" * (2 << 20))
        assert r.status_code == 413
        metrics = http.get("/metrics").text
        assert (
            'route="/v1/stock/forecast"' in metrics and "serving_request_seconds_bucket" in metrics
        )


def test_compose_healthcheck_command_works(live_server):
    """The exact healthcheck of docker-compose.yml, pointed at the live server's port."""
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    compose = yaml.safe_load(
        (Path(__file__).resolve().parents[2] / "docker-compose.yml").read_text()
    )
    test = compose["services"]["api"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    code = test[3].replace("127.0.0.1:8000", f"127.0.0.1:{live_server.port}")
    assert subprocess.run([sys.executable, "-c", code], check=False, timeout=30).returncode == 0
    down = test[3].replace("127.0.0.1:8000", "127.0.0.1:9")  # nothing listens there
    assert (
        subprocess.run(
            [sys.executable, "-c", down], check=False, capture_output=True, timeout=30
        ).returncode
        != 0
    )


def _hammer(
    url: str, stop: threading.Event, deadline: float, results: list, versions: list
) -> None:
    with httpx.Client(base_url=url, timeout=10) as http:
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                r = http.post("/v1/stock/forecast", json={"prices": [10.0, 100.0]})
                results.append(r.status_code)
                if r.status_code == 200:
                    body = r.json()
                    versions.append((body["version"], body["forecast"][0]))
            except httpx.HTTPError as err:  # a dropped connection is a failed request too
                results.append(repr(err))


def test_hot_swap_under_load_has_zero_failed_requests(live_server, live_dir):
    stop = threading.Event()
    deadline = time.monotonic() + 60  # bounded even if the swap never happens
    results: list = []
    versions: list = []
    workers = [
        threading.Thread(target=_hammer, args=(live_server.url, stop, deadline, results, versions))
        for _ in range(4)
    ]
    for w in workers:
        w.start()
    try:
        time.sleep(0.5)
        write_stock_model(live_dir, 2, growth=1.5)  # atomic publish; the server polls every 0.2 s
        from tests.fixtures.savedmodels import write_broken_version

        write_broken_version(live_dir, "stock", 3)  # must never be served
        while time.monotonic() < deadline and not any(v == 2 for v, _ in versions[-20:]):
            time.sleep(0.1)
        time.sleep(0.5)
    finally:
        stop.set()
        for w in workers:
            w.join(15)
    assert results and all(code == 200 for code in results), [c for c in results if c != 200][:5]
    seen = {v for v, _ in versions}
    assert seen == {1, 2}, seen
    last_v1 = max(i for i, (v, _) in enumerate(versions) if v == 1)
    first_v2 = min(i for i, (v, _) in enumerate(versions) if v == 2)
    assert first_v2 <= last_v1 + 8  # a clean switch (a few requests may still be in flight)
    assert {round(f, 3) for v, f in versions if v == 1} == {101.0}
    assert {round(f, 3) for v, f in versions if v == 2} == {150.0}
    status = httpx.get(f"{live_server.url}/v1/models").json()["models"]
    stock = {
        v["version"]: v["state"] for m in status if m["name"] == "stock" for v in m["versions"]
    }
    assert stock == {3: "FAILED", 2: "AVAILABLE"}


def test_bounded_load_has_zero_errors(live_server):
    """64 concurrent clients, 640 requests in all (bounded in count and time): all answered."""
    n, concurrency = 640, 64
    body = {"prices": [float(i) for i in range(1, 31)]}
    deadline = time.monotonic() + 90

    def one(_):
        if time.monotonic() > deadline:
            return "timeout"
        try:
            return http.post("/v1/stock/forecast", json=body).status_code
        except httpx.HTTPError as err:
            return repr(err)

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with (
        httpx.Client(base_url=live_server.url, timeout=30, limits=limits) as http,
        ThreadPoolExecutor(concurrency) as pool,
    ):
        codes = list(pool.map(one, range(n)))
    assert codes.count(200) == n, {c: codes.count(c) for c in set(codes)}
    metrics = httpx.get(f"{live_server.url}/metrics").text
    # dynamic batching happened: some merged call had more than one row
    sizes = [
        line
        for line in metrics.splitlines()
        if line.startswith("serving_batch_size_bucket") and 'le="1.0"' in line and "padded" in line
    ]
    count = [
        line
        for line in metrics.splitlines()
        if line.startswith("serving_batch_size_count") and "padded" in line
    ]
    assert sizes and count and float(sizes[0].split()[-1]) < float(count[0].split()[-1])


@pytest.mark.slow
def test_graceful_shutdown_finishes_in_flight_requests(tmp_path):
    """SIGTERM while 16 slow requests are in flight: every one is answered, the exit is clean."""
    from tests.serving.helpers import LiveServer

    root = tmp_path / "models"
    write_stock_model(root, 1)
    server = LiveServer(
        root,
        tmp_path / "server.log",
        SERVING_NUM_BATCH_THREADS="1",
        SERVING_MAX_BATCH_SIZE="1",
        SERVING_MAX_SEQUENCE_LENGTH="30000",
        SERVING_TIMEOUT_GRACEFUL_SHUTDOWN_S="60",
    )
    try:
        server.wait_ready()
        long_series = {
            "prices": [float(i % 50 + 1) for i in range(30000)]
        }  # a 30000-step loop each

        def call(_):
            try:
                r = httpx.post(f"{server.url}/v1/stock/forecast", json=long_series, timeout=60)
                return r.status_code, time.monotonic()
            except httpx.HTTPError as err:
                return repr(err), time.monotonic()

        with ThreadPoolExecutor(16) as pool:
            futures = [pool.submit(call, i) for i in range(16)]
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # until all 16 are queued or running
                metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
                queued = [
                    ln for ln in metrics.splitlines() if ln.startswith("serving_queued_rows ")
                ]
                if queued and float(queued[0].split()[-1]) >= 16:
                    break
                time.sleep(0.05)
            signalled = time.monotonic()
            code = server.stop(timeout=60)
            results = [f.result() for f in futures]
        late = [status for status, at in results if at > signalled]
        assert len(late) >= 8, (
            "most requests should still be in flight at SIGTERM; make them slower"
        )
        assert [status for status, _ in results] == [200] * 16, (results, server.log())
        # uvicorn re-raises the captured SIGTERM after its graceful shutdown, so the exit
        # status is -SIGTERM after a clean shutdown (0 if the signal came in another way).
        assert code in (0, -15), server.log()
    finally:
        server.stop()
