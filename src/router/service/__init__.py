"""The HTTP service (FastAPI): extraction, health, readiness and Prometheus metrics.

The app is imported on first use, so the CLI can read ``router.service.settings`` without
importing FastAPI.

Imports ``api`` (through ``from router import Router``), ``core``, ``observe`` and below; imported by
the CLI and ``scale``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from router.service.settings import ServiceSettings

if TYPE_CHECKING:
    from router.service.app import create_app, http_status

__all__ = ["ServiceSettings", "create_app", "http_status"]


def __getattr__(name: str) -> Any:
    if name in ("create_app", "http_status"):
        from router.service import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
