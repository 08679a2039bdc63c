"""Candidates: every plausible value of a field on a page, with where it came from. Nothing is decided here.

- merchant: each of the first lines of the first page, its name cleaned of debris, registration
  numbers and what follows a legal form, and each such line joined to the next (names set on two lines);
- date: every date a line holds, read day first, month first and year first where those differ;
- total: every amount a line holds (two decimals; whole amounts only on lines that say they hold a total).

A page without a candidate for a field gives an empty list: the field is then missing, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

from backends.fields.layout import PageTable
from backends.fields.rules.candidate import keyword_weight
from backends.fields.rules.names import clean_name
from backends.normalize import find_amounts, find_dates_read, find_whole_amounts, format_amount

#: How many lines from the top of the first page may hold the merchant's name.
MERCHANT_LINES = 25
#: How many of those may start a name set on two lines.
JOINED_LINES = 12
#: At most this many candidates per field (a page of 10,000 amounts stays bounded).
MAX_CANDIDATES = 400


@dataclass(frozen=True)
class Candidate:
    """A value proposed for a field: the value, the line it stands on, and how it was read."""

    value: str
    line: int
    start: int = 0  # where the value starts in its line's text (dates and amounts)
    joined: bool = False  # merchant: this line and the next one
    reading: str = ""  # date: "dayfirst", "monthfirst" or "yearfirst"
    raw: str = ""  # the characters printed


def merchant_candidates(table: PageTable) -> list[Candidate]:
    found: list[Candidate] = []
    first_page = [i for i in range(len(table)) if table.page[i] == 0][:MERCHANT_LINES]
    for position, i in enumerate(first_page):
        name = clean_name(table.texts[i])
        if _name_like(name):
            found.append(Candidate(name, i, raw=table.texts[i]))
        if position < JOINED_LINES and position + 1 < len(first_page):
            joined = clean_name(f"{table.texts[i]} {table.texts[first_page[position + 1]]}")
            if _name_like(joined) and joined != name:
                found.append(Candidate(joined, i, joined=True, raw=joined))
    return found[:MAX_CANDIDATES]


def date_candidates(table: PageTable) -> list[Candidate]:
    found: dict[tuple[int, int, str], Candidate] = {}
    for i, text in enumerate(table.texts):
        for reading, matches in zip(_READINGS, find_dates_read(text, _READ_AS), strict=True):
            for match in matches:
                value = match.date.isoformat()
                found.setdefault(
                    (i, match.start, value), Candidate(value, i, match.start, reading=reading, raw=match.raw)
                )
        if len(found) >= MAX_CANDIDATES:
            break
    return list(found.values())[:MAX_CANDIDATES]


def total_candidates(table: PageTable) -> list[Candidate]:
    found: list[Candidate] = []
    for i, text in enumerate(table.texts):
        matches = find_amounts(text)
        if not matches and keyword_weight(text) > 0:
            matches = find_whole_amounts(text)
        found += [Candidate(format_amount(m.value), i, m.start, raw=m.raw) for m in matches]
        if len(found) >= MAX_CANDIDATES:
            break
    return found[:MAX_CANDIDATES]


GENERATORS = {"merchant": merchant_candidates, "date": date_candidates, "total": total_candidates}

_READINGS = ("dayfirst", "monthfirst", "yearfirst")
_READ_AS = ((True, False), (False, False), (True, True))  # (dayfirst, yearfirst) of each reading


def _name_like(name: str) -> bool:
    """At least two letters, and more letters than digits: a name, not a number or debris."""
    letters = sum(ch.isalpha() for ch in name)
    return letters >= 2 and letters > sum(ch.isdigit() for ch in name)
