"""Metrics with several uvicorn workers (prometheus_client's multiprocess mode).

Each worker is its own process and a scrape reaches one of them, so ``/metrics`` must answer
with the merge over all workers. prometheus_client picks multiprocess mode when it is
imported, so the merge is tested in fresh processes: a real ``--workers 2`` server, and small
Python processes playing workers. In process: the batcher's queue reports and the CLI's
handling of ``PROMETHEUS_MULTIPROC_DIR`` (with ``uvicorn.run`` replaced).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest

from serving import cli
from serving.app import create_app
from serving.batching import Batcher
from serving.settings import Settings
from tests.fixtures.savedmodels import write_stock_model
from tests.serving.helpers import REPO, LiveServer

PREDICT_ROUTE = "/v1/stock/forecast"


def _worker_of(response: httpx.Response) -> str:
    """The answering process: made request ids start with a random per-process prefix."""
    return response.headers["x-request-id"].rsplit("-", 1)[0]


def _fresh(url: str, method: str, path: str, **kwargs) -> httpx.Response:
    """One request on its own connection, so the kernel may hand it to either worker."""
    with httpx.Client(base_url=url, timeout=10) as http:
        return http.request(method, path, **kwargs)


def _samples(text: str, name: str) -> dict[str, float]:
    """``{labels: value}`` of one metric in the text format."""
    found = {}
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            series, value = line.rsplit(" ", 1)
            found[series[len(name) :]] = float(value)
    return found


def _workers_of(server: LiveServer, count: int, timeout: float = 30.0) -> list[int]:
    """The pids of uvicorn's worker processes (spawned children of the server), oldest first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.proc.poll() is None, f"the server exited:\n{server.log()}"
        children = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children")
        workers = []
        for pid in map(int, children.read_text().split()):
            with contextlib.suppress(OSError):
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                if b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
                    workers.append(pid)
        if len(workers) == count:
            return sorted(workers)
        time.sleep(0.01)
    raise AssertionError(f"no {count} workers within {timeout} s:\n{server.log()}")


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc for the workers")
def test_two_workers_serve_only_when_warm_and_expose_the_sum_of_their_metrics(
    tmp_path: Path, monkeypatch
):
    """One worker is held back (SIGSTOP) until the other is ready, then let go: while it loads,
    every request is answered 200 by the warm worker, never 503 by the loading one. Each
    scrape, whichever worker takes it, counts both workers' requests (without multiprocess
    mode it would show one worker's share)."""
    root = tmp_path / "models"
    write_stock_model(root, 1)
    tmp = tmp_path / "tmp"  # the server's TMPDIR: where its private metrics directory goes
    tmp.mkdir()
    monkeypatch.delenv(cli.MULTIPROC_VAR, raising=False)
    server = LiveServer(
        root,
        tmp_path / "server.log",
        args=["--workers", "2", "--poll-interval", "0"],
        TMPDIR=str(tmp),
    )
    late = None
    try:
        late = _workers_of(server, 2)[-1]
        os.kill(late, signal.SIGSTOP)
        server.wait_ready()
        first = _worker_of(_fresh(server.url, "GET", "/readyz"))
        # uvicorn replaces a worker that misses its 5 s health ping: then its replacement is
        # the one that loads late, which tests the same thing.
        with contextlib.suppress(ProcessLookupError):
            os.kill(late, signal.SIGCONT)
        statuses, by_late = [], 0
        deadline = time.monotonic() + 90
        with ThreadPoolExecutor(4) as pool:
            while by_late < 5 or len(statuses) < 40:  # until the late one, warm, takes a share
                assert time.monotonic() < deadline, (
                    f"the late worker never answered:\n{server.log()}"
                )
                batch = list(
                    pool.map(
                        lambda _: _fresh(
                            server.url, "POST", PREDICT_ROUTE, json={"prices": [1.0, 2.0]}
                        ),
                        range(8),
                    )
                )
                statuses += [r.status_code for r in batch]
                by_late += sum(_worker_of(r) != first for r in batch)
        assert set(statuses) == {200}, {s: statuses.count(s) for s in set(statuses)}
        sent = len(statuses)

        for _ in range(6):  # fresh connections: either worker may answer
            r = _fresh(server.url, "GET", "/metrics")
            requests = _samples(r.text, "serving_requests_total")
            predicts = sum(v for k, v in requests.items() if f'route="{PREDICT_ROUTE}"' in k)
            assert predicts == sent, (predicts, sent, requests)
            # histograms merge too: one row per request went through the batcher
            rows = _samples(r.text, "serving_batch_size_sum")
            assert sum(rows.values()) == sent, rows
            assert _samples(r.text, "serving_queued_rows") == {"": 0.0}
            states = _samples(r.text, "serving_model_version_state")
            assert states == {'{model="stock",state="AVAILABLE",version="1"}': 1.0}, states
        metrics_dirs = list(tmp.glob("keras-rnn-metrics-*"))
        assert len(metrics_dirs) == 1 and any(metrics_dirs[0].glob("*.db")), metrics_dirs
    finally:
        if late is not None:
            with contextlib.suppress(OSError):
                os.kill(late, signal.SIGCONT)
        code = server.stop()
    assert code in (0, -15), server.log()
    assert not list(tmp.glob("keras-rnn-metrics-*")), "the metrics directory was left behind"


