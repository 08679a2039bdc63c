"""The total: the amount on the line that says it is what is due.

Each line with a total keyword offers its last amount (or the next line's, when the amount is
printed below its label); the strongest keyword wins, then the later line (a final total follows
the first one). Lines that only look like totals (subtotal, tax, change, cash, quantity) are
excluded, and so is everything in a tax summary table. A table heading over its row of amounts,
and a tax row of net, tax and gross that add up, offer weaker candidates. Where a file holds
several documents (each opening with the same line), the first that states a total is read. The
winner is then checked against the arithmetic around it, and amended where that does not hold
(``corrections``: taxes added after it, a balance carried, a misread amount, cash rounding).
Without any total line: the payment less the change, else the subtotal (plus a tax after it), else
the payment, else a line that names an amount.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

from backends.fields.rules.candidate import (
    CHANGE_RE,
    FINAL,
    KEYWORDS,
    NOT_TOTAL_RE,
    PAYMENT_RE,
    SUBTOTAL_RE,
    TAX_RE,
    TotalCandidate,
    keyword_weight,
)
from backends.fields.rules.corrections import (
    charged,
    items_added,
    net_of_tax,
    paid_exactly,
    rounded,
    with_taxes_added,
    without_carried,
)
from backends.fields.rules.keywords import (
    AMOUNT,
    HEADING_TOTALS,
    SETTLED,
    TAX_TABLE_HEADING,
    compile_pattern,
)
from backends.fields.rules.lines import Line
from backends.normalize import AmountMatch, find_amounts, find_whole_amounts

_HEADING_TOTALS = tuple((compile_pattern(pattern), weight) for pattern, weight in HEADING_TOTALS)
_TAX_TABLE = compile_pattern(TAX_TABLE_HEADING)
_AMOUNT = compile_pattern(AMOUNT)
_SETTLED = compile_pattern(SETTLED)
#: How much less a table heading's label counts than the same label beside its amount: a tax
#: table under the total ("Netto MwSt Brutto") repeats the total's label.
HEADING_DISCOUNT = 0.5
#: How far (as a share of the line) a lone amount may stand from the heading label it is read under.
COLUMN_SLACK = 0.2
#: How much less a label counts when its amount is printed a few lines below it.
APART_DISCOUNT = 1.0
#: Weight of a row of net, tax and gross amounts that add up ("IVA 10% 1.907,88 190,81 2.098,69"):
#: above a table heading's label, below any line that says it is the total.
NET_TAX_GROSS = 2.75
#: The largest tax rate a row of net, tax and gross is believed to hold.
MAX_TAX_RATE = Decimal("0.3")
#: The weight of a line that plainly says it holds the total ("TOTAL 5.00").
LABELLED = 3.0
#: The shortest opening line taken as a document's own (shorter ones repeat by chance: "1", "Page").
MIN_OPENING = 8
#: A line that is a total's label and nothing else ("Total", "Grand Total:").
_LABEL_ONLY = re.compile(r"^\W*(?:grand\s*)?total\W*$|^\W*(?:summe|gesamt|totaal|montant\s*total)\W*$", re.IGNORECASE)
#: A label this strong after a tax table still names the total ("Grand Total" under "Tax Breakdown").
AFTER_TAX_TABLE = 3.5


def find_total(lines: list[Line]) -> TotalCandidate | None:
    """The receipt's total, or None when nothing says which amount it is."""
    settled = any(_SETTLED.search(line.text) for line in lines)
    every, lines = lines, _before_tax_table(_first_document(lines))
    whole = sum(len(find_amounts(line.text)) for line in lines) <= 1
    candidates = [c for c in (_candidate(lines, i, whole=whole) for i in range(len(lines))) if c is not None]
    candidates += _after_tax_table(every, lines, candidates)
    candidates = _summing_rows(candidates)
    candidates = [c for c in candidates if c.amount.value != 0]  # a refund's total is negative
    if candidates:
        best = max(candidates, key=lambda c: (c.weight, c.line.index))
        best = without_carried(with_taxes_added(best, candidates, every), candidates, every)
        best = items_added(paid_exactly(net_of_tax(best, every), candidates, every), every)
        best = charged(best) if settled else best
        return best if best.weight >= FINAL else rounded(best, lines)
    return _fallback(lines)


