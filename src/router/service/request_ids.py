"""One id per request, echoed in ``X-Request-ID`` on every answer, refusals included.

A client may name its request (``X-Request-ID``: 1 to 64 of ``A-Z a-z 0-9 . _ -``); otherwise, or if
the name is malformed, the service draws one. A name this process has already seen (the last
``remember`` of them) is made unique with a suffix (``given-3f9a1c2e``) and the answer's header says
the id used, so two requests never share an id in the decision log and ``trail`` never merges them.
"""

from __future__ import annotations

import re
import uuid
from collections import OrderedDict
from typing import Any

from router.observe import events
from router.observe.logs import get_logger

_VALID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
SCOPE_KEY = "docroute.request_id"


class RequestIds:
    def __init__(self, app: Any, *, remember: int = 100_000):
        self.app = app
        self.remember = remember
        self.seen: OrderedDict[str, None] = OrderedDict()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = self.assign(_header(scope, b"x-request-id"))
        scope[SCOPE_KEY] = request_id
        echo = (b"x-request-id", request_id.encode())

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                message = {**message, "headers": [*headers, echo]}
            await send(message)

        await self.app(scope, receive, send_with_id)

    def assign(self, given: str) -> str:
        """``given`` if it is well formed and new here; else a fresh or suffixed id."""
        request_id = given if _VALID.match(given) else uuid.uuid4().hex
        if request_id in self.seen:  # drawn ids are remembered too: a client may send one back
            request_id = f"{given}-{uuid.uuid4().hex[:8]}"
            events.SERVICE_REQUEST_ID_RENAMED.emit(get_logger(), given=given, request_id=request_id)
        self.seen[request_id] = None
        if len(self.seen) > self.remember:
            self.seen.popitem(last=False)
        return request_id


def _header(scope: dict[str, Any], name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return ""
