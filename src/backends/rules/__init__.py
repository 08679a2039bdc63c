"""Rules that read merchant, date, total, currency and address off a receipt's OCR lines.

No model: keyword tables (``keywords``) and small scoring functions, one module per field. They
are meant to hold on receipts from many countries, and measured on real ones by
``bench/ocr_rules_sroie.py``. ``read_receipt`` is the entry point.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from backends.normalize import format_amount
from backends.rules.address import find_address
from backends.rules.currency import find_currency, printed_amount
from backends.rules.date import find_date, infer_dayfirst
from backends.rules.lines import make_lines
from backends.rules.merchant import clean_name, find_merchant
from backends.rules.total import find_total
from backends.schema import ReceiptFields

__all__ = ["RuleReading", "read_receipt", "read_text"]


@dataclass(frozen=True)
class RuleReading:
    """The fields the rules found, and plain-data notes on how (no document text)."""

    fields: ReceiptFields
    notes: dict[str, Any] = field(default_factory=dict)


def read_text(text: str) -> RuleReading:
    """Read a receipt from its text, one line per line (every line fully confident)."""
    return read_receipt(text.splitlines())


def read_receipt(texts: Sequence[str], confidences: Sequence[float] | None = None) -> RuleReading:
    """Read a receipt from its OCR lines (and each line's confidence, 0-100, when known)."""
    lines = make_lines(list(texts), list(confidences) if confidences is not None else None)
    merchant = find_merchant(lines)
    date = find_date(lines, dayfirst=infer_dayfirst(lines))
    total = find_total(lines)
    currency = find_currency(lines, total.line if total else None)
    address = find_address(lines, merchant)
    fields = ReceiptFields(
        merchant=clean_name(merchant.text) if merchant else None,
        date=date.match.date.isoformat() if date else None,
        date_raw=date.match.raw if date else None,
        total=format_amount(total.amount.value) if total else None,
        total_raw=printed_amount(total.line.text, total.amount) if total else None,
        currency=currency,
        address=address,
    )
    notes = {
        "merchant_line": merchant.index if merchant else None,
        "date_score": date.score if date else None,
        "total_weight": total.weight if total else None,
        "total_from": total.source if total else None,
    }
    return RuleReading(fields, notes)
