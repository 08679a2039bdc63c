"""What a replayed router remembers between requests: breakers, quarantines, unavailable tiers,
and how far its workers' history has drifted from the recorded one.

Each tier's health is the router's own ``Health`` (breaker, quarantines, availability) on a
simulated clock, and what an outcome does to it is decided there, by the traits table: replay
decides exactly as the router does. Worker start-up and recycling are not simulated: where the
replayed history of a tier matches the recording, its recorded state is used; where it drifted
(a worker would be recycled that was not, recently enough to matter), the state is unknown.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from router.core.breaker import Breaker, BreakerState
from router.core.decide import WARMING
from router.core.health import Health
from router.failures.errors import ErrorClass, traits
from router.forensics.projection import margin
from router.forensics.recorded import RecordedRequest, Recording, Session
from router.policy.model import Policy, TierPolicy, policy_from_dict


class SimClock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class TierModel:
    """What the replay knows about one tier of the new policy."""

    policy: TierPolicy
    unknown: str | None  # why its outcomes cannot be taken from the recording, or None
    gates: tuple[frozenset[str], frozenset[str]] | None  # (recorded, new) required fields, if they differ
    start_s: float | None  # longest recorded worker start or recycle, seconds
    breaker_as_recorded: bool = True  # the breaker's settings are the recorded policy's

    @property
    def inline(self) -> bool:
        return self.policy.effective_isolation == "inline"


@dataclass
class Doubt:
    """What requests replay could not decide may have done to a tier."""

    failures: int = 0  # failed attempts they may have added to the breaker's streak
    recycles: list[float] = field(default_factory=list)  # when they may have recycled its workers
    documents: set[str] = field(default_factory=set)  # documents they may have got quarantined
    by: str = ""  # the latest such request


@dataclass
class Use:
    request_id: str
    number: int
    label: str


@dataclass
class SessionState:
    policy: Policy
    session: Session
    tiers: dict[str, TierModel]
    clock: SimClock
    health: dict[str, Health] = field(default_factory=dict)
    transitions: list[dict[str, Any]] = field(default_factory=list)
    replayed_uses: dict[str, list[Use]] = field(default_factory=dict)
    recorded_uses: dict[str, list[Use]] = field(default_factory=dict)
    poisoned_at: dict[str, list[tuple[float, str]]] = field(default_factory=dict)
    streak: dict[str, int] = field(default_factory=dict)  # consecutive failures, as the breaker counts
    recycle_times: dict[str, list[float]] = field(default_factory=dict)
    doubts: dict[str, Doubt] = field(default_factory=dict)
    _replayed_requests: set[str] = field(default_factory=set)
    _unreplayed_ends: dict[str, deque[tuple[float, str]]] = field(default_factory=dict)  # per tier, by end

    # -- what the tier's state is ------------------------------------------------------------

    def quarantined(self, tier: str, sha256: str | None) -> bool | str:
        """Whether the document skips the tier; 'unknown: why' if an undecided request may have put it there."""
        expiry = self.health[tier].quarantine_ends(sha256)
        if expiry is not None and abs(expiry - self.clock.now) <= margin(self.tiers[tier].policy.quarantine_s):
            return f"unknown: this document's quarantine on {tier} ends too close to this request to call"
        if expiry is not None and expiry > self.clock.now:
            return True
        doubt = self.doubts.get(tier)
        if doubt and sha256 in doubt.documents:
            return f"unknown: whether this document is quarantined on {tier} depends on request {doubt.by}"
        return False

    def breaker_allows(self, tier: str, request: RecordedRequest, path: list[str]) -> bool | str:
        """The breaker's verdict, or 'unknown: why' when undecided requests may have opened it.

        The recorded verdict where nothing the breaker saw can differ: the tier's replayed history
        matches the recording, no undecided request touched it, its settings are the recorded ones,
        the request reaches it by the recorded ``path``, and no attempt of a later arrival had ended
        by then. The real breaker counted concurrent requests' failures in the order they ended,
        which replaying one after another, in arrival order, cannot repeat."""
        breaker = self.health[tier].breaker
        recorded = self._recorded_verdict(tier, request, path)
        if recorded is not None:
            if recorded:
                breaker.allow()  # the simulated breaker follows (a probe handed out, as recorded)
            return recorded
        doubt = self.doubts.get(tier)
        cooldown = self.tiers[tier].policy.breaker.cooldown_s
        if breaker.probe_at is not None and abs(self.clock.now - breaker.probe_at) <= margin(cooldown):
            offset = breaker.probe_at - self.clock.now
            return f"unknown: {tier}'s breaker lets a probe through {offset:+.2f} s from here: too close to call"
        if doubt is None or (doubt.failures == 0 and not doubt.recycles):
            return breaker.allow()
        settings = self.tiers[tier].policy.breaker
        window = [
            t
            for t in self.recycle_times.get(tier, []) + doubt.recycles
            if self.clock.now - t <= settings.recycle_window_s
        ]
        safe = (
            breaker.state is BreakerState.CLOSED
            and self.streak.get(tier, 0) + doubt.failures < settings.failure_threshold
            and len(window) <= settings.max_recycles
        )
        if safe:
            return breaker.allow()
        return f"unknown: {tier}'s breaker may be open after request {doubt.by}, which replay cannot decide"

    def _recorded_verdict(self, tier: str, request: RecordedRequest, path: list[str]) -> bool | None:
        """What the recorded breaker did with this request (None: not recorded, or no longer telling)."""
        if not self._history_matches(tier) or tier in self.doubts or not self.tiers[tier].breaker_as_recorded:
            return None
        recorded = request.path()
        here = next((i for i, step in enumerate(recorded) if step.startswith(f"{tier}:")), None)
        if here is None or recorded[:here] != path:
            return None  # the recording never asked, or asked after another path (at another time)
        if recorded[here] == f"{tier}:skip(breaker_open)":
            verdict, asked_at = False, next(s.at for s in request.skips if s.tier == tier)
        else:
            tried = request.attempts_on(tier)
            # an attempt past a refusing breaker (no later tier could answer) says nothing of its verdict
            if not tried or tried[0].probe is not False:
                return None
            verdict, asked_at = True, tried[0].started_at
        return None if self._ended_unreplayed(tier, asked_at) else verdict

    def _ended_unreplayed(self, tier: str, at: float) -> bool:
        """Whether an attempt on ``tier`` of a request replay has not reached yet (it arrived later)
        had ended by ``at``: the recorded breaker counted an outcome the new policy may not repeat."""
        pending = self._unreplayed_ends.get(tier)
        if pending is None:
            ends = [
                (a.ended_at if a.ended_at is not None else a.started_at + a.duration_ms / 1000, r.request_id)
                for r in self.session.requests
                for a in r.attempts_on(tier)
            ]
            pending = self._unreplayed_ends[tier] = deque(sorted(ends))
        while pending and pending[0][1] in self._replayed_requests:
            pending.popleft()
        return bool(pending) and pending[0][0] <= at

    def _history_matches(self, tier: str) -> bool:
        """Whether the tier's replayed attempts so far are the recorded ones."""
        return _labels(self.replayed_uses.get(tier, [])) == _labels(self.recorded_uses.get(tier, []))

    def doubt(self, tiers: list[str], request: RecordedRequest) -> None:
        """An undecided request may have tried these tiers: widen what their state could be."""
        for name in tiers:
            model = self.tiers[name]
            doubt = self.doubts.setdefault(name, Doubt())
            attempts = model.policy.retry.attempts
            doubt.failures += attempts
            doubt.by = request.request_id
            if not model.inline:
                doubt.recycles += [self.clock.now] * attempts
                self.poisoned_at.setdefault(name, []).append((self.clock.now, request.request_id))
            if model.policy.quarantine_s > 0 and request.sha256:
                doubt.documents.add(request.sha256)

    def warming(self, tier: str, request: RecordedRequest) -> str | None:
        """'starting'/'recycling', None when ready, or 'unknown: why'."""
        model = self.tiers[tier]
        if model.inline:
            return None
        recorded = next((s.reason for s in request.skips if s.tier == tier and s.reason in WARMING), None)
        if self._history_matches(tier):
            return recorded
        recent = [
            rid
            for at, rid in self.poisoned_at.get(tier, [])
            if model.start_s is None or self.clock.now - at < model.start_s
        ]
        if recent:
            bound = "" if model.start_s is None else f" (recorded worker starts take up to {model.start_s:.2f} s)"
            return f"unknown: {tier} may still be recycling after the failure of request {recent[-1]}{bound}"
        if recorded:
            return f"unknown: {tier} was {recorded} here in the recording, after a history the replay does not repeat"
        return None

    # -- what an attempt does to it ---------------------------------------------------------

    def record(
        self,
        tier: str,
        request: RecordedRequest,
        number: int,
        label: str,
        *,
        recycles: bool = True,
        probe: bool = False,
        shared: str | None = None,
    ) -> None:
        """The effects of one replayed attempt on the tier: its health (as the router's), and the
        recycling of its workers, which replay tracks itself (once per shared failure: a batch that
        failed together retired its worker once)."""
        model = self.tiers[tier]
        self.replayed_uses.setdefault(tier, []).append(Use(request.request_id, number, label))
        error = None if label == "ok" else ErrorClass(label)
        health = self.health[tier]
        first = not health.seen(shared)
        health.record(error, request.sha256, probe=probe, message="an attempt found it unavailable", shared=shared)
        if error is None:
            self.streak[tier] = 0
            if tier in self.doubts:
                self.doubts[tier].failures = 0  # a success resets the streak, whatever came before
            return
        if traits(error).counts_toward_breaker and first:
            self.streak[tier] = self.streak.get(tier, 0) + 1
        if traits(error).poisons_process and not model.inline and recycles and first:
            self.health[tier].breaker.record_recycle()
            self.recycle_times.setdefault(tier, []).append(self.clock.now)
            self.poisoned_at.setdefault(tier, []).append((self.clock.now, request.request_id))

    def recorded(self, request: RecordedRequest) -> None:
        """After a request is replayed: remember what the recording did with it, for comparison."""
        self._replayed_requests.add(request.request_id)
        for attempt in request.attempts:
            self.recorded_uses.setdefault(attempt.tier, []).append(
                Use(request.request_id, attempt.number, attempt.label)
            )


