"""How the HTTP service is set up: who may call it, how much it reads, what it may open."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