def _first_document(lines: list[Line]) -> list[Line]:
    """The lines up to the end of the first document that states a total, where the file holds
    several, each opening with the same line (a hotel's room invoice and its city tax invoice, an
    invoice and its card slip): a later one's total is not the first one's."""
    first = next((position for position, line in enumerate(lines[:3]) if len(line.text) >= MIN_OPENING), 0)
    stated = next(
        (p for p, line in enumerate(lines) if keyword_weight(line.text) >= LABELLED and find_amounts(line.text)), None
    )
    if stated is None:
        return lines
    end = next((p for p in range(stated + 1, len(lines)) if lines[p].text == lines[first].text), len(lines))
    return lines[:end]


def _after_tax_table(every: list[Line], kept: list[Line], candidates: list[TotalCandidate]) -> list[TotalCandidate]:
    """Totals printed after a tax table whose label is strong, and stronger than any before it
    ("Tax Breakdown" ... "Grand Total 24,919.99"): the table only repeats weaker labels."""
    rest = every[len(kept) :]
    strongest = max((c.weight for c in candidates), default=0.0)
    found = (_candidate(rest, i) for i in range(len(rest)))
    return [c for c in found if c is not None and c.source == "line" and c.weight >= max(AFTER_TAX_TABLE, strongest)]


def _candidate(lines: list[Line], i: int, *, whole: bool = False) -> TotalCandidate | None:
    """The amount line ``i`` offers as the total; amounts without decimals only where the document
    prints (almost) none with decimals (``whole``): elsewhere "1000" is a misread "10.00"."""
    text = lines[i].text
    weight = keyword_weight(text)
    following = lines[i + 1] if i + 1 < len(lines) else None
    if not weight:
        after = lines[i + 2] if i + 2 < len(lines) else None
        return _under_heading(lines[i], following, after) or _net_tax_gross(lines[i])
    amounts = _not_rates(text, find_amounts(text)) or (_whole_amounts(text) if whole else [])
    if amounts:
        # "TOTAL 1.446,40 -1.446,40 0,00": a folio's row of charges, credits and a zero balance
        settled = amounts[-1].value == 0 and any(a.value for a in amounts)
        amount = next(a for a in amounts if a.value) if settled else amounts[-1]
        return TotalCandidate(_space_grouped(text, amount), weight, lines[i])
    if following is not None and _only_amount(following.text):
        return TotalCandidate(find_amounts(following.text)[-1], weight, following)
    return _apart(lines, i, weight) if _LABEL_ONLY.match(text) else None


def _not_rates(text: str, amounts: list[AmountMatch]) -> list[AmountMatch]:
    """The amounts that are not a rate ("Total Sales Inclusive GST @6.00% 1200": 6.00 is the tax's)."""
    return [a for a in amounts if not text[a.end :].lstrip().startswith("%")]


def _apart(lines: list[Line], i: int, weight: float) -> TotalCandidate | None:
    """A total's label alone on its line, its amount at the end of one of the next three (a
    two-column page read row by row puts the other column's text between: "Total" / "A/C Name:
    Lorem Ipsum" / "Bank Details: ... $706,00"). Weaker than a label beside its amount."""
    for line in lines[i + 1 : i + 4]:
        amounts = find_amounts(line.text)
        if amounts and not line.text[amounts[-1].end :].strip() and not keyword_weight(line.text):
            return TotalCandidate(amounts[-1], weight - APART_DISCOUNT, line, "label_apart")
    return None


