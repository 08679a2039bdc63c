"""The decision core: one request's walk down the chain of tiers, as a state machine.

``walk`` is a generator. It yields the next step and is sent what came of it:

- ``Skip``: a tier is passed over (deadline, unavailable, not applicable to the document, quarantined,
  starting/recycling, breaker open);
- ``Attempt``: try the tier with this time limit; reply with ``Tried`` (the class of its failure, or
  ``None`` when it answered);
- ``Backoff``: a retry is allowed by the policy; reply with the seconds the driver would wait, and the
  core decides whether the wait still fits before the deadline; ``Sleep``: wait that long now;
- ``Wait``: a tier skipped earlier because its worker was starting is now waited for (nothing later
  in the chain answered);
- ``Fallback`` / ``Stop``: after a tier's last failure, the next tier is tried, or (a class not in
  ``fallback_on``) the request ends;
- ``Escalate``: a tier answered, but the answer merged so far (``router.core.merge``) does not reach the
  tier's accept thresholds (``low_confidence``): the answer is kept and the next tier is tried. This
  is no failure: the tier's health never hears of it;

and returns a ``Verdict``: ok / degraded / needs_review / failed, the answering tier or the failure's
class. ``needs_review``: tiers answered, but none (merged) reached a threshold; the best merged
answer is kept and the doubtful fields are named.

The live engine (``router.core.engine``) drives it with real runners and the real clock; replay
(``router.forensics.simulate``) drives it with recorded outcomes and a simulated clock. Nothing else
decides a request's path. The last tier that could answer a document is tried even when its breaker
is open: it is the probe, and a document is never refused unread.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from tenacity import RetryCallState, Retrying, wait_exponential

from router.core import merge, quality
from router.failures.errors import ErrorClass
from router.policy.model import Backoff as BackoffPolicy
from router.policy.model import QualityGate, TierPolicy

Status = Literal["ok", "degraded", "needs_review", "failed"]
#: Skip reasons after which the tier is tried again at the end of the chain.
WARMING = ("starting", "recycling")
QUARANTINED = "this document poisoned the tier's worker before"


class Candidate(Protocol):
    """What the core asks of a tier; the live ``Tier`` and replay's simulated one both answer."""

    @property
    def policy(self) -> TierPolicy: ...

    def unavailable_reason(self) -> str | None: ...

    def quarantined(self, document: str | None) -> bool: ...

    def warming(self) -> str | None:
        """'starting' or 'recycling' when a request would wait for a process, else None."""

    def start(self) -> None:
        """Begin starting a worker (without waiting): the tier is skipped for now."""

    def admits(self) -> bool:
        """The breaker's verdict; in half-open it hands out the one probe."""

    def refusal(self) -> str | None:
        """Why the breaker refuses, for the skip's detail."""


class Deadline(Protocol):
    def remaining(self) -> float: ...

    def passed(self) -> bool: ...


@dataclass(frozen=True)
class Skip:
    tier: str
    reason: str
    detail: str | None = None


@dataclass(frozen=True)
class Attempt:
    tier: str
    index: int
    number: int  # 1 for the first try of this tier in this request
    timeout_s: float
    probe: bool = False  # let through although the breaker is open: the last tier that could answer


@dataclass(frozen=True)
class Backoff:
    tier: str
    number: int  # the attempt that would follow the wait
    error_class: ErrorClass
    base_s: float  # the policy's exponential wait, before jitter


@dataclass(frozen=True)
class Sleep:
    tier: str
    number: int
    error_class: ErrorClass
    seconds: float


@dataclass(frozen=True)
class Wait:
    tier: str


@dataclass(frozen=True)
class Fallback:
    tier: str
    to_tier: str | None
    error_class: ErrorClass


@dataclass(frozen=True)
class Stop:
    tier: str
    error_class: ErrorClass


@dataclass(frozen=True)
class Escalate:
    tier: str
    to_tier: str | None  # None: no tier is left, the result needs review
    doubtful: dict[str, float]  # field -> merged confidence, below its threshold


Step = Skip | Attempt | Backoff | Sleep | Wait | Fallback | Stop | Escalate


@dataclass(frozen=True)
class Tried:
    """What came of an attempt: ``error_class`` None when it answered; ``failure`` is the driver's
    own record of it, handed back in the verdict."""

    error_class: ErrorClass | None
    failure: Any = None
    #: When it answered: the fields the answer holds (None: not known, as in a log without them).
    present: frozenset[str] | None = None
    #: When it answered: what the merge needs of it (None: not known; the thresholds then cannot be judged).
    answer: merge.Answer | None = None


