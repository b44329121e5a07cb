"""bench/serving.py: the HTTP floor app and the report (the load itself runs in `make bench`)."""

from __future__ import annotations

from starlette.testclient import TestClient

from bench.serving import floor_app, section


def test_floor_app_answers_a_fixed_body_to_any_request():
    client = TestClient(floor_app)
    for response in (
        client.post("/v1/models/stock:predict", json={"instances": [[1.0] * 20]}),
        client.get("/readyz"),
    ):
        assert response.status_code == 200
        assert response.json() == {"predictions": [[2707.25]]}


def _run(c: int, rps: float, p99: float = 5.0) -> dict:
    return {"concurrency": c, "requests_per_s": rps, "p50_ms": 1.0, "p99_ms": p99, "errors": 0}


def test_section_reports_every_server_and_the_targets():
    ref = {str(c): {"rows_per_s": rows} for c, rows in ((1, 1000.0), (16, 10000.0), (64, 40000.0))}
    runs = [_run(1, 500.0, p99=4.0), _run(16, 2000.0), _run(64, 4000.0)]
    result = {
        "date": "2026-11-23 14:00 UTC",
        "machine": "2 CPU cores",
        "model": "test",
        "window": 20,
        "load_average_1m": {"before": 0.1, "after": 0.2},
        "in_process": ref,
        "http": {"1 worker": {"/v1/models/stock:predict": runs}},
        "floor": [_run(1, 7000.0), _run(16, 30000.0), _run(64, 21000.0)],
        "targets": {
            "c64_ratio": {"1 worker": 0.1},
            "c64_floor_ratio": 0.525,
            "c1_p99_ms": 4.0,
            "c1_p99_met": True,
        },
    }
    text = section(result)
    assert text.startswith("## Serving\n") and text.endswith("\n\n")
    assert "| 1 worker | `/v1/models/stock:predict` | 64 | 4000 |" in text
    assert "| HTTP floor | `(no-op app)` | 64 | 21000 |" in text
    assert "1 worker **10.0%** (not met)" in text and "reaches **52.5%**" in text
    assert "**4.00 ms** (met)" in text
