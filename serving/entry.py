"""The service's FastAPI app, entered below the layers that do nothing for it.

FastAPI (0.165) wraps every HTTP request in five calls before the first middleware of ours:
``FastAPI.__call__`` (the app's ``root_path``, and FastAPI's OpenTelemetry instrumentation),
``Starlette.__call__`` (``scope["app"]``), ``ServerErrorMiddleware`` (the 500 answer),
``ExceptionTelemetryMiddleware`` (exceptions recorded on the request's span) and
``AppBodyLimitMiddleware`` (the app's ``max_body_size``). With the service's configuration
three of them only pass the request on: the app has no ``root_path``, the instrumentation is
off (``SERVING_TELEMETRY``, serving/telemetry.py: with it off there is no span to record on)
and ``max_body_size`` is unset (``ServiceMiddleware`` applies ``SERVING_MAX_BODY_BYTES``).
Those calls were about 4% of the instructions the event loop spends on a prediction.

:class:`ServiceApp` then sets ``scope["app"]`` itself and enters at a
``ServerErrorMiddleware`` with the app's own 500 handler, in front of the app's own first
middleware. Everything else (lifespan, websockets, a request that carries a parent app's
body limit, telemetry on, a ``root_path``, debug, or a middleware stack of another shape,
as another FastAPI version builds it) goes through ``FastAPI.__call__`` as usual.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.errors import ServerErrorMiddleware

from .fastpath import FastLane, FastRoutes

# Starlette's scope key for a parent app's body limit (a mounted app shares its counter).
_PARENT_LIMIT = "starlette.max_body_size"


def _passes_through(layer: Any, app: FastAPI, telemetry_off: bool) -> bool:
    """Whether ``layer``, one of FastAPI's own, only calls the next one for this app."""
    kind = (type(layer).__module__, type(layer).__name__)
    if kind == ("fastapi.telemetry._asgi", "ExceptionTelemetryMiddleware"):
        return telemetry_off
    if kind == ("fastapi._body_limit", "AppBodyLimitMiddleware"):
        # Without a limit FastAPI wraps nothing: the layer's app is the next layer itself.
        return getattr(app, "max_body_size", None) is None
    return False


class ServiceApp(FastAPI):
    """FastAPI, entered at its first own middleware where the layers before it pass through."""

    def __init__(self, *args: Any, first_middleware: type, telemetry_off: bool, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._first_middleware = first_middleware
        self._telemetry_off = telemetry_off
        self._entry: Any = None  # built with the middleware stack; False: use FastAPI's path
        self._lane: FastLane | None = None

    def _build_entry(self) -> Any:
        """``ServerErrorMiddleware`` in front of the first middleware of ours, or False; and
        the lane, where that middleware leads straight to :class:`FastRoutes` (or through
        CORS)."""
        if self.middleware_stack is None:
            self.middleware_stack = self.build_middleware_stack()
        stack = self.middleware_stack
        if (
            not self._telemetry_off
            or self.root_path
            or self.debug
            or type(stack) is not ServerErrorMiddleware
        ):
            return False
        layer = stack.app
        while not isinstance(layer, self._first_middleware):
            if not _passes_through(layer, self, self._telemetry_off):
                return False
            layer = layer.app
        service, inner = layer, layer.app
        cors = isinstance(inner, CORSMiddleware)
        if cors:
            inner = inner.app
        if isinstance(inner, FastRoutes) and inner.handlers is not None:
            self._lane = FastLane(inner, service, stack, cors)
        return ServerErrorMiddleware(service, handler=stack.handler, debug=stack.debug)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        entry = self._entry
        if entry is None:
            entry = self._entry = self._build_entry()
        if entry and scope["type"] == "http" and _PARENT_LIMIT not in scope:
            scope["app"] = self
            lane = self._lane
            if lane is not None:
                found = lane.match(scope)
                if found is not None:
                    await lane.serve(found, scope, receive, send)
                    return
            await entry(scope, receive, send)
            return
        await super().__call__(scope, receive, send)
