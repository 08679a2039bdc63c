"""The service's own error bodies: ``{"error": {"code": ..., "message": ...}}``.

Documents that fail are answered with their ``Result`` (which holds a classified ``error``); these
bodies are for requests refused before any document is read: auth, size, shape, overload.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status, headers=headers)
