"""serving/protocol.py: each response's head goes out with its body in one write, and every
response still arrives whole and in order (a real uvicorn server on a socket)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from serving.protocol import HttpProtocol, _HeadWithBody


class _Transport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


def test_the_head_is_held_for_the_body_and_sent_alone_at_the_end_of_the_turn():
    async def main() -> list[list[bytes]]:
        loop = asyncio.get_running_loop()
        seen = []
        # A head and its body: one write.
        t = _Transport()
        w = _HeadWithBody(t, loop)
        w.write(b"HTTP/1.1 200 OK\r\n\r\n")
        assert t.writes == []
        w.write(b"body")
        w.write(b"more")
        await asyncio.sleep(0)
        seen.append(t.writes)
        # 100 Continue at once; then the head and the body together.
        t = _Transport()
        w = _HeadWithBody(t, loop)
        w.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        assert t.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]
        w.write(b"HTTP/1.1 201 Created\r\n\r\n")
        w.write(b"x")
        seen.append(t.writes)
        # A head with no body write in this turn (HEAD, a streamed body): alone, next turn.
        t = _Transport()
        w = _HeadWithBody(t, loop)
        w.write(b"HTTP/1.1 200 OK\r\n\r\n")
        await asyncio.sleep(0)
        w.write(b"late")
        seen.append(t.writes)
        # Closed after its head (an error mid-response): the head, then the close.
        t = _Transport()
        w = _HeadWithBody(t, loop)
        w.write(b"HTTP/1.1 200 OK\r\n\r\n")
        w.close()
        await asyncio.sleep(0)
        seen.append([*t.writes, b"closed" if t.closed else b"open"])
        # Nothing is written to a transport that is closing; the rest is the transport's.
        t = _Transport()
        w = _HeadWithBody(t, loop)
        w.write(b"HTTP/1.1 200 OK\r\n\r\n")
        t.closed = True
        await asyncio.sleep(0)
        seen.append([*t.writes, w.get_extra_info("peername").encode()])
        return seen

    assert asyncio.run(main()) == [
        [b"HTTP/1.1 200 OK\r\n\r\nbody", b"more"],
        [b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 201 Created\r\n\r\nx"],
        [b"HTTP/1.1 200 OK\r\n\r\n", b"late"],
        [b"HTTP/1.1 200 OK\r\n\r\n", b"closed"],
        [b"info:peername"],
    ]


WRITES: list[bytes] = []  # every write the server's connections made, in order


class _CountingProtocol(HttpProtocol):
    def connection_made(self, transport) -> None:  # type: ignore[override]
        class Counting:
            def write(self, data: bytes) -> None:
                WRITES.append(data)
                transport.write(data)

            def __getattr__(self, name: str):
                return getattr(transport, name)

        super().connection_made(Counting())  # type: ignore[arg-type]


async def _app(scope, receive, send) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["path"] == "/slow":  # the head now, the body 0.5 s later
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await asyncio.sleep(0.5)
        await send({"type": "http.response.body", "body": b"late", "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    if scope["path"] == "/broken":  # the head, then an error: the connection is closed
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("broken after the head")
    answer = b"echo:" + body
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(answer))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    config = uvicorn.Config(
        _app, host="127.0.0.1", port=free, http=_CountingProtocol, log_level="critical"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    yield free
    server.should_exit = True
    thread.join(10)


def _read_head(sock: socket.socket, buf: bytes = b"") -> tuple[bytes, bytes]:
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        assert chunk, buf
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head, rest


def _read_response(sock: socket.socket, buf: bytes = b"") -> tuple[bytes, bytes, bytes]:
    """(head, body, what is left) of one Content-Length or chunked response."""
    head, rest = _read_head(sock, buf)
    if b"transfer-encoding: chunked" in head.lower():
        while b"0\r\n\r\n" not in rest:
            rest += sock.recv(65536)
        body, _, left = rest.partition(b"0\r\n\r\n")
        return head, body, left
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    while len(rest) < length:
        rest += sock.recv(65536)
    return head, rest[:length], rest[length:]


def _request(path: str, body: bytes = b"", method: str = "POST", extra: str = "") -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nhost: t\r\ncontent-length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body


def test_keep_alive_requests_are_answered_in_order_one_write_each(port):
    WRITES.clear()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for i in range(5):
            sock.sendall(_request("/echo", b"n%d" % i))
            head, body, left = _read_response(sock)
            assert head.startswith(b"HTTP/1.1 200 OK") and body == b"echo:n%d" % i and not left
        # Pipelined: both requests in one packet, both answers in order.
        sock.sendall(_request("/echo", b"a") + _request("/echo", b"b"))
        head, body, left = _read_response(sock)
        assert body == b"echo:a"
        head, body, left = _read_response(sock, left)
        assert body == b"echo:b" and not left
    assert len(WRITES) == 7, WRITES  # one write per response: head and body together
    assert all(w.startswith(b"HTTP/1.1 200 OK") and b"\r\n\r\necho:" in w for w in WRITES)


def test_expect_continue_head_and_a_late_body_come_as_with_uvicorn(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        # 100 Continue first, when the app reads the body; then the answer.
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nhost: t\r\ncontent-length: 4\r\nexpect: 100-continue\r\n\r\n"
        )
        assert sock.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"body")
        head, body, _ = _read_response(sock)
        assert head.startswith(b"HTTP/1.1 200 OK") and body == b"echo:body"
        # HEAD: the head, no body.
        sock.sendall(_request("/echo", method="HEAD"))
        head, rest = _read_head(sock)
        assert head.startswith(b"HTTP/1.1 200 OK") and b"content-length: 5" in head and not rest
        # A body 0.5 s after the head: the head does not wait for it.
        sock.sendall(_request("/slow"))
        started = time.monotonic()
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 OK") and b"late" not in first
        assert time.monotonic() - started < 0.4
        head, body, _ = _read_response(sock, first)
        assert body == b"4\r\nlate\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        # An error after the head: the head, then the connection closes.
        sock.sendall(_request("/broken"))
        data = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                data += chunk
        assert data.startswith(b"HTTP/1.1 200 OK") and data.endswith(b"\r\n\r\n")


def test_keras_rnn_serve_runs_uvicorn_with_this_protocol(tmp_path, monkeypatch):
    import serving.app
    from serving import cli

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(kw))
    monkeypatch.setattr(serving.app, "configure_logging", lambda level: None)
    monkeypatch.delenv("SERVING_WORKERS", raising=False)
    assert cli.main(["--model-dir", str(tmp_path)]) == 0
    assert seen["http"] is HttpProtocol
    # uvicorn imports it by reference in each worker process: it must be importable by name.
    assert (HttpProtocol.__module__, HttpProtocol.__qualname__) == (
        "serving.protocol",
        "HttpProtocol",
    )