def _labels(uses: list[Use]) -> list[tuple[str, int, str]]:
    return [(u.request_id, u.number, u.label) for u in uses]


def new_state(policy: Policy, session: Session, recording: Recording, notes: list[str]) -> SessionState:
    """The replay's starting state for one recorded router session under ``policy``."""
    clock = SimClock(session.started_at)
    recorded_policy = _recorded_policy(session, notes)
    tiers = {t.name: _tier_model(t, policy, recorded_policy, session, recording) for t in policy.tiers}
    state = SessionState(policy, session, tiers, clock)
    for tier in policy.tiers:
        breaker = Breaker(tier.breaker, clock=clock, on_change=_on_change(state, tier.name))
        state.health[tier.name] = Health(breaker, tier.quarantine_s, clock=clock)
        if tiers[tier.name].unknown is None and tier.name in session.unavailable:
            state.health[tier.name].unavailable = session.unavailable[tier.name]
    return state


def _on_change(state: SessionState, tier: str) -> Any:
    def hook(new: BreakerState, reason: str, _probe_at: float | None) -> None:
        state.transitions.append({"at": state.clock.now, "tier": tier, "state": new.value, "reason": reason})

    return hook


def _recorded_policy(session: Session, notes: list[str]) -> Policy | None:
    if session.policy_spec is None:
        notes.append(
            f"session pid {session.pid} [{session.policy_hash}]: its policy is not in the logs "
            "(router.starting rotated away?): tier backends and quality gates are taken as unchanged"
        )
        return None
    try:
        return policy_from_dict(session.policy_spec, source="recorded policy")
    except Exception as exc:  # a policy from another version of docroute: say so, trust names
        notes.append(f"session pid {session.pid}: recorded policy unreadable ({str(exc).splitlines()[0]})")
        return None


def _tier_model(
    tier: TierPolicy, policy: Policy, recorded: Policy | None, session: Session, recording: Recording
) -> TierModel:
    starts = recording.worker_start_s.get(tier.name)
    start_s = max(starts) if starts else None
    if recorded is None:
        unknown = None if not session.tiers or tier.name in session.tiers else "not in the recorded policy"
        return TierModel(tier, unknown and f"tier {tier.name} is {unknown}", None, start_s)
    try:
        old = recorded.tier(tier.name)
    except KeyError:
        return TierModel(tier, f"tier {tier.name} is not in the recorded policy", None, start_s)
    if old.backend != tier.backend or old.effective_isolation != tier.effective_isolation:
        return TierModel(tier, f"tier {tier.name}'s backend or isolation differs from the recorded one", None, start_s)
    old_gate = frozenset((old.quality_gate or recorded.quality_gate).required)
    new_gate = frozenset((tier.quality_gate or policy.quality_gate).required)
    gates = None if old_gate == new_gate else (old_gate, new_gate)
    return TierModel(tier, None, gates, start_s, breaker_as_recorded=old.breaker == tier.breaker)
