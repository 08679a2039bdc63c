"""The document date: the date on a line labelled as one, or next to a time, not an expiry date.

Candidates are every date in the text (``normalize.find_dates``). A date on a line with a date
label or a time of day scores higher; one labelled as an expiry, due or birth date scores lower;
ties go to the first. Numeric dates are read day-first, as most of the world prints them, unless
the receipt says otherwise (``infer_dayfirst``): a numeric date that only reads month-first, or a
US address or dollar amount.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from backends.normalize import DateMatch, find_dates
from backends.rules.keywords import (
    DATE_LABELS,
    DAY_FIRST_MARKERS,
    DEPARTURE_LABELS,
    ISSUE_DATE_LABELS,
    NOT_DOCUMENT_DATE,
    TIME,
    US_HINTS,
    US_MARKERS,
    compile_pattern,
)
from backends.rules.lines import Line

_LABEL = compile_pattern(DATE_LABELS)
_ISSUED = compile_pattern(ISSUE_DATE_LABELS)
_DEPARTURE = compile_pattern(DEPARTURE_LABELS)
_NOT_DOCUMENT_DATE = compile_pattern(NOT_DOCUMENT_DATE)
_TIME = compile_pattern(TIME)
_US = re.compile(US_MARKERS)
_US_HINTS = compile_pattern(US_HINTS)
_NOT_US = compile_pattern(DAY_FIRST_MARKERS)
#: The score of a departure date before a time printed beside it: above an unlabelled date, below a
#: document date's label or a date printed with its time of day (when the folio was printed).
DEPARTURE = 0.5
#: How far before a date (characters) its own label stands: "Datum: 08.02.19 Abreise: 08.02.19".
LABEL_REACH = 30
_NUMERIC_DATE = re.compile(r"(?<![\d.,])(\d{1,2})[-/.](\d{1,2})[-/.](?:19|20)?\d\d(?![\d])")


@dataclass(frozen=True)
class DateCandidate:
    match: DateMatch
    score: float
    line: Line


def find_date(lines: list[Line], *, dayfirst: bool = True, yearfirst: bool = False) -> DateCandidate | None:
    """The document's date, or None when the text holds no plausible date."""
    candidates = [
        DateCandidate(match, _score(line.text, match), line)
        for line in lines
        for match in find_dates(line.text, dayfirst=dayfirst, yearfirst=yearfirst)
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda c: (c.score, -c.line.index))


def _score(text: str, match: DateMatch) -> float:
    before, after = text[: match.start], text[match.end :]
    time = 1.0 if _TIME.search(after) or _TIME.search(before) else 0.0
    if _DEPARTURE.search(before[-LABEL_REACH:]):
        return DEPARTURE + time
    score = time
    if _LABEL.search(before):
        score += 2.0
    if _ISSUED.search(before):
        score += 1.0
    if _NOT_DOCUMENT_DATE.search(before):
        score -= 3.0
    return score


def ambiguous(date: DateCandidate) -> bool:
    """Whether a numeric date reads both day- and month-first (``03/04/2024``)."""
    numbers = _NUMERIC_DATE.search(date.match.raw)
    return (
        bool(numbers)
        and numbers is not None
        and int(numbers.group(1)) <= 12
        and int(numbers.group(2)) <= 12
        and (numbers.group(1) != numbers.group(2))
    )


def date_order(lines: list[Line], order: str = "auto") -> str:
    """``dmy``, ``mdy`` or ``ymd``: the policy's order, else what the document says (``infer_dayfirst``)."""
    if order != "auto":
        return order
    return "dmy" if infer_dayfirst(lines) else "mdy"


def infer_dayfirst(lines: list[Line]) -> bool:
    """Whether numeric dates on this document are day-first: what its impossible days say (a 25 can
    only be a day), else whether it looks American (a state and ZIP code, a US phone number, US
    dollars, a tip line) rather than from anywhere else (a currency other than the dollar)."""
    votes = 0
    for line in lines:
        for first, second in _NUMERIC_DATE.findall(line.text):
            votes += (int(first) > 12) - (int(second) > 12)
    if votes:
        return votes > 0
    text = "\n".join(line.text for line in lines)
    if _NOT_US.search(text):
        return True
    return not (_US.search(text) or len(_US_HINTS.findall(text)) >= 2)
