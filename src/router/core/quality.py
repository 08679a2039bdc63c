"""The quality gate: an answer that lacks required fields is not an answer.

A tier may set its own, laxer gate (``tiers[].quality_gate``): the last resort of a policy can then
answer without a field the policy's gate requires rather than fail. Such an answer is accepted as
``degraded``, and the result names what it lacks (``Result.missing``); it never claims the field.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet

from backends.schema import FieldName, ReceiptFields
from router.failures.errors import ErrorClass, Failure
from router.policy.model import QualityGate

#: The ``error_type`` a rejection is logged with.
REJECTED = "router.core.quality.QualityRejected"


def missing(present: AbstractSet[str], gate: QualityGate) -> list[FieldName]:
    """The fields ``gate`` requires that are not in ``present``, in the gate's order."""
    return [name for name in gate.required if name not in present]


def check(fields: ReceiptFields, gate: QualityGate) -> Failure | None:
    """None if the answer passes, else the failure, born ``invalid_output``. Field values never
    enter the message."""
    lacking = missing(fields.present(), gate)
    if not lacking:
        return None
    message = f"missing required fields: {', '.join(lacking)}"
    return Failure.own(ErrorClass.INVALID_OUTPUT, "quality_gate", message, type_=REJECTED)
