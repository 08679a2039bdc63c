"""The HTTP service (FastAPI): extraction, health, readiness and Prometheus metrics."""

from router.service.app import create_app, http_status
from router.service.settings import ServiceSettings

__all__ = ["ServiceSettings", "create_app", "http_status"]
