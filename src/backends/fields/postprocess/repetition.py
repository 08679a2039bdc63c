"""Degenerate repetition, collapsed: words, phrases, lines and list items that loop.

Small and greedy-decoded models fall into loops (``TOTAL TOTAL TOTAL``, the same line item forty
times, the whole answer again). One generic rule covers every granularity: a unit of 1 to
``max_period`` consecutive elements repeated at least ``min_repeats`` times in a row is kept once,
and a truncated partial copy at the end of the run is dropped with it. Two identical elements in a
row are left alone: receipts do print the same item twice.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

T = TypeVar("T")

MIN_REPEATS = 3
MAX_PERIOD = 8


def collapse_runs(
    items: Sequence[T],
    *,
    key: Callable[[T], Hashable] | None = None,
    min_repeats: int = MIN_REPEATS,
    max_period: int = MAX_PERIOD,
) -> tuple[list[T], int]:
    """``items`` with each looping run kept once, and how many elements were removed."""
    keys = [key(item) if key else item for item in items]
    out: list[T] = []
    removed = i = 0
    while i < len(items):
        period, copies = _loop_at(keys, i, min_repeats, max_period)
        if period == 0:
            out.append(items[i])
            i += 1
            continue
        out.extend(items[i : i + period])
        end = i + copies * period
        end += _partial_copy(keys, i, end, period)
        removed += end - i - period
        i = end
    return out, removed


def _loop_at(keys: Sequence[Hashable], i: int, min_repeats: int, max_period: int) -> tuple[int, int]:
    """(period, copies) of the shortest unit starting at ``i`` repeated ``min_repeats`` times; (0, 0) if none."""
    for period in range(1, max_period + 1):
        if i + period * min_repeats > len(keys):
            break
        unit = keys[i : i + period]
        copies = 1
        while keys[i + copies * period : i + (copies + 1) * period] == unit:
            copies += 1
        if copies >= min_repeats:
            return period, copies
    return 0, 0


def _partial_copy(keys: Sequence[Hashable], start: int, end: int, period: int) -> int:
    """Length of a truncated copy of the unit that ends the sequence right after a run (the model
    stopped mid-loop); its last element may itself be cut short (a prefix of the unit's)."""
    length = 0
    while length < period and end + length < len(keys):
        here, unit = keys[end + length], keys[start + length]
        last = end + length == len(keys) - 1
        if here != unit and not (last and isinstance(here, str) and isinstance(unit, str) and unit.startswith(here)):
            break
        length += 1
    return length if end + length == len(keys) else 0


def collapse_lines(text: str) -> tuple[str, int]:
    """Text with looping lines (compared without surrounding blanks) kept once."""
    lines, removed = collapse_runs(text.splitlines(), key=lambda line: line.strip())
    return "\n".join(lines), removed


def collapse_words(text: str) -> tuple[str, int]:
    """Text with looping words and phrases (compared case-insensitively) kept once; blanks normalised."""
    words, removed = collapse_runs(text.split(), key=str.casefold)
    return " ".join(words), removed
