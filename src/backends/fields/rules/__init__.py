"""Rules that read merchant, date, total, currency and address off a receipt's OCR lines.

No model: keyword tables (``keywords``) and small scoring functions, one module per field. They
are meant to hold on receipts from many countries, and measured on real ones by
``bench/ocr_rules_sroie.py``. ``read_receipt`` is the entry point.

Imports ``backends.normalize`` and ``backends.schema``; imported by ``fields.ocr_rules``, ``einvoice``
(the total of a printed invoice) and benches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from backends.fields.rules.address import find_address
from backends.fields.rules.checks import check_total, date_confidence, merchant_confidence, total_confidence
from backends.fields.rules.currency import find_currency, printed_amount
from backends.fields.rules.date import ambiguous, find_date
from backends.fields.rules.date import date_order as resolve_order
from backends.fields.rules.lines import make_lines
from backends.fields.rules.merchant import find_merchant
from backends.fields.rules.names import clean_name
from backends.fields.rules.total import find_total
from backends.normalize import format_amount
from backends.schema import ReceiptFields

__all__ = ["RuleReading", "read_receipt", "read_text"]


@dataclass(frozen=True)
class RuleReading:
    """The fields the rules found, and plain-data notes on how (no document text)."""

    fields: ReceiptFields
    notes: dict[str, Any] = field(default_factory=dict)


def read_text(text: str, *, date_order: str = "auto") -> RuleReading:
    """Read a receipt from its text, one line per line (every line fully confident)."""
    return read_receipt(text.splitlines(), date_order=date_order)


def read_receipt(
    texts: Sequence[str], confidences: Sequence[float] | None = None, *, date_order: str = "auto"
) -> RuleReading:
    """Read a receipt or invoice from its OCR lines (and each line's confidence, 0-100, when known).

    ``date_order`` (``auto``, ``dmy``, ``mdy``, ``ymd``) says how numeric dates are read."""
    lines = make_lines(list(texts), list(confidences) if confidences is not None else None)
    merchant = find_merchant(lines)
    order = resolve_order(lines, date_order)
    date = find_date(lines, dayfirst=order != "mdy", yearfirst=order == "ymd")
    total = find_total(lines)
    checks = check_total(lines, total)
    currency = find_currency(lines, total.line if total else None)
    address = find_address(lines, merchant)
    name = clean_name(merchant.text) if merchant else None
    confidence = {
        **({"merchant": merchant_confidence(merchant, name)} if merchant and name else {}),
        **({"date": date_confidence(date, date_order == "auto" and ambiguous(date))} if date else {}),
        **({"total": total_confidence(total, checks)} if total else {}),
    }
    fields = ReceiptFields(
        merchant=name,
        date=date.match.date.isoformat() if date else None,
        date_raw=date.match.raw if date else None,
        total=format_amount(total.amount.value) if total else None,
        total_raw=printed_amount(total.line.text, total.amount) if total else None,
        currency=currency,
        address=address,
        confidence=confidence,
    )
    notes = {
        "merchant_line": merchant.index if merchant else None,
        "date_score": date.score if date else None,
        "date_order": order,
        "total_weight": total.weight if total else None,
        "total_from": total.source if total else None,
        **checks.notes(),
    }
    return RuleReading(fields, notes)
