"""The arithmetic a chosen total is checked against, and amended by where it does not hold.

A total chosen by its label is amended where the amounts around it say it is something else: the
amount before tax (a later total adds the taxes between), a balance carried in or out (an earlier
total differs by it), a net whose tax beside it makes a printed amount, a misread amount printed
once that a single exact payment or the item lines' sum contradicts, a folio's negative payment,
and cash rounding (to 0.05 in Malaysia, Switzerland, Australia, ...) printed after it.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from backends.fields.rules.candidate import (
    CHANGE_RE,
    PAYMENT_RE,
    ROUNDING_RE,
    SUBTOTAL_RE,
    TAX_RE,
    TotalCandidate,
    keyword_weight,
)
from backends.fields.rules.keywords import (
    CARRIED,
    CHANGE,
    NOT_TOTAL,
    PAYMENT,
    TAX,
    TAX_INCLUDED,
    compile_pattern,
)
from backends.fields.rules.lines import Line
from backends.normalize import AmountMatch, find_amounts

_CARRIED = compile_pattern(CARRIED)
_TAX_INCLUDED = compile_pattern(TAX_INCLUDED)
_NOT_ITEM = compile_pattern("|".join((NOT_TOTAL, PAYMENT, CHANGE, TAX)))
#: The fewest item lines whose sum is trusted to correct a total.
MIN_ITEMS = 3
#: The largest cash-rounding step.
ROUNDING_STEP = Decimal("0.05")


def without_carried(best: TotalCandidate, candidates: list[TotalCandidate], lines: list[Line]) -> TotalCandidate:
    """An earlier total that ``best`` (what is due) differs from by exactly an amount carried in
    between: a prepayment taken off ("Total Factura 1968,00", "Total a cuenta 336,60", "Total a
    pagar 1631,40") or an earlier balance added ("TOTAL 110", "PREVIOUS BALANCE 500", "AMOUNT DUE
    610"). The document's own total is the earlier one."""
    for earlier in (c for c in candidates if c.line.index < best.line.index and c.amount.value > 0):
        between = [line for line in lines if earlier.line.index < line.index < best.line.index]
        carried = [a.value for line in between if _CARRIED.search(line.text) for a in find_amounts(line.text)[-1:]]
        if any(abs(abs(best.amount.value - earlier.amount.value) - abs(c)) < Decimal("0.005") for c in carried):
            return earlier
    return best


def paid_exactly(best: TotalCandidate, candidates: list[TotalCandidate], lines: list[Line]) -> TotalCandidate:
    """A single payment that settles the bill exactly (no change given) is its total: where the
    strongest label's amount is unconfirmed (a misread: "TotalRounded 08.66" over "Mastercard
    -99.80") while another candidate's amount is what was paid, that candidate is the total."""
    paid = [
        abs(a.value)
        for line in lines
        if PAYMENT_RE.search(line.text) and not CHANGE_RE.search(line.text)
        for a in find_amounts(line.text)[-1:]
    ]
    if len(paid) != 1 or _change_given(lines) or not _unconfirmed(best, lines):
        return best
    agreeing = [c for c in candidates if abs(c.amount.value) == paid[0]]
    return max(agreeing, key=lambda c: (c.weight, c.line.index), default=best)


def items_added(best: TotalCandidate, lines: list[Line]) -> TotalCandidate:
    """Where the strongest label's amount is unconfirmed ("Total 5.15", OCR dropped a digit) and the
    item lines above it add up to an amount printed right after it ("Balance 57.15"): that amount."""
    items = item_amounts(lines, best.line.index)
    if len(items) < MIN_ITEMS or not _unconfirmed(best, lines):
        return best
    after = [line for line in lines if 0 < line.index - best.line.index <= 2]
    found = (TotalCandidate(a, best.weight, line, "items_sum") for line in after for a in find_amounts(line.text))
    return next((c for c in found if c.amount.value == sum(items)), best)


def _unconfirmed(best: TotalCandidate, lines: list[Line]) -> bool:
    """Whether the total's amount is printed nowhere else and is no sum of two printed amounts (a
    total after a tip, "Total 154.00" over "CREDIT CARD AUTH 118.46" and "Tip 35.54", is one)."""
    printed = [abs(a.value) for line in lines for a in find_amounts(line.text)]
    value = abs(best.amount.value)
    amounts = set(printed)
    return printed.count(value) <= 1 and not any(value - a in amounts for a in amounts if 0 < a < value)


def item_amounts(lines: list[Line], end: int) -> list[Decimal]:
    """The amounts of the item lines above the first total or subtotal (and above line ``end``)."""
    items = []
    for line in lines:
        if line.index >= end or SUBTOTAL_RE.search(line.text) or keyword_weight(line.text):
            break
        amounts = find_amounts(line.text)
        if amounts and not _NOT_ITEM.search(line.text):
            items.append(amounts[-1].value)
    return items


def net_of_tax(best: TotalCandidate, lines: list[Line]) -> TotalCandidate:
    """A total that is the net: the tax printed next to it added makes an amount printed elsewhere
    ("VAT TOTAL 2,56" / "NET TOTAL 18,14" between two lines of 20,70). That amount is the total.
    Not where change was given: the cash handed over may be any amount."""
    if _TAX_INCLUDED.search(best.line.text) or _change_given(lines):
        return best
    near = [line for line in lines if 0 < abs(line.index - best.line.index) <= 1 and TAX_RE.search(line.text)]
    taxes = [a.value for line in near for a in find_amounts(line.text)[-1:] if 0 < a.value < best.amount.value]
    for line in lines:
        if line is best.line or line in near:
            continue
        for amount in find_amounts(line.text):
            if any(amount.value == best.amount.value + tax for tax in taxes):
                return TotalCandidate(amount, best.weight, line, "net_plus_tax")
    return best


def _change_given(lines: list[Line]) -> bool:
    return any(CHANGE_RE.search(line.text) and any(a.value for a in find_amounts(line.text)) for line in lines)


def charged(best: TotalCandidate) -> TotalCandidate:
    """On a settled folio (it ends with a balance of 0.00) a negative total is the payment that
    settled it: the total charged is its amount."""
    if best.amount.value >= 0:
        return best
    return replace(best, amount=replace(best.amount, value=-best.amount.value))


def with_taxes_added(best: TotalCandidate, candidates: list[TotalCandidate], lines: list[Line]) -> TotalCandidate:
    """A later total that is ``best`` plus the taxes printed between them ("Net Total 14.85", tax
    lines, "TOTAL 16.56"): ``best`` was the amount before tax."""
    for later in (c for c in candidates if c.line.index > best.line.index and c.amount.value > best.amount.value):
        between = [line for line in lines if best.line.index < line.index < later.line.index]
        taxes = sum((a.value for line in between for a in find_amounts(line.text)[-1:]), Decimal(0))
        if between and abs(best.amount.value + taxes - later.amount.value) <= Decimal("0.01"):
            return later
    return best


def rounded(total: TotalCandidate, lines: list[Line]) -> TotalCandidate:
    """The total after cash rounding, when a rounding line right after it says so."""
    after = [line for line in lines if line.index > total.line.index][:3]
    for line in after:
        if PAYMENT_RE.search(line.text) or CHANGE_RE.search(line.text):
            break  # rounding printed after the payment is the change's, not the total's
        if not ROUNDING_RE.search(line.text):
            continue
        amounts = find_amounts(line.text)
        if not amounts:
            continue
        amount = amounts[-1]
        if _is_rounded(amount.value) and 0 < abs(amount.value - total.amount.value) <= ROUNDING_STEP:
            return TotalCandidate(amount, total.weight, line, "rounded_total")
        adjusted = _adjusted(total.amount.value, amount.value)
        if adjusted is not None:
            return TotalCandidate(AmountMatch(0, 0, "", adjusted), total.weight, line, "rounding_adjustment")
    return total


def _adjusted(total: Decimal, adjustment: Decimal) -> Decimal | None:
    """The total plus a rounding adjustment, trying both signs when OCR lost the minus."""
    if not 0 < abs(adjustment) < ROUNDING_STEP or _is_rounded(total):
        return None
    options = [total + adjustment] if adjustment < 0 else [total + adjustment, total - adjustment]
    return next((value for value in options if _is_rounded(value)), None)


def _is_rounded(value: Decimal) -> bool:
    return value % ROUNDING_STEP == 0
