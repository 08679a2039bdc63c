"""The engine: one document, one deadline, the chain of tiers, every decision logged.

The path itself (skip, attempt, retry and backoff, fall back, stop, ok / degraded / failed) is
decided by the decision core, ``router.core.decide``; the engine carries its steps out with the tiers'
runners and the real clock, applies the quality gate to each answer, records each outcome on the
tier's health, and logs every step. Replay drives the same core with recorded outcomes.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from backends import doctraits
from backends.documents.document import Document
from backends.schema import RAW_OF
from router.core import decide, merge, quality
from router.core.result import (
    AttemptRecord,
    DocumentInfo,
    ErrorSummary,
    Escalation,
    FieldValue,
    Outcome,
    Result,
    SkippedTier,
)
from router.core.runners import RunOutcome
from router.core.tiers import Tier
from router.failures.errors import AttemptError, ErrorClass, Failure
from router.observe import events
from router.observe.events import gen_ai_attributes
from router.observe.logs import content_allowed, get_logger
from router.policy.model import Policy

MESSAGE_LIMIT = 300


@dataclass
class _Request:
    """The state of one request as it walks the chain."""

    request_id: str
    document: Document
    started: float
    deadline: float
    log: Any
    clock: Callable[[], float]
    attempts: list[AttemptRecord] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)  # what the tiers read, when the document asks
    skipped: list[SkippedTier] = field(default_factory=list)
    answer: RunOutcome | None = None
    partial: dict[str, FieldValue] = field(default_factory=dict)  # the fullest answer the gate rejected
    answers: dict[str, dict[str, FieldValue]] = field(default_factory=dict)  # tier -> its answer's fields
    escalations: list[Escalation] = field(default_factory=list)
    cost: float = 0.0  # the tiers' cost, per attempt made

    def remaining(self) -> float:
        return self.deadline - self.clock()

    def passed(self) -> bool:
        return self.remaining() <= 0


class Engine:
    def __init__(
        self,
        policy: Policy,
        tiers: list[Tier],
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.policy = policy
        self.policy_hash = policy.digest()
        self.tiers = tiers
        self._clock = clock
        self._sleep = sleep
        self._thresholds = any(policy.thresholds(t.name) for t in policy.tiers)

    def run(self, document: Document, request_id: str) -> Result:
        now = self._clock()
        request = _Request(
            request_id,
            document,
            started=now,
            deadline=now + self.policy.deadline_s,
            log=get_logger(request_id=request_id, policy_hash=self.policy_hash),
            clock=self._clock,
        )
        events.REQUEST_RECEIVED.emit(
            request.log,
            sha256=document.sha256,
            size_bytes=document.size_bytes,
            pages=len(document.pages),
            media_type=document.media_type,
            deadline_s=self.policy.deadline_s,
        )
        declined = self._declined(document)
        thresholds = {tier.name: self.policy.thresholds(tier.name) for tier in self.tiers}
        steps = decide.walk(self.tiers, document.sha256, request, declined, self.policy.quality_gate, thresholds)
        reply: Any = None
        while True:
            try:
                step = steps.send(reply)
            except StopIteration as done:
                return self._finish(request, done.value)
            reply = self._carry_out(step, request)

    def _declined(self, document: Document) -> dict[str, str]:
        """The tiers that do not read this document, and why: their backend's own test, then the
        policy's skip_when by the document's traits."""
        found = doctraits.traits(document) if any(t.policy.skip_when for t in self.tiers) else frozenset()
        declined: dict[str, str] = {}
        for tier in self.tiers:
            matched = sorted(found.intersection(tier.policy.skip_when))
            reason = tier.declines(document) or (f"skip_when: {', '.join(matched)}" if matched else None)
            if reason:
                declined[tier.name] = reason
        return declined

    def _carry_out(self, step: decide.Step, request: _Request) -> Any:
        """Do one step the decision core asked for; its reply goes back to the core."""
        log = request.log
        match step:
            case decide.Attempt():
                return self._attempt(self.tiers[step.index], request, step)
            case decide.Skip(tier=name, reason=reason, detail=detail):
                request.skipped.append(SkippedTier(tier=name, reason=reason, detail=detail))
                events.TIER_SKIPPED.emit(log, tier=name, backend=self._tier(name).kind, reason=reason, detail=detail)
            case decide.Backoff():
                return step.base_s + random.uniform(0, self._tier(step.tier).policy.retry.backoff.jitter_s)
            case decide.Sleep():
                events.ATTEMPT_RETRY.emit(
                    log,
                    tier=step.tier,
                    attempt=step.number,
                    error_class=step.error_class,
                    sleep_s=round(step.seconds, 3),
                )
                self._sleep(step.seconds)
            case decide.Wait():
                events.TIER_WAITED.emit(log, tier=step.tier, reason="no later tier answered")
            case decide.Fallback():
                events.ROUTE_FALLBACK.emit(
                    log,
                    from_tier=step.tier,
                    to_tier=step.to_tier,
                    error_class=step.error_class,
                    signature=_last_signature(request, step.tier),
                )
            case decide.Escalate():
                accept = self.policy.thresholds(step.tier)
                request.escalations.append(Escalation(tier=step.tier, to_tier=step.to_tier, doubtful=step.doubtful))
                events.ROUTE_LOW_CONFIDENCE.emit(
                    log,
                    from_tier=step.tier,
                    to_tier=step.to_tier,
                    doubtful={name: round(value, 4) for name, value in step.doubtful.items()},
                    thresholds={name: accept[name] for name in step.doubtful},
                )
            case decide.Stop():
                events.REQUEST_STOPPED.emit(
                    log, tier=step.tier, error_class=step.error_class, reason="not in fallback_on"
                )
        return None

    def _tier(self, name: str) -> Tier:
        return next(t for t in self.tiers if t.name == name)

    # -- one attempt -------------------------------------------------------------------------

    def _attempt(self, tier: Tier, request: _Request, step: decide.Attempt) -> decide.Tried:
        events.ATTEMPT_STARTED.emit(
            request.log,
            tier=tier.name,
            backend=tier.kind,
            attempt=step.number,
            timeout_s=round(step.timeout_s, 3),
            probe=step.probe,
            **gen_ai_attributes(tier.policy.backend),
        )
        started = self._clock()
        request.cost += tier.policy.cost
        try:
            outcome = tier.runner.run(request.document, timeout_s=step.timeout_s, request_id=request.request_id)
        except AttemptError as error:
            return self._failed(tier, request, step, started, error.failure, "failed", error.worker)
        if outcome.extraction.text is not None:
            request.texts.append(outcome.extraction.text)
        gate = tier.policy.quality_gate or self.policy.quality_gate
        rejection = quality.check(outcome.extraction.fields, gate)
        if rejection is not None:
            self._keep_partial(request, tier, outcome)
            worker = {"pid": outcome.worker_pid, "generation": outcome.worker_generation}
            return self._failed(tier, request, step, started, rejection, "rejected", worker)
        answer = self._answer(tier, request, outcome)
        self._succeeded(tier, request, step, started, outcome, answer)
        return decide.Tried(None, present=frozenset(outcome.extraction.fields.present()), answer=answer)

    @staticmethod
    def _answer(tier: Tier, request: _Request, outcome: RunOutcome) -> merge.Answer:
        """What the merge needs of this answer: its confidences and which earlier answers agree."""
        fields = _provenanced(tier, outcome)
        agrees = {
            name: frozenset(
                earlier
                for earlier, theirs in request.answers.items()
                if name in theirs and merge.same_value(name, theirs[name].value, mine.value)
            )
            for name, mine in fields.items()
        }
        request.answers[tier.name] = fields
        confidence = {name: value.confidence for name, value in fields.items()}
        return merge.Answer(tier.name, confidence, {name: tiers for name, tiers in agrees.items() if tiers})

    def _succeeded(
        self,
        tier: Tier,
        request: _Request,
        step: decide.Attempt,
        started: float,
        outcome: RunOutcome,
        answer: merge.Answer,
    ) -> None:
        duration_ms = round((self._clock() - started) * 1000, 2)
        tier.record(None, request.document.sha256, probe=step.probe)
        request.answer = outcome
        request.attempts.append(
            AttemptRecord(
                tier=tier.name,
                backend=tier.kind,
                attempt=step.number,
                outcome="succeeded",
                duration_ms=duration_ms,
                worker_pid=outcome.worker_pid,
                worker_generation=outcome.worker_generation,
            )
        )
        # Values enter the event only where the policy opts in: a host's own logging config must
        # not be trusted to drop them.
        content = {"fields": outcome.extraction.fields.values()} if content_allowed() else {}
        events.ATTEMPT_SUCCEEDED.emit(
            request.log,
            tier=tier.name,
            backend=tier.kind,
            attempt=step.number,
            duration_ms=duration_ms,
            worker_pid=outcome.worker_pid,
            worker_generation=outcome.worker_generation,
            fields_present=sorted(outcome.extraction.fields.present()),
            meta=outcome.extraction.meta,
            confidence=dict(answer.confidence),
            agrees_with={name: sorted(tiers) for name, tiers in answer.agrees_with.items()},
            **content,
        )

    def _failed(
        self,
        tier: Tier,
        request: _Request,
        step: decide.Attempt,
        started: float,
        failure: Failure,
        outcome: Outcome,
        worker: dict[str, Any] | None,
    ) -> decide.Tried:
        info = failure.info
        duration_ms = round((self._clock() - started) * 1000, 2)
        worker = worker or {}
        message = _short(info.message)
        request.attempts.append(
            AttemptRecord(
                tier=tier.name,
                backend=tier.kind,
                attempt=step.number,
                outcome=outcome,
                error_class=failure.error_class,
                signature=failure.signature,
                error_type=info.type,
                message=message,
                duration_ms=duration_ms,
                worker_pid=worker.get("pid"),
                worker_generation=worker.get("generation"),
            )
        )
        events.ERROR_CLASSIFIED.emit(
            request.log,
            tier=tier.name,
            error_type=info.type,
            error_class=failure.error_class,
            signature=failure.signature,
            action=failure.traits.remedy,
        )
        (events.ATTEMPT_FAILED if outcome == "failed" else events.ATTEMPT_REJECTED).emit(
            request.log,
            tier=tier.name,
            backend=tier.kind,
            attempt=step.number,
            error_class=failure.error_class,
            signature=failure.signature,
            message=message,
            duration_ms=duration_ms,
            worker_pid=worker.get("pid"),
            worker_generation=worker.get("generation"),
            shared_failure=worker.get("shared"),
        )
        tier.record(failure, request.document.sha256, probe=step.probe, shared=worker.get("shared"))
        return decide.Tried(failure.error_class, failure)

    # -- finishing ---------------------------------------------------------------------------

    def _finish(self, request: _Request, verdict: decide.Verdict) -> Result:
        duration_ms = round((self._clock() - request.started) * 1000, 2)
        fields: dict[str, FieldValue] = {}
        meta: dict[str, Any] = {}
        status = verdict.status
        if verdict.picks:
            fields = _merged(request, verdict.picks)
        if verdict.tier is not None and request.answer is not None:
            meta = request.answer.extraction.meta
        error = _error_summary(verdict) if status == "failed" else None
        result = Result(
            request_id=request.request_id,
            status=status,
            tier=verdict.tier,
            fields=fields,
            document=_document_info(request.document),
            policy=self.policy.name,
            policy_hash=self.policy_hash,
            duration_ms=duration_ms,
            attempts=request.attempts,
            skipped=request.skipped,
            error=error,
            partial=request.partial if status == "failed" else {},
            missing=list(verdict.missing),
            answers=request.answers if self._thresholds else {},
            escalations=request.escalations,
            review=verdict.doubtful,
            cost=round(request.cost, 6),
            cost_unit=self.policy.cost_unit,
            meta=meta,
            text="\n\n".join(request.texts) if request.texts else None,
        )
        events.REQUEST_DONE.emit(
            request.log,
            status=status,
            tier=result.tier,
            error_class=error.error_class if error else None,
            attempts=len(request.attempts),
            duration_ms=duration_ms,
            sha256=request.document.sha256,
            review=sorted(verdict.doubtful),
            cost=result.cost,
        )
        return result

    @staticmethod
    def _keep_partial(request: _Request, tier: Tier, outcome: RunOutcome) -> None:
        """Keep the rejected answer with the most fields (the earlier tier on a tie) for a failed result."""
        fields = _provenanced(tier, outcome)
        if len(fields) > len(request.partial):
            request.partial = fields


def _merged(request: _Request, picks: dict[str, merge.Pick]) -> dict[str, FieldValue]:
    """Each field from the tier the merge picked, with the merged confidence and who agreed; a
    value's printed text (``date_raw``) from the tier the value came from, or none: another tier's
    text beside it would tell a reviewer what the value was not read from."""
    fields = {
        name: request.answers[pick.tier][name].model_copy(
            update={"confidence": pick.confidence, "agreed_with": list(pick.agreed_with)}
        )
        for name, pick in picks.items()
    }
    for name, raw in RAW_OF.items():
        if name in fields:
            fields.pop(raw, None)
            if raw in request.answers[fields[name].tier]:
                fields[raw] = request.answers[fields[name].tier][raw]
    return fields


def _error_summary(verdict: decide.Verdict) -> ErrorSummary:
    failure: Failure | None = verdict.last_failure
    message = _short(failure.info.message) if failure else verdict.message or ""
    return ErrorSummary(error_class=verdict.error_class or ErrorClass.UNKNOWN, message=message)


def _last_signature(request: _Request, tier: str) -> str | None:
    return next((a.signature for a in reversed(request.attempts) if a.tier == tier), None)


def _document_info(document: Document) -> DocumentInfo:
    return DocumentInfo(
        source=document.source,
        sha256=document.sha256,
        size_bytes=document.size_bytes,
        media_type=document.media_type,
        pages=len(document.pages),
        pages_read=None if document.page_numbers is None else list(document.page_numbers),
        pages_total=document.pages_total,
    )


def _short(message: str) -> str:
    """The first line of a failure message, bounded; pydantic's echo of inputs removed."""
    first = message.strip().splitlines()[0] if message.strip() else ""
    if "input_value=" in first:
        first = first.split("[type=")[0].split("input_value=")[0].rstrip(" ,[")
    return first[:MESSAGE_LIMIT]


def _provenanced(tier: Tier, outcome: RunOutcome) -> dict[str, FieldValue]:
    fields = outcome.extraction.fields
    confidence: dict[str, float] = {str(name): value for name, value in fields.confidence.items()}
    return {
        name: FieldValue(value=value, tier=tier.name, backend=tier.kind, confidence=confidence.get(name))
        for name, value in fields.values().items()
        if value not in ([], "")
    }
