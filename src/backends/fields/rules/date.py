"""The document date: the date on a line labelled as one, or next to a time, not an expiry date.

Candidates are every date in the text (``normalize.find_dates``). A date on a line with a date
label or a time of day scores higher, a print stamp (to the second) higher still; one labelled as
an expiry, due or birth date, or as a hotel stay's arrival, scores lower; a departure dates a folio
only where no label or print stamp does. On a folio, of two unlabelled dates stacked on consecutive
lines (the stay) the first counts less. Ties go to the first. Eight digits ("25032018") are read as
a date only where the text holds no other. Numeric dates are read day-first, as most of the world
prints them, unless the receipt says otherwise (``infer_dayfirst``): a numeric date that only reads
month-first, or a US address or dollar amount.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace
from itertools import pairwise

from backends.fields.rules.keywords import (
    ARRIVAL_LABELS,
    DATE_LABELS,
    DAY_FIRST_MARKERS,
    DEPARTURE_LABELS,
    ISSUE_DATE_LABELS,
    NOT_DOCUMENT_DATE,
    STAY_CUES,
    TIME,
    US_HINTS,
    US_MARKERS,
    compile_pattern,
)
from backends.fields.rules.lines import Line
from backends.normalize import DateMatch, find_amounts, find_dates, parse_date

_LABEL = compile_pattern(DATE_LABELS)
_ISSUED = compile_pattern(ISSUE_DATE_LABELS)
_DEPARTURE = compile_pattern(DEPARTURE_LABELS)
_ARRIVAL = compile_pattern(ARRIVAL_LABELS)
_STAY_CUES = tuple(compile_pattern(pattern) for pattern in STAY_CUES)
_NOT_DOCUMENT_DATE = compile_pattern(NOT_DOCUMENT_DATE)
_TIME = compile_pattern(TIME)
_US = re.compile(US_MARKERS)
_US_HINTS = compile_pattern(US_HINTS)
_NOT_US = compile_pattern(DAY_FIRST_MARKERS)
#: The score of a departure date before a time printed beside it: above an unlabelled date or one
#: with a time (a folio's dated rows), below a document date's label or a print stamp.
DEPARTURE = 1.5
#: What a time beside the departure adds: enough to beat a folio's timed rows (1.0), never a date
#: label (2.0) or a print stamp.
DEPARTURE_TIME = 0.25
#: What a print stamp adds: a date followed by a time to the second, on a line with no amount
#: ("HOTEL FRANKFURT AIRPORT 23/11/2021 20:54:00"), is when the document was printed.
STAMP = 1.0
_STAMP = re.compile(r"^\s*T?(?:[01]?\d|2[0-3]):[0-5]\d:[0-5]\d(?!\d)")
#: How much less the first of a folio's unlabelled pair of stay dates counts (its arrival).
ARRIVAL = 1.0
#: The longest stay an unlabelled pair of dates is read as (days).
LONGEST_STAY = 62
#: How far before a date (characters) its own label stands: "Datum: 08.02.19 Abreise: 08.02.19".
LABEL_REACH = 30
#: Eight digits standing alone: a date some tills print without separators ("25032018 13:11:54").
_COMPACT_DATE = re.compile(r"(?<![\w.,/-])\d{8}(?![\w.,/-])")
#: A numeric date: its two separators are the same ("nu11-18/06/09" holds no date "11-18/06").
_NUMERIC_DATE = re.compile(r"(?<![\d.,])(\d{1,2})([-/.])(\d{1,2})\2(?:19|20)?\d\d(?![\d])")


@dataclass(frozen=True)
class DateCandidate:
    match: DateMatch
    score: float
    line: Line


def find_date(lines: list[Line], *, dayfirst: bool = True, yearfirst: bool = False) -> DateCandidate | None:
    """The document's date, or None when the text holds no plausible date."""
    folio = _folio(lines)
    candidates = [
        DateCandidate(match, _score(line.text, match, folio=folio), line)
        for line in lines
        for match in find_dates(line.text, dayfirst=dayfirst, yearfirst=yearfirst)
    ]
    if not candidates:
        return _compact(lines)
    if folio:
        candidates = _without_arrival(lines, candidates)
    return max(candidates, key=lambda c: (c.score, -c.line.index))


def _folio(lines: list[Line]) -> bool:
    """Whether the document is a stay's bill: two signs of a folio (room, guest, nights...), or an
    arrival and a departure both labelled."""
    if sum(any(cue.search(line.text) for line in lines) for cue in _STAY_CUES) >= 2:
        return True
    return any(_ARRIVAL.search(line.text) for line in lines) and any(_DEPARTURE.search(line.text) for line in lines)


def _compact(lines: list[Line]) -> DateCandidate | None:
    """A date printed without separators (day-first or year-first, "25032018", "20180325"): read
    only where the document holds no other date, since eight digits are mostly other numbers."""
    found = []
    for line in lines:
        for digits in _COMPACT_DATE.finditer(line.text):
            date = parse_date(digits.group())
            if date is not None:
                match = DateMatch(digits.start(), digits.end(), digits.group(), date)
                found.append(DateCandidate(match, _score(line.text, match, folio=False), line))
    return max(found, key=lambda c: (c.score, -c.line.index), default=None)


def _without_arrival(lines: list[Line], candidates: list[DateCandidate]) -> list[DateCandidate]:
    """A folio's stay printed as two unlabelled dates on consecutive lines ("May 6, 2019" over
    "May 10, 2019"): the first is the arrival and counts less, the bill is dated the stay's end."""
    per_line = Counter(c.line.index for c in candidates)
    alone = {c.line.index: c for c in candidates if per_line[c.line.index] == 1 and not c.score}
    following = {line.index: after.index for line, after in pairwise(lines)}
    before = {after: index for index, after in following.items()}
    arrivals = {
        index
        for index, first in alone.items()
        if (second := alone.get(following.get(index, -1))) is not None
        and 0 < (second.match.date - first.match.date).days <= LONGEST_STAY
        and before.get(index) not in alone  # a pair, not two rows of a dated table
        and following.get(second.line.index) not in alone
    }
    return [replace(c, score=c.score - ARRIVAL) if c.line.index in arrivals else c for c in candidates]


def _score(text: str, match: DateMatch, *, folio: bool) -> float:
    before, after = text[: match.start], text[match.end :]
    time = 1.0 if _TIME.search(after) or _TIME.search(before) else 0.0
    if _DEPARTURE.search(before[-LABEL_REACH:]):  # a folio's last day; elsewhere a journey's, not the bill's
        return DEPARTURE + DEPARTURE_TIME * time if folio else time - 3.0
    score = time + (STAMP if _STAMP.match(after) and not find_amounts(text) else 0.0)
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
        and int(numbers.group(3)) <= 12
        and (numbers.group(1) != numbers.group(3))
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
        for first, _, second in _NUMERIC_DATE.findall(line.text):
            votes += (int(first) > 12) - (int(second) > 12)
    if votes:
        return votes > 0
    text = "\n".join(line.text for line in lines)
    if _NOT_US.search(text):
        return True
    return not (_US.search(text) or len(_US_HINTS.findall(text)) >= 2)