@dataclass
class Verdict:
    status: Status
    tier: str | None = None
    error_class: ErrorClass | None = None
    last_failure: Any = None  # the ``Tried.failure`` of the failure the result reports
    message: str | None = None  # when no tier failed: why none could answer
    skipped: list[Skip] = field(default_factory=list)
    #: Fields the policy requires that the accepted answer lacks (a tier's own, laxer gate let it
    #: through): such an answer is 'degraded' and names them.
    missing: tuple[str, ...] = ()
    #: Where each field of the result comes from (all the answers merged); empty without answers.
    picks: dict[str, merge.Pick] = field(default_factory=dict)
    #: needs_review: the fields below their threshold, with their merged confidence.
    doubtful: dict[str, float] = field(default_factory=dict)


def backoff_base(settings: BackoffPolicy, number: int) -> float:
    """The wait after the ``number``-th attempt, before jitter: tenacity's exponential wait, capped.
    The core only decides; the engine sleeps (and adds jitter), replay reads the recorded sleep."""
    wait = wait_exponential(multiplier=settings.initial_s, exp_base=settings.multiplier, max=settings.max_s)
    state = RetryCallState(retry_object=Retrying(), fn=None, args=(), kwargs={})
    state.attempt_number = number
    return float(wait(state))


def walk(
    tiers: Sequence[Candidate],
    document: str | None,
    deadline: Deadline,
    not_applicable: dict[str, str] | None = None,
    gate: QualityGate | None = None,
    thresholds: dict[str, dict[str, float]] | None = None,
) -> Generator[Step, Any, Verdict]:
    """The request's path through ``tiers``: see the module's docstring. ``not_applicable``: the
    tiers (by name) that do not read this kind of document at all, and why (a PDF without e-invoice
    XML for the einvoice tier): a fact about the document, skipped like an unavailable tier.
    ``gate``: the policy's quality gate (an answer a tier's laxer gate accepted without a field it
    requires is 'degraded'). ``thresholds``: per tier (by name), its accept thresholds (none: every
    answer is accepted)."""
    return _Walk(tiers, document, deadline, not_applicable or {}, gate, thresholds or {}).run()


