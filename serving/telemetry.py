"""Whether FastAPI's native OpenTelemetry instrumentation watches the service.

FastAPI (0.165 on) asks on every request whether a global OpenTelemetry tracer, meter or
logger provider has been configured, and instruments the request if one has. Unconfigured,
the question alone costs three provider look-ups (about 3 us, some 5% of the Python a
prediction costs the event loop at 16 clients). ``SERVING_TELEMETRY`` decides once instead:

- ``auto`` (default): FastAPI's own behaviour when, as the app is created, a provider is
  configured (``opentelemetry-instrument``, or the application's own set-up) or FastAPI's
  ``FASTAPI_OTEL_AUTO_CONFIGURE=true`` asks it to configure exporters itself; otherwise off.
- ``on``: FastAPI's own behaviour, asked per request, for a provider set after the app.
- ``off``: no instrumentation, whatever is configured.
"""

from __future__ import annotations

import os
from typing import Any, Literal

TelemetryMode = Literal["auto", "on", "off"]

OFF: dict[str, Any] = {"tracing": False, "metrics": False, "logs": False}

# The API's placeholders until an SDK (or a vendor's) provider is set: FastAPI's own test.
_PLACEHOLDERS = frozenset(
    {
        ("opentelemetry.trace", "ProxyTracerProvider"),
        ("opentelemetry.metrics._internal", "_ProxyMeterProvider"),
        ("opentelemetry._logs._internal", "ProxyLoggerProvider"),
    }
)


def provider_configured() -> bool:
    """True when a global OpenTelemetry tracer, meter or logger provider has been set."""
    try:
        from opentelemetry import _logs, metrics, trace
    except ImportError:  # an older FastAPI without the opentelemetry-api dependency
        return False
    providers = (
        trace.get_tracer_provider(),
        metrics.get_meter_provider(),
        _logs.get_logger_provider(),
    )
    return any((type(p).__module__, type(p).__name__) not in _PLACEHOLDERS for p in providers)


def fastapi_config(mode: TelemetryMode) -> dict[str, Any] | None:
    """``FastAPI(telemetry=...)`` for ``mode``: None keeps FastAPI's defaults."""
    if mode == "on":
        return None
    if mode == "auto" and (
        os.getenv("FASTAPI_OTEL_AUTO_CONFIGURE", "").lower() == "true" or provider_configured()
    ):
        return None
    return dict(OFF)
