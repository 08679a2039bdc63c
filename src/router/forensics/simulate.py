"""One recorded request re-decided under another policy, step by step as the engine decides.

The walk mirrors ``router.engine``: skip a tier (deadline, unavailable, quarantined, warming,
breaker open) or try it with retries, judge each attempt by its recorded outcome (through
``projection``), fall back or stop by ``fallback_on``, and retry starting/recycling tiers at the end.
Any outcome the recording does not hold ends the walk as ``Unknown``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from router.forensics.projection import Projected, Unknown, margin, project
from router.forensics.recorded import RecordedRequest
from router.forensics.simstate import WARMING, SessionState
from router.policy import TierPolicy


@dataclass
class Walk:
    """A replayed request: its outcome, its path and its projected time (seconds of attempts and waits)."""

    status: str = "failed"
    tier: str | None = None
    error_class: str | None = None
    elapsed_s: float = 0.0
    path: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    last_failure: str | None = None


class _Unknowable(Exception):
    def __init__(self, reason: str):
        self.reason = reason


def walk(request: RecordedRequest, state: SessionState) -> Walk | Unknown:
    """The request under the state's policy, or why that cannot be told from the recording.

    When it cannot, the tiers the request may still have tried are put in doubt: later requests
    that depend on their breaker, quarantine or workers become unknown too, until a decided
    attempt settles the question."""
    walker = _Walker(request, state)
    try:
        return walker.run()
    except _Unknowable as exc:
        state.doubt(walker.pending, request)
        return Unknown(exc.reason)


class _Walker:
    def __init__(self, request: RecordedRequest, state: SessionState):
        self.request = request
        self.state = state
        self.policy = state.policy
        self.start = request.received_at or state.clock.now
        self.result = Walk()
        self.attempts: dict[str, int] = {}
        self.pending = [t.name for t in self.policy.tiers]  # tiers the request may still try

    @property
    def remaining(self) -> float:
        return self.policy.deadline_s - self.result.elapsed_s

    def run(self) -> Walk:
        self._tick()
        deferred: list[TierPolicy] = []
        for tier in self.policy.tiers:
            reason = self._skip_reason(tier, deferrable=True)
            if reason:
                self._skip(tier, reason)
                if reason in WARMING:
                    deferred.append(tier)
                else:
                    self.pending.remove(tier.name)
                continue
            if self._try(tier):
                return self.result
            self.pending.remove(tier.name)
        for tier in deferred:
            reason = self._skip_reason(tier, deferrable=False)
            if reason:
                self._skip(tier, reason)
            elif self._try(tier):
                return self.result
            self.pending.remove(tier.name)
        return self._failed(None)

    # -- skipping -----------------------------------------------------------------------------

    def _skip_reason(self, tier: TierPolicy, *, deferrable: bool) -> str | None:
        self._tick()
        model = self.state.tiers[tier.name]
        if self.result.elapsed_s > 0 and abs(self.remaining) <= margin(self.result.elapsed_s):
            raise _Unknowable(f"reaching {tier.name} {self.remaining:.2f} s from the deadline is too close to call")
        if self.remaining <= 0:
            return "deadline"
        if model.unknown:
            raise _Unknowable(f"needs the outcome of {tier.name}: {model.unknown}")
        if tier.name in self.state.unavailable or self._recorded_skip(tier.name) == "unavailable":
            return "unavailable"
        if self._recorded_skip(tier.name) == "not_applicable":  # a fact about the document
            return "not_applicable"
        quarantined = self.state.quarantined(tier.name, self.request.sha256)
        if isinstance(quarantined, str):
            raise _Unknowable(quarantined.removeprefix("unknown: "))
        if quarantined:
            return "quarantined"
        warming = self.state.warming(tier.name, self.request) if deferrable else None
        if warming and warming.startswith("unknown: "):
            raise _Unknowable(warming.removeprefix("unknown: "))
        if warming:
            return warming
        allowed = self.state.breaker_allows(tier.name)
        if isinstance(allowed, str):
            raise _Unknowable(allowed.removeprefix("unknown: "))
        if not allowed:
            return "breaker_open"
        return None

    def _recorded_skip(self, tier: str) -> str | None:
        return next((s.reason for s in self.request.skips if s.tier == tier), None)

    def _skip(self, tier: TierPolicy, reason: str) -> None:
        self.result.skipped.append((tier.name, reason))
        self.result.path.append(f"{tier.name}:skip({reason})")

    # -- trying -------------------------------------------------------------------------------

    def _try(self, tier: TierPolicy) -> bool:
        """Attempts on one tier; True when the request ended (answered or stopped)."""
        model = self.state.tiers[tier.name]
        while True:
            number = self.attempts.get(tier.name, 0) + 1
            self.attempts[tier.name] = number
            outcome, limit = self._attempt(tier, number, inline=model.inline, gates=model.gates)
            self.result.path.append(f"{tier.name}:{outcome.label}")
            if outcome.note:
                self.result.notes.append(outcome.note)
            self.result.elapsed_s += outcome.duration_s
            self._tick()
            # a timeout set by the deadline, shorter than the tier's, is no proof of a hang: no recycle
            cut_short = outcome.label == "timeout" and limit < tier.timeout_s - 1e-3
            self.state.record(tier.name, self.request, number, outcome.label, recycles=not cut_short)
            if outcome.ok:
                return self._answered(tier)
            self.result.last_failure = outcome.label
            if not self._retry(tier, number, outcome.label):
                break
        if outcome.label not in tier.fallback_on:
            self._failed(outcome.label)
            return True
        return False

    def _attempt(self, tier: TierPolicy, number: int, **how: object) -> tuple[Projected, float]:
        recorded = next((a for a in self.request.attempts_on(tier.name) if a.number == number), None)
        if recorded is None:
            raise _Unknowable(f"needs the outcome of {tier.name} attempt {number}, never recorded for this request")
        timeout = min(tier.timeout_s, self.remaining)
        projected = project(recorded, timeout, **how)  # type: ignore[arg-type]
        if isinstance(projected, Unknown):
            raise _Unknowable(projected.reason)
        return projected, timeout

    def _retry(self, tier: TierPolicy, number: int, label: str) -> bool:
        settings = tier.retry
        if label not in settings.retry_on or number >= settings.attempts:
            return False
        sleep = self.request.sleeps.get((tier.name, number + 1))
        if sleep is None:
            backoff = settings.backoff
            base = min(backoff.max_s, backoff.initial_s * backoff.multiplier ** (number - 1))
            sleep = base + backoff.jitter_s / 2
        after = self.remaining - sleep
        if abs(after) <= margin(self.result.elapsed_s):
            raise _Unknowable(f"a retry of {tier.name} would start {after:.2f} s from the deadline: too close to call")
        if after <= 0:
            return False
        self.result.elapsed_s += sleep
        return True

    # -- ending -------------------------------------------------------------------------------

    def _answered(self, tier: TierPolicy) -> bool:
        unavailable = {name for name, reason in self.result.skipped if reason == "unavailable"}
        first = next((t.name for t in self.policy.tiers if t.name not in unavailable), None)
        self.result.status = "ok" if tier.name == first else "degraded"
        self.result.tier = tier.name
        return True

    def _failed(self, error_class: str | None) -> Walk:
        self.result.status = "failed"
        if error_class is None:
            error_class = self.result.last_failure
        if error_class is None:
            deadline = any(reason == "deadline" for _, reason in self.result.skipped)
            error_class = "timeout" if deadline else "unavailable"
        self.result.error_class = error_class
        return self.result

    def _tick(self) -> None:
        self.state.clock.now = self.start + self.result.elapsed_s
