"""ASGI middlewares that refuse a request before the application reads it.

``BearerAuth``: 401 unless ``Authorization: Bearer <token>`` matches (compared in constant time);
each refusal is a ``service.auth_failed`` event (never with the token given).
``BodyLimit``: 413 when ``Content-Length`` says the body is too large, or, for a body without one
(chunked), as soon as the bytes received pass the limit: the body is never buffered whole first.
``BodyDeadline``: 408 when the body has not arrived whole within ``timeout_s`` of the request's
headers, so a client that trickles its upload cannot hold a place among ``max_in_flight``.
"""

from __future__ import annotations

import contextlib
import hmac
from typing import Any

import anyio

from router.observe import events
from router.observe.logs import get_logger
from router.service.errors import error_response
from router.service.request_ids import SCOPE_KEY

Scope = dict[str, Any]
Message = dict[str, Any]


class BearerAuth:
    def __init__(
        self,
        app: Any,
        *,
        token: str | None,
        protected: tuple[str, ...] = ("/v1/", "/metrics", "/openapi.json", "/docs", "/redoc"),
    ):
        self.app = app
        self.token = token.encode() if token else None
        self.protected = protected

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if self.token is None or scope["type"] != "http" or not scope["path"].startswith(self.protected):
            await self.app(scope, receive, send)
            return
        given = _bearer(scope)
        if given is None or not hmac.compare_digest(given, self.token):
            problem = "missing bearer token" if given is None else "wrong bearer token"
            client = scope.get("client") or ("", 0)
            events.SERVICE_AUTH_FAILED.emit(
                get_logger(),
                request_id=scope.get(SCOPE_KEY),
                path=scope["path"],
                reason=problem,
                client=str(client[0]),
            )
            response = error_response(401, "unauthorized", problem, headers={"WWW-Authenticate": "Bearer"})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _bearer(scope: Scope) -> bytes | None:
    """The bearer credentials of the one Authorization header; None without one, or with two (which
    one a proxy or a client meant cannot be told)."""
    values = [value for name, value in scope.get("headers", []) if name == b"authorization"]
    if len(values) != 1:
        return None
    scheme, _, credentials = values[0].partition(b" ")
    return credentials.strip() if scheme.lower() == b"bearer" and credentials.strip() else None


class _TooLarge(Exception):
    pass


class BodyLimit:
    def __init__(self, app: Any, *, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send, declared)
            return
        state = {"received": 0, "over": False, "started": False}

        async def counting_receive() -> Message:
            message: Message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > self.max_bytes:
                    state["over"] = True
                    raise _TooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            if state["over"]:  # the app turned our exception into its own error: answer 413 instead
                return
            state["started"] = True
            await send(message)

        with contextlib.suppress(_TooLarge):
            await self.app(scope, counting_receive, guarded_send)
        if state["over"] and not state["started"]:
            await self._refuse(scope, receive, send, None)

    async def _refuse(self, scope: Scope, receive: Any, send: Any, declared: int | None) -> None:
        size = f" ({declared} bytes)" if declared is not None else ""
        message = f"request body{size} is over the upload limit of {self.max_bytes} bytes"
        response = error_response(413, "payload_too_large", message, limit_bytes=self.max_bytes)
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class _TimedOut(Exception):
    pass


class BodyDeadline:
    def __init__(self, app: Any, *, timeout_s: float):
        self.app = app
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        deadline = anyio.current_time() + self.timeout_s
        state = {"complete": False, "over": False, "started": False}

        async def timed_receive() -> Message:
            if state["complete"]:  # the body is in: waiting now is for a disconnect, not for bytes
                return dict(await receive())
            with anyio.move_on_after(max(0.0, deadline - anyio.current_time())) as scope_:
                message: Message = await receive()
            if scope_.cancelled_caught:
                state["over"] = True
                raise _TimedOut()
            state["complete"] = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        async def guarded_send(message: Message) -> None:
            if state["over"]:
                return
            state["started"] = True
            await send(message)

        with contextlib.suppress(_TimedOut):
            await self.app(scope, timed_receive, guarded_send)
        if state["over"] and not state["started"]:
            events.SERVICE_REQUEST_TIMEOUT.emit(get_logger(), request_id=scope.get(SCOPE_KEY), phase="body")
            message = f"the request body did not arrive within {self.timeout_s:g} s"
            response = error_response(408, "request_timeout", message)
            response.headers["Connection"] = "close"
            await response(scope, receive, send)
