"""A total candidate: an amount offered as the total, and how strongly its line says it is one."""

from __future__ import annotations

from dataclasses import dataclass

from backends.fields.rules.keywords import (
    CHANGE,
    NOT_TOTAL,
    PAYMENT,
    ROUNDING,
    SUBTOTAL,
    TAX,
    TOTAL_KEYWORDS,
    compile_pattern,
)
from backends.fields.rules.lines import Line
from backends.normalize import AmountMatch

KEYWORDS = tuple((compile_pattern(pattern), weight) for pattern, weight in TOTAL_KEYWORDS)
#: The patterns the total's modules (``total``, ``corrections``, ``checks``) read lines with.
NOT_TOTAL_RE = compile_pattern(NOT_TOTAL)
PAYMENT_RE = compile_pattern(PAYMENT)
CHANGE_RE = compile_pattern(CHANGE)
SUBTOTAL_RE = compile_pattern(SUBTOTAL)
TAX_RE = compile_pattern(TAX)
ROUNDING_RE = compile_pattern(ROUNDING)
#: Keyword weight of a line that already states the final amount due (rounded, payable).
FINAL = 4.5


@dataclass(frozen=True)
class TotalCandidate:
    """An amount offered as the total, how strongly its line says so, and where it came from."""

    amount: AmountMatch
    weight: float
    line: Line
    source: str = "line"


def keyword_weight(text: str, *, not_total: bool | None = None) -> float:
    """How strongly a line says it holds the total: 0 when it does not or is something else.
    ``not_total``: whether ``NOT_TOTAL_RE`` finds something in ``text``, where the caller knows."""
    if NOT_TOTAL_RE.search(text) if not_total is None else not_total:
        return 0.0
    return next((weight for pattern, weight in KEYWORDS if pattern.search(text)), 0.0)
