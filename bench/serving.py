"""Serving benchmark: requests/s and latency of a real uvicorn process on 127.0.0.1, side by
side with calling the same SavedModel signature in process on the same batch sizes.

    python -m bench.serving [--model-dir DIR] [--requests N] [--seconds S] [--workers 1 2]

For each concurrency c in (1, 16, 64): c keep-alive connections each send requests one after
another (``POST /v1/models/stock:predict``, one series of ``window`` prices, the
``serving_default`` signature; also the task endpoint ``/v1/stock/forecast``), bounded by a
request count and a time limit; once with one uvicorn worker and once with one per core. The
in-process reference calls ``serving_default`` with batches of c rows: the best the service
could do if HTTP, JSON and batching were free. The HTTP floor is the same load against a
uvicorn app that answers a fixed body without reading it: the most any Python HTTP service
can reach here with this load generator, whatever it does per request.

Targets (issue 7): at c=64 the service reaches >= 50% of the in-process batch-64 throughput;
p99 latency at c=1 under 20 ms for the stock model. Results go to
``bench/results/serving.json`` and the "## Serving" section of ``docs/benchmarks.md``.
The load generator shares the machine's cores with the server: figures are a lower bound.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from keras_rnn_contract import CARD_FILE, Stock, latest_version_dir

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "serving.json"
DOC = REPO / "docs" / "benchmarks.md"
CONCURRENCY = (1, 16, 64)


# ---- model -------------------------------------------------------------------------------------
def prepare_model(model_dir: Path | None, work: Path) -> tuple[Path, str]:
    """A repository with a stock model: the given one, else a quick real export (1 epoch)."""
    if model_dir is not None:
        if latest_version_dir(model_dir, Stock.NAME) is None:
            raise SystemExit(f"--model-dir {str(model_dir)!r}: no stock model version in it")
        return model_dir, f"given: {model_dir}"
    try:
        from keras_rnn.predictors.stock import train_and_export
    except ImportError as err:
        raise SystemExit(
            f"bench: the stock predictor is not installed ({err}); install keras-rnn[stock] "
            "or pass --model-dir"
        ) from None
    path = train_and_export(model_dir=work, epochs=1)
    card = json.loads((path / CARD_FILE).read_text())
    model = card.get("model", {})
    return work, f"quick real export ({model.get('cell')}, {model.get('units')} units, 1 epoch)"


def window_of(model_dir: Path) -> int:
    version = latest_version_dir(model_dir, Stock.NAME)
    card_path = None if version is None else version / CARD_FILE
    card = json.loads(card_path.read_text()) if card_path and card_path.is_file() else {}
    for key in ("window", "max_window"):
        for section in (card.get("model", {}), card.get("data", {}), card):
            if isinstance(section.get(key), int):
                return section[key]
    return 20


# ---- in-process reference ----------------------------------------------------------------------
def in_process(
    model_dir: Path, window: int, calls: int, seconds: float
) -> dict[int, dict[str, float]]:
    import numpy as np
    import tensorflow as tf

    version = latest_version_dir(model_dir, Stock.NAME)
    fn = tf.saved_model.load(str(version)).signatures[Stock.SERVE]
    rng = np.random.default_rng(0)
    out = {}
    for batch in CONCURRENCY:
        prices = tf.constant(2700 + rng.normal(0, 10, (batch, window)).cumsum(axis=1), tf.float32)
        for _ in range(20):
            fn(**{Stock.PRICES: prices})[Stock.FORECAST].numpy()
        times = []
        deadline = time.perf_counter() + seconds
        while len(times) < calls and time.perf_counter() < deadline:
            t0 = time.perf_counter()
            fn(**{Stock.PRICES: prices})[Stock.FORECAST].numpy()
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        out[batch] = {"calls": len(times), "median_ms": med * 1e3, "rows_per_s": batch / med}
    return out


# ---- HTTP load ---------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_FLOOR_BODY = b'{"predictions":[[2707.25]]}'


async def floor_app(scope: dict, receive: Any, send: Any) -> None:
    """A no-op ASGI app: drains the request and answers a fixed prediction-sized body."""
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", b"%d" % len(_FLOOR_BODY)),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": _FLOOR_BODY})


def start_server(
    model_dir: Path | None, port: int, log: Path, workers: int = 1
) -> subprocess.Popen:
    """Our service on ``model_dir`` (``None``: the HTTP floor app), ready to answer."""
    env = {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "SERVING_POLL_INTERVAL_S": "0",
        "SERVING_MAX_BATCH_SIZE": "64",
        "SERVING_MAX_ENQUEUED_BATCHES": "64",
    }
    if model_dir is None:
        cmd = [sys.executable, "-m", "uvicorn", "bench.serving:floor_app", "--no-access-log"]
    else:
        # `keras-rnn serve` without importing every other command
        cmd = [sys.executable, "-m", "serving.cli", "--model-dir", str(model_dir)]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    cmd += ["--workers", str(workers)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited early:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError):
            # Every worker must be ready, not just the first to answer: ask a few times.
            if all(asyncio.run(_get(port, "/readyz")) == 200 for _ in range(4 * workers)):
                return proc
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not become ready in 180 s")


def stop_server(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


async def _get(port: int, path: str) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n".encode())
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    writer.close()
    return status


async def _connection(
    port: int,
    request: bytes,
    quota: list[int],
    deadline: float,
    lat: list[float],
    errors: list[str],
) -> None:
    """One keep-alive connection sending requests back to back (a minimal HTTP/1.1 client)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while quota[0] > 0 and time.perf_counter() < deadline:
            quota[0] -= 1
            t0 = time.perf_counter()
            writer.write(request)
            status = int((await reader.readline()).split()[1])
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            lat.append(time.perf_counter() - t0)
            if status != 200:
                errors.append(str(status))
    finally:
        writer.close()


