"""One recorded request re-decided under another policy by the engine's own decision core.

``router.core.decide`` walks the chain; this module answers its questions from the replayed state
(``simstate``) and each attempt from its recorded outcome (through ``projection``). Any outcome
the recording does not hold, or any answer too close to call, ends the walk as ``Unknown``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from router.core import decide, merge
from router.core.decide import WARMING
from router.failures.errors import ErrorClass
from router.forensics.projection import Unknown, margin, project
from router.forensics.recorded import RecordedRequest
from router.forensics.simstate import SessionState
from router.policy.model import TierPolicy

T = TypeVar("T")


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
    review: list[str] = field(default_factory=list)  # needs_review: the doubtful fields
    cost: float = 0.0  # the tiers' cost, per attempt the walk made


class _Unknowable(Exception):
    def __init__(self, reason: str):
        self.reason = reason


def walk(request: RecordedRequest, state: SessionState) -> Walk | Unknown:
    """The request under the state's policy, or why that cannot be told from the recording.

    When it cannot, the tiers the request may still have tried are put in doubt: later requests
    that depend on their breaker, quarantine or workers become unknown too, until a decided
    attempt settles the question."""
    replayed = _Replayed(request, state)
    try:
        return replayed.run()
    except _Unknowable as exc:
        state.doubt(replayed.pending, request)
        return Unknown(exc.reason)


def _known(answer: T | str) -> T:
    """A state's answer, or the walk ends as unknown when the answer is 'unknown: why'."""
    if isinstance(answer, str) and answer.startswith("unknown: "):
        raise _Unknowable(answer.removeprefix("unknown: "))
    return answer  # type: ignore[return-value]


class _SimTier:
    """A tier of the new policy as the decision core sees it, answered from the replayed state."""

    def __init__(self, policy: TierPolicy, replayed: _Replayed):
        self.policy = policy
        self._replayed = replayed
        self._state = replayed.state

    def unavailable_reason(self) -> str | None:
        name = self.policy.name
        unknown = self._state.tiers[name].unknown
        if unknown:
            raise _Unknowable(f"needs the outcome of {name}: {unknown}")
        recorded = any(s.tier == name and s.reason == "unavailable" for s in self._replayed.request.skips)
        return self._state.health[name].unavailable or ("unavailable in the recording" if recorded else None)

    def quarantined(self, document: str | None) -> bool:
        return _known(self._state.quarantined(self.policy.name, document))

    def warming(self) -> str | None:
        return _known(self._state.warming(self.policy.name, self._replayed.request))

    def start(self) -> None:
        return None

    def admits(self) -> bool:
        replayed = self._replayed
        return _known(self._state.breaker_allows(self.policy.name, replayed.request, replayed.result.path))

    def refusal(self) -> str | None:
        return self._state.health[self.policy.name].breaker.refusal()


