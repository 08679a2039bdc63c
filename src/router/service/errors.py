"""What the service answers when it does not answer 200: the status, and the error body.

Every answer that is not a 200 carries ``{"error": {"code": ..., "message": ...}}``: a request refused
before any document is read gets that body alone (auth, size, shape, overload); a document that failed
gets its ``Result``, whose ``error`` holds the same ``code`` (the error class) and ``message``.

``status_for`` is the one place in the service that turns an error class into an HTTP status; it
reads the traits table (``router.failures.traits``): a failure of the document itself (it cannot be read, or
it was read and no tier's answer passed validation) is 422, so a client does not retry it; no tier
able to answer now (none can run, timeout, crashed worker) is 503, which invites a retry.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from router.failures import traits
from router.failures.errors import ErrorClass

#: The ``code`` of a refusal Starlette raises itself (routing, a malformed multipart body).
CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 408: "request_timeout"}

#: The status of a request whose client went away before the answer: never sent, never a 5xx.
CLIENT_CLOSED = 499

#: ``Retry-After`` on a document answered 503 (no tier could answer it now): about the time a worker
#: recycle takes, so a client's retry meets a fresh worker rather than the same moment again.
RETRY_AFTER_S = 5


def status_for(error_class: ErrorClass | None) -> int:
    """The HTTP status of a failed document of this class."""
    return traits.http_status(error_class)


def retry_headers(status: int) -> dict[str, str] | None:
    """The headers a document's answer with ``status`` carries: Retry-After on a 503."""
    return {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status, headers=headers)
