"""The engine: one document, one deadline, the chain of tiers, every decision logged.

For each tier in order the engine decides to skip it (unavailable, breaker open, document
quarantined, worker still starting or recycling), or to try it: attempts are retried per policy
with tenacity, each answer goes through the quality gate, and a failure either falls back to the
next tier or ends the request, depending on its class and the tier's ``fallback_on``.

Tiers skipped only because a worker was starting or recycling are tried again at the end, if the
rest of the chain gave no answer and the deadline allows: a request never waits for a process to
start while another tier can answer it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)
from tenacity.stop import stop_base

from backends.document import Document
from router import quality
from router.errors import AttemptError, Classification, ErrorClass, ErrorInfo
from router.events import gen_ai_attributes
from router.logs import content_allowed, get_logger
from router.policy import Policy
from router.result import AttemptRecord, DocumentInfo, ErrorSummary, FieldValue, Outcome, Result, SkippedTier, Status
from router.runners import RunOutcome
from router.signatures import classify
from router.tiers import Tier

MESSAGE_LIMIT = 300


@dataclass
class _Request:
    """The state of one request as it walks the chain."""

    request_id: str
    document: Document
    started: float
    deadline: float
    log: Any
    attempts: list[AttemptRecord] = field(default_factory=list)
    skipped: list[SkippedTier] = field(default_factory=list)
    last_failure: Classification | None = None
    partial: dict[str, FieldValue] = field(default_factory=dict)  # the fullest answer the gate rejected


class _Failed(Exception):
    """Internal: one attempt failed with this verdict (drives tenacity's retry decision)."""

    def __init__(self, verdict: Classification):
        self.verdict = verdict


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

    def run(self, document: Document, request_id: str) -> Result:
        now = self._clock()
        request = _Request(
            request_id,
            document,
            started=now,
            deadline=now + self.policy.deadline_s,
            log=get_logger(request_id=request_id, policy_hash=self.policy_hash),
        )
        request.log.info(
            "request.received",
            sha256=document.sha256,
            size_bytes=document.size_bytes,
            pages=len(document.pages),
            media_type=document.media_type,
            deadline_s=self.policy.deadline_s,
        )
        deferred: list[Tier] = []
        for index, tier in enumerate(self.tiers):
            reason, detail = self._skip_reason(tier, request, deferrable=True)
            if reason:
                self._skip(request, tier, reason, detail)
                if reason in ("starting", "recycling"):
                    deferred.append(tier)
                continue
            result = self._try_tier(tier, request, index)
            if result is not None:
                return result
        for tier in deferred:
            reason, detail = self._skip_reason(tier, request, deferrable=False)
            if reason:
                self._skip(request, tier, reason, detail)
                continue
            request.log.info("tier.waited", tier=tier.name, reason="no later tier answered")
            result = self._try_tier(tier, request, self.tiers.index(tier))
            if result is not None:
                return result
        return self._finish(request, None, None)

    # -- deciding ----------------------------------------------------------------------------

    def _skip_reason(self, tier: Tier, request: _Request, *, deferrable: bool) -> tuple[str | None, str | None]:
        if self._remaining(request) <= 0:
            return "deadline", None
        unavailable = tier.unavailable_reason()
        if unavailable:
            return "unavailable", unavailable
        if tier.quarantined(request.document.sha256):
            return "quarantined", "this document poisoned the tier's worker before"
        warming = tier.warming()
        if deferrable and warming:
            tier.runner.start()
            return warming, None
        if not tier.breaker.allow():  # last: in half-open, allow() hands out the one probe
            probe_at = tier.breaker.probe_at
            detail = f"probe in {max(0.0, probe_at - self._clock()):.1f}s" if probe_at else "probe in flight"
            return "breaker_open", detail
        return None, None

    def _skip(self, request: _Request, tier: Tier, reason: str, detail: str | None) -> None:
        request.skipped.append(SkippedTier(tier=tier.name, reason=reason, detail=detail))
        request.log.info("tier.skipped", tier=tier.name, backend=tier.kind, reason=reason, detail=detail)

    def _try_tier(self, tier: Tier, request: _Request, index: int) -> Result | None:
        """The tier's attempts. A Result ends the request; None means fall back."""
        try:
            outcome = self._retrying(tier, request)(self._attempt, tier, request)
        except _Failed as failed:
            verdict = failed.verdict
            _drop_frames(failed)
            if verdict.error_class not in tier.policy.fallback_on:
                request.log.info(
                    "request.stopped", tier=tier.name, error_class=verdict.error_class, reason="not in fallback_on"
                )
                return self._finish(request, None, None)
            following = self.tiers[index + 1].name if index + 1 < len(self.tiers) else None
            request.log.info(
                "route.fallback",
                from_tier=tier.name,
                to_tier=following,
                error_class=verdict.error_class,
                signature=verdict.signature,
            )
            return None
        return self._finish(request, tier, outcome)

    def _retrying(self, tier: Tier, request: _Request) -> Retrying:
        """Tenacity's loop for one tier. It must not hold the request: a Retrying is a reference
        cycle of its own, and whatever it holds waits for a full garbage collection."""
        settings = tier.policy.retry
        return Retrying(
            stop=stop_after_attempt(settings.attempts) | _StopBeforeDeadline(self._clock, request.deadline),
            wait=wait_exponential(
                multiplier=settings.backoff.initial_s, exp_base=settings.backoff.multiplier, max=settings.backoff.max_s
            )
            + wait_random(0, settings.backoff.jitter_s),
            retry=retry_if_exception(lambda e: isinstance(e, _Failed) and e.verdict.error_class in settings.retry_on),
            sleep=self._sleep,
            before_sleep=_log_retry,
            reraise=True,
        )

    # -- one attempt -------------------------------------------------------------------------

    def _attempt(self, tier: Tier, request: _Request) -> RunOutcome:
        number = sum(1 for a in request.attempts if a.tier == tier.name) + 1
        timeout = min(tier.policy.timeout_s, self._remaining(request))
        request.log.info(
            "attempt.started",
            tier=tier.name,
            backend=tier.kind,
            attempt=number,
            timeout_s=round(timeout, 3),
            **gen_ai_attributes(tier.policy.backend),
        )
        started = self._clock()
        try:
            outcome = tier.runner.run(request.document, timeout_s=timeout, request_id=request.request_id)
        except AttemptError as error:
            self._failed(tier, request, number, started, error.info, "failed", error.worker)
        gate = tier.policy.quality_gate or self.policy.quality_gate
        rejection = quality.check(outcome.extraction.fields, gate)
        if rejection is not None:
            self._keep_partial(request, tier, outcome)
            worker = {"pid": outcome.worker_pid, "generation": outcome.worker_generation}
            self._failed(tier, request, number, started, rejection, "rejected", worker)
        duration_ms = (self._clock() - started) * 1000
        tier.record_success()
        request.attempts.append(
            AttemptRecord(
                tier=tier.name,
                backend=tier.kind,
                attempt=number,
                outcome="succeeded",
                duration_ms=round(duration_ms, 2),
                worker_pid=outcome.worker_pid,
                worker_generation=outcome.worker_generation,
            )
        )
        # Values enter the event only where the policy opts in: a host's own logging config must
        # not be trusted to drop them.
        content = {"fields": outcome.extraction.fields.values()} if content_allowed() else {}
        request.log.info(
            "attempt.succeeded",
            tier=tier.name,
            backend=tier.kind,
            attempt=number,
            duration_ms=round(duration_ms, 2),
            worker_pid=outcome.worker_pid,
            worker_generation=outcome.worker_generation,
            fields_present=sorted(outcome.extraction.fields.present()),
            meta=outcome.extraction.meta,
            **content,
        )
        return outcome

    def _failed(
        self,
        tier: Tier,
        request: _Request,
        number: int,
        started: float,
        info: ErrorInfo,
        outcome: Outcome,
        worker: dict[str, Any] | None,
    ) -> None:
        verdict = classify(info)
        duration_ms = round((self._clock() - started) * 1000, 2)
        worker = worker or {}
        message = _short(info.message)
        request.attempts.append(
            AttemptRecord(
                tier=tier.name,
                backend=tier.kind,
                attempt=number,
                outcome=outcome,
                error_class=verdict.error_class,
                signature=verdict.signature,
                error_type=info.type,
                message=message,
                duration_ms=duration_ms,
                worker_pid=worker.get("pid"),
                worker_generation=worker.get("generation"),
            )
        )
        request.log.info(
            "error.classified",
            tier=tier.name,
            error_type=info.type,
            error_class=verdict.error_class,
            signature=verdict.signature,
            action=verdict.action,
        )
        request.log.warning(
            "attempt.failed" if outcome == "failed" else "attempt.rejected",
            tier=tier.name,
            backend=tier.kind,
            attempt=number,
            error_class=verdict.error_class,
            signature=verdict.signature,
            message=message,
            duration_ms=duration_ms,
            worker_pid=worker.get("pid"),
            worker_generation=worker.get("generation"),
        )
        tier.record_failure(verdict, request.document)
        request.last_failure = verdict
        raise _Failed(verdict)

    # -- finishing ---------------------------------------------------------------------------

    def _remaining(self, request: _Request) -> float:
        return request.deadline - self._clock()

    def _finish(self, request: _Request, tier: Tier | None, outcome: RunOutcome | None) -> Result:
        duration_ms = round((self._clock() - request.started) * 1000, 2)
        fields: dict[str, FieldValue] = {}
        error = None
        if tier is not None and outcome is not None:
            fields = _provenanced(tier, outcome)
            status: Status = "ok" if tier is self._first_eligible(request) else "degraded"
        else:
            status = "failed"
            error = self._failure_summary(request)
        result = Result(
            request_id=request.request_id,
            status=status,
            tier=tier.name if tier else None,
            fields=fields,
            document=_document_info(request.document),
            policy=self.policy.name,
            policy_hash=self.policy_hash,
            duration_ms=duration_ms,
            attempts=request.attempts,
            skipped=request.skipped,
            error=error,
            partial=request.partial if status == "failed" else {},
            meta=outcome.extraction.meta if outcome else {},
        )
        request.log.info(
            "request.done",
            status=status,
            tier=result.tier,
            error_class=error.error_class if error else None,
            attempts=len(request.attempts),
            duration_ms=duration_ms,
            sha256=request.document.sha256,
        )
        return result

    @staticmethod
    def _keep_partial(request: _Request, tier: Tier, outcome: RunOutcome) -> None:
        """Keep the rejected answer with the most fields (the earlier tier on a tie) for a failed result."""
        fields = _provenanced(tier, outcome)
        if len(fields) > len(request.partial):
            request.partial = fields

    def _first_eligible(self, request: _Request) -> Tier | None:
        """The first tier not skipped as unavailable: answering from it is 'ok', later 'degraded'."""
        unavailable = {s.tier for s in request.skipped if s.reason == "unavailable"}
        return next((t for t in self.tiers if t.name not in unavailable), None)

    def _failure_summary(self, request: _Request) -> ErrorSummary:
        verdict = request.last_failure
        if verdict is not None:
            return ErrorSummary(error_class=verdict.error_class, message=_short(verdict.info.message))
        reasons = ", ".join(f"{s.tier}: {s.reason}" for s in request.skipped) or "no tiers"
        deadline = any(s.reason == "deadline" for s in request.skipped)
        error_class = ErrorClass.TIMEOUT if deadline else ErrorClass.UNAVAILABLE
        return ErrorSummary(error_class=error_class, message=f"no tier could answer ({reasons})")


def _log_retry(state: RetryCallState) -> None:
    """tenacity's before_sleep: the tier and the request are the attempt's arguments."""
    tier, request = state.args
    verdict = state.outcome.exception().verdict  # type: ignore[union-attr]
    request.log.info(
        "attempt.retry",
        tier=tier.name,
        attempt=state.attempt_number + 1,
        error_class=verdict.error_class,
        sleep_s=round(state.upcoming_sleep, 3),
    )


def _drop_frames(error: BaseException) -> None:
    """Cut a failed tier's exception chain from its tracebacks (the failure is data by now).

    Their frames hold the request and its pages, and tenacity's retry state closes them into a
    cycle (exception -> traceback -> frame -> retry state -> exception) that only a full garbage
    collection frees: under faults, megabytes of pages per failed request stayed alive for minutes
    (found by the chaos drill).
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        following = current.__cause__ or current.__context__
        current.__traceback__ = None
        current.__cause__ = current.__context__ = None
        current = following


class _StopBeforeDeadline(stop_base):
    """Stop retrying when the next wait would end past the request's deadline."""

    def __init__(self, clock: Callable[[], float], deadline: float):
        self._clock = clock
        self._deadline = deadline

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self._clock() + retry_state.upcoming_sleep >= self._deadline


def _document_info(document: Document) -> DocumentInfo:
    return DocumentInfo(
        source=document.source,
        sha256=document.sha256,
        size_bytes=document.size_bytes,
        media_type=document.media_type,
        pages=len(document.pages),
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
