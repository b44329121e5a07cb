"""A lean dispatch of the prediction POSTs, in front of FastAPI's router; same answers.

On a small model FastAPI's per-request machinery (matching the path against every route,
solving dependencies with their caches and exit stacks, validating path parameters through
pydantic) cost more CPU than the endpoint itself: a profile at 64 connections put about
40% of the service's Python time between our middleware and the endpoint. For a short,
explicit list of routes (``create_app`` passes the prediction endpoints) this module matches
the path itself and runs **the route's own** dependencies (the API key check, the body
parser, the service lookup) and endpoint, in FastAPI's order, with the app's own exception
handlers (Starlette's ``wrap_app_handling_exceptions``, entered when one is raised). So the
validation, the limits, the error mapping and the metrics are the ones every other route
uses; nothing is written twice. The routes stay registered with FastAPI (OpenAPI, ``/docs``,
and the fallback below).

Two ways, the same answers (the tests compare both with FastAPI's):

* :class:`FastLane`, in front of the whole middleware stack (``serving.entry.ServiceApp``
  calls it): one coroutine for what ``ServerErrorMiddleware``, ``ServiceMiddleware`` and
  the router do for such a request, with their own code (the request id, body limits and
  decoding, metrics and access log of ``ServiceMiddleware``; the 500 answer of
  ``ServerErrorMiddleware``). Each level of awaiting costs twice per request, on the way in
  and when the batch's answer resumes it: the lane cut the event loop's instructions per
  generation request by about a fifth at 16 clients (docs/serving.md).
* :class:`FastRoutes`, the innermost middleware, for the requests the lane leaves to the
  stack because a layer there has something to add: a browser's request (``Origin``) where
  CORS is on, and any request while FastAPI's OpenTelemetry instrumentation is on.

A request falls through to FastAPI, unchanged, whenever the fast path could differ from it:
another method or path; a path parameter that is not plain ASCII digits for an ``int``
(FastAPI also reads ``+1``, ``1_0``, `` 1``: it gives those their usual answer); dependency
overrides (tests); a ``root_path``; or when the app's middleware stack is not the one this
was written for (then nothing is fast). A route is fast only if its dependencies are
``async`` callables of the request alone, its other parameters are ``str``/``int`` path
parameters or the request, and its endpoint is ``async`` and annotated to return a
:class:`~starlette.responses.Response` (FastAPI sends such a return value as it is).
"""

from __future__ import annotations

import inspect
import re
import time
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette._exception_handler import wrap_app_handling_exceptions
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import Response

from .middleware import Answer, ServiceMiddleware, _Reject
from .requestid import request_id, request_id_of

_DIGITS = re.compile(r"[0-9]{1,18}")


@dataclass(frozen=True)
class _Plan:
    """How to call one route: its dependencies and parameters, resolved once."""

    route: APIRoute
    regex: re.Pattern[str]
    ints: frozenset[str]  # path parameters FastAPI converts to int
    deps: tuple[tuple[Callable[[Request], Any], str | None], ...]  # (call, parameter or None)
    request_name: str | None

    async def call(self, request: Request, params: dict[str, Any]) -> Response:
        """The route's dependencies, in FastAPI's order, then its endpoint."""
        values = dict(params)
        for call, name in self.deps:
            result = await call(request)
            if name is not None:
                values[name] = result
        if self.request_name is not None:
            values[self.request_name] = request
        return await self.route.dependant.call(**values)

    def params(self, strings: dict[str, str]) -> dict[str, Any] | None:
        """The path parameters as FastAPI gives them, or None where it might differ."""
        values: dict[str, Any] = dict(strings)
        for name in self.ints:
            if not _DIGITS.fullmatch(values[name]):
                return None
            values[name] = int(values[name])
        return values


def _plan(route: APIRoute) -> _Plan | None:
    """A plan for ``route``, or None when its shape is not one handled exactly here."""
    d = route.dependant
    if (
        d.query_params
        or d.header_params
        or d.cookie_params
        or d.body_params
        or d.http_connection_param_name
        or d.websocket_param_name
        or d.response_param_name
        or d.background_tasks_param_name
        or d.security_scopes_param_name
        or not inspect.iscoroutinefunction(d.call)
        or route.methods != {"POST"}
    ):
        return None
    try:
        returns = typing.get_type_hints(d.call).get("return")
    except Exception:
        return None
    if not (isinstance(returns, type) and issubclass(returns, Response)):
        return None
    ints = set()
    for field in d.path_params:
        kind = field.field_info.annotation
        if kind is int:
            ints.add(field.name)
        elif kind is not str:
            return None
    if set(route.param_convertors) != {f.name for f in d.path_params} or any(
        type(c).__name__ != "StringConvertor" for c in route.param_convertors.values()
    ):
        return None
    deps = []
    for sub in d.dependencies:
        plain = (
            not sub.dependencies
            and not sub.path_params
            and not sub.query_params
            and not sub.header_params
            and not sub.cookie_params
            and not sub.body_params
            and sub.request_param_name is not None
            and inspect.iscoroutinefunction(sub.call)
            and len(inspect.signature(sub.call).parameters) == 1
        )
        if not plain:
            return None
        deps.append((sub.call, sub.name))
    return _Plan(route, route.path_regex, frozenset(ints), tuple(deps), d.request_param_name)


