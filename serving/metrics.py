"""Prometheus metrics of one app instance (its own registry, so tests can build many apps).

Names follow Prometheus conventions: ``serving_requests_total{route,method,status}``,
``serving_request_seconds{route}`` (histogram), ``serving_batch_size{model,signature}`` and
``serving_inference_seconds{model,signature}`` (histograms of the merged calls),
``serving_queued_rows`` and ``serving_model_version_state{model,version,state}`` (1 for the
version's current state).

Several uvicorn workers (``keras-rnn serve --workers N``) are separate processes, each with its
own values; a scrape reaches one of them. With ``PROMETHEUS_MULTIPROC_DIR`` set (the CLI sets
it for N > 1), prometheus_client keeps every worker's values in files there and ``/metrics``
answers with the merge over all workers: counters and histograms summed (a dead worker's
counts included), ``serving_queued_rows`` summed over live workers, and each version state 1
when any live worker has the version in that state.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, values
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

_LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.02,
    0.03,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
_VERSION_STATE = "serving_model_version_state"


def multiprocess_mode() -> bool:
    """Whether values live in ``PROMETHEUS_MULTIPROC_DIR`` files shared by the workers.

    prometheus_client decides once, when it is imported, from the environment; asking its
    value class (not the environment now) keeps this answer equal to where values really go.
    """
    return bool(getattr(values.ValueClass, "_multiprocess", False))


class Metrics:
    """The service's metrics; per app instance with one worker, shared files with several."""

    def __init__(self) -> None:
        self.multiprocess = multiprocess_mode()
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "serving_requests",
            "HTTP requests by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "serving_request_seconds",
            "HTTP request latency by route template.",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "serving_batch_size",
            "Rows per merged model call.",
            ["model", "signature"],
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.inference = Histogram(
            "serving_inference_seconds",
            "Duration of merged model calls.",
            ["model", "signature"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        # The multiprocess modes apply only with several workers: the queue depth of the
        # service is the sum of the workers' queues, and a version is in a state when any
        # worker has it there (the same labels as with one worker, so queries do not change).
        self.queued = Gauge(
            "serving_queued_rows",
            "Rows waiting or running in the batcher.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.versions = Gauge(
            _VERSION_STATE,
            "1 for each model version's current state.",
            ["model", "version", "state"],
            registry=self.registry,
            multiprocess_mode="livemax",
        )
        self._version_series: set[tuple[str, str, str]] = set()
        # Children by labels: `labels()` takes a lock and builds its key on every call.
        self._request_children: dict[tuple[str, str, str], tuple[Any, Any]] = {}
        self._batch_children: dict[tuple[str, str], tuple[Any, Any]] = {}

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one HTTP request and its latency (by route template, method, status)."""
        key = (route, method, str(status))
        children = self._request_children.get(key)
        if children is None:
            children = (self.requests.labels(*key), self.latency.labels(route))
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def observe_batch(self, model: str, signature: str, size: int, seconds: float) -> None:
        """Count one merged model call: its rows and its duration."""
        key = (model, signature)
        children = self._batch_children.get(key)
        if children is None:
            children = (self.batch_size.labels(*key), self.inference.labels(*key))
            self._batch_children[key] = children
        children[0].observe(size)
        children[1].observe(seconds)

    def set_versions(self, models: dict[str, dict[int, object]]) -> None:
        current = [
            (name, str(v), getattr(mv, "state", "UNKNOWN"))
            for name, versions in models.items()
            for v, mv in versions.items()
        ]
        if self.multiprocess:
            # A worker's value file cannot forget a series: 0 marks a state this worker has
            # left, and the scrape drops the zeros (see _Workers).
            for labels in self._version_series.difference(current):
                self.versions.labels(*labels).set(0)
        else:
            self.versions.clear()
        for labels in current:
            self.versions.labels(*labels).set(1)
        self._version_series = set(current)

    def exposition(self) -> bytes:
        """The text format for ``/metrics``: this app's registry, or all workers' files merged."""
        if not self.multiprocess:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        registry.register(_Workers(os.environ["PROMETHEUS_MULTIPROC_DIR"]))
        return generate_latest(registry)

    def process_exit(self) -> None:
        """Drop this worker from the live gauges (its queue and version states) as it exits."""
        if self.multiprocess:
            mark_process_dead(os.getpid())


class _Workers:
    """Collector: the merge of every worker's value files, read at scrape time."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._merge = MultiProcessCollector(None, path)

    def collect(self) -> Iterable[Metric]:
        self._forget_dead_workers()
        for metric in self._merge.collect():
            if metric.name == _VERSION_STATE:
                metric.samples = [s for s in metric.samples if s.value]
            yield metric

    def _forget_dead_workers(self) -> None:
        # A worker killed without its shutdown (OOM killer, crash; uvicorn starts another)
        # never marked itself dead: its queue would stay in the sum forever.
        for pid in set(self._live_gauge_pids()):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                mark_process_dead(pid, self._path)
            except PermissionError:
                pass  # alive, owned by another user

    def _live_gauge_pids(self) -> Iterator[int]:
        for path in glob.glob(os.path.join(self._path, "gauge_live*_*.db")):
            pid = os.path.basename(path)[: -len(".db")].rsplit("_", 1)[1]
            if pid.isdigit():
                yield int(pid)