def _space_grouped(text: str, amount: AmountMatch) -> AmountMatch:
    """The amount with the thousands printed before it after a space ("Kwota należności ogółem:
    17 115,45PLN", as Polish, French and Czech documents print it). Only on a total's own line,
    where a quantity does not stand right before the amount."""
    head = re.search(r"(?<![\d.,])(\d{1,3}(?: \d{3})*) $", text[: amount.start])
    if head is None or amount.value < 0 or not re.match(r"\d{3}[.,]\d\d$", amount.raw.strip()):
        return amount
    value = Decimal(head.group(1).replace(" ", "")) * 1000 + amount.value
    return AmountMatch(head.start(1), amount.end, text[head.start(1) : amount.end], value)


def _whole_amounts(text: str) -> list[AmountMatch]:
    """Amounts printed without decimals on a total line ("Grand Total Rs 1939"), not percentages or
    counts of items, and only after the keyword."""
    keyword = next((m for pattern, _ in KEYWORDS if (m := pattern.search(text))), None)
    start = keyword.end() if keyword else 0
    return [a for a in find_whole_amounts(text) if a.start >= start and a.value >= 1]


def _under_heading(heading: Line, row: Line | None, after: Line | None) -> TotalCandidate | None:
    """A table's heading row of labels ("Netto  MwSt  Brutto") with the amounts on the row below:
    the amount under the total's label, matched by relative position. Where the row is the
    heading's only one (``after`` holds no amount), a column that names what is charged counts
    too, and a single amount counts when it stands under the label."""
    if row is None or len(find_amounts(heading.text)) > 1 or len(re.findall(r"[^\W\d]{3,}", heading.text)) < 2:
        return None  # a heading is words; one stray number OCR read into it may stand
    amounts = find_amounts(row.text)
    lone = after is None or not find_amounts(after.text)
    label = _heading_label(heading.text, lone=lone)
    if label is None or not amounts or (len(amounts) < 2 and not lone):
        return None
    match, weight = label
    where = (match.start() + match.end()) / 2 / max(len(heading.text), 1)
    offsets = {a: abs((a.start + a.end) / 2 / max(len(row.text), 1) - where) for a in amounts}
    best = min(amounts, key=offsets.__getitem__)
    if len(amounts) < 2 and offsets[best] > COLUMN_SLACK:
        return None
    return TotalCandidate(best, weight - HEADING_DISCOUNT, row, "table_heading")


def _heading_label(heading: str, *, lone: bool) -> tuple[re.Match[str], float] | None:
    """The strongest (then rightmost) total label in a heading that does not name a part of the
    total; the labels of what is charged only over a lone row."""
    found = [(m, w) for pattern, w in KEYWORDS if (m := pattern.search(heading)) and not _part_label(heading, m)]
    if lone:
        found += [(m, w) for pattern, w in _HEADING_TOTALS if (m := pattern.search(heading)) and not _taxed(heading, m)]
    return max(found, key=lambda mw: (mw[1], mw[0].start()), default=None)


def _net_tax_gross(line: Line) -> TotalCandidate | None:
    """The gross of a tax summary row that prints net and tax (in either order: "MwSt netto
    brutto" on German tills) and then the gross, and adds up (net + tax = gross, the tax a
    plausible rate of the net): the whole invoice's when the row sums the table, else one rate's,
    so weaker than any line labelled as the total."""
    amounts = find_amounts(line.text)
    for first, second, gross in zip(amounts, amounts[1:], amounts[2:], strict=False):
        tax, net = sorted((first.value, second.value))
        if 0 < tax <= net * MAX_TAX_RATE and net + tax == gross.value:
            return TotalCandidate(gross, NET_TAX_GROSS, line, "net_tax_gross")
    return None


def _summing_rows(candidates: list[TotalCandidate]) -> list[TotalCandidate]:
    """Of the rows of net, tax and gross, those of the one gross that is the sum of the others (a
    table's sum row): rows of different grosses and no sum are one rate's or one item's each."""
    rows = [c for c in candidates if c.source == "net_tax_gross"]
    grosses = {c.amount.value for c in rows}
    if len(grosses) <= 1:
        return candidates
    largest = max(grosses)
    keep = largest if largest == sum(grosses - {largest}) else None
    return [c for c in candidates if c.source != "net_tax_gross" or c.amount.value == keep]


