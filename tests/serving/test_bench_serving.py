"""bench/serving.py: the HTTP floor app, the peers' counters, the targets and the report
(the load itself, and the peers' real runs, are `make bench-serving`)."""

from __future__ import annotations

import os

from starlette.testclient import TestClient

import bench.serving
from bench.peers import counter
from bench.serving import cpu_seconds, floor_app, process_tree, section, summarize, targets


def test_floor_app_answers_a_fixed_body_to_any_request():
    client = TestClient(floor_app)
    for response in (
        client.post("/v1/models/stock:predict", json={"instances": [[1.0] * 20]}),
        client.get("/readyz"),
    ):
        assert response.status_code == 200
        assert response.json() == {"predictions": [[2707.25]]}


def test_counter_sums_calls_and_rows_over_processes(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_STATS_DIR", str(tmp_path))
    monkeypatch.setitem(counter._state, "pid", -1)
    for rows in (1, 64, 7):
        counter.count(rows)
    (tmp_path / "999999.txt").write_text("2 10".ljust(40))  # another process
    assert counter.totals(str(tmp_path)) == (5, 82)
    os.close(counter._state["fd"])


def test_process_tree_and_cpu_time_of_this_process():
    assert process_tree(os.getpid())[0] == os.getpid()
    assert cpu_seconds([os.getpid()]) > 0


def test_back_to_back_counts_the_slow_calls_in_the_rate(monkeypatch):
    """The in-process limit is calls over the whole time, as the service's requests/s is:
    one call in four taking 7x the others cuts the rate 2.5-fold but leaves the median."""
    clock = [0.0]
    monkeypatch.setattr(bench.serving.time, "perf_counter", lambda: clock[0])
    durations = iter([1.0] * 10 + [1.0, 1.0, 1.0, 7.0] * 25)

    def call() -> None:
        clock[0] += next(durations)

    per_s, median = bench.serving._back_to_back(call, calls=100, seconds=1e9)
    assert median == 1.0
    assert per_s == 100 / 250


def _run(c: int, rps: float, p99: float = 5.0, cpu: float = 0.5, batch: float | None = 1.0):
    return {
        "concurrency": c,
        "requests_per_s": rps,
        "p50_ms": 1.0,
        "p99_ms": p99,
        "errors": 0,
        "cpu_ms_per_request": cpu,
        "mean_batch": batch,
    }


def _server(label: str, path: str, runs: dict[int, list[dict]], why: str | None = None) -> dict:
    return {
        "label": label,
        "path": path,
        "why": why,
        "summary": {str(c): summarize(r) for c, r in runs.items()},
    }


def test_summary_is_the_median_over_rounds():
    s = summarize([_run(64, 100.0, p99=9.0), _run(64, 300.0, p99=1.0), _run(64, 200.0, p99=5.0)])
    assert s["requests_per_s"] == 200.0 and s["p99_ms"] == 5.0
    assert s["requests_per_s_rounds"] == [100.0, 300.0, 200.0] and s["rounds"] == 3


def test_section_reports_every_server_the_skipped_peers_and_the_targets():
    path = "/v1/models/stock:predict"
    servers = {
        "ours": _server("ours", path, {1: [_run(1, 520.0)], 64: [_run(64, 3000.0, p99=40.0)]}),
        "ours_ref": _server(
            "ours (main)", path, {1: [_run(1, 400.0)], 64: [_run(64, 1400.0, p99=50.0)]}
        ),
        "naive": _server("naive FastAPI", path, {1: [_run(1, 400.0)], 64: [_run(64, 500.0)]}),
        "mlserver": _server(
            "MLServer", "/v2/models/stock/infer", {1: [_run(1, 300.0)], 64: [_run(64, 900.0)]}
        ),
        "kserve": _server("KServe ModelServer", path, {}, why="not installed"),
        "floor": _server("HTTP floor", path, {64: [_run(64, 4000.0, cpu=0.06, batch=None)]}),
    }
    text_rows = {
        "ours": {
            **summarize([_run(16, 50.0)]),
            "tokens_per_s": 1600.0,
            "ratio": 0.6,
            "ratio_vs_best": 0.55,
            "ratio_by_median_call": 0.5,
        }
    }
    result = {
        "date": "2026-12-03 09:00 UTC",
        "machine": "2 CPU cores",
        "model": "test",
        "text_model": "test text",
        "window": 20,
        "rounds": 1,
        "seconds": 5.0,
        "load_average_1m": {"before": 0.1, "after": 0.2},
        "servers": servers,
        "text": {
            "16": {
                "in_process_tokens_per_s": 2666.7,
                "in_process_rounds": [2666.7, 2909.1],
                "servers": text_rows,
            }
        },
    }
    result["targets"] = targets(result)
    t = result["targets"]
    assert t["c64_vs_best_peer"] == {"peer": "mlserver", "ratio": 3.333, "met": True}
    assert t["c64_p99"] == {
        "ours": 40.0,
        "issue": 56.0,
        "met": True,
        "ref": 50.0,
        "ratio_vs_ref": 0.8,
    }
    assert t["c1_vs_naive"] == {"ratio": 1.3, "met": True}
    assert t["text_c16_vs_in_process"] == {"ratio": 0.6, "ratio_vs_best": 0.55, "met": True}
    text = section(result)
    assert text.startswith("## Serving\n") and text.endswith("\n\n")
    assert (
        "| ours | `/v1/models/stock:predict` | 64 | 3000 | 1.00 | 40.00 | 0.50 | 1.0 | 0 |" in text
    )
    assert "| HTTP floor | `/v1/models/stock:predict` | 64 | 4000 |" in text
    assert "- **KServe ModelServer**: not installed" in text
    assert "**3.33x** (met)" in text and "**1.30x** (met)" in text
    assert "**40.0 ms** vs 56 ms (met; the ref in this run: 50.0 ms, per-round ratio 0.80)" in text
    assert "**60.0%** (median of the per-round ratios), **55.0%** against the fastest" in text
    assert "| ours | 16 | 50.0 | 1600 | 5.0 | 1.0 | 2667 (3k, 3k) | 60.0% | 55.0% | 50.0% |" in text
    # Over the p99 is not met, whatever the ref did.
    servers["ours"] = _server("ours", path, {64: [_run(64, 3000.0, p99=60.0)]})
    assert not targets(result)["c64_p99"]["met"]
    # Met only when the service holds 50% of the fastest in-process round too.
    text_rows["ours"]["ratio_vs_best"] = 0.45
    assert not targets(result)["text_c16_vs_in_process"]["met"]
