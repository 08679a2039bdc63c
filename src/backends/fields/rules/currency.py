"""The currency: the marks printed beside the amounts, else a currency code printed anywhere.

A bare ``$`` is shared by a dozen currencies: the receipt's legal forms and place names decide
(``Sdn Bhd`` -> MYR, ``Pte Ltd`` -> SGD, a US state and ZIP code -> USD); without a hint it is USD.
Stray symbols elsewhere (OCR reads noise as ``£`` or ``€``) do not count: only marks printed
right beside an amount, or currency codes written as words (``Amount (RM)``, ``EUR``).
"""

from __future__ import annotations

import re
from collections import Counter

from backends.fields.rules.keywords import CURRENCY_MARK, DOLLAR_HINTS, US_MARKERS, compile_pattern
from backends.fields.rules.lines import Line
from backends.normalize import AmountMatch, detect_currency, find_amounts

_MARK_BEFORE = re.compile(CURRENCY_MARK + r"\s?$")
_MARK_AFTER = re.compile(r"^\s?" + CURRENCY_MARK + r"(?![A-Za-z])")
_CODE_WORD = re.compile(r"(?<![A-Za-z])(RM|MYR|EUR|USD|SGD|GBP|CHF|AUD|CAD|HKD|NZD|JPY|INR|IDR|THB|PHP)(?![A-Za-z])")
_HINTS = tuple((compile_pattern(pattern), code) for pattern, code in DOLLAR_HINTS)
_US = re.compile(US_MARKERS)


def find_currency(lines: list[Line], total_line: Line | None = None) -> str | None:
    """The ISO 4217 code of the receipt's currency, or None when nothing on it says."""
    votes: Counter[str] = Counter()
    for line in lines:
        weight = 2 if line is total_line else 1
        for mark in marks_beside_amounts(line.text):
            code = detect_currency(mark)
            if code:
                votes[code] += weight
    if not votes:
        votes.update(detect_currency(code) or code for line in lines for code in _CODE_WORD.findall(line.text))
    if not votes:
        return None
    code = votes.most_common(1)[0][0]
    return _resolve_dollar(lines) if code == "USD" and not _explicit_usd(lines) else code


def marks_beside_amounts(text: str) -> list[str]:
    """Currency marks printed right before or after an amount in ``text``."""
    marks = []
    for amount in find_amounts(text):
        before, after = _MARK_BEFORE.search(text[: amount.start]), _MARK_AFTER.search(text[amount.end :])
        marks += [m.group().strip() for m in (before, after) if m]
    return marks


def printed_amount(text: str, amount: AmountMatch) -> str | None:
    """The amount as printed, with a currency mark printed right beside it (``RM 9.00``, ``9,00 €``).
    None for an amount that was worked out rather than read (payment less change)."""
    if amount.start == amount.end:
        return None
    before, after = _MARK_BEFORE.search(text[: amount.start]), _MARK_AFTER.search(text[amount.end :])
    return (before.group() if before else "") + text[amount.start : amount.end] + (after.group() if after else "")


def _explicit_usd(lines: list[Line]) -> bool:
    return any(re.search(r"\bUSD\b|US\$", line.text) for line in lines)


def _resolve_dollar(lines: list[Line]) -> str:
    text = "\n".join(line.text for line in lines)
    if _US.search(text):
        return "USD"
    return next((code for pattern, code in _HINTS if pattern.search(text)), "USD")
