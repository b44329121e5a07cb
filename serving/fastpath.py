"""A lean dispatch of the prediction POSTs, in front of FastAPI's router; same answers.

On a small model FastAPI's per-request machinery (matching the path against every route,
solving dependencies with their caches and exit stacks, validating path parameters through
pydantic) cost more CPU than the endpoint itself: a profile at 64 connections put about
40% of the service's Python time between our middleware and the endpoint. For a short,
explicit list of routes (``create_app`` passes the prediction endpoints), :class:`FastRoutes`
matches the path itself and runs **the route's own** dependencies (the API key check, the
body parser, the service lookup) and endpoint, in FastAPI's order, inside Starlette's
``wrap_app_handling_exceptions`` with the app's own exception handlers. So the validation,
the limits, the error mapping and the metrics are the ones every other route uses; nothing
is written twice. The routes stay registered with FastAPI (OpenAPI, ``/docs``, and the
fallback below).

A request falls through to FastAPI, unchanged, whenever the fast path could differ from it:
another method or path; a path parameter that is not plain ASCII digits for an ``int``
(FastAPI also reads ``+1``, ``1_0``, `` 1``: it gives those their usual answer); dependency
overrides (tests); or when the app's middleware stack is not the one this was written for
(then nothing is fast). A route is fast only if its dependencies are ``async`` callables of
the request alone, its other parameters are ``str``/``int`` path parameters or the request,
and its endpoint is ``async`` and annotated to return a :class:`~starlette.responses.Response`
(FastAPI sends such a return value as it is).
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette._exception_handler import wrap_app_handling_exceptions
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import Response

_DIGITS = re.compile(r"[0-9]{1,18}")


@dataclass(frozen=True)
class _Plan:
    """How to call one route: its dependencies and parameters, resolved once."""

    route: APIRoute
    regex: re.Pattern[str]
    ints: frozenset[str]  # path parameters FastAPI converts to int
    deps: tuple[tuple[Callable[[Request], Any], str | None], ...]  # (call, parameter or None)
    request_name: str | None

    def params(self, match: re.Match[str]) -> dict[str, Any] | None:
        """The path parameters as FastAPI gives them, or None where it might differ."""
        values: dict[str, Any] = match.groupdict()
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


class FastRoutes:
    """Pure-ASGI middleware, the innermost one: serves the planned routes directly."""

    def __init__(self, app: Any, routes: Callable[[FastAPI], list[APIRoute]]):
        self.app = app
        self._routes = routes
        self._plans: list[_Plan] | None = None
        # The exception handlers ExceptionMiddleware would apply (the same dicts).
        self._handlers = (
            (app._exception_handlers, app._status_handlers)
            if isinstance(app, ExceptionMiddleware)
            else None
        )

    def plans(self, app: FastAPI) -> list[_Plan]:
        if self._plans is None:
            plans = [_plan(r) for r in self._routes(app)] if self._handlers else []
            self._plans = [p for p in plans if p is not None]
        return self._plans

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            app = scope["app"]
            if not app.dependency_overrides:
                path = scope["path"]
                for plan in self.plans(app):
                    match = plan.regex.match(path)
                    if match is not None:
                        params = plan.params(match)
                        if params is not None:
                            await self._serve(plan, match, params, scope, receive, send)
                            return
                        break
        await self.app(scope, receive, send)

    async def _serve(
        self,
        plan: _Plan,
        match: re.Match[str],
        params: dict[str, Any],
        scope: dict,
        receive: Any,
        send: Any,
    ) -> None:
        # What the router puts in the scope for the endpoint (the metrics read "route"):
        # Starlette keeps the matched strings; FastAPI converts them for the endpoint.
        scope["starlette.exception_handlers"] = self._handlers
        scope.setdefault("router", scope["app"].router)
        scope["route"] = plan.route
        scope["endpoint"] = plan.route.endpoint
        scope["path_params"] = {**scope.get("path_params", {}), **match.groupdict()}
        request = Request(scope, receive, send)

        async def endpoint(scope: dict, receive: Any, send: Any) -> None:
            values = dict(params)
            for call, name in plan.deps:
                result = await call(request)
                if name is not None:
                    values[name] = result
            if plan.request_name is not None:
                values[plan.request_name] = request
            response = await plan.route.dependant.call(**values)
            await response(scope, receive, send)

        await wrap_app_handling_exceptions(endpoint, request)(scope, receive, send)