def fast_routes(app: FastAPI, endpoints: Iterable[Callable[..., Any]]) -> list[APIRoute]:
    """The app's POST routes whose endpoint is one of ``endpoints`` (in the app's order)."""
    wanted = set(endpoints)
    found: list[APIRoute] = []

    def walk(routes: Iterable[Any]) -> None:
        for route in routes:
            if isinstance(route, APIRoute) and route.endpoint in wanted:
                found.append(route)
            original = getattr(route, "original_router", None)
            if original is not None:  # FastAPI's included routers
                walk(original.routes)

    walk(app.router.routes)
    return found


class _Plans:
    """The planned routes of an app, looked up by path: a fixed path by itself, the others
    by their patterns in the app's order (built on first use, when the routes are final)."""

    def __init__(self, routes: Callable[[FastAPI], list[APIRoute]]):
        self._routes = routes
        self._patterns: list[_Plan] | None = None
        self._exact: dict[str, _Plan] = {}

    def _build(self, app: FastAPI) -> list[_Plan]:
        patterns: list[_Plan] = []
        for plan in (_plan(r) for r in self._routes(app)):
            if plan is None:
                continue
            path = plan.route.path
            # A fixed path is looked up by itself unless an earlier route also matches it.
            if not plan.route.param_convertors and not any(p.regex.match(path) for p in patterns):
                self._exact.setdefault(path, plan)
            else:
                patterns.append(plan)
        self._patterns = patterns
        return patterns

    def match(self, app: FastAPI, path: str) -> tuple[_Plan, dict[str, str], dict[str, Any]] | None:
        """The plan serving ``path``, its path parameters as matched (strings) and as the
        endpoint takes them; None where FastAPI's own routing should answer."""
        patterns = self._patterns if self._patterns is not None else self._build(app)
        plan = self._exact.get(path)
        if plan is not None:
            return plan, {}, {}
        for plan in patterns:
            found = plan.regex.match(path)
            if found is not None:
                strings = found.groupdict()
                params = plan.params(strings)
                return None if params is None else (plan, strings, params)
        return None


def _route_scope(scope: dict, plan: _Plan, strings: dict[str, str], handlers: tuple) -> None:
    """What the router puts in the scope for the endpoint (the metrics read ``route``).
    Starlette keeps the matched strings; FastAPI converts them for the endpoint."""
    scope["starlette.exception_handlers"] = handlers
    scope.setdefault("router", scope["app"].router)
    scope["route"] = plan.route
    scope["endpoint"] = plan.route.endpoint
    scope["path_params"] = {**scope.get("path_params", {}), **strings}


def _raising(exc: Exception) -> Callable[..., Any]:
    """An ASGI app that raises ``exc``: Starlette's error handling, entered with it."""

    async def app(scope: dict, receive: Any, send: Any) -> None:
        raise exc

    return app


async def _handled(exc: Exception, request: Request, scope: dict, receive: Any, send: Any) -> None:
    """Answer ``exc`` with the app's exception handlers, exactly as around its routes
    (Starlette's own dispatch, entered only when there is an error); re-raises ``exc`` when
    no handler takes it."""
    await wrap_app_handling_exceptions(_raising(exc), request)(scope, receive, send)


