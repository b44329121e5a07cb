"""Prometheus metrics of one app instance (its own registry, so tests can build many apps).

Names follow Prometheus conventions: ``serving_requests_total{route,method,status}``,
``serving_request_seconds{route}`` (histogram), ``serving_batch_size{model,signature}`` and
``serving_inference_seconds{model,signature}`` (histograms of the merged calls),
``serving_queued_rows`` and ``serving_model_version_state{model,version,state}`` (1 for the
version's current state).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

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


class Metrics:
    def __init__(self) -> None:
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
        self.queued = Gauge(
            "serving_queued_rows", "Rows waiting or running in the batcher.", registry=self.registry
        )
        self.versions = Gauge(
            "serving_model_version_state",
            "1 for each model version's current state.",
            ["model", "version", "state"],
            registry=self.registry,
        )

    def observe_batch(self, model: str, signature: str, size: int, seconds: float) -> None:
        self.batch_size.labels(model, signature).observe(size)
        self.inference.labels(model, signature).observe(seconds)

    def set_versions(self, models: dict[str, dict[int, object]]) -> None:
        self.versions.clear()
        for name, versions in models.items():
            for v, mv in versions.items():
                self.versions.labels(name, str(v), getattr(mv, "state", "UNKNOWN")).set(1)
