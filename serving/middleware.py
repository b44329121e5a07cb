"""ASGI middleware: request ids, access log, metrics, and the request-body size limit.

Pure ASGI (no ``BaseHTTPMiddleware``), so it adds little per request. The body limit checks
``Content-Length`` first and also counts chunked bodies, answering 413 before the app reads
anything.
"""

from __future__ import annotations

import contextvars
import itertools
import logging
import os
import re
import time
from typing import Any

from .encoding import dumps
from .metrics import Metrics

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
access_log = logging.getLogger("serving.access")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Made ids: a random per-process prefix and a counter (unique without a syscall per request).
_PREFIX = os.urandom(6).hex()
_COUNTER = itertools.count(1)


class RequestIdFilter(logging.Filter):
    """Adds ``%(request_id)s`` to every log record (``-`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class _TooLarge(Exception):
    pass


class ServiceMiddleware:
    def __init__(self, app: Any, metrics: Metrics, max_body_bytes: int):
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        rid = headers.get(b"x-request-id", b"").decode("latin-1")
        if not _SAFE_ID.match(rid):
            rid = f"{_PREFIX}-{next(_COUNTER):08x}"
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500
        started_response = False

        async def send_wrapper(message: dict) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                status = message["status"]
                started_response = True
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            if scope["method"] in {"POST", "PUT", "PATCH"}:
                try:
                    receive = await self._buffer_body(headers, receive)
                except _TooLarge:
                    await self._reject_too_large(send_wrapper)
                    return
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or ("static" if status < 400 else "unmatched")
            elapsed = time.perf_counter() - started
            self.metrics.requests.labels(template, scope["method"], str(status)).inc()
            self.metrics.latency.labels(template).observe(elapsed)
            access_log.info(
                '%s "%s %s" %d %.1fms',
                _client(scope),
                scope["method"],
                scope["path"],
                status,
                elapsed * 1e3,
            )
            request_id.reset(token)

    async def _buffer_body(self, headers: dict, receive: Any) -> Any:
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                if int(declared) > self.max_body_bytes:
                    raise _TooLarge
            except ValueError:
                pass
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                chunks = None
                break
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_body_bytes:
                raise _TooLarge
            chunks.append(body)
            if not message.get("more_body", False):
                break
        if chunks is None:

            async def disconnected() -> dict:
                return {"type": "http.disconnect"}

            return disconnected
        body = b"".join(chunks)
        sent = False

        async def replay() -> dict:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay

    async def _reject_too_large(self, send: Any) -> None:
        payload = dumps(
            {"error": f"The request body is larger than the limit of {self.max_body_bytes} bytes."}
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def _client(scope: dict) -> str:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else "-"