class FastRoutes:
    """Pure-ASGI middleware, the innermost one: serves the planned routes directly.

    :class:`FastLane` serves them in front of the whole stack where it can; this serves the
    rest (CORS requests, FastAPI's instrumentation on) from inside it."""

    def __init__(self, app: Any, routes: Callable[[FastAPI], list[APIRoute]]):
        self.app = app
        self.plans = _Plans(routes)
        # The exception handlers ExceptionMiddleware would apply (the same dicts).
        self.handlers = (
            (app._exception_handlers, app._status_handlers)
            if isinstance(app, ExceptionMiddleware)
            else None
        )

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if (
            self.handlers is not None
            and scope["type"] == "http"
            and scope["method"] == "POST"
            and not scope.get("root_path")
            and not scope["app"].dependency_overrides
        ):
            found = self.plans.match(scope["app"], scope["path"])
            if found is not None:
                plan, strings, params = found
                _route_scope(scope, plan, strings, self.handlers)
                request = Request(scope, receive, send)
                try:
                    response = await plan.call(request, params)
                except Exception as exc:
                    await _handled(exc, request, scope, receive, send)
                    return
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class FastLane:
    """The planned routes served in front of the whole middleware stack, for
    :class:`~serving.entry.ServiceApp`: one coroutine does what the layers between the
    server and the endpoint do for such a request, with their own code wherever a request
    goes wrong.

    The stack it stands for is ``ServerErrorMiddleware`` (the app's 500 handler) ->
    ``ServiceMiddleware`` (request id, body limits and decoding, metrics, access log) ->
    :class:`FastRoutes` (the route's dependencies, endpoint and exception handlers). On the
    way of a good request the lane calls the same helpers (``request_id_of``,
    ``ServiceMiddleware._buffer_body`` and ``observe``, the route's own dependencies and
    endpoint) and sends the response with ``X-Request-ID`` appended, as ``ServiceMiddleware``
    does. A refused body, a handled error and an unhandled one go through the very code the
    stack runs (``ServiceMiddleware._reject``, Starlette's handler dispatch,
    ``ServerErrorMiddleware``). A request for a planned route that the stack could answer
    otherwise (one with an ``Origin`` header where CORS is on, dependency overrides, a
    ``root_path``) goes through the stack.
    """

    def __init__(
        self,
        routes: FastRoutes,
        service: ServiceMiddleware,
        errors: ServerErrorMiddleware,
        cors: bool,
    ):
        self.plans = routes.plans
        self.handlers = routes.handlers
        self.service = service  # the app's ServiceMiddleware: its helpers and settings
        self.error_handler = errors.handler
        self.debug = errors.debug
        self.cors = cors

    def match(self, scope: dict) -> tuple[_Plan, dict[str, str], dict[str, Any]] | None:
        """The plan for this request, or None: the stack serves it."""
        if (
            scope["method"] != "POST"
            or scope.get("root_path")
            or scope["app"].dependency_overrides
            or (self.cors and any(k == b"origin" for k, _ in scope["headers"]))
        ):
            return None
        return self.plans.match(scope["app"], scope["path"])

    async def serve(
        self,
        found: tuple[_Plan, dict[str, str], dict[str, Any]],
        scope: dict,
        receive: Any,
        send: Any,
    ) -> None:
        plan, strings, params = found
        service = self.service
        headers = dict(scope["headers"])
        rid = request_id_of(headers)
        token = request_id.set(rid)
        started = time.perf_counter()
        state = Answer(send, rid)
        outer = scope  # what ServerErrorMiddleware sees: the scope as the server sent it
        # One coroutine for the stack's layers, not one per layer: each level of awaiting
        # costs on the way in and again when the batch's answer resumes the request (1.5-3%
        # of a prediction's instructions a level here).
        failed = False
        try:
            try:
                # ServiceMiddleware's part after the request id, then FastRoutes's.
                try:
                    body, scope = await service._buffer_body(scope, headers, receive)
                except _Reject as reject:
                    await service._reject(state.send, reject)
                    return
                _route_scope(scope, plan, strings, self.handlers)
                request = Request(scope, body, state.send)
                try:
                    response = await plan.call(request, params)
                except Exception as exc:
                    await _handled(exc, request, scope, body, state.send)
                    return
                if type(response).__call__ is Response.__call__ and response.background is None:
                    # What Response.__call__ sends (through ServiceMiddleware's Answer).
                    await state.send(
                        {
                            "type": "http.response.start",
                            "status": response.status_code,
                            "headers": response.raw_headers,
                        }
                    )
                    await send({"type": "http.response.body", "body": response.body})
                else:
                    await response(scope, body, state.send)
            except BaseException:
                failed = True  # the id stays set for the 500 answer and the traceback
                raise
            finally:
                service.observe(scope, "POST", state.status, started)
                if not failed:
                    request_id.reset(token)
        except Exception as exc:
            if state.started:
                raise
            # ServerErrorMiddleware's own answer (the app's 500 handler); it re-raises.
            await ServerErrorMiddleware(_raising(exc), self.error_handler, self.debug)(
                outer, receive, send
            )
