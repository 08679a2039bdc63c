"""The quality gate: an answer that lacks required fields is not an answer."""

from __future__ import annotations

from backends.schema import ReceiptFields
from router.errors import ErrorClass, Failure
from router.policy import QualityGate

#: The ``error_type`` a rejection is logged with.
REJECTED = "router.quality.QualityRejected"


def check(fields: ReceiptFields, gate: QualityGate) -> Failure | None:
    """None if the answer passes, else the failure, born ``invalid_output``. Field values never
    enter the message."""
    missing = [name for name in gate.required if name not in fields.present()]
    if not missing:
        return None
    message = f"missing required fields: {', '.join(missing)}"
    return Failure.own(ErrorClass.INVALID_OUTPUT, "quality_gate", message, type_=REJECTED)
