"""Replay: what another policy would have done with the requests in a log.

Each recorded router session is replayed on its own (breakers, quarantines and workers live in
one router), its requests in the order they arrived and at the times they arrived. Every request
ends in one of: ``same``, ``tier_changed``, ``newly_failed``, ``newly_saved``, ``error_changed``, or
``unknown`` with the outcome the new policy needs that the log does not hold.

Assumptions, stated in every report: requests arrive when they did (a slower policy does not
delay the next request); requests are replayed one after another, so with concurrent requests the
breakers' view is approximate where the recorded verdicts cannot stand (``simstate``); a tier's
outcomes are recorded per request and never borrowed from another request of the same document.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from router.forensics.projection import Unknown
from router.forensics.recorded import RecordedRequest, Recording, collect
from router.forensics.simstate import SessionState, new_state
from router.forensics.simulate import Walk, walk
from router.policy.model import Policy

CHANGES = ("same", "tier_changed", "status_changed", "newly_failed", "newly_saved", "error_changed", "unknown")
ASSUMPTIONS = (
    "requests arrive when they did in the recording, whatever the new policy's latency",
    "requests are replayed one after another per router session (concurrent requests: breakers approximate"
    " where the recorded verdicts cannot stand)",
    "outcomes come from the same request only, never from another request of the same document",
)


@dataclass
class Outcome:
    status: str
    tier: str | None
    error_class: str | None
    duration_ms: float | None
    path: list[str] = field(default_factory=list)
    review: list[str] = field(default_factory=list)
    cost: float | None = None  # None: not recorded (a log from before costs)


@dataclass
class Prediction:
    request_id: str
    sha256: str | None
    recorded: Outcome
    predicted: Outcome | None
    change: str
    unknown: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class ReplayReport:
    policy: str
    policy_hash: str
    predictions: list[Prediction]
    breaker_transitions: list[dict[str, Any]]
    notes: list[str]
    assumptions: tuple[str, ...] = ASSUMPTIONS

    def counts(self) -> dict[str, int]:
        return {change: sum(p.change == change for p in self.predictions) for change in CHANGES}

    def latency(self) -> dict[str, Any]:
        """p50/p95 of recorded and projected request time, over the requests replay can predict."""
        known = [p for p in self.predictions if p.predicted is not None and p.recorded.duration_ms is not None]
        recorded = [p.recorded.duration_ms or 0.0 for p in known]
        projected = [p.predicted.duration_ms or 0.0 for p in known if p.predicted]
        return {
            "requests": len(known),
            "recorded": {"p50": percentile(recorded, 50), "p95": percentile(recorded, 95)},
            "projected": {"p50": percentile(projected, 50), "p95": percentile(projected, 95)},
        }

    def what_if(self) -> dict[str, Any]:
        """At the new policy's thresholds: documents accepted per tier, to review, failed, what they cost
        (over the requests replay can predict; precision needs labels: ``docroute eval``)."""
        known = [p.predicted for p in self.predictions if p.predicted is not None]
        accepted: dict[str, int] = {}
        for outcome in known:
            if outcome.status in ("ok", "degraded") and outcome.tier is not None:
                accepted[outcome.tier] = accepted.get(outcome.tier, 0) + 1
        return {
            "requests": len(known),
            "accepted": accepted,
            "needs_review": sum(o.status == "needs_review" for o in known),
            "failed": sum(o.status == "failed" for o in known),
            "cost": round(sum(o.cost or 0.0 for o in known), 6),
            "recorded_cost": round(sum(p.recorded.cost or 0.0 for p in self.predictions if p.predicted), 6),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "policy_hash": self.policy_hash,
            "counts": self.counts(),
            "what_if": self.what_if(),
            "latency_ms": self.latency(),
            "breaker_transitions": self.breaker_transitions,
            "assumptions": list(self.assumptions),
            "notes": self.notes,
            "requests": [asdict(p) for p in self.predictions],
        }


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile by the nearest-rank method; None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return round(ordered[rank - 1], 2)


def replay(events: list[dict[str, Any]], policy: Policy) -> ReplayReport:
    """Re-decide every recorded request of ``events`` under ``policy``."""
    recording = collect(events)
    notes: list[str] = []
    predictions: list[Prediction] = []
    transitions: list[dict[str, Any]] = []
    for session in recording.sessions:
        state = new_state(policy, session, recording, notes)
        for request in sorted(session.requests, key=lambda r: r.received_at or session.started_at):
            predictions.append(_predict(request, state))
            state.recorded(request)
        transitions += [{**t, "pid": session.pid} for t in state.transitions]
    return ReplayReport(policy.name, policy.digest(), predictions, transitions, _unique(notes))


def _predict(request: RecordedRequest, state: SessionState) -> Prediction:
    recorded = Outcome(
        status=request.status or "unfinished",
        tier=request.tier,
        error_class=request.error_class,
        duration_ms=request.duration_ms,
        path=request.path(),
        review=list(request.review),
        cost=request.cost,
    )
    base = Prediction(request.request_id, request.sha256, recorded, None, "unknown")
    if not request.done:
        base.unknown = "the request never finished in the recording (the router died?)"
    elif request.crashed:
        base.unknown = "the router crashed on this request in the recording"
    elif request.rejected:
        return _rejected(base, state)
    if base.unknown:
        state.doubt([t.name for t in state.policy.tiers], request)
        return base
    result = walk(request, state)
    if isinstance(result, Unknown):
        base.unknown = result.reason
        return base
    base.predicted = _outcome(result, request)
    base.notes = result.notes
    base.change = _change(recorded, base.predicted)
    return base


def _rejected(base: Prediction, state: SessionState) -> Prediction:
    """Bad input is refused before any tier: the same under any policy with the same input limits."""
    spec = state.session.policy_spec
    if spec is not None and spec.get("limits") != state.policy.limits.model_dump(mode="json"):
        base.unknown = "bad input under the recorded limits; the new policy's input limits differ"
        return base
    base.predicted = Outcome("failed", None, base.recorded.error_class, base.recorded.duration_ms)
    base.change = "same"
    return base


def _outcome(result: Walk, request: RecordedRequest) -> Outcome:
    attempts_s = sum(a.duration_ms for a in request.attempts) / 1000 + sum(request.sleeps.values())
    overhead_s = max(0.0, (request.duration_ms or 0.0) / 1000 - attempts_s)
    return Outcome(
        status=result.status,
        tier=result.tier,
        error_class=result.error_class if result.status == "failed" else None,
        duration_ms=round((result.elapsed_s + overhead_s) * 1000, 2),
        path=result.path,
        review=result.review,
        cost=round(result.cost, 6),
    )


def _change(recorded: Outcome, predicted: Outcome) -> str:
    was_failed, is_failed = recorded.status == "failed", predicted.status == "failed"
    if was_failed and not is_failed:
        return "newly_saved"
    if is_failed and not was_failed:
        return "newly_failed"
    if not is_failed and predicted.tier != recorded.tier:
        return "tier_changed"
    if predicted.status != recorded.status and "needs_review" in (predicted.status, recorded.status):
        return "status_changed"
    if is_failed and predicted.error_class != recorded.error_class:
        return "error_changed"
    return "same"


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


__all__ = ["CHANGES", "Prediction", "Recording", "ReplayReport", "percentile", "replay"]
