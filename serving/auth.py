"""Optional API-key auth (off unless ``SERVING_API_KEY`` is set).

The key is accepted as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>`` and compared
in constant time. Health probes, metrics, docs and the web page stay open.

One plain dependency that reads the headers itself: FastAPI's ``HTTPBearer`` and
``APIKeyHeader`` would add two sub-dependencies to every prediction, a measurable share of
the per-request cost on a small model, to document a feature that is off by default.
"""

from __future__ import annotations

import secrets

from fastapi import Request

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
