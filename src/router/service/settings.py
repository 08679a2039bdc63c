"""How the HTTP service is set up: who may call it, how much it reads, what it may open."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: Seconds a client has to send a request's headers, and then its whole body.
DEFAULT_HEADER_TIMEOUT_S = 10.0
DEFAULT_BODY_TIMEOUT_S = 60.0

#: The default upload limit: 50 MB (decimal), the request body included.
DEFAULT_MAX_UPLOAD_BYTES = 50_000_000


@dataclass(frozen=True)
class ServiceSettings:
    token: str | None = None
    """Bearer token required on /v1/* and /metrics; None leaves them open (bind to localhost then)."""
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    """Largest request body read; larger ones get 413 before or while they arrive."""
    allow_path: Path | None = None
    """Directory whose files may be named in ``{"path": ...}`` requests; None refuses server paths."""
    max_in_flight: int = 64
    """Requests accepted at once (waiting or extracting); beyond this the service answers 503 with Retry-After."""
    max_parallel: int | None = None
    """Documents read into memory, decoded and routed at once; the other accepted requests wait with
    their uploads spooled. None: the worker slots of the tiers that can run (as ``docroute batch``)."""
    header_timeout_s: float = DEFAULT_HEADER_TIMEOUT_S
    """Seconds from connecting (or from the last answer) to a request's headers, whole; then the
    connection is closed. Slow clients cannot hold sockets open."""
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S
    """Seconds from a request's headers to its whole body; then 408. Slow uploads cannot hold
    ``max_in_flight``: 50 MB in 60 s needs about 7 Mbit/s."""

    def __post_init__(self) -> None:
        check_token(self.token)  # every surface (CLI, Ray, a host's own app) by the same rules


def check_token(token: str | None) -> str | None:
    """The token a service may require, or None for none; ValueError saying why ``token`` cannot be one.

    The rules: a token is given (``--token`` or ``DOCROUTE_TOKEN``) or not at all; one given is at
    least 16 visible ASCII characters (no spaces: header values are stripped, so a token with a
    space at either end could never be sent, and an empty or blank one would mean no authentication
    at all, silently). Serving without a token is only for a bound address on this machine, or
    said in a warning."""
    if token is None:
        return None
    if not token.strip():
        raise ValueError(
            "the token (--token or DOCROUTE_TOKEN) is empty or blank: set a real one, or unset it to serve "
            "without authentication"
        )
    if token != token.strip() or any(not 33 <= ord(ch) <= 126 for ch in token):
        raise ValueError(
            "the token (--token or DOCROUTE_TOKEN) holds spaces or characters that are not visible ASCII: "
            "no client could send it in an Authorization header"
        )
    return token
