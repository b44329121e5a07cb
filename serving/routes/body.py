"""Request bodies: JSON whatever the declared ``Content-Type``, parsed after the API key check.

FastAPI parses a pydantic body parameter before any dependency runs, and only when the
``Content-Type`` is JSON: a plain ``curl -d '{...}'`` (form-encoded by default) got 422 "Input
should be a valid dictionary", and malformed JSON got 400 before the key was checked. The
task routes instead take their body through :func:`json_body`, a dependency that runs after
the router's ``require_api_key`` and reads the bytes as JSON, as the TF Serving and v2 routes
do. :func:`request_body` puts the model's schema back into OpenAPI.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from ..errors import ApiError, bad_request
from ..middleware import BODY

M = TypeVar("M", bound=BaseModel)


async def read_body(request: Request) -> bytes:
    """The request body: as ``ServiceMiddleware`` buffered it when it came unencoded, else
    read (and decoded, after the route's API-key check) through ``request.body()``."""
    body = request.scope.get(BODY)
    return body if body is not None else await request.body()


def parse_json(body: bytes) -> Any:
    """The body as JSON; a 400 that says what is wrong when it is empty or not JSON."""
    if not body:
        raise bad_request("The request body is empty; send a JSON object.")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as err:
        if _has_non_finite(body):
            raise bad_request(
                "The request body is not valid JSON: NaN and Infinity are not JSON numbers; "
                "send finite numbers."
            ) from None
        raise bad_request(f"The request body is not valid JSON: {err}.") from None


def _has_non_finite(body: bytes) -> bool:
    """Whether ``body`` has ``NaN``/``Infinity`` literals where numbers go (Python's json
    reads them; orjson, rightly, does not)."""
    seen: list[str] = []

    def constant(name: str) -> float:
        seen.append(name)
        return 0.0

    try:
        json.loads(body, parse_constant=constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False
    return bool(seen)


def json_body(model: type[M]) -> Callable[[Request], Awaitable[M]]:
    """A dependency that parses the body as JSON into ``model`` (422 naming the field)."""

    async def parse(request: Request) -> M:
        data = parse_json(await read_body(request))
        if not isinstance(data, dict):
            raise ApiError(
                422,
                f"Invalid request: the body must be a JSON object (the fields of "
                f"{model.__name__}), not {type(data).__name__}.",
            )
        try:
            return model.model_validate(data)
        except ValidationError as err:
            raise RequestValidationError(err.errors(include_url=False), body=data) from None

    parse.__name__ = f"parse_{model.__name__}"
    return parse


def request_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` documenting ``model`` as the JSON request body."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }
