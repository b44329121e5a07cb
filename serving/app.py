"""The FastAPI application: ``uvicorn serving.app:app`` or ``keras-rnn serve``.

``create_app(settings)`` wires the routers, error handlers, middleware, CORS and the web page
(``serving/static/`` at ``/`` when present). The lifespan starts the model watcher (first scan
in the background: ``/readyz`` turns 200 once every model is loaded and warm; with several
workers each worker's startup waits for its first scan instead, so that only warm workers take
connections) and, on shutdown, after uvicorn has let in-flight requests finish, stops the
watcher and the batcher.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from . import auth, errors, telemetry
from .encoding import JSONBody
from .entry import ServiceApp
from .fastpath import FastRoutes
from .fastpath import fast_routes as find_routes
from .middleware import ServiceMiddleware
from .requestid import RequestIdFilter
from .routes import ops, tasks, tfserving, v2
from .service import Service
from .settings import Settings

STATIC = Path(__file__).parent / "static"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def configure_logging(level: str = "info") -> None:
    """Log lines carry the request id; idempotent."""
    root = logging.getLogger("serving")
    root.setLevel(level.upper())
    if not any(getattr(h, "_serving", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        handler.addFilter(RequestIdFilter())
        handler._serving = True  # type: ignore[attr-defined]
        root.addHandler(handler)
        root.propagate = False


# The prediction POSTs served by serving.fastpath (the same endpoints, without FastAPI's
# per-request routing and dependency solving); every other route goes through FastAPI.
FAST_ENDPOINTS = (
    tfserving.predict,
    tfserving.predict_version,
    v2.infer,
    v2.infer_version,
    tasks.forecast,
    tasks.text_next,
    tasks.text_generate,
)


def create_app(settings: Settings | None = None, *, fast_routes: bool = True) -> FastAPI:
    """The service's app; ``fast_routes=False`` sends every request through FastAPI's own
    routing (the tests compare both)."""
    settings = settings or Settings()
    service = Service(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.start()
        try:
            if settings.workers > 1:
                # uvicorn starts accepting on a worker's socket only after its startup: a
                # worker still loading then takes no connection from the shared socket, so a
                # client that saw one worker ready never meets one that is not.
                await asyncio.to_thread(service.registry.initial_scan_done.wait)
            yield
        finally:
            await service.stop()

    tele = telemetry.fastapi_config(settings.telemetry)
    app = ServiceApp(
        title="keras-rnn prediction service",
        version="0.1.0",
        description=(
            "Serves the exported stock and text SavedModels. TensorFlow Serving REST API "
            "(`/v1/models/...`), Open Inference Protocol v2 (`/v2/...`), task endpoints, "
            'health, readiness and Prometheus metrics. Errors are `{"error": "..."}`.'
        ),
        lifespan=lifespan,
        default_response_class=JSONBody,
        telemetry=tele,
        first_middleware=ServiceMiddleware,
        telemetry_off=tele is not None and not any(tele.values()),
    )
    app.state.settings = settings
    app.state.service = service
    errors.install(app)
    # Prediction routes first: routes are matched in order, on every request.
    routers = (tasks.router, tfserving.router, v2.router, v2.health, ops.router, ops.admin)
    for router in routers:
        app.include_router(router)
    auth.document(app, routers)
    if fast_routes:
        # The innermost middleware: CORS and ServiceMiddleware wrap it as they wrap FastAPI.
        app.add_middleware(FastRoutes, routes=lambda a: find_routes(a, FAST_ENDPOINTS))
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "HEAD", "POST", "OPTIONS"],
            allow_headers=[
                "Content-Type",
                "Content-Encoding",
                "Authorization",
                "X-API-Key",
                "X-Request-ID",
            ],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    app.add_middleware(
        ServiceMiddleware, metrics=service.metrics, max_body_bytes=settings.max_body_bytes
    )
    if STATIC.is_dir() and any(STATIC.iterdir()):
        app.mount("/", StaticFiles(directory=STATIC, html=True), name="static")
    else:

        @app.get("/", include_in_schema=False)
        def index() -> JSONBody:
            return JSONBody(
                {
                    "service": "keras-rnn",
                    "docs": "/docs",
                    "models": "/v1/models",
                    "ready": "/readyz",
                }
            )

    return app


def __getattr__(name: str) -> FastAPI:
    # `uvicorn serving.app:app` builds the app from the environment on first access, so
    # importing this module (tests, `keras-rnn serve`) has no side effects.
    if name == "app":
        configure_logging(Settings().log_level)
        app = create_app()
        globals()["app"] = app
        return app
    raise AttributeError(name)