async def load(
    port: int, path: str, body: bytes, concurrency: int, requests: int, seconds: float
) -> dict[str, Any]:
    request = (
        f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    ).encode() + body
    # warm-up: open every connection and send a few requests
    await asyncio.gather(
        *[
            _connection(port, request, [3], time.perf_counter() + 10, [], [])
            for _ in range(concurrency)
        ]
    )
    quota, lat, errors = [requests], [], []
    t0 = time.perf_counter()
    deadline = t0 + seconds
    await asyncio.gather(
        *[_connection(port, request, quota, deadline, lat, errors) for _ in range(concurrency)]
    )
    elapsed = time.perf_counter() - t0
    lat.sort()
    return {
        "concurrency": concurrency,
        "requests": len(lat),
        "errors": len(errors),
        "seconds": round(elapsed, 3),
        "requests_per_s": round(len(lat) / elapsed, 1),
        "p50_ms": round(lat[len(lat) // 2] * 1e3, 2),
        "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1e3, 2),
    }


def batch_stats(port: int) -> dict[str, tuple[float, float]]:
    """(rows, merged calls) so far per signature, from the server's Prometheus histogram."""

    async def fetch() -> str:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        await writer.drain()
        data = await reader.read()
        writer.close()
        return data.decode()

    text = asyncio.run(fetch())
    sums, counts = {}, {}
    for line in text.splitlines():
        if line.startswith("serving_batch_size_sum"):
            sums[line.split("signature=")[1].split('"')[1]] = float(line.split()[-1])
        elif line.startswith("serving_batch_size_count"):
            counts[line.split("signature=")[1].split('"')[1]] = float(line.split()[-1])
    return {k: (sums.get(k, 0.0), counts[k]) for k in counts}


# ---- report ------------------------------------------------------------------------------------
def write_results(result: dict[str, Any]) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, RESULTS)


def _workers_label(workers: int) -> str:
    return f"{workers} worker" + ("s" if workers > 1 else "")


def section(result: dict[str, Any]) -> str:
    ref = result["in_process"]
    lines = [
        "## Serving",
        "",
        f"`python -m bench.serving` ({result['date']}, {result['machine']}; model: {result['model']}, "
        f"window {result['window']}; 1-minute load average {result['load_average_1m']['before']} before, "
        f"{result['load_average_1m']['after']} after). A real uvicorn process on 127.0.0.1 and the "
        "load generator (one asyncio process, keep-alive connections) share the same cores. One run "
        "per row; one request = one series. *HTTP floor*: the same load against a uvicorn app that "
        "answers a fixed body and does nothing else.",
        "",
        "| server | endpoint | concurrency | requests/s | p50 ms | p99 ms | errors | mean batch | in-process rows/s (batch = c) | service / in-process |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = [
        (server, path, run)
        for server, by_path in result["http"].items()
        for path, runs in by_path.items()
        for run in runs
    ] + [("HTTP floor", "(no-op app)", run) for run in result["floor"]]
    for server, path, run in rows:
        c = run["concurrency"]
        lines.append(
            f"| {server} | `{path}` | {c} | {run['requests_per_s']:.0f} | {run['p50_ms']:.2f} | "
            f"{run['p99_ms']:.2f} | {run['errors']} | {run.get('mean_batch', '-')} | "
            f"{ref[str(c)]['rows_per_s']:.0f} | {run['requests_per_s'] / ref[str(c)]['rows_per_s']:.1%} |"
        )
    t = result["targets"]
    best = max(t["c64_ratio"], key=t["c64_ratio"].get)
    lines += [
        "",
        "Targets: at c=64 >= 50% of in-process batch-64 throughput: "
        + ", ".join(f"{k} **{v:.1%}**" for k, v in t["c64_ratio"].items())
        + f" ({'met' if t['c64_ratio'][best] >= 0.5 else 'not met'}); the HTTP floor itself reaches "
        f"**{t['c64_floor_ratio']:.1%}**. p99 at c=1 < 20 ms: **{t['c1_p99_ms']:.2f} ms** "
        f"({'met' if t['c1_p99_met'] else 'not met'}).",
        "",
        "Reading: in process, a batch of 64 windows costs little more than one (TensorFlow's per-call "
        "overhead dominates a 16-unit LSTM), so the in-process batch-64 figure is tens of thousands "
        "of rows/s. Each HTTP request costs the server a few hundred microseconds of Python (HTTP "
        "parsing, FastAPI routing and dependencies, JSON in and out, the hop to the inference "
        "thread) whatever the batching, and one worker is one core. Dynamic batching works (mean "
        "batch above: merged across workers) and keeps throughput flat or rising from c=16 to "
        "c=64; a second worker adds throughput only at c=64, as the load generator needs the "
        "other core too. The HTTP floor lands within a few points of the 50% target: meeting it "
        "would take a whole service (validation, batching, JSON out) that costs as little per "
        "request as answering a fixed body. On this machine it needs a model whose call costs "
        "more than the HTTP work, or more cores (workers, replicas behind the load balancer).",
        "",
    ]
    return "\n".join(lines) + "\n"


def update_doc(text: str) -> None:
    """Replace (or append) only the "## Serving" section of docs/benchmarks.md."""
    current = DOC.read_text() if DOC.is_file() else "# Benchmarks\n\n"
    start = current.find("## Serving")
    if start < 0:
        new = current.rstrip("\n") + "\n\n" + text
    else:
        nxt = current.find("\n## ", start + 1)
        new = current[:start] + text + ("" if nxt < 0 else current[nxt + 1 :])
    tmp = DOC.with_suffix(".md.tmp")
    tmp.write_text(new)
    os.replace(tmp, DOC)


def measure_service(
    model_dir: Path, work: Path, workers: int, window: int, requests: int, seconds: float
) -> dict[str, list[dict[str, Any]]]:
    port = free_port()
    server = start_server(model_dir, port, work / f"server-{workers}.log", workers)
    http: dict[str, list[dict[str, Any]]] = {}
    try:
        prices = [round(2700.0 + i * 0.37, 2) for i in range(window)]
        bodies = {
            "/v1/models/stock:predict": json.dumps({"instances": [prices]}).encode(),
            "/v1/stock/forecast": json.dumps({"prices": prices}).encode(),
        }
        for path, body in bodies.items():
            http[path] = []
            for c in CONCURRENCY:
                before = batch_stats(port)
                run = asyncio.run(load(port, path, body, c, requests, seconds))
                after = batch_stats(port)
                sig = Stock.SERVE if "predict" in path else Stock.PADDED
                rows0, calls0 = before.get(sig, (0.0, 0.0))
                rows1, calls1 = after.get(sig, (0.0, 0.0))
                run["mean_batch"] = (
                    round((rows1 - rows0) / (calls1 - calls0), 2) if calls1 > calls0 else "-"
                )
                print(_workers_label(workers), path, json.dumps(run))
                http[path].append(run)
    finally:
        stop_server(server)
    return http


def measure_floor(work: Path, requests: int, seconds: float) -> list[dict[str, Any]]:
    port = free_port()
    server = start_server(None, port, work / "floor.log")
    try:
        body = json.dumps({"instances": [[2700.0] * 20]}).encode()
        runs = []
        for c in CONCURRENCY:
            run = asyncio.run(load(port, "/v1/models/stock:predict", body, c, requests, seconds))
            print("HTTP floor", json.dumps(run))
            runs.append(run)
        return runs
    finally:
        stop_server(server)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.serving", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--model-dir",
        type=Path,
        help="a repository with a stock model (default: export a quick one)",
    )
    parser.add_argument(
        "--requests", type=int, default=10000, help="request cap per run (default 10000)"
    )
    parser.add_argument("--seconds", type=float, default=15.0, help="time cap per run (default 15)")
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=sorted({1, os.cpu_count() or 1}),
        help="uvicorn worker counts to measure (default: 1 and one per core)",
    )
    parser.add_argument("--no-docs", action="store_true", help="do not touch docs/benchmarks.md")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.seconds <= 0:
        parser.error(
            f"--requests and --seconds must be positive, got {args.requests} and {args.seconds}"
        )
    if any(w < 1 for w in args.workers):
        parser.error(f"--workers: counts must be positive, got {args.workers}")

    load_before = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        work = Path(tmp)
        model_dir, model_desc = prepare_model(args.model_dir, work / "models")
        window = window_of(model_dir)
        print(f"model: {model_desc}; window {window}")
        reference = in_process(model_dir, window, calls=2000, seconds=args.seconds)
        print("in-process:", json.dumps(reference))
        http = {
            _workers_label(w): measure_service(
                model_dir, work, w, window, args.requests, args.seconds
            )
            for w in args.workers
        }
        floor = measure_floor(work, args.requests, args.seconds)

    first = http[_workers_label(args.workers[0])]["/v1/models/stock:predict"]
    c1_p99 = next(r for r in first if r["concurrency"] == 1)["p99_ms"]
    c64 = {
        server: next(r for r in by_path["/v1/models/stock:predict"] if r["concurrency"] == 64)
        for server, by_path in http.items()
    }
    ratios = {
        k: round(r["requests_per_s"] / reference[64]["rows_per_s"], 4) for k, r in c64.items()
    }
    floor64 = next(r for r in floor if r["concurrency"] == 64)
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{os.cpu_count()} CPU cores, {platform.machine()}, no GPU",
        "load_average_1m": {"before": load_before, "after": round(os.getloadavg()[0], 2)},
        "model": model_desc,
        "window": window,
        "in_process": {
            str(k): {kk: round(vv, 3) for kk, vv in v.items()} for k, v in reference.items()
        },
        "http": http,
        "floor": floor,
        "targets": {
            "c64_ratio": ratios,
            "c64_ratio_met": max(ratios.values()) >= 0.5,
            "c64_floor_ratio": round(floor64["requests_per_s"] / reference[64]["rows_per_s"], 4),
            "c1_p99_ms": c1_p99,
            "c1_p99_met": c1_p99 < 20.0,
        },
    }
    write_results(result)
    print(f"wrote {RESULTS}")
    text = section(result)
    print(text)
    if not args.no_docs:
        update_doc(text)
        print(f"updated the Serving section of {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
