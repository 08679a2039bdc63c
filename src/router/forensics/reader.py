"""Reading decision logs: JSON lines from files (rotated ones too), merged into one time order.

A line that is not a JSON event is skipped with a warning naming the file and line. The usual
one is a torn last line: the process died while writing it (the log handler flushes each event
whole, so only the last line of a file can be torn). So is an event that does not read as the one it
names in ``router.observe.events`` (a required field missing or of the wrong type: a line cut short and
completed, another program's event under a docroute name) and an event of a name this reader does not
know (another program's, or a newer docroute's): the tools read only events they can trust. Each
kind of skip is counted in ``LogSet.skipped``, which the reports show.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from router.observe.events import SCHEMA_VERSION, defects

#: Per file, skipped lines reported one by one before they are only counted.
WARN_LIMIT = 5
#: Why lines were skipped, the keys of ``LogSet.skipped``.
NOT_JSON, UNKNOWN_EVENT, MALFORMED_EVENT = "not_json", "unknown_event", "malformed_event"
#: Characters of a Ray node id that name its host in tables (the JSON has the whole id).
HOST_CHARS = 8
_ROTATED = re.compile(r"^(?P<base>.*)\.(?P<index>\d+)$")


@dataclass
class LogSet:
    """Events from every file, oldest first, and what was skipped on the way."""

    events: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    #: Lines skipped, by why (``NOT_JSON``, ``UNKNOWN_EVENT``, ``MALFORMED_EVENT``); only those that happened.
    skipped: dict[str, int] = field(default_factory=dict)


def when(event: dict[str, Any]) -> float:
    """An event's time in seconds since the epoch (0.0 if it has none)."""
    ts = event.get("ts")
    if not isinstance(ts, str):
        return 0.0
    try:
        return datetime.fromisoformat(ts).timestamp()
    except ValueError:
        return 0.0


def read_logs(paths: Iterable[str | Path]) -> LogSet:
    """All events of the given files; rotated files (``log.jsonl.1``...) are read oldest first."""
    result = LogSet()
    keyed: list[tuple[float, int, dict[str, Any]]] = []
    for path in _oldest_first(paths):
        result.files.append(str(path))
        for event in _read_file(path, result):
            keyed.append((when(event), len(keyed), event))
    keyed.sort(key=lambda item: (item[0], item[1]))
    result.events = [event for _, _, event in keyed]
    newer = sorted({e["schema_version"] for e in result.events if _newer(e.get("schema_version"))})
    if newer:
        result.warnings.append(f"events of schema version {newer} are newer than this reader's ({SCHEMA_VERSION})")
    return result


def process_name(host: Any, pid: Any) -> str:
    """A process as tables name it: ``pid`` on one machine, ``node:pid`` on a Ray cluster, where pids of
    different nodes collide (``node``: the first ``HOST_CHARS`` characters of the Ray node id)."""
    shown = "?" if pid is None else str(pid)
    return f"{host[:HOST_CHARS]}:{shown}" if isinstance(host, str) and host else shown


def between(logs: LogSet, since: str | None = None, until: str | None = None) -> LogSet:
    """The events of ``logs`` from ``since`` to ``until`` (ISO 8601 times, UTC unless they say)."""
    low = _instant(since) if since else float("-inf")
    high = _instant(until) if until else float("inf")
    events = [e for e in logs.events if low <= when(e) <= high]
    return LogSet(events, list(logs.warnings), list(logs.files), dict(logs.skipped))


def _instant(text: str) -> float:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO 8601 time: {text!r} (e.g. 2025-03-01T14:05:00)") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _newer(version: Any) -> bool:
    return isinstance(version, int) and version > SCHEMA_VERSION


def _oldest_first(paths: Iterable[str | Path]) -> list[Path]:
    unique: dict[Path, Path] = {}
    for path in paths:
        unique.setdefault(Path(path).resolve(), Path(path))

    def rank(path: Path) -> tuple[str, int]:
        match = _ROTATED.match(str(path))
        return (match["base"], -int(match["index"])) if match else (str(path), 0)

    return sorted(unique.values(), key=rank)


def _read_file(path: Path, result: LogSet) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        result.warnings.append(f"{path}: cannot read ({exc.strerror or exc})")
        return []
    lines = text.split("\n")
    torn_last = not text.endswith("\n")
    if not torn_last:
        lines.pop()  # the empty string after the final newline
    events: list[dict[str, Any]] = []
    skipped: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        event = _parse(line)
        problems = defects(event) if event is not None else []
        if event is not None and not problems:
            events.append(event)
            continue
        if not line.strip():
            continue
        why = NOT_JSON if event is None else UNKNOWN_EVENT if problems[0].startswith("unknown") else MALFORMED_EVENT
        skipped[why] = skipped.get(why, 0) + 1
        result.skipped[why] = result.skipped.get(why, 0) + 1
        if why == NOT_JSON and number == len(lines) and torn_last:
            result.warnings.append(f"{path}:{number}: torn last line skipped (the process died while writing it?)")
        elif skipped[why] <= WARN_LIMIT:
            result.warnings.append(f"{path}:{number}: {_why(why, problems)}, skipped")
    for why, count in skipped.items():
        if count > WARN_LIMIT:
            result.warnings.append(f"{path}: {count - WARN_LIMIT} more lines skipped ({why})")
    return events


def _why(why: str, problems: list[str]) -> str:
    return "not a JSON event" if why == NOT_JSON else "; ".join(problems[:3])


def _parse(line: str) -> dict[str, Any] | None:
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(event, dict):
        return None
    # docroute's events all carry ``event`` and ``ts``; a host's own JSON events in the same file may not
    return event if isinstance(event.get("event"), str) and isinstance(event.get("ts"), str) else None
