"""Optional API-key auth (off unless ``SERVING_API_KEY`` is set).

The key is accepted as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>`` and compared
in constant time. Health probes, metrics, docs and the web page stay open.

One plain dependency that reads the headers itself: FastAPI's ``HTTPBearer`` and
``APIKeyHeader`` would add two sub-dependencies to every prediction, a measurable share of
the per-request cost on a small model, to document a feature that is off by default.
Instead :func:`document` declares both schemes in the OpenAPI ``securitySchemes`` (when a key
is set) and marks every route that depends on :func:`require_api_key`, so ``/docs`` has an
Authorize button that sends the key.

The check runs before the body is parsed (task routes read their body in a dependency that
comes after this one), so a request without the key gets 401 whatever its body.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from .errors import ApiError

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


async def require_api_key(request: Request) -> None:
    key = request.app.state.settings.api_key
    if key is None:
        return
    authorization = request.headers.get("authorization", "")
    if authorization[:7].lower() == "bearer ":
        given = authorization[7:].strip()
    else:
        given = request.headers.get("x-api-key", "")
    if not given:
        raise ApiError(
            401,
            "This route needs an API key (Authorization: Bearer <key> or X-API-Key).",
            _CHALLENGE,
        )
    if not secrets.compare_digest(given.encode(), key.get_secret_value().encode()):
        raise ApiError(401, "The API key is not valid.", _CHALLENGE)


SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "`Authorization: Bearer <key>` (the key in SERVING_API_KEY)",
    },
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
}


def _needs_key(router: APIRouter) -> bool:
    return any(getattr(d, "dependency", None) is require_api_key for d in router.dependencies)


def document(app: FastAPI, routers: Iterable[APIRouter]) -> None:
    """Declare the API key in the app's OpenAPI when one is configured (either scheme works),
    on every route of the ``routers`` that depend on :func:`require_api_key`."""
    if app.state.settings.api_key is None:
        return

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
            protected = [
                r
                for router in routers
                if _needs_key(router)
                for r in router.routes
                if isinstance(r, APIRoute)
            ]
            for route in protected:
                for method in route.methods:
                    operation = schema["paths"].get(route.path_format, {}).get(method.lower())
                    if operation is not None:
                        operation["security"] = [{"bearer": []}, {"apiKey": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
