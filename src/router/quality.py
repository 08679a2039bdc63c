"""The quality gate: an answer that lacks required fields is not an answer."""

from __future__ import annotations

from backends.schema import ReceiptFields
from router.errors import ErrorInfo
from router.policy import QualityGate


class QualityRejected(Exception):
    """An answer failed the quality gate (classified as invalid_output)."""


def check(fields: ReceiptFields, gate: QualityGate) -> ErrorInfo | None:
    """None if the answer passes, else the failure as data. Field values never enter the message."""
    missing = [name for name in gate.required if name not in fields.present()]
    if not missing:
        return None
    return ErrorInfo.from_exception(QualityRejected(f"missing required fields: {', '.join(missing)}"))
