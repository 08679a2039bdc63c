"""The whole story of one request, in order: its own events, and what happened around it to the
worker processes that served it and the breakers of the tiers it touched.

A request's events carry its id; a worker's events carry the worker's pid (and the ids of the
requests it served last), so the trail follows the request into the processes it went through.
Worker and breaker events are those of the request's own router process, (host, pid): on a Ray
cluster, pids of different nodes collide.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from router.forensics.reader import when


class TrailError(LookupError):
    """No request, or more than one, matches the id given."""


@dataclass
class Step:
    role: str  # request, worker, breaker
    event: dict[str, Any]


@dataclass
class Trail:
    request_id: str
    steps: list[Step] = field(default_factory=list)

    @property
    def started(self) -> float:
        return min((when(s.event) for s in self.steps if s.role == "request"), default=0.0)

    def to_dict(self) -> dict[str, Any]:
        return {"request_id": self.request_id, "steps": [{"role": s.role, "event": s.event} for s in self.steps]}


def resolve(events: list[dict[str, Any]], request_id: str) -> str:
    """The full request id for an id or a unique prefix of one."""
    ids = {e["request_id"] for e in events if isinstance(e.get("request_id"), str)}
    if request_id in ids:
        return request_id
    matches = sorted(i for i in ids if i.startswith(request_id))
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise TrailError(f"no request {request_id!r} in the logs ({len(ids)} requests read)")
    shown = ", ".join(matches[:5]) + (" ..." if len(matches) > 5 else "")
    raise TrailError(f"{request_id!r} matches {len(matches)} requests: {shown}")


def trail(events: list[dict[str, Any]], request_id: str) -> Trail:
    """The events about ``request_id`` (or a unique prefix of it), oldest first."""
    request_id = resolve(events, request_id)
    own = [e for e in events if e.get("request_id") == request_id and not e["event"].startswith("worker.")]
    received = sum(e["event"] == "request.received" for e in own)
    if received > 1:  # never merge two requests into one story
        raise TrailError(
            f"{request_id!r} names {received} requests in these logs (an id reused, e.g. by a client across "
            "restarts of the service); read the logs of one run at a time"
        )
    pids = {e["worker_pid"] for e in own if isinstance(e.get("worker_pid"), int)}
    tiers = {e["tier"] for e in own if e["event"] == "attempt.started"}
    start, end = when(own[0]), when(own[-1])
    own_ids = {id(e) for e in own}
    router = _process(own[0])
    story = Trail(request_id)
    for event in events:
        if id(event) in own_ids:
            story.steps.append(Step("request", event))
        elif _process(event) != router:
            continue
        elif event["event"].startswith("worker.") and _about(event, request_id, pids):
            story.steps.append(Step("worker", event))
        elif event["event"].startswith("breaker.") and event.get("tier") in tiers and start <= when(event) <= end:
            story.steps.append(Step("breaker", event))
    return story


def _process(event: dict[str, Any]) -> tuple[Any, Any]:
    """The router process that logged an event (worker events are logged by their router)."""
    return event.get("host"), event.get("pid")


def _about(event: dict[str, Any], request_id: str, pids: set[int]) -> bool:
    """Whether a worker event concerns the request or a worker process that served it."""
    if event.get("request_id") == request_id:
        return True
    recent = event.get("recent_requests")
    if isinstance(recent, list) and request_id in recent:
        return True
    return any(event.get(key) in pids for key in ("worker_pid", "old_pid"))
