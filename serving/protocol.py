"""uvicorn's HTTP/1.1 protocol (httptools) with each response's head sent with its body.

uvicorn writes a response's status line and headers with one ``transport.write`` and its body
with another. Each write is a ``send`` on the socket, and on loopback each one also wakes the
reader: a write took 8 us of the event loop's time here (2026-12-06, 16 clients generating
text, timed around uvicorn's writes), two of them per response. :class:`HttpProtocol` holds
the head back until the body's first write and sends both in one: the same bytes, in the same
order, in one segment where they fit.

The head waits at most until the end of the event loop's turn. A response whose body comes
later (streamed, or answered to ``HEAD`` with no body write at all) gets its head then, and a
response abandoned after its head (the connection closed on an error) gets it before the
close, as with uvicorn's own protocol. ``keras-rnn serve`` uses it; ``uvicorn
serving.app:app`` run by hand keeps uvicorn's.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Written by uvicorn before the head when a request asks for it: it goes out at once.
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class _HeadWithBody:
    """One response's view of the connection's transport: its first write (the head) is held
    and prepended to the next (the body), or flushed at the end of the loop's turn."""

    __slots__ = ("_armed", "_head", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop):
        self._transport = transport
        self._loop = loop
        self._head: bytes | None = None
        self._armed = True  # the next write other than 100 Continue is the head

    def write(self, data: bytes) -> None:
        if self._head is not None:
            data = self._head + data
            self._head = None
        elif self._armed and data != _CONTINUE:
            self._armed = False
            self._head = data
            self._loop.call_soon(self.flush)
            return
        self._transport.write(data)

    def flush(self) -> None:
        """Send a held head on its own (its body did not come within the loop's turn)."""
        head, self._head = self._head, None
        if head is not None and not self._transport.is_closing():
            self._transport.write(head)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol; each request's cycle writes through :class:`_HeadWithBody`."""

    def on_headers_complete(self) -> None:
        before = self.cycle
        super().on_headers_complete()
        # A new cycle's task has been created but has not run yet: nothing was written.
        if self.cycle is not None and self.cycle is not before:
            self.cycle.transport = _HeadWithBody(self.transport, self.loop)