def _taxed(heading: str, match: re.Match[str]) -> bool:
    """Whether the word before ``match`` is a tax's name ("VAT Amount", "MwSt Betrag")."""
    words = heading[: match.start()].split()
    return bool(words) and bool(TAX_RE.search(words[-1]))


def _part_label(heading: str, match: re.Match[str]) -> bool:
    """Whether the heading's word around ``match`` names a part of the total ("MWST-Betrag", "Netto")."""
    start = heading.rfind(" ", 0, match.start()) + 1
    end = heading.find(" ", match.end())
    return bool(NOT_TOTAL_RE.search(heading[start : end if end >= 0 else len(heading)]))


def _only_amount(text: str) -> bool:
    amounts = find_amounts(text)
    if len(amounts) != 1:
        return False
    rest = text[: amounts[0].start] + text[amounts[0].end :]
    return sum(c.isalpha() for c in rest) <= 3


def _before_tax_table(lines: list[Line]) -> list[Line]:
    for position, line in enumerate(lines):
        if position > len(lines) // 3 and _TAX_TABLE.search(line.text):
            return lines[:position]
    return lines


def _fallback(lines: list[Line]) -> TotalCandidate | None:
    paid = _last_amount(lines, lambda text: bool(PAYMENT_RE.search(text) and not CHANGE_RE.search(text)))
    change = _last_amount(lines, lambda text: bool(CHANGE_RE.search(text)))
    if paid is not None and change is not None and 0 <= abs(change.amount.value) < paid.amount.value:
        value = paid.amount.value - abs(change.amount.value)
        return TotalCandidate(AmountMatch(0, 0, "", value), 0.0, paid.line, "payment_less_change")
    subtotal = _last_amount(lines, lambda text: bool(SUBTOTAL_RE.search(text)))
    summed = _subtotal_plus_tax(lines, subtotal)
    if summed is not None:
        return summed
    if subtotal is not None and (paid is None or subtotal.amount.value <= paid.amount.value):
        return replace(subtotal, source="subtotal")
    if paid is not None:
        return replace(paid, source="payment")
    amount = _last_amount(lines, lambda text: bool(_AMOUNT.search(text)))
    return replace(amount, source="amount") if amount is not None else None


def _subtotal_plus_tax(lines: list[Line], subtotal: TotalCandidate | None) -> TotalCandidate | None:
    """Where the total's own line is garbled: an amount printed after the subtotal that is the
    subtotal plus a tax printed between them. OCR that reads the amounts a row off their labels
    ("Sub Total: 50.50 5.45" / "Tax: 55.95" / "TOTAL:") puts the tax on the subtotal's line."""
    if subtotal is None:
        return None
    own = [a.value for a in find_amounts(subtotal.line.text) if a.value > 0]
    after = [line for line in lines if line.index > subtotal.line.index]
    taxes = [a.value for line in after if TAX_RE.search(line.text) for a in find_amounts(line.text)]
    sums = {value + tax for position, value in enumerate(own) for tax in [*taxes, *own[position + 1 :]] if tax > 0}
    for line in after:
        for amount in find_amounts(line.text):
            if amount.value in sums:
                return TotalCandidate(amount, 0.0, line, "subtotal_plus_tax")
    return None


def _last_amount(lines: list[Line], matches: Callable[[str], bool]) -> TotalCandidate | None:
    """The last amount of the last matching line; not a zero balance printed after it ("MASTER
    CARD 978.32 CR 0.00")."""
    for line in reversed(lines):
        if matches(line.text):
            amounts = [a for a in find_amounts(line.text) if a.value] or find_amounts(line.text)
            if amounts:
                return TotalCandidate(amounts[-1], 0.0, line)
    return None
