"""One error shape for every failure: ``{"error": "what was wrong"}`` with a 4xx/5xx status.

This is the one place an HTTP status is chosen for a failure of the core. The registry, the
signatures and the lookup code raise :mod:`serving.exceptions` (no HTTP in them);
:data:`STATUS` maps each class to its status, and a :class:`~serving.exceptions.NotReady`
adds ``Retry-After`` from the seconds it carries. Routes may still raise :class:`ApiError`
for what only HTTP knows (a missing API key). The handlers also turn FastAPI's validation
errors and Starlette's HTTP errors (404 for unknown paths, 405) into the same shape, and log
anything unexpected as a 500 without leaking internals.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import exceptions as core
from .encoding import JSONBody
from .requestid import current_request_id

log = logging.getLogger("serving")


class ApiError(Exception):
    """An error with an HTTP status and a message for the caller."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


# Status of each core error; a subclass not listed takes its nearest listed base's status.
STATUS: dict[type[core.ServingError], int] = {
    core.InvalidInput: 400,
    core.ModelNotFound: 404,
    core.VersionNotFound: 404,
    core.SignatureNotFound: 404,
    core.VersionFailed: 404,
    core.NonFiniteOutput: 422,
    core.Unsupported: 501,
    core.NotReady: 503,
    core.ServingError: 500,
}


def status_of(exc: core.ServingError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def headers_of(exc: core.ServingError) -> dict[str, str] | None:
    """``Retry-After`` (whole seconds, at least 1) for an error that is worth retrying."""
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is None:
        return None
    return {"Retry-After": str(max(1, math.ceil(retry_after)))}


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def not_found(message: str) -> ApiError:
    return ApiError(404, message)


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONBody:
    return JSONBody({"error": message}, status_code=status, headers=headers)


def _describe_validation(errors: list[dict[str, Any]]) -> str:
    parts = []
    for err in errors[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        msg = err.get("msg", "invalid value")
        if err.get("type") == "json_invalid":
            return f"The request body is not valid JSON: {err.get('ctx', {}).get('error', msg)}."
        parts.append(f"`{loc}`: {msg}")
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return "Invalid request: " + "; ".join(parts) + more + "."


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONBody:
        return error_response(exc.status, exc.message, exc.headers)

    @app.exception_handler(core.ServingError)
    async def _core_error(_: Request, exc: core.ServingError) -> JSONBody:
        return error_response(status_of(exc), exc.message, headers_of(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONBody:
        errs = list(exc.errors())
        # A body that is not JSON at all is a malformed request (400, as TF Serving answers);
        # JSON of the wrong shape or types is unprocessable (422, FastAPI's convention).
        status = 400 if any(e.get("type") == "json_invalid" for e in errs) else 422
        return error_response(status, _describe_validation(errs))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONBody:
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return error_response(exc.status_code, message, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONBody:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        # Answered from outside ServiceMiddleware, which adds the header to every other answer.
        rid = current_request_id()
        return error_response(
            500, "Internal error; see the server log.", {"X-Request-ID": rid} if rid else None
        )
