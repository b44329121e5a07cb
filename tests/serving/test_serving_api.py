"""The REST dialects and task endpoints, in process, against the fixture models' exact math."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tests.fixtures.savedmodels import VOCAB, expected_stock_forecast, expected_text_next


def f32(x: float) -> np.float32:
    return np.float32(x)


# ---- TensorFlow Serving REST API ------------------------------------------------------------
def test_model_status_lists_versions_and_failed_one(client):
    stock = client.get("/v1/models/stock").json()
    assert stock == {
        "model_version_status": [
            {
                "version": "2",
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            },
            {
                "version": "1",
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            },
        ]
    }
    text = client.get("/v1/models/text").json()["model_version_status"]
    assert [(s["version"], s["state"]) for s in text] == [("2", "END"), ("1", "AVAILABLE")]
    assert "saved_model.pb" in text[0]["status"]["error_message"]
    one = client.get("/v1/models/stock/versions/1").json()["model_version_status"]
    assert one[0]["version"] == "1"


def test_metadata_describes_signatures(client):
    meta = client.get("/v1/models/stock/metadata").json()
    assert meta["model_spec"] == {"name": "stock", "signature_name": "", "version": "2"}
    sigs = meta["metadata"]["signature_def"]["signature_def"]
    assert set(sigs) == {"serving_default", "padded"}
    prices = sigs["padded"]["inputs"]["prices"]
    assert prices["dtype"] == "DT_FLOAT"
    assert [d["size"] for d in prices["tensor_shape"]["dim"]] == ["-1", "-1"]
    assert sigs["padded"]["inputs"]["lengths"]["dtype"] == "DT_INT32"
    v1 = client.get("/v1/models/stock/versions/1/metadata").json()
    assert v1["model_spec"]["version"] == "1"


def test_predict_row_format_uses_newest_version(client):
    r = client.post(
        "/v1/models/stock:predict", json={"instances": [[1.0, 2.0, 100.0], [3.0, 4.0, 5.0]]}
    )
    assert r.status_code == 200, r.text
    got = r.json()["predictions"]
    assert [[f32(v) for v in row] for row in got] == [
        list(expected_stock_forecast([1, 2, 100], growth=1.02)),
        list(expected_stock_forecast([3, 4, 5], growth=1.02)),
    ]


def test_predict_columnar_and_pinned_version(client):
    r = client.post("/v1/models/stock/versions/1:predict", json={"inputs": [[1.0, 2.0, 100.0]]})
    assert r.status_code == 200, r.text
    assert f32(r.json()["outputs"][0][0]) == expected_stock_forecast([1, 2, 100], growth=1.01)[0]


def test_predict_named_instances_with_signature_name(client):
    body = {
        "signature_name": "padded",
        "instances": [
            {"prices": [7.0, 9.0, 0.0], "lengths": 2},
            {"prices": [1.0, 2.0, 3.0], "lengths": 3},
        ],
    }
    got = client.post("/v1/models/stock:predict", json=body).json()["predictions"]
    assert f32(got[0][0]) == expected_stock_forecast([7, 9], growth=1.02)[0]
    assert f32(got[1][0]) == expected_stock_forecast([1, 2, 3], growth=1.02)[0]


def test_predict_multiple_outputs_rows_and_columns(client):
    rows = client.post("/v1/models/text:predict", json={"instances": ["ab", ""]}).json()[
        "predictions"
    ]
    assert rows[0]["tokens"] == [t for t, _ in expected_text_next("ab", 5)]
    assert rows[1]["probabilities"] == pytest.approx([1 / len(VOCAB)] * 5, rel=1e-6)
    cols = client.post(
        "/v1/models/text:predict",
        json={"signature_name": "next", "inputs": {"text": ["ab", "c"], "k": 2}},
    ).json()["outputs"]
    assert cols["tokens"] == [["c", "d"], ["d", "e"]]
    assert cols["probabilities"][0] == pytest.approx(
        [p for _, p in expected_text_next("ab", 2)], rel=1e-6
    )


def test_predict_b64_strings(client):
    import base64

    body = {"instances": [{"b64": base64.b64encode(b"ab").decode()}]}
    assert (
        client.post("/v1/models/text:predict", json=body).json()["predictions"][0]["tokens"][0]
        == "c"
    )


def test_floats_keep_full_float32_precision(client):
    """TF Serving's old complaint: prices rounded to 6 significant digits. Ours round-trip."""
    price = 2702.3349609375  # a float32 value with more than 6 significant digits
    r = client.post("/v1/models/stock/versions/1:predict", json={"instances": [[price]]})
    text = r.text
    value = r.json()["predictions"][0][0]
    want = expected_stock_forecast([price], growth=1.01)[0]
    assert f32(value) == want, (text, want)
    assert len(repr(value).replace(".", "")) > 6


