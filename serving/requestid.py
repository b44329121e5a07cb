"""The request id: taken from the caller's ``X-Request-ID`` where it is safe, else made here;
kept in a context variable for the log records and the answers of one request.

Each request runs in its own asyncio task (uvicorn makes one per request; Starlette's
``TestClient`` one per call), with its own copy of the context, so the id set there is seen
by everything that runs for that request and by nothing else. The middleware resets it when
the request ends normally; after an unexpected error it is left set, because the app's 500
answer (``ServerErrorMiddleware``, outside the middleware) and the server's traceback come
after the middleware has returned, in the same task, and they should carry the id too.
"""

from __future__ import annotations

import contextvars
import itertools
import logging
import os
import re

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Made ids: a random per-process prefix and a counter (unique without a syscall per request).
_PREFIX = os.urandom(6).hex()
_COUNTER = itertools.count(1)


def request_id_of(headers: dict[bytes, bytes]) -> str:
    """The caller's ``X-Request-ID`` where it is safe to log and echo, else a new one."""
    rid = headers.get(b"x-request-id", b"").decode("latin-1")
    if rid and _SAFE_ID.match(rid):
        return rid
    return f"{_PREFIX}-{next(_COUNTER):08x}"


def current_request_id() -> str | None:
    """The id of the request being served in this context, or None outside one."""
    rid = request_id.get()
    return None if rid == "-" else rid


class RequestIdFilter(logging.Filter):
    """Adds ``%(request_id)s`` to every log record (``-`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True