@pytest.mark.parametrize("workers", [1, 2])
def test_with_several_workers_a_worker_starts_serving_only_once_warm(tmp_path: Path, workers):
    """uvicorn accepts on a worker's socket after its lifespan startup. With several workers a
    loading one must not take connections (it would answer 503 where another is warm): its
    startup waits for the first scan. With one worker, /healthz answers while it loads."""
    (tmp_path / "stock" / "1").mkdir(parents=True)
    app = create_app(Settings(model_dir=tmp_path, workers=workers, poll_interval_s=0, settle_s=0))
    release, loading = threading.Event(), threading.Event()

    def slow_loader(mv, warmup: bool) -> None:
        loading.set()
        assert release.wait(10)

    app.state.service.registry._loader = slow_loader

    async def main() -> tuple[bool, bool]:
        started, finish = asyncio.Event(), asyncio.Event()

        async def serve() -> None:
            async with app.router.lifespan_context(app):
                started.set()
                await finish.wait()

        task = asyncio.create_task(serve())
        await asyncio.to_thread(loading.wait, 10)
        await asyncio.sleep(0.3)
        before = started.is_set()
        release.set()
        await asyncio.wait_for(started.wait(), 10)
        ready = await asyncio.to_thread(app.state.service.registry.wait_ready, 10)
        finish.set()
        await asyncio.wait_for(task, 10)
        return before, ready

    started_while_loading, ready_after = asyncio.run(main())
    assert started_while_loading is (workers == 1)
    assert ready_after


_WORKER = """
import os, sys
from types import SimpleNamespace as V
from serving.metrics import Metrics

m = Metrics()
assert m.multiprocess
if sys.argv[1] == "crashes":
    for _ in range(3):
        m.requests.labels("/p", "POST", "200").inc()
    m.observe_batch("stock", "padded", 4, 0.01)
    m.set_versions({"stock": {1: V(state="AVAILABLE"), 2: V(state="LOADING")}})
    m.queued.set(2)
    os._exit(0)  # killed: no shutdown, so it never marks itself dead
for _ in range(2):
    m.requests.labels("/p", "POST", "200").inc()
m.set_versions({"stock": {1: V(state="LOADING")}})
m.set_versions({"stock": {1: V(state="AVAILABLE")}})
m.queued.set(1)
print(m.exposition().decode(), "=====")
m.process_exit()
print(m.exposition().decode())
"""


