"""An incident report from decision logs: what failed where, what the router did about it, and when.

Plain data (dicts and lists) for ``--json``; the CLI renders the same data as tables.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from router.forensics.hosts import by_host, processes, reruns
from router.forensics.reader import LogSet, when
from router.forensics.recorded import RecordedRequest, Recording, collect
from router.observe import events as E

#: Events worth a line in the timeline: the router's own decisions about tiers and workers.
TIMELINE_EVENTS = frozenset(
    e.name
    for e in (
        E.ROUTER_STARTING,
        E.ROUTER_CLOSED,
        E.TIER_UNAVAILABLE,
        E.BREAKER_OPEN,
        E.BREAKER_HALF_OPEN,
        E.BREAKER_CLOSED,
        E.WORKER_START_FAILED,
        E.WORKER_DIED,
        E.WORKER_TIMEOUT,
        E.WORKER_RECYCLING,
        E.WORKER_RECYCLED,
        E.WORKER_SUPERVISION_FAILED,
        E.REQUEST_CRASHED,
        E.BATCH_RERUN,
        E.BATCH_GAVE_UP,
    )
)
_FAILED_ATTEMPTS = (E.ATTEMPT_FAILED.name, E.ATTEMPT_REJECTED.name)
POISONING = ("sticky_cuda", "worker_crashed")
_SKIP_IN_DETAIL = frozenset(
    {"event", "ts", "level", "pid", "host", "actor", "schema_version", "policy", "policy_hash", "tier"}
)


def incident_report(logs: LogSet, *, top: int = 10) -> dict[str, Any]:
    """Everything a responder asks first, from the events of ``logs``."""
    events = logs.events
    recording = collect(events)
    requests = list(recording.requests.values())
    return {
        "window": _window(logs, recording),
        "status": dict(Counter(r.status or "unfinished" for r in requests)),
        "failures": _failures(events),
        "failure_spans": _failure_spans(events),
        "skips": _nested_counts(events, E.TIER_SKIPPED.name, "reason"),
        "recycles": _recycles(events),
        "breakers": [_brief(e) for e in events if e["event"].startswith("breaker.")],
        "timeline": [_brief(e) for e in events if e["event"] in TIMELINE_EVENTS],
        "slowest": _slowest(requests, top),
        "poisoning_documents": _poisoning_documents(recording, events),
        "degraded": [_request_line(r) for r in requests if r.status == "degraded"],
        "unfinished": [_request_line(r) for r in requests if not r.done],
        "reruns": reruns(recording, events),
        "by_host": by_host(recording, events),
        "warnings": logs.warnings,
    }


def _window(logs: LogSet, recording: Recording) -> dict[str, Any]:
    events = logs.events
    return {
        "files": logs.files,
        "events": len(events),
        "first": events[0]["ts"] if events else None,
        "last": events[-1]["ts"] if events else None,
        "requests": len(recording.requests),
        "routers": len(recording.sessions),
        "processes": [{"host": h, "pid": p} for h, p in sorted(processes(events), key=lambda hp: (hp[0] or "", hp[1]))],
        "hosts": sorted({e["host"] for e in events if isinstance(e.get("host"), str)}),  # Ray node ids
        "skipped": dict(logs.skipped),  # lines left out, by why (reader.NOT_JSON, ...): never a traceback
    }


def _failures(events: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Failed and rejected attempts by tier, then by error class."""
    counts: dict[str, Counter[str]] = {}
    for event in events:
        if event["event"] in _FAILED_ATTEMPTS:
            counts.setdefault(event.get("tier", "?"), Counter())[str(event.get("error_class"))] += 1
        elif event["event"] == E.REQUEST_REJECTED.name:
            counts.setdefault("(input)", Counter())["bad_input"] += 1
    return {tier: dict(counter) for tier, counter in counts.items()}