class _Walk:
    def __init__(
        self,
        tiers: Sequence[Candidate],
        document: str | None,
        deadline: Deadline,
        not_applicable: dict[str, str],
        gate: QualityGate | None,
        thresholds: dict[str, dict[str, float]],
    ):
        self.tiers = tiers
        self.thresholds = thresholds
        self.answers: list[merge.Answer] = []  # every answer so far, in the order given
        self.escalated: set[str] = set()  # tiers whose answer was doubtful
        self.doubt: dict[str, float] = {}  # the doubtful fields after the latest escalation
        self.document = document
        self.deadline = deadline
        self.not_applicable = not_applicable
        self.gate = gate
        self.skipped: list[Skip] = []
        self.last: Tried | None = None
        self.pending: list[int] = list(range(len(tiers)))  # tiers that may still be tried

    def run(self) -> Generator[Step, Any, Verdict]:
        deferred: list[int] = []
        for index in range(len(self.tiers)):
            self.pending.remove(index)
            check = self._check(index, deferrable=True)
            if isinstance(check, Skip):
                if check.reason in WARMING:
                    deferred.append(index)
                    self.pending.append(index)
                yield from self._skip(check)
                continue
            verdict = yield from self._try(index, probe=check)
            if verdict is not None:
                return verdict
        for index in deferred:
            self.pending.remove(index)
            check = self._check(index, deferrable=False)
            if isinstance(check, Skip):
                yield from self._skip(check)
                continue
            yield Wait(self.tiers[index].policy.name)
            verdict = yield from self._try(index, probe=check)
            if verdict is not None:
                return verdict
        return self._verdict(None)

    # -- skipping -----------------------------------------------------------------------------

    def _check(self, index: int, *, deferrable: bool) -> Skip | bool:
        """A Skip, or whether the tier is tried as the probe of an open breaker."""
        tier = self.tiers[index]
        name = tier.policy.name
        if self.deadline.passed():
            return Skip(name, "deadline")
        unavailable = tier.unavailable_reason()
        if unavailable:
            return Skip(name, "unavailable", unavailable)
        if name in self.not_applicable:
            return Skip(name, "not_applicable", self.not_applicable[name])
        if tier.quarantined(self.document):
            return Skip(name, "quarantined", QUARANTINED)
        warming = tier.warming() if deferrable else None
        if warming:
            tier.start()
            return Skip(name, warming)
        if tier.admits():
            return False
        if not self._another_could_answer():
            return True
        return Skip(name, "breaker_open", tier.refusal())

    def _another_could_answer(self) -> bool:
        """Whether a tier still to come could read the document: if none, an open breaker does not
        refuse it unread."""
        return any(
            not self.tiers[i].unavailable_reason()
            and self.tiers[i].policy.name not in self.not_applicable
            and not self.tiers[i].quarantined(self.document)
            for i in self.pending
        )

    def _skip(self, skip: Skip) -> Generator[Step, Any, None]:
        self.skipped.append(skip)
        yield skip

    # -- trying -------------------------------------------------------------------------------

    def _try(self, index: int, *, probe: bool) -> Generator[Step, Any, Verdict | None]:
        """The tier's attempts: a Verdict ends the request, None falls back."""
        policy = self.tiers[index].policy
        number = 0
        while True:
            number += 1
            timeout = min(policy.timeout_s, self.deadline.remaining())
            tried: Tried = yield Attempt(policy.name, index, number, timeout, probe)
            if tried.error_class is None:
                return (yield from self._judge(index, tried))
            self.last = tried
            again = yield from self._retry(policy, number, tried.error_class)
            if not again:
                break
        if tried.error_class not in policy.fallback_on:
            yield Stop(policy.name, tried.error_class)
            return self._verdict(None)
        following = self.tiers[index + 1].policy.name if index + 1 < len(self.tiers) else None
        yield Fallback(policy.name, following, tried.error_class)
        return None

    def _judge(self, index: int, tried: Tried) -> Generator[Step, Any, Verdict | None]:
        """An answer: accepted (a Verdict) unless, merged with the earlier ones, a field stays below
        its threshold; then the walk goes on (None)."""
        name = self.tiers[index].policy.name
        if tried.answer is not None:
            self.answers.append(tried.answer)
        accept = self.thresholds.get(name, {})
        if not accept:
            return self._verdict(index, tried.present)
        if tried.answer is None:
            raise ValueError(f"tier {name!r} has accept thresholds but its answer carries no confidences")
        doubt = merge.doubtful(merge.merge(self.answers), accept)
        if not doubt:
            return self._verdict(index, tried.present)
        self.escalated.add(name)
        following = self.tiers[index + 1].policy.name if index + 1 < len(self.tiers) else None
        yield Escalate(name, following, doubt)
        self.doubt = doubt
        return None

    def _retry(self, policy: TierPolicy, number: int, error_class: ErrorClass) -> Generator[Step, Any, bool]:
        settings = policy.retry
        if error_class not in settings.retry_on or number >= settings.attempts:
            return False
        seconds: float = yield Backoff(policy.name, number + 1, error_class, backoff_base(settings.backoff, number))
        if self.deadline.remaining() - seconds <= 0:  # the wait would end past the deadline
            return False
        yield Sleep(policy.name, number + 1, error_class, seconds)
        return True

    # -- ending -------------------------------------------------------------------------------

    def _verdict(self, index: int | None, present: frozenset[str] | None = None) -> Verdict:
        picks = merge.merge(self.answers)
        if index is not None:
            name = self.tiers[index].policy.name
            if picks:
                present = frozenset(picks)
            missing = () if present is None or self.gate is None else tuple(quality.missing(present, self.gate))
            status: Status = "ok" if name == self._first_eligible() and not missing else "degraded"
            return Verdict(status, name, skipped=self.skipped, missing=missing, picks=picks)
        if self.escalated:  # answers, none trusted: the best of them, for a person to confirm
            missing = () if self.gate is None else tuple(quality.missing(frozenset(picks), self.gate))
            return Verdict(
                "needs_review", None, skipped=self.skipped, missing=missing, picks=picks, doubtful=self.doubt
            )
        if self.last is not None:
            return Verdict("failed", None, self.last.error_class, self.last.failure, skipped=self.skipped)
        reasons = ", ".join(f"{s.tier}: {s.reason}" for s in self.skipped) or "no tiers"
        deadline = any(s.reason == "deadline" for s in self.skipped)
        error_class = ErrorClass.TIMEOUT if deadline else ErrorClass.UNAVAILABLE
        return Verdict("failed", None, error_class, message=f"no tier could answer ({reasons})", skipped=self.skipped)

    def _first_eligible(self) -> str | None:
        """The first tier not skipped as unavailable or not applicable, nor passed on for low confidence:
        answering from it is 'ok', later 'degraded' (a cascade's escalation is no degradation)."""
        unavailable = {s.tier for s in self.skipped if s.reason in ("unavailable", "not_applicable")}
        unavailable |= self.escalated
        return next((t.policy.name for t in self.tiers if t.policy.name not in unavailable), None)


def can_answer(tiers: Sequence[Candidate], index: int) -> bool:
    """Whether the tier would take a request now, for ``Router.status()`` and readiness: it runs
    here, and its breaker admits requests or it is the last tier that runs here (the probe rule).

    Reads without consuming a half-open probe."""
    tier = tiers[index]
    if tier.unavailable_reason():
        return False
    runnable_after = any(not t.unavailable_reason() for t in tiers[index + 1 :])
    return not runnable_after or tier.refusal() is None
