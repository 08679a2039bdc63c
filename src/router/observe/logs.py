"""The decision log: structlog events with stable dotted names, one per decision.

A router is a guest in its host's process, so its log is its own and configures nothing global:

- ``RouterLog`` is one router's log. Its events are stamped (``ts``, ``level``, ``pid``,
  ``schema_version``), stripped of document content unless *its* policy sets
  ``logging.log_content``, written to *its* destinations (the policy's ``logging.json_path``, one
  JSON line per event, flushed at once, rotated), and then handed to the host: a logger the host
  passed, or ``structlog.get_logger("docroute")`` where the host configured structlog, else the
  stdlib logger ``docroute`` (an unconfigured host sees warnings on stderr, as from any library,
  and nothing on its stdout). Two routers in one process never share a file or a setting.
- ``configure`` is for programs that own their process (the CLI, the service): it sets up
  structlog and the stdlib logger ``docroute`` to render events on stderr, JSON for machines or
  lines for a person, so what the routers hand on reaches the terminal.

The engine gets its request logger from ``get_logger``, which answers the logger of the router
whose request runs in this thread (``RouterLog.active``), and asks ``content_allowed`` the same
way. Every event and field is listed in ``router.observe.events`` (rendered as docs/log-schema.md).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import logging.handlers
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict

from router.observe.events import CONTENT_KEYS, SCHEMA_VERSION
from router.observe.outputs import log_problem
from router.policy.model import LoggingPolicy

__all__ = [
    "CONTENT_KEYS",
    "SCHEMA_VERSION",
    "RouterLog",
    "configure",
    "content_allowed",
    "discard",
    "get_logger",
    "set_placement",
]
LOGGER_NAME = "docroute"
#: Free text longer than this is cut in events (a policy's description may be megabytes).
TEXT_LIMIT = 200
#: Keys that machines need (replay reads the whole policy) but that bury a person's stderr.
MACHINE_ONLY_KEYS = frozenset({"policy_spec"})

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
_current: contextvars.ContextVar[RouterLog | None] = contextvars.ContextVar("docroute_router_log", default=None)
_process_log_content = False  # set by configure(): for events logged outside any router
_placement: dict[str, str] = {}  # host and actor of a router on a Ray cluster (router.scale sets them)


def set_placement(**placement: str) -> None:
    """Add these fields (``host``, ``actor``) to every event of this process from now on."""
    _placement.update(placement)


def _add_static(_: Any, __: str, event: EventDict) -> EventDict:
    event.setdefault("schema_version", SCHEMA_VERSION)
    event.setdefault("pid", os.getpid())
    for key, value in _placement.items():
        event.setdefault(key, value)
    return event


def _json(event: dict[str, Any]) -> str:
    return str(structlog.processors.JSONRenderer(sort_keys=False, default=str)(None, "", dict(event)))


def _for_stderr(stream: TextIO, settings: LoggingPolicy) -> Callable[[dict[str, Any]], str]:
    """How events look on stderr: lines for a person on a terminal (or ``format: console``), JSON
    otherwise; never the keys only machines read."""
    console = settings.format == "console" or (settings.format == "auto" and stream.isatty())
    renderer = structlog.dev.ConsoleRenderer(colors=stream.isatty()) if console else None

    def render(event: dict[str, Any]) -> str:
        event = {k: v for k, v in event.items() if k not in MACHINE_ONLY_KEYS}
        return str(renderer(None, "", event)) if renderer else _json(event)

    return render


class _Rendered(logging.Formatter):
    """Formats a record whose ``msg`` is an event dict."""

    def __init__(self, render: Callable[[dict[str, Any]], str]):
        super().__init__()
        self._render = render

    def format(self, record: logging.LogRecord) -> str:
        return self._render(record.msg if isinstance(record.msg, dict) else {"event": str(record.msg)})


def _handlers(
    settings: LoggingPolicy, json_path: str | os.PathLike[str] | None, stream: TextIO | None
) -> list[logging.Handler]:
    handlers: list[logging.Handler] = []
    if json_path:
        problem = log_problem(Path(json_path))
        if problem:  # never append events to an image, nor make folders the caller did not ask for
            raise ValueError(f"decision log {json_path}: {problem}")
        file_handler = logging.handlers.RotatingFileHandler(
            json_path, maxBytes=settings.rotate_bytes, backupCount=settings.backups, encoding="utf-8"
        )
        file_handler.setFormatter(_Rendered(_json))
        handlers.append(file_handler)
    if stream is not None:
        stream_handler = logging.StreamHandler(stream)
        stream_handler.setFormatter(_Rendered(_for_stderr(stream, settings)))
        handlers.append(stream_handler)
    return handlers


class RouterLog:
    """One router's decision log: its own destinations and content setting, then the host's logger.

    ``json_path`` (default: the policy's ``logging.json_path``) gets every event as a JSON line;
    ``stream`` (e.g. ``sys.stderr``), if given, too. ``host`` receives every event after that; by
    default ``structlog.get_logger("docroute")`` where the host configured structlog, else the
    stdlib logger ``docroute`` (looked up at each event).
    """

    def __init__(
        self,
        settings: LoggingPolicy | None = None,
        *,
        json_path: str | os.PathLike[str] | None = None,
        stream: TextIO | None = None,
        host: Any = None,
    ):
        settings = settings or LoggingPolicy()
        self.log_content = settings.log_content
        self._host = host
        self._out = logging.Logger(LOGGER_NAME, _LEVELS[settings.level])  # private: not in logging's registry
        self._out.addHandler(logging.NullHandler())  # never stdlib's last resort, even with no destination
        for handler in _handlers(settings, json_path if json_path is not None else settings.json_path, stream):
            self._out.addHandler(handler)
        self.logger: Any = structlog.wrap_logger(
            _Sink(self._deliver),
            processors=[
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
                _add_static,
                self._redact,
                structlog.processors.format_exc_info,
            ],
            wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[settings.level]),
        )

    def _redact(self, _: Any, __: str, event: EventDict) -> EventDict:
        return event if self.log_content else _without_content(event)

    def _deliver(self, event: dict[str, Any]) -> None:
        level = event.get("level", "info")
        self._out.handle(self._out.makeRecord(LOGGER_NAME, _LEVELS.get(level, logging.ERROR), "", 0, event, (), None))
        if self._host is None and not structlog.is_configured():
            _to_stdlib(event)
            return
        fields = {k: v for k, v in event.items() if k not in ("event", "level", "ts")}
        host = self._host if self._host is not None else structlog.get_logger(LOGGER_NAME)
        getattr(host, level if level in _LEVELS else "error")(event.get("event", ""), **fields)

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """Within this block, ``get_logger`` and ``content_allowed`` in this thread mean this log."""
        token = _current.set(self)
        try:
            yield
        finally:
            _current.reset(token)

    def add_handler(self, handler: logging.Handler) -> None:
        """Also hand each event to a stdlib handler (its record's ``msg`` is the event dict)."""
        self._out.addHandler(handler)

    def remove_handler(self, handler: logging.Handler) -> None:
        self._out.removeHandler(handler)

    def close(self) -> None:
        for handler in list(self._out.handlers):
            self._out.removeHandler(handler)
            handler.close()


class _Sink:
    """The end of a RouterLog's processor chain: every level goes to ``deliver``."""

    def __init__(self, deliver: Callable[[dict[str, Any]], None]):
        self._deliver = deliver

    def msg(self, **event: Any) -> None:
        self._deliver(event)

    debug = info = warning = error = critical = msg


def _to_stdlib(event: dict[str, Any]) -> None:
    """An event for a host that configured no structlog: to the stdlib logger ``docroute``, as any
    library logs. Unconfigured, Python shows warnings and errors on stderr and nothing else
    (structlog's own default would print every event on the host's stdout)."""
    logger = logging.getLogger(LOGGER_NAME)
    number = _LEVELS.get(event.get("level", "info"), logging.ERROR)
    if logger.isEnabledFor(number):
        fields = " ".join(f"{k}={v}" for k, v in event.items() if k not in ("event", "level", "ts") and v is not None)
        logger.log(number, "%s %s", event.get("event", ""), fields)


def _drop(*_: Any) -> EventDict:
    raise structlog.DropEvent


def discard() -> Any:
    """A host logger that drops every event: for a program whose routers write only to their own
    destinations (a drill, a benchmark)."""
    return structlog.wrap_logger(structlog.ReturnLogger(), processors=[_drop])


def configure(
    settings: LoggingPolicy | None = None,
    *,
    json_path: str | os.PathLike[str] | None = None,
    stderr: bool | None = None,
    stream: TextIO | None = None,
    level: str | None = None,
) -> None:
    """For a program that owns its process (the CLI, the service): render docroute's events on
    stderr (``stream``) as ``settings`` say, and into ``json_path`` if given; ``level`` overrides
    the settings' level. Configures structlog for the whole process: a library never calls this.

    Idempotent: replaces the handlers of the ``docroute`` logger each call.
    """
    global _process_log_content
    settings = settings or LoggingPolicy()
    _process_log_content = settings.log_content
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.propagate = False
    logger.setLevel(_LEVELS[level or settings.level])
    out = (stream or sys.stderr) if (settings.stderr if stderr is None else stderr) else None
    for handler in _handlers(settings, json_path, out):
        logger.addHandler(handler)
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            structlog.stdlib.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
            _add_static,
            _redact_outside_routers,
            structlog.processors.format_exc_info,
            _to_record,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def _redact_outside_routers(_: Any, __: str, event: EventDict) -> EventDict:
    """Events a router hands on were redacted by it; others follow the process's setting."""
    return _without_content(event) if _current.get() is None and not _process_log_content else event


def _without_content(event: EventDict) -> EventDict:
    """The event without document content (``CONTENT_KEYS``)."""
    for key in CONTENT_KEYS & event.keys():
        del event[key]
    return event


#: Events outside any router's requests (a batch's, the service's) for a host that configured no
#: structlog: no document content, through the stdlib logger ``docroute``.
_UNCONFIGURED_HOST: Any = structlog.wrap_logger(
    _Sink(_to_stdlib),
    processors=[structlog.processors.add_log_level, _redact_outside_routers],
    wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
)


def _to_record(_: Any, __: str, event: EventDict) -> tuple[tuple[EventDict], dict[str, Any]]:
    """Hand the event dict itself to the stdlib logger: its handlers render it (``_Rendered``)."""
    return (event,), {}


def get_logger(**context: Any) -> Any:
    """A logger for docroute's events with ``context`` bound: the current router's (see
    ``RouterLog.active``), else ``structlog.get_logger("docroute")`` where the host configured
    structlog, else the stdlib logger ``docroute`` (content stripped)."""
    current = _current.get()
    if current is not None:
        return current.logger.bind(**context)
    base = structlog.get_logger(LOGGER_NAME) if structlog.is_configured() else _UNCONFIGURED_HOST
    return base.bind(**context)


def content_allowed() -> bool:
    """Whether events may carry document content: the current router's policy says, else the
    process's configuration."""
    current = _current.get()
    return current.log_content if current is not None else _process_log_content


def capped(value: Any, limit: int = TEXT_LIMIT) -> Any:
    """``value`` (JSON data) with every string longer than ``limit`` cut, for events that echo
    configuration: a policy's free text has no bound of its own."""
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + f"... ({len(value)} chars)"
    if isinstance(value, dict):
        return {k: capped(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [capped(v, limit) for v in value]
    return value