def _failure_spans(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each tier and error class: how many, the first and the last time."""
    spans: dict[tuple[str, str], dict[str, Any]] = {}
    for event in events:
        if event["event"] in _FAILED_ATTEMPTS:
            key = (event.get("tier", "?"), str(event.get("error_class")))
            span = spans.setdefault(key, {"tier": key[0], "error_class": key[1], "count": 0, "first": event["ts"]})
            span["count"] += 1
            span["last"] = event["ts"]
    return sorted(spans.values(), key=lambda s: s["first"])


def _nested_counts(events: list[dict[str, Any]], name: str, key: str) -> dict[str, dict[str, int]]:
    counts: dict[str, Counter[str]] = {}
    for event in events:
        if event["event"] == name:
            counts.setdefault(event.get("tier", "?"), Counter())[str(event.get(key))] += 1
    return {tier: dict(counter) for tier, counter in counts.items()}


def _recycles(events: list[dict[str, Any]]) -> dict[str, Any]:
    recycled = [e for e in events if e["event"] == E.WORKER_RECYCLED.name]
    deaths = [e for e in events if e["event"] in (E.WORKER_DIED.name, E.WORKER_TIMEOUT.name)]
    return {
        "by_tier": dict(Counter(e.get("tier", "?") for e in recycled)),
        "by_reason": dict(Counter(str(e.get("reason")) for e in recycled)),
        "deaths": dict(Counter(f"{e.get('tier', '?')}: {_death(e)}" for e in deaths)),
        "events": [_brief(e) for e in recycled],
    }


def _death(event: dict[str, Any]) -> str:
    if event["event"] == E.WORKER_TIMEOUT.name:
        return "hung (timeout)"
    code = event.get("exitcode")
    cause = f"signal {-code}" if isinstance(code, int) and code < 0 else f"exit {code}"
    return cause if event.get("request_id") or "request_id" not in event else f"{cause} (idle)"


def _slowest(requests: list[RecordedRequest], top: int) -> list[dict[str, Any]]:
    done = [r for r in requests if r.duration_ms is not None]
    done.sort(key=lambda r: r.duration_ms or 0.0, reverse=True)
    return [_request_line(r) for r in done[:top]]


def _request_line(request: RecordedRequest) -> dict[str, Any]:
    return {
        "request_id": request.request_id,
        "host": request.host,
        "pid": request.pid,
        "ts": request.events[0]["ts"] if request.events else None,
        "sha256": request.sha256,
        "status": request.status or "unfinished",
        "tier": request.tier,
        "error_class": request.error_class,
        "duration_ms": request.duration_ms,
        "attempts": len(request.attempts),
        "path": request.path(),
        "last_event": request.events[-1]["event"] if request.events else None,
    }


def _poisoning_documents(recording: Recording, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Documents whose attempts ended in a sticky CUDA error or a worker crash, by sha256.

    CUDA errors are asynchronous: the request that saw one may not have caused it. ``suspects``
    lists the other documents the same worker served just before (from its recycle event).
    """
    recent = _recent_requests_by_worker(events)
    found: dict[str, dict[str, Any]] = {}
    for request in recording.requests.values():
        for attempt in request.attempts:
            if attempt.error_class not in POISONING:
                continue
            entry = found.setdefault(
                request.sha256 or "?",
                {
                    "sha256": request.sha256,
                    "count": 0,
                    "classes": Counter(),
                    "tiers": set(),
                    "requests": [],
                    "suspects": set(),
                },
            )
            entry["count"] += 1
            entry["classes"][attempt.error_class] += 1
            entry["tiers"].add(attempt.tier)
            entry["requests"].append(request.request_id)
            served = recent.get((request.host, attempt.worker_pid), []) if attempt.worker_pid is not None else []
            for other in served:
                sha = recording.requests[other].sha256 if other in recording.requests else None
                if other != request.request_id and sha and sha != request.sha256:
                    entry["suspects"].add(sha)
    rows = sorted(found.values(), key=lambda e: -e["count"])
    return [
        {**e, "classes": dict(e["classes"]), "tiers": sorted(e["tiers"]), "suspects": sorted(e["suspects"])}
        for e in rows
    ]


def _recent_requests_by_worker(events: list[dict[str, Any]]) -> dict[tuple[str | None, int], list[str]]:
    """The requests each worker served last, by (host, worker pid): pids of different nodes collide."""
    recent: dict[tuple[str | None, int], list[str]] = {}
    for event in events:
        ids = event.get("recent_requests")
        pid = event.get("old_pid", event.get("worker_pid"))
        if isinstance(ids, list) and isinstance(pid, int):
            served = recent.setdefault((event.get("host"), pid), [])
            served += [i for i in ids if isinstance(i, str) and i not in served]
    return recent


def _brief(event: dict[str, Any]) -> dict[str, Any]:
    """An event as a timeline line: when, which process and tier, what, and its other fields."""
    detail = {k: v for k, v in event.items() if k not in _SKIP_IN_DETAIL and k != "policy_spec"}
    return {
        "ts": event.get("ts"),
        "t": when(event),
        "pid": event.get("pid"),
        "host": event.get("host"),
        "tier": event.get("tier"),
        "event": event["event"],
        "detail": detail,
    }
