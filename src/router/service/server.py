"""Running the app under uvicorn: the socket bound first, and connections that cannot be held open.

``bind`` takes the port before anything slow happens (model tiers load in the app's start-up), so a
port in use fails at once. ``server`` builds the uvicorn server with ``GuardedH11``, uvicorn's h11
protocol with two changes:

- **Header timeout.** A connection must send a request's headers whole within ``header_timeout_s``
  of connecting (or of its last answer): uvicorn itself waits forever, so a client trickling its
  headers could hold a socket for good. Such a connection is closed (``service.request_timeout``).
- **Malformed requests get the error body.** A request h11 cannot parse (a NUL in a header, two
  Content-Lengths, a negative one) gets 400 with ``{"error": {"code": "bad_request", ...}}``, the
  body every other refusal carries, not uvicorn's plain text.
- **One framing or none.** A request with both ``Transfer-Encoding`` and ``Content-Length``, or
  ``Transfer-Encoding`` in HTTP/1.0, is refused with that 400 and the connection closed (h11 read
  it as chunked and kept the connection, so what a proxy took for one body could be a second
  request: smuggling).
- **No upgrades.** The service has no websocket endpoint: an ``Upgrade`` header is ignored and the
  request is answered as plain HTTP (uvicorn answered a websocket handshake with a bare 403).
- **Shutdown drops uploads.** On SIGTERM uvicorn waits for every open request; one still receiving
  its body (a slow upload) is closed at once instead, and the app logs it as a client that went
  away. Requests whose body has arrived (queued or being routed) finish.
"""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from router.observe import events
from router.observe.logs import get_logger
from router.service.settings import ServiceSettings

#: Set in a request's scope when shutdown closed its connection mid-upload.
DROPPED_AT_SHUTDOWN = "docroute.dropped_at_shutdown"


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``; ``OSError`` if it is taken or not ours to take."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT only: a live listener still fails
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def server(app: Any, settings: ServiceSettings, **config: Any) -> uvicorn.Server:
    """The uvicorn server for ``app``, with the header timeout and the shutdown rule above."""
    protocol = type("GuardedH11", (GuardedH11,), {"header_timeout_s": settings.header_timeout_s})
    return uvicorn.Server(uvicorn.Config(app, http=protocol, ws="none", lifespan="on", **config))


class _OneFraming(h11.Connection):
    """h11's server connection that refuses a request whose body is framed two ways (RFC 9112 6.1)."""

    def next_event(self) -> Any:
        event = super().next_event()
        if isinstance(event, h11.Request):
            names = {name for name, _ in event.headers}
            if b"transfer-encoding" in names and (b"content-length" in names or event.http_version == b"1.0"):
                raise h11.RemoteProtocolError(
                    "Transfer-Encoding with Content-Length, or in HTTP/1.0: the body's end is ambiguous",
                    error_status_hint=400,
                )
        return event


class GuardedH11(H11Protocol):
    header_timeout_s: float = 10.0
    _header_timer: asyncio.TimerHandle | None = None
    _partial = False  # bytes of the next request's headers arrived while the timer ran

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit = self.config.h11_max_incomplete_event_size
        self.conn = _OneFraming(h11.SERVER, **({"max_incomplete_event_size": limit} if limit is not None else {}))

    def _should_upgrade(self) -> bool:
        return False

    def data_received(self, data: bytes) -> None:
        self._partial = self._partial or self._header_timer is not None
        super().data_received(data)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_headers()

    def handle_events(self) -> None:
        before = self.cycle
        super().handle_events()
        if self.cycle is not before and self._header_timer is not None:  # a request's headers arrived
            self._header_timer.cancel()
            self._header_timer = None

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        body = json.dumps({"error": {"code": "bad_request", "message": f"malformed HTTP request: {msg}"}}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        for event in (
            h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
            h11.Data(data=body),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event) or b"")
        self.transport.close()

    def shutdown(self) -> None:
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete and cycle.more_body:
            cycle.scope[DROPPED_AT_SHUTDOWN] = True  # type: ignore[literal-required]
            self.transport.close()
            return
        super().shutdown()

    def _await_headers(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        self._partial = False
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        waiting = self.cycle is None or self.cycle.response_complete
        if waiting and not self.transport.is_closing():
            if self._partial:  # an idle connection is closed without a word, as keep-alive does
                client = self.client[0] if self.client else ""
                events.SERVICE_REQUEST_TIMEOUT.emit(get_logger(), request_id=None, phase="headers", client=client)
            self.transport.close()
