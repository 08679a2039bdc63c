"""The log as a historian sees it: requests with their attempts and skips, grouped by router session.

A session is one router from its ``router.starting`` event on: breakers, quarantines and workers
live and die with it. Requests are assigned to the latest session of the same process and policy
hash that started before them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from router.forensics.reader import when


@dataclass
class Attempt:
    """One recorded try of one tier."""

    tier: str
    number: int
    outcome: str  # succeeded, failed, rejected
    duration_ms: float
    started_at: float
    timeout_s: float | None = None
    error_class: str | None = None
    signature: str | None = None
    message: str | None = None
    worker_pid: int | None = None
    fields_present: list[str] | None = None
    shared_failure: str | None = None
    probe: bool | None = None  # tried past a refusing breaker (None: a log from before the field)
    ended_at: float | None = None  # when its outcome was logged
    confidence: dict[str, float | None] | None = None  # per field answered (None: a log from before it)
    agrees_with: dict[str, list[str]] | None = None  # per field, the earlier tiers that gave the same value

    @property
    def label(self) -> str:
        return "ok" if self.outcome == "succeeded" else str(self.error_class)


@dataclass
class Skip:
    tier: str
    reason: str
    at: float
    detail: str | None = None


@dataclass
class RecordedRequest:
    request_id: str
    events: list[dict[str, Any]] = field(default_factory=list)
    pid: int | None = None  # the router's process
    host: str | None = None  # its Ray node id on a cluster (pids collide across nodes)
    policy_hash: str | None = None
    sha256: str | None = None
    received_at: float | None = None
    deadline_s: float | None = None
    attempts: list[Attempt] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    sleeps: dict[tuple[str, int], float] = field(default_factory=dict)  # (tier, coming attempt) -> s
    status: str | None = None  # None: the request never finished (the router died?)
    tier: str | None = None
    error_class: str | None = None
    duration_ms: float | None = None
    review: list[str] = field(default_factory=list)  # needs_review: the doubtful fields
    cost: float | None = None  # what its attempts cost (None: a log from before costs)
    rejected: bool = False  # bad input, refused before any tier
    crashed: bool = False

    @property
    def done(self) -> bool:
        return self.status is not None

    def attempts_on(self, tier: str) -> list[Attempt]:
        return [a for a in self.attempts if a.tier == tier]

    def path(self) -> list[str]:
        """What happened, tier by tier: ``vision:sticky_cuda``, ``backup:skip(breaker_open)``, ``rules:ok``."""
        steps: list[str] = []
        for event in self.events:
            name = event["event"]
            if name == "tier.skipped":
                steps.append(f"{event['tier']}:skip({event['reason']})")
            elif name in ("attempt.succeeded", "attempt.failed", "attempt.rejected"):
                label = "ok" if name == "attempt.succeeded" else event.get("error_class")
                steps.append(f"{event['tier']}:{label}")
            elif name == "route.low_confidence":
                steps[-1] = f"{event['from_tier']}:low_confidence"
        return steps


@dataclass
class Session:
    """One router's life: its policy, the tiers unavailable from the start, its requests."""

    pid: int | None
    policy_hash: str | None
    started_at: float
    host: str | None = None  # the Ray node id on a cluster, where pids of different nodes collide
    policy: str | None = None
    tiers: list[str] = field(default_factory=list)
    policy_spec: dict[str, Any] | None = None
    unavailable: dict[str, str] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)


@dataclass
class Recording:
    sessions: list[Session]
    requests: dict[str, RecordedRequest]
    #: Per tier, recorded worker start and recycle times (s): how long a tier is out while a worker starts.
    worker_start_s: dict[str, list[float]]