class _Replayed:
    """Drives the decision core (``router.core.decide``) with the recorded outcomes, on the state's clock."""

    def __init__(self, request: RecordedRequest, state: SessionState):
        self.request = request
        self.state = state
        self.policy = state.policy
        self.start = request.received_at or state.clock.now
        self.result = Walk()
        self.tiers = [_SimTier(t, self) for t in self.policy.tiers]
        self.pending = [t.name for t in self.policy.tiers]  # tiers the request may still try

    # -- the deadline, as the core asks for it --------------------------------------------------

    def remaining(self) -> float:
        return self.policy.deadline_s - self.result.elapsed_s

    def passed(self) -> bool:
        self._tick()
        if self.result.elapsed_s > 0 and abs(self.remaining()) <= margin(self.result.elapsed_s):
            raise _Unknowable(f"reaching the next tier {self.remaining():.2f} s from the deadline is too close to call")
        return self.remaining() <= 0

    # -- driving ------------------------------------------------------------------------------

    def run(self) -> Walk:
        self._tick()
        declined = {s.tier: s.detail or "" for s in self.request.skips if s.reason == "not_applicable"}
        thresholds = {t.name: self.policy.thresholds(t.name) for t in self.policy.tiers}
        steps = decide.walk(self.tiers, self.request.sha256, self, declined, self.policy.quality_gate, thresholds)
        reply: Any = None
        while True:
            try:
                step = steps.send(reply)
            except StopIteration as done:
                return self._ended(done.value)
            reply = self._carry_out(step)

    def _carry_out(self, step: decide.Step) -> Any:
        match step:
            case decide.Skip(tier=name, reason=reason):
                self.result.skipped.append((name, reason))
                self.result.path.append(f"{name}:skip({reason})")
                if reason not in WARMING:
                    self.pending.remove(name)
            case decide.Attempt():
                return self._attempt(step)
            case decide.Backoff():
                return self._backoff(step)
            case decide.Sleep():
                self.result.elapsed_s += step.seconds
                self._tick()
            case decide.Fallback() | decide.Stop():
                self.pending.remove(step.tier)
            case decide.Escalate():
                self.result.path[-1] = f"{step.tier}:low_confidence"
                self.pending.remove(step.tier)
        return None

    def _attempt(self, step: decide.Attempt) -> decide.Tried:
        policy = self.policy.tiers[step.index]
        model = self.state.tiers[policy.name]
        recorded = next((a for a in self.request.attempts_on(policy.name) if a.number == step.number), None)
        if recorded is None:
            raise _Unknowable(
                f"needs the outcome of {policy.name} attempt {step.number}, never recorded for this request"
            )
        outcome = project(recorded, step.timeout_s, inline=model.inline, gates=model.gates)
        if isinstance(outcome, Unknown):
            raise _Unknowable(outcome.reason)
        self.result.path.append(f"{policy.name}:{outcome.label}")
        self.result.cost += policy.cost
        if outcome.note:
            self.result.notes.append(outcome.note)
        self.result.elapsed_s += outcome.duration_s
        self._tick()
        # a timeout set by the deadline, shorter than the tier's, is no proof of a hang: no recycle
        cut_short = outcome.label == "timeout" and step.timeout_s < policy.timeout_s - 1e-3
        self.state.record(
            policy.name,
            self.request,
            step.number,
            outcome.label,
            recycles=not cut_short,
            probe=step.probe,
            shared=recorded.shared_failure,
        )
        if not outcome.ok:
            return decide.Tried(ErrorClass(outcome.label))
        present = self._present(recorded, outcome, model.gates)
        return decide.Tried(None, present=present, answer=self._answer(recorded))

    def _answer(self, recorded: Any) -> merge.Answer | None:
        """What the merge needs, from the record; thresholds on a log without confidences are unknowable."""
        if recorded.confidence is None:
            if self.policy.thresholds(recorded.tier):
                raise _Unknowable(f"the confidences of {recorded.tier}'s answer are not logged")
            return None
        agrees = {name: frozenset(tiers) for name, tiers in (recorded.agrees_with or {}).items()}
        return merge.Answer(recorded.tier, recorded.confidence, agrees)

    def _present(
        self, recorded: Any, outcome: Any, gates: tuple[frozenset[str], frozenset[str]] | None
    ) -> frozenset[str] | None:
        """The fields the answer holds, as far as the policy's own gate asks (None: not recorded).
        A recorded rejection names only what its gate missed: other required fields are unknowable."""
        present: frozenset[str] | None = outcome.fields_present
        required = set(self.policy.quality_gate.required)
        if present is not None and recorded.outcome == "rejected" and gates is not None:
            unknown = required - present - gates[0]
            if unknown:
                raise _Unknowable(
                    f"whether the answer of {recorded.tier} holds {', '.join(sorted(unknown))} is not logged"
                )
        return present

    def _backoff(self, step: decide.Backoff) -> float:
        """The recorded wait before this retry, or the policy's middle one; too close to call near the deadline."""
        jitter = self.state.tiers[step.tier].policy.retry.backoff.jitter_s
        sleep = self.request.sleeps.get((step.tier, step.number), step.base_s + jitter / 2)
        after = self.remaining() - sleep
        if abs(after) <= margin(self.result.elapsed_s):
            raise _Unknowable(f"a retry of {step.tier} would start {after:.2f} s from the deadline: too close to call")
        return sleep

    def _ended(self, verdict: decide.Verdict) -> Walk:
        self.result.status = verdict.status
        self.result.tier = verdict.tier
        self.result.error_class = None if verdict.error_class is None else verdict.error_class.value
        self.result.review = sorted(verdict.doubtful)
        return self.result

    def _tick(self) -> None:
        self.state.clock.now = self.start + self.result.elapsed_s
