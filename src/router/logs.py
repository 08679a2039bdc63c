"""The decision log: structlog events with stable dotted names, one per decision.

Events go through the stdlib logger ``docroute`` (which does not propagate to the root logger), so
one event can be rendered as JSON into a rotating file and for a person on stderr at once. Each
record is written and flushed as one line: if the process dies, every line before is complete.

Document text and extracted values are dropped from events unless the policy sets
``logging.log_content``. Every event and field is listed in ``router.events`` (rendered as
docs/log-schema.md).
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path
from typing import Any, TextIO

import structlog

from router.events import CONTENT_KEYS, SCHEMA_VERSION
from router.policy import LoggingPolicy

__all__ = ["CONTENT_KEYS", "SCHEMA_VERSION", "configure", "content_allowed", "ensure_configured", "get_logger"]
LOGGER_NAME = "docroute"

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
_log_content = False
_placement: dict[str, str] = {}  # host and actor of a router on a Ray cluster (router.scale sets them)


def set_placement(**placement: str) -> None:
    """Add these fields (``host``, ``actor``) to every event of this process from now on."""
    _placement.update(placement)


def _add_static(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    event.setdefault("schema_version", SCHEMA_VERSION)
    event.setdefault("pid", os.getpid())
    for key, value in _placement.items():
        event.setdefault(key, value)
    return event


def _redact_content(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    if not _log_content:
        for key in CONTENT_KEYS & event.keys():
            del event[key]
    return event


_SHARED: list[Any] = [
    structlog.stdlib.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
    _add_static,
    _redact_content,
]


#: Keys that machines need (replay reads the whole policy) but that bury a console line.
MACHINE_ONLY_KEYS = frozenset({"policy_spec"})


def _drop_machine_only(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    for key in MACHINE_ONLY_KEYS & event.keys():
        del event[key]
    return event


def _formatter(renderer: Any, *extra: Any) -> logging.Formatter:
    return structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *extra, renderer],
        foreign_pre_chain=_SHARED,
    )


def _json_renderer() -> Any:
    return structlog.processors.JSONRenderer(sort_keys=False, default=str)


def configure(
    settings: LoggingPolicy | None = None,
    *,
    json_path: str | os.PathLike[str] | None = None,
    stderr: bool | None = None,
    stream: TextIO | None = None,
) -> None:
    """Send docroute's events where ``settings`` say; ``json_path`` and ``stderr`` override them.

    Idempotent: replaces the handlers of the ``docroute`` logger each call.
    """
    global _log_content
    settings = settings or LoggingPolicy()
    _log_content = settings.log_content
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.propagate = False
    logger.setLevel(_LEVELS[settings.level])

    path = json_path if json_path is not None else settings.json_path
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=settings.rotate_bytes, backupCount=settings.backups, encoding="utf-8"
        )
        file_handler.setFormatter(_formatter(_json_renderer(), structlog.processors.format_exc_info))
        logger.addHandler(file_handler)

    if settings.stderr if stderr is None else stderr:
        out = stream or sys.stderr
        console = settings.format == "console" or (settings.format == "auto" and out.isatty())
        stream_handler = logging.StreamHandler(out)
        if console:
            renderer = structlog.dev.ConsoleRenderer(colors=out.isatty())
            stream_handler.setFormatter(_formatter(renderer, _drop_machine_only))
        else:
            stream_handler.setFormatter(_formatter(_json_renderer(), structlog.processors.format_exc_info))
        logger.addHandler(stream_handler)

    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    _configure_structlog()


def ensure_configured() -> None:
    """For hosts that configure logging themselves: if structlog is unconfigured, route docroute's
    events through the stdlib logger ``docroute`` (and so to the host's handlers) instead of letting
    structlog's default print them to stdout. Content stays out unless opted in."""
    if not structlog.is_configured():
        _configure_structlog()


def _configure_structlog() -> None:
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_SHARED,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def get_logger(**context: Any) -> Any:
    """A logger for docroute's events with ``context`` bound to every event."""
    return structlog.get_logger(LOGGER_NAME).bind(**context)


def content_allowed() -> bool:
    """Whether the current configuration puts document content into events."""
    return _log_content