# ---- task endpoints -------------------------------------------------------------------------
def test_forecast_newest_and_pinned(client):
    r = client.post("/v1/stock/forecast", json={"prices": [10.0, 11.0, 12.5]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "stock" and body["version"] == 2 and body["horizon"] == 1
    assert f32(body["forecast"][0]) == expected_stock_forecast([10, 11, 12.5], growth=1.02)[0]
    pinned = client.post(
        "/v1/stock/forecast", json={"prices": [10.0, 11.0, 12.5], "version": 1}
    ).json()
    assert pinned["version"] == 1
    assert f32(pinned["forecast"][0]) == expected_stock_forecast([12.5], growth=1.01)[0]


@pytest.mark.parametrize("length", [1, 3, 5, 17, 100])
def test_forecast_any_length_uses_last_price(client, length):
    prices = [float(i + 1) for i in range(length)]
    body = client.post("/v1/stock/forecast", json={"prices": prices}).json()
    assert f32(body["forecast"][0]) == expected_stock_forecast(prices, growth=1.02)[0]


def test_text_next(client):
    body = client.post("/v1/text/next", json={"text": "xab", "k": 3}).json()
    assert body["model"] == "text" and body["version"] == 1
    want = expected_text_next("xab", 3)
    assert [s["token"] for s in body["suggestions"]] == [t for t, _ in want]
    assert [s["probability"] for s in body["suggestions"]] == pytest.approx(
        [p for _, p in want], rel=1e-6
    )


def test_text_generate_is_seeded_and_greedy_is_deterministic(client):
    req = {"text": "ab", "max_tokens": 12, "temperature": 1.0, "seed": 7}
    a = client.post("/v1/text/generate", json=req).json()
    b = client.post("/v1/text/generate", json=req).json()
    assert a == b
    assert a["text"] == "ab" and len(a["continuation"]) == 12
    assert set(a["continuation"]) <= set(VOCAB)
    greedy = client.post(
        "/v1/text/generate", json={"text": "ab", "max_tokens": 6, "temperature": 0.0}
    ).json()
    assert greedy["continuation"] == "cde ab"
    top1 = client.post(
        "/v1/text/generate", json={"text": "a", "max_tokens": 4, "top_k": 1, "seed": 3}
    ).json()
    assert top1["continuation"] == "bcde"


def test_models_list_card_and_sample(client):
    models = client.get("/v1/models").json()["models"]
    by_name = {m["name"]: m for m in models}
    assert [v["version"] for v in by_name["stock"]["versions"]] == [2, 1]
    text_versions = {v["version"]: v for v in by_name["text"]["versions"]}
    assert text_versions[2]["state"] == "FAILED" and text_versions[2]["ready"] is False
    assert text_versions[2]["error"]
    assert text_versions[1] == {"version": 1, "state": "AVAILABLE", "ready": True, "error": None}
    card = client.get("/v1/models/stock/card").json()
    assert card["name"] == "stock" and card["version"] == 2 and card["task"] == "stock"
    assert client.get("/v1/models/stock/card", params={"version": 1}).json()["version"] == 1
    sample = client.get("/v1/stock/sample").json()
    assert sample == card["sample"] and len(sample["prices"]) == 120


def test_health_readiness_docs_and_metrics(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    assert client.get("/v2/health/live").status_code == 200
    assert client.get("/v2/health/ready").status_code == 200
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    assert "/v1/models/{name}:predict" in schema["paths"]
    client.post("/v1/stock/forecast", json={"prices": [1.0]})
    metrics = client.get("/metrics").text
    assert (
        'serving_requests_total{method="POST",route="/v1/stock/forecast",status="200"}' in metrics
    )
    assert "serving_batch_size_bucket" in metrics
    assert 'serving_model_version_state{model="text",state="FAILED",version="2"} 1.0' in metrics


def test_request_id_is_echoed_or_made(client):
    r = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    made = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"}).headers[
        "x-request-id"
    ]
    again = client.get("/healthz").headers["x-request-id"]
    assert made != "bad id with spaces" and re.fullmatch(r"[0-9a-f]{12}-[0-9a-f]{8}", made)
    assert again != made


def test_nan_output_never_leaks(tmp_path, app_factory):
    from fastapi.testclient import TestClient

    from tests.fixtures.savedmodels import write_stock_model

    write_stock_model(tmp_path, 1, nan=True)
    with TestClient(app_factory(tmp_path)) as c:
        from tests.serving.helpers import wait_ready

        wait_ready(c)
        for r in (
            c.post("/v1/stock/forecast", json={"prices": [1.0, 2.0]}),
            c.post("/v1/models/stock:predict", json={"instances": [[1.0]]}),
            c.post(
                "/v2/models/stock/infer",
                json={
                    "inputs": [
                        {"name": "prices", "shape": [1, 1], "datatype": "FP32", "data": [1.0]}
                    ]
                },
            ),
        ):
            assert r.status_code == 422, r.text
            assert "non-finite" in r.json()["error"]
            assert "NaN" not in r.text.replace("(NaN or infinity)", "") and "null" not in r.text


def test_root_serves_the_web_page_when_present(client):
    from serving.app import STATIC

    r = client.get("/")
    assert r.status_code == 200
    if (STATIC / "index.html").is_file():
        assert r.headers["content-type"].startswith("text/html")
    else:
        assert r.json()["docs"] == "/docs"
