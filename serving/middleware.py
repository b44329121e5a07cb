"""ASGI middleware: request ids, access log, metrics, HEAD, request decompression and the
request-body size limit.

Pure ASGI (no ``BaseHTTPMiddleware``), so it adds little per request.

* ``HEAD`` is answered as the ``GET`` of the same path without the body (same status and
  headers), so every GET route, ``/healthz`` included, answers probes that use HEAD.
* A request body with ``Content-Encoding: gzip`` or ``deflate`` (tritonclient's
  ``request_compression_algorithm``) is decompressed when the app first reads it, so after
  the route's API-key check: a caller without the key gets 401 whatever it sent, and no
  body is inflated for it. Any other encoding is 415, also when the body is read.
* The body limit checks ``Content-Length`` first and counts chunked bodies before the app
  runs, and applies again to the decompressed body (a zip bomb is a 413, never expanded).
* A body without a ``Content-Encoding`` is also put in the scope as ``BODY``, which the
  routes read (:func:`serving.routes.body.read_body`) instead of replaying it through
  Starlette's body stream: the same bytes, without an async generator per request.
"""

from __future__ import annotations

import logging
import time
import zlib
from typing import Any

from .encoding import dumps
from .errors import ApiError
from .metrics import Metrics
from .requestid import request_id, request_id_of

access_log = logging.getLogger("serving.access")
BODY = "serving.body"  # scope key: the request body as buffered here (identity encoding only)


class _Reject(Exception):
    """Answer ``status`` with ``message`` without calling the app."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


# Content-Encoding -> zlib wbits: gzip framing, or the zlib framing HTTP calls "deflate".
_DECODERS = {"gzip": 31, "x-gzip": 31, "deflate": 15}


class Answer:
    """The response as it goes out: its ``send`` appends the ``X-Request-ID`` header and
    records the status (500 until a response starts) and whether it has started."""

    __slots__ = ("header", "raw", "started", "status")

    def __init__(self, send: Any, rid: str):
        self.raw = send
        self.header = (b"x-request-id", rid.encode())
        self.status = 500
        self.started = False

    async def send(self, message: dict) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.started = True
            message["headers"] = [*message.get("headers", []), self.header]
        await self.raw(message)


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
        rid = request_id_of(headers)
        token = request_id.set(rid)
        started = time.perf_counter()
        answer = Answer(send, rid)
        method = scope["method"]
        if method == "HEAD":
            scope = {**scope, "method": "GET"}
        failed = False
        try:
            if method in {"POST", "PUT", "PATCH"}:
                try:
                    receive, scope = await self._buffer_body(scope, headers, receive)
                except _Reject as reject:
                    await self._reject(answer.send, reject)
                    return
            await self.app(scope, receive, _head(answer.send) if method == "HEAD" else answer.send)
        except BaseException:
            failed = True  # the id stays set for the 500 answer and the traceback
            raise
        finally:
            self.observe(scope, method, answer.status, started)
            if not failed:
                request_id.reset(token)

    def observe(self, scope: dict, method: str, status: int, started: float) -> None:
        """Count a finished request by its route's template (metrics), and log it."""
        route = scope.get("route")
        template = getattr(route, "path", None) or ("static" if status < 400 else "unmatched")
        elapsed = time.perf_counter() - started
        self.metrics.observe_request(template, method, status, elapsed)
        if access_log.isEnabledFor(logging.INFO):
            access_log.info(
                '%s "%s %s" %d %.1fms',
                _client(scope),
                method,
                scope["path"],
                status,
                elapsed * 1e3,
            )

    def _too_large(self, after: str = "") -> _Reject:
        return _Reject(
            413, f"The request body is larger than the limit of {self.max_body_bytes} bytes{after}."
        )

    async def _buffer_body(self, scope: dict, headers: dict, receive: Any) -> tuple[Any, dict]:
        """The whole body (within the limit, decompressed) as a replayable ``receive``, and
        the scope the app sees (without ``Content-Encoding`` once decoded)."""
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                if int(declared) > self.max_body_bytes:
                    raise self._too_large()
            except ValueError:
                pass
        encoding = headers.get(b"content-encoding", b"").decode("latin-1").strip().lower()
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                chunks = None
                break
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_body_bytes:
                raise self._too_large()
            chunks.append(body)
            if not message.get("more_body", False):
                break
        if chunks is None:

            async def disconnected() -> dict:
                return {"type": "http.disconnect"}

            return disconnected, scope
        body = b"".join(chunks)
        if encoding in ("", "identity"):
            scope[BODY] = body
        else:
            kept = [
                (k, v)
                for k, v in scope["headers"]
                if k not in (b"content-encoding", b"content-length")
            ]
            scope = {**scope, "headers": kept}
        sent = False

        async def replay() -> dict:
            # Decoded on the app's first read, after its dependencies (the key) have run;
            # a refusal is the app's own error, answered by its exception handlers.
            nonlocal sent, body
            if not sent:
                sent = True
                if encoding not in ("", "identity"):
                    try:
                        body = self._decode(body, encoding)
                    except _Reject as reject:
                        raise ApiError(reject.status, reject.message) from None
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay, scope

    def _decode(self, body: bytes, encoding: str) -> bytes:
        if encoding not in _DECODERS:
            raise _Reject(
                415,
                f"Content-Encoding {encoding!r} is not supported; send gzip, deflate or identity.",
            )
        return self._decompress(body, encoding)

    def _decompress(self, body: bytes, encoding: str) -> bytes:
        """Inflate at most ``max_body_bytes + 1`` bytes: a bomb is refused, never expanded."""
        wbits = _DECODERS[encoding]
        # Some clients send raw deflate (no zlib header) as "deflate": try that second.
        for bits in (wbits, -15) if encoding == "deflate" else (wbits,):
            inflater = zlib.decompressobj(bits)
            try:
                out = inflater.decompress(body, self.max_body_bytes + 1)
            except zlib.error:
                continue
            if len(out) > self.max_body_bytes:
                raise self._too_large(" after decompression")
            if not inflater.eof:
                raise _Reject(400, f"The {encoding} request body is truncated.")
            return out
        raise _Reject(400, f"The request body is not valid {encoding} data.")

    async def _reject(self, send: Any, reject: _Reject) -> None:
        payload = dumps({"error": reject.message})
        await send(
            {
                "type": "http.response.start",
                "status": reject.status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def _head(send: Any) -> Any:
    """``send`` for a HEAD answered as GET: the GET's status and headers, no body."""

    async def send_head(message: dict) -> None:
        if message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)

    return send_head


def _client(scope: dict) -> str:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else "-"