def collect(events: list[dict[str, Any]]) -> Recording:
    """Group time-ordered events into sessions and requests."""
    sessions: list[Session] = []
    requests: dict[str, RecordedRequest] = {}
    start_s: dict[str, list[float]] = {}
    for event in events:
        name = event["event"]
        if name == "router.starting":
            sessions.append(_session(event))
        elif name == "tier.unavailable":
            _session_of(sessions, event).unavailable[event.get("tier", "?")] = event.get("reason", "")
        elif name in ("worker.ready", "worker.recycled") and "tier" in event and "duration_ms" in event:
            start_s.setdefault(event["tier"], []).append(float(event["duration_ms"]) / 1000)
        request_id = event.get("request_id")
        if isinstance(request_id, str) and (name.startswith(("request.", "attempt.", "tier.", "route.", "error."))):
            request = requests.get(request_id)
            if request is None:
                request = requests[request_id] = RecordedRequest(request_id)
                _session_of(sessions, event).requests.append(request)
            _apply(request, event)
    return Recording([s for s in sessions if s.requests or s.policy_spec], requests, start_s)


def _session(event: dict[str, Any]) -> Session:
    return Session(
        pid=event.get("pid"),
        policy_hash=event.get("policy_hash"),
        started_at=when(event),
        host=event.get("host"),
        policy=event.get("policy"),
        tiers=list(event.get("tiers") or []),
        policy_spec=event.get("policy_spec"),
    )


def _session_of(sessions: list[Session], event: dict[str, Any]) -> Session:
    """The latest session of the event's process (host and pid) and policy; a new one if its start is
    not in the log."""
    host, pid, policy_hash = event.get("host"), event.get("pid"), event.get("policy_hash")
    for session in reversed(sessions):
        if session.host == host and session.pid == pid and session.policy_hash == policy_hash:
            return session
    orphan = Session(pid=pid, policy_hash=policy_hash, started_at=when(event), host=host)
    sessions.append(orphan)
    return orphan


def _apply(request: RecordedRequest, event: dict[str, Any]) -> None:
    request.events.append(event)
    name = event["event"]
    request.pid = request.pid or event.get("pid")
    request.host = request.host or event.get("host")
    request.policy_hash = request.policy_hash or event.get("policy_hash")
    if name == "request.received":
        request.sha256 = event.get("sha256")
        request.received_at = when(event)
        request.deadline_s = event.get("deadline_s")
    elif name == "tier.skipped":
        request.skips.append(Skip(event["tier"], event["reason"], when(event), event.get("detail")))
    elif name == "attempt.retry":
        request.sleeps[(event["tier"], int(event["attempt"]))] = float(event.get("sleep_s", 0.0))
    elif name in ("attempt.succeeded", "attempt.failed", "attempt.rejected"):
        request.attempts.append(_attempt(request, event))
    elif name == "request.done":
        request.status = event.get("status")
        request.tier = event.get("tier")
        request.error_class = event.get("error_class")
        request.duration_ms = event.get("duration_ms")
        request.sha256 = request.sha256 or event.get("sha256")
        request.review = list(event.get("review") or [])
        request.cost = event.get("cost")
    elif name == "request.rejected":
        request.rejected = True
    elif name == "request.crashed":  # the caller got a failed result of class unknown; no request.done follows
        request.crashed = True
        request.status, request.error_class = "failed", "unknown"


def _attempt(request: RecordedRequest, event: dict[str, Any]) -> Attempt:
    started = next(
        (
            e
            for e in reversed(request.events)
            if e["event"] == "attempt.started"
            and e.get("tier") == event["tier"]
            and e.get("attempt") == event["attempt"]
        ),
        None,
    )
    outcome = {"attempt.succeeded": "succeeded", "attempt.failed": "failed"}.get(event["event"], "rejected")
    return Attempt(
        tier=event["tier"],
        number=int(event["attempt"]),
        outcome=outcome,
        duration_ms=float(event.get("duration_ms") or 0.0),
        started_at=when(started or event),
        timeout_s=started.get("timeout_s") if started else None,
        error_class=event.get("error_class"),
        signature=event.get("signature"),
        message=event.get("message"),
        worker_pid=event.get("worker_pid"),
        fields_present=event.get("fields_present"),
        shared_failure=event.get("shared_failure"),
        probe=started.get("probe") if started else None,
        ended_at=when(event),
        confidence=event.get("confidence"),
        agrees_with=event.get("agrees_with"),
    )