def test_worker_files_merge_and_dead_workers_leave_the_live_gauges(tmp_path: Path):
    """Two processes in multiprocess mode, one after the other: the first dies without its
    shutdown (a crashed worker), the second scrapes while alive and after it marks itself
    dead. Counters and histograms keep the dead worker's counts; the queue and the version
    states count live workers only, and a state a worker has left is gone."""
    env = {**os.environ, cli.MULTIPROC_VAR: str(tmp_path), "PYTHONPATH": str(REPO)}

    def worker(role: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", _WORKER, role],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    worker("crashes")
    alive, after_exit = worker("scrapes").split("=====")

    assert _samples(alive, "serving_requests_total") == {
        '{method="POST",route="/p",status="200"}': 5.0
    }
    assert _samples(alive, "serving_batch_size_sum") == {'{model="stock",signature="padded"}': 4.0}
    assert _samples(alive, "serving_queued_rows") == {"": 1.0}
    assert _samples(alive, "serving_model_version_state") == {
        '{model="stock",state="AVAILABLE",version="1"}': 1.0
    }
    assert _samples(after_exit, "serving_requests_total") == {
        '{method="POST",route="/p",status="200"}': 5.0
    }
    assert _samples(after_exit, "serving_queued_rows") == {}
    assert _samples(after_exit, "serving_model_version_state") == {}


def test_batcher_pushes_the_queue_once_per_loop_turn():
    """The queue gauge is pushed by the batcher (a scrape-time callback cannot see other
    workers): once per turn of the event loop in which the count changed, so it rises with
    queued rows and is back at 0 when all are answered, without a push per change."""
    from tests.serving.test_serving_batching import SlowDouble

    async def main() -> tuple[list[int], list[int]]:
        seen: list[int] = []
        batcher = Batcher(Settings(max_batch_size=2, num_batch_threads=1), on_queued=seen.append)
        x = {"x": np.ones((1, 1)), "s": np.array(1.0)}
        calls = [batcher.run(("k",), SlowDouble(0.01), x, ["x"]) for _ in range(6)]
        waiting = asyncio.gather(*calls)
        await asyncio.sleep(0)  # a turn: all six admitted
        await asyncio.sleep(0)  # the next: their one push
        after_turn = list(seen)
        await waiting
        await asyncio.sleep(0)
        await batcher.run(("alone",), SlowDouble(0.0), x, [])  # the unmerged path
        await batcher.close()
        return after_turn, seen

    after_turn, seen = asyncio.run(main())
    assert after_turn == [6], seen  # six changes in one turn: one push, of the total
    assert max(seen) == 6 and seen[-1] == 0, seen
    assert 0 in seen[1:-1], seen  # drained before the unmerged call, pushed at close
    assert len(seen) < 2 * 7, seen  # fewer pushes than changes (7 requests, 14 changes)


@pytest.fixture
def fake_uvicorn(monkeypatch) -> list[tuple[str | None, bool]]:
    """`uvicorn.run` replaced: records (PROMETHEUS_MULTIPROC_DIR, is it a directory) at start."""
    import uvicorn

    import serving.app

    started: list[tuple[str | None, bool]] = []

    def fake_run(app: str, **kwargs) -> None:
        path = os.environ.get(cli.MULTIPROC_VAR)
        started.append((path, path is not None and os.path.isdir(path)))

    monkeypatch.setattr(uvicorn, "run", fake_run)
    monkeypatch.setattr(serving.app, "configure_logging", lambda level: None)
    for var in ("SERVING_MODEL_DIR", "SERVING_WORKERS", cli.MULTIPROC_VAR):
        monkeypatch.delenv(var, raising=False)  # the user's own settings would change these tests
    return started


def test_cli_leaves_the_callers_environment_as_it_was(tmp_path, fake_uvicorn, monkeypatch):
    """The flags reach the workers through the environment, for as long as the server runs."""
    import uvicorn

    seen = {}
    monkeypatch.setattr(
        uvicorn, "run", lambda app, **kw: seen.update(workers=os.environ["SERVING_WORKERS"])
    )
    monkeypatch.setenv("SERVING_WORKERS", "3")
    assert cli.main(["--model-dir", str(tmp_path), "--workers", "2", "--port", "9001"]) == 0
    assert seen == {"workers": "2"}
    assert os.environ["SERVING_WORKERS"] == "3"
    assert "SERVING_PORT" not in os.environ and "SERVING_MODEL_DIR" not in os.environ


def test_cli_gives_several_workers_a_private_metrics_dir(tmp_path, fake_uvicorn):
    assert cli.main(["--model-dir", str(tmp_path), "--workers", "2"]) == 0
    [(path, was_dir)] = fake_uvicorn
    assert was_dir and Path(path).name.startswith("keras-rnn-metrics-")
    assert not Path(path).exists() and cli.MULTIPROC_VAR not in os.environ


def test_cli_removes_the_metrics_dir_when_the_server_fails(tmp_path, fake_uvicorn, monkeypatch):
    import uvicorn

    def port_taken(app: str, **kwargs) -> None:
        fake_uvicorn.append((os.environ[cli.MULTIPROC_VAR], True))
        raise SystemExit(1)  # what uvicorn does when it cannot bind

    monkeypatch.setattr(uvicorn, "run", port_taken)
    with pytest.raises(SystemExit):
        cli.main(["--model-dir", str(tmp_path), "--workers", "3"])
    assert not Path(fake_uvicorn[0][0]).exists() and cli.MULTIPROC_VAR not in os.environ


def test_cli_one_worker_keeps_metrics_in_process(tmp_path, fake_uvicorn):
    assert cli.main(["--model-dir", str(tmp_path)]) == 0
    assert fake_uvicorn == [(None, False)]


def test_cli_uses_the_users_metrics_dir_as_given(tmp_path, fake_uvicorn, monkeypatch):
    shared = tmp_path / "prom"
    shared.mkdir()
    (shared / "counter_1.db").write_bytes(b"")  # the user's to manage: not wiped
    monkeypatch.setenv(cli.MULTIPROC_VAR, str(shared))
    assert cli.main(["--model-dir", str(tmp_path), "--workers", "2"]) == 0
    assert fake_uvicorn == [(str(shared), True)]
    assert (shared / "counter_1.db").exists() and os.environ[cli.MULTIPROC_VAR] == str(shared)


@pytest.mark.parametrize("kind", ["missing", "file", "empty"])
def test_cli_rejects_a_metrics_dir_it_cannot_use(kind, tmp_path, fake_uvicorn, monkeypatch, capsys):
    value = {"missing": str(tmp_path / "nope"), "file": str(tmp_path / "f"), "empty": ""}[kind]
    (tmp_path / "f").write_text("")
    monkeypatch.setenv(cli.MULTIPROC_VAR, value)
    assert cli.main(["--model-dir", str(tmp_path), "--workers", "2"]) == 2
    err = capsys.readouterr().err
    assert f"{cli.MULTIPROC_VAR}={value!r}" in err and "not a writable directory" in err, err
    assert fake_uvicorn == []
