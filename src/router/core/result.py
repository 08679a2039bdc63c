"""What a request returns: fields with their provenance, the status, and every attempt."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from backends.schema import FieldName
from router.failures.errors import ErrorClass

#: ok: the first tier that runs here answered and was trusted; degraded: a later one did after a
#: failure, or a required field is missing; needs_review: tiers answered but, merged, a field stays
#: below its accept threshold (the best values are kept, ``review`` names the doubtful fields; not
#: an error: exit code 0, HTTP 200); failed: no answer.
Status = Literal["ok", "degraded", "needs_review", "failed"]
Outcome = Literal["succeeded", "failed", "rejected"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FieldValue(_Model):
    """One extracted field and the tier that produced it."""

    value: Any
    tier: str
    backend: str
    confidence: float | None = Field(
        None,
        description="How far to trust the value, 0-1, where the backend can judge (the OCR + rules tier does, "
        "a failed cross-check lowers it; the e-invoice tier's total is 0.5 where the page prints another); "
        "None where it cannot. Where other tiers gave the same value (normalised), raised by their agreement "
        "(noisy-OR, capped at 0.99; see router.core.merge).",
    )
    agreed_with: list[str] = Field(
        default_factory=list, description="Other tiers that gave the same value (after normalisation)."
    )


class DocumentInfo(_Model):
    """The input's identity. No content: the path is the caller's own and stays out of logs."""

    source: str
    sha256: str | None = None
    size_bytes: int | None = None
    media_type: str | None = None
    pages: int | None = Field(None, description="Pages read.")
    pages_read: list[int] | None = Field(
        None, description="Which pages of the file were read (1-based), when not all: see limits.max_pages."
    )
    pages_total: int | None = Field(None, description="Pages the file has, when more were there than read.")


class AttemptRecord(_Model):
    """One try of one tier."""

    tier: str
    backend: str
    attempt: int = Field(description="1 for the first try of this tier in this request.")
    outcome: Outcome
    error_class: ErrorClass | None = None
    signature: str | None = None
    error_type: str | None = None
    message: str | None = Field(None, description="The failure's message, shortened.")
    duration_ms: float
    worker_pid: int | None = None
    worker_generation: int | None = None


class SkippedTier(_Model):
    tier: str
    reason: str = Field(
        description="unavailable, not_applicable, breaker_open, quarantined, recycling, starting, deadline"
    )
    detail: str | None = None


class Escalation(_Model):
    """A tier's answer passed on for low confidence (``route.low_confidence``)."""

    tier: str
    to_tier: str | None = Field(description="The next tier; None after the last (the result needs review).")
    doubtful: dict[str, float] = Field(description="The fields below their threshold, with their merged confidence.")


class ErrorSummary(_Model):
    error_class: ErrorClass
    message: str


class Result(_Model):
    """The answer to one request: exactly one per input, whatever happened."""

    request_id: str
    status: Status
    tier: str | None = Field(None, description="The tier whose answer was accepted.")
    fields: dict[str, FieldValue] = Field(default_factory=dict)
    document: DocumentInfo
    policy: str = Field(description="Policy name.")
    policy_hash: str
    duration_ms: float
    attempts: list[AttemptRecord] = Field(default_factory=list)
    skipped: list[SkippedTier] = Field(default_factory=list)
    error: ErrorSummary | None = None
    partial: dict[str, FieldValue] = Field(
        default_factory=dict,
        description=(
            "Only on a failed result: the fields of the fullest answer the quality gate rejected, "
            "for a review queue. Not an answer: required fields are missing."
        ),
    )
    missing: list[FieldName] = Field(
        default_factory=list,
        description=(
            "Fields the policy's quality gate requires that this answer lacks: the answering tier's own, "
            "laxer gate accepted it (the status is then 'degraded'). Never under `fields`."
        ),
    )
    answers: dict[str, dict[str, FieldValue]] = Field(
        default_factory=dict,
        description="Where the policy sets accept thresholds: every tier's answer (accepted or doubtful), by "
        "tier in the order they answered, with its own confidences. What a review queue shows beside the "
        "merged fields, and what `docroute eval` re-decides other thresholds from without re-reading.",
    )
    escalations: list[Escalation] = Field(
        default_factory=list, description="The answers passed on for low confidence, in order."
    )
    review: dict[str, float] = Field(
        default_factory=dict,
        description="Only with status needs_review: the fields whose best confidence (merged across tiers) "
        "stays below their accept threshold, with that confidence. Their best values are under `fields`.",
    )
    cost: float = Field(0.0, description="What the attempts of this request cost: the sum of their tiers' cost.")
    cost_unit: str = Field("device_s", description="The unit of `cost` (the policy's cost_unit).")
    meta: dict[str, Any] = Field(default_factory=dict, description="The answering backend's metadata.")
    #: The text the tiers read (OCR, text layer), every attempt's in order, pages apart by a blank
    #: line: only when the caller asked (``Router.extract(..., keep_text=True)``), else None. Excluded
    #: from every dump (results files, the HTTP API, logs): the caller that asked writes it itself.
    text: str | None = Field(None, exclude=True)

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    def values(self) -> dict[str, Any]:
        """Field name to value, without provenance."""
        return {name: fv.value for name, fv in self.fields.items()}
