"""Cross-checks and confidences: how far to trust what the rules read.

Where the document allows, the total is checked against the rest of it: the subtotal plus the tax
printed between them, the sum of the item lines, and an amount due printed beside a different
grand total (after a prepayment either could be meant). A check that holds raises the total's
confidence; one that fails lowers it instead of passing silently. Each field's confidence starts
from how its value was found (a labelled date, a total keyword's strength, a legal form in the
merchant's name) and is scaled by the OCR's confidence in the line it was read from.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from backends.fields.rules.candidate import FINAL, ROUNDING_RE, SUBTOTAL_RE, TAX_RE, TotalCandidate
from backends.fields.rules.corrections import ROUNDING_STEP, item_amounts
from backends.fields.rules.date import DateCandidate
from backends.fields.rules.keywords import AMOUNT_DUE, GRAND_TOTAL, compile_pattern
from backends.fields.rules.lines import Line
from backends.fields.rules.names import LEGAL
from backends.normalize import find_amounts

_DUE = compile_pattern(AMOUNT_DUE)
_GRAND = compile_pattern(GRAND_TOTAL)
#: Confidence of a total by where it came from, before the OCR's confidence and the checks.
TOTAL_FROM = {
    "line": 0.7,
    "rounded_total": 0.8,
    "rounding_adjustment": 0.7,
    "table_heading": 0.6,
    "label_apart": 0.5,
    "subtotal_plus_tax": 0.65,
    "net_tax_gross": 0.6,
    "net_plus_tax": 0.6,
    "items_sum": 0.5,
    "payment_less_change": 0.5,
    "subtotal": 0.4,
    "payment": 0.35,
    "amount": 0.35,
}
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Checks:
    """The outcome of each cross-check: True (holds), False (fails), None (the document lacks it)."""

    subtotal_tax: bool | None = None
    items_sum: bool | None = None
    amount_due: bool | None = None

    def notes(self) -> dict[str, bool | None]:
        return {
            "check_subtotal_tax": self.subtotal_tax,
            "check_items_sum": self.items_sum,
            "check_due": self.amount_due,
        }


def check_total(lines: list[Line], total: TotalCandidate | None) -> Checks:
    """Cross-check ``total`` against the subtotal and tax, the item lines and an amount due."""
    if total is None:
        return Checks()
    value = total.amount.value
    return Checks(_subtotal_tax(lines, value), _items_sum(lines, total, value), _amount_due(lines, total, value))


def total_confidence(total: TotalCandidate, checks: Checks) -> float:
    base = TOTAL_FROM.get(total.source, 0.5)
    if total.source == "line" and total.weight >= FINAL:
        base = 0.8
    if checks.subtotal_tax or checks.items_sum:
        base = max(base, 0.95)
    if checks.subtotal_tax is False:
        base *= 0.6
    if checks.amount_due is False:
        base *= 0.7
    return _scaled(base, total.line)


def date_confidence(date: DateCandidate, ambiguous: bool) -> float:
    """A labelled date, or one beside a time of day, is more likely the document's; a numeric date
    that reads both ways (03/04) on a document that does not say its order is doubtful."""
    base = 0.85 if date.score >= 2 else 0.75 if date.score >= 1 else 0.6
    return _scaled(base * (0.8 if ambiguous else 1.0), date.line)


def merchant_confidence(line: Line, name: str) -> float:
    return _scaled(0.8 if LEGAL.search(name) else 0.6, line)


def _scaled(base: float, line: Line) -> float:
    """``base`` scaled by the OCR's confidence in the line (floored at half)."""
    return round(base * min(1.0, max(0.5, line.confidence / 100)), 2)


def _subtotal_tax(lines: list[Line], total: Decimal) -> bool | None:
    """Whether the last subtotal before the total, plus the taxes printed after it, is the total
    (or the subtotal alone is, when prices include the tax)."""
    subtotal = None
    for position, line in enumerate(lines):
        amounts = find_amounts(line.text)
        if amounts and SUBTOTAL_RE.search(line.text):
            subtotal = (position, amounts[-1].value)
    if subtotal is None:
        return None
    position, value = subtotal
    taxes = [a.value for line in lines[position + 1 :] if TAX_RE.search(line.text) for a in find_amounts(line.text)]
    taxes = [tax for tax in taxes if 0 < tax < value]
    rounding = sum(
        (
            a.value
            for line in lines[position + 1 :]
            if ROUNDING_RE.search(line.text)
            for a in find_amounts(line.text)[-1:]
            if abs(a.value) < ROUNDING_STEP
        ),
        Decimal(0),
    )
    sums = {value, value + sum(taxes)} | {value + tax for tax in taxes}
    return any(abs(total - s - adjust) <= CENT for s in sums for adjust in {Decimal(0), rounding})


def _items_sum(lines: list[Line], total: TotalCandidate, value: Decimal) -> bool | None:
    """Whether the item lines above the first total or subtotal add up to the total (None when
    there are fewer than two; a miss proves little, OCR drops item lines)."""
    items = item_amounts(lines, total.line.index)
    if len(items) < 2:
        return None
    return True if abs(sum(items) - value) <= CENT else None


def _amount_due(lines: list[Line], total: TotalCandidate, value: Decimal) -> bool | None:
    """False when the total and an amount due (or, for a total read as the amount due, a grand
    total) differ: after a prepayment either could be the one meant."""
    other = _GRAND if _DUE.search(total.line.text) else _DUE
    amounts = [
        a.value for line in lines if line != total.line and other.search(line.text) for a in find_amounts(line.text)
    ]
    if not amounts:
        return None
    if value in amounts:
        return True
    return None if all(amount == 0 for amount in amounts) else False
