"""Features: one named column per signal, computed once per page for all of a field's candidates.

``FEATURES[field]`` is the table of what the scorer sees (``docs/fields.md`` prints it): each entry a
name, what it measures, and a function of the page's line flags and the candidates giving one
column. The multilingual keyword tables of ``rules.keywords`` are features here, never branches;
the arithmetic checks (subtotal + tax = total, an amount repeated, the largest amount) are columns.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property

import numpy as np

from backends.fields.candidates import Candidate
from backends.fields.layout import PageTable
from backends.fields.rules import keywords as kw
from backends.fields.rules.candidate import keyword_weight
from backends.normalize import find_amounts, find_dates

_PATTERNS = {
    name: kw.compile_pattern(pattern)
    for name, pattern in {
        "subtotal": kw.SUBTOTAL,
        "tax": kw.TAX,
        "change": kw.CHANGE,
        "payment": kw.PAYMENT,
        "rounding": kw.ROUNDING,
        "not_total": kw.NOT_TOTAL,
        "grand_total": kw.GRAND_TOTAL,
        "amount_due": kw.AMOUNT_DUE,
        "currency": kw.CURRENCY_MARK,
        "date_label": kw.DATE_LABELS,
        "issue_label": kw.ISSUE_DATE_LABELS,
        "not_document_date": kw.NOT_DOCUMENT_DATE,
        "departure": kw.DEPARTURE_LABELS,
        "time": kw.TIME,
        "legal": kw.LEGAL_FORMS,
        "business": kw.BUSINESS_WORDS,
        "not_merchant": kw.NOT_MERCHANT,
        "address": kw.ADDRESS_WORDS,
        "invoice_title": kw.INVOICE_TITLES,
        "seller": kw.SELLER_CUES,
        "buyer": kw.BUYER_CUES,
        "thanks": kw.THANKS_NAMING,
        "bank": kw.BANKS,
        "us": kw.US_MARKERS,
        "day_first": kw.DAY_FIRST_MARKERS,
    }.items()
}
_WEB = re.compile(r"www\.|https?:|@|\.(?:com|de|nl|fr|es|it|net|org|my)\b", re.IGNORECASE)


def _key(text: str) -> str:
    return " ".join(re.sub(r"[^0-9A-Z]+", " ", text.upper()).split())


@dataclass
class PageFlags:
    """Per-line signals of a page, computed once and read by every feature."""

    table: PageTable

    def flag(self, name: str) -> np.ndarray:
        return self._flags[name]

    @cached_property
    def _flags(self) -> dict[str, np.ndarray]:
        """Each flag of each line, read once per distinct text (a page repeats its rules "-----")."""
        distinct, lines = np.unique(np.array(self.table.texts, dtype=object), return_inverse=True)
        texts: list[str] = list(distinct)
        flags = {name: np.array([bool(p.search(t)) for t in texts], dtype=float) for name, p in _PATTERNS.items()}
        not_total = [bool(v) for v in flags["not_total"]]  # the pattern keyword_weight reads first
        flags["total_weight"] = np.array(
            [keyword_weight(t, not_total=n) for t, n in zip(texts, not_total, strict=True)], dtype=float
        )
        flags["has_amount"] = np.array([bool(find_amounts(t)) for t in texts], dtype=float)
        flags["has_date"] = np.array([bool(find_dates(t)) for t in texts], dtype=float)
        flags["web"] = np.array([bool(_WEB.search(t)) for t in texts], dtype=float)
        return {name: values[lines].reshape(-1) for name, values in flags.items()}

    def above(self, name: str) -> np.ndarray:
        """The flag of the line above each line (0 for the first)."""
        values = self.flag(name)
        return np.concatenate([[0.0], values[:-1]])

    @cached_property
    def keys(self) -> list[str]:
        return [_key(t) for t in self.table.texts]

    @cached_property
    def page_text_key(self) -> str:
        return " " + " ".join(self.keys) + " "

    def count(self, name: str) -> float:
        return float(self.flag(name).sum())


Column = Callable[[PageFlags, Sequence[Candidate]], np.ndarray]


@dataclass(frozen=True)
class Feature:
    name: str
    meaning: str
    column: Column


def _at(values: Callable[[PageFlags], np.ndarray]) -> Column:
    """A line-level signal read at each candidate's line."""
    return lambda flags, cands: values(flags)[[c.line for c in cands]] if cands else np.zeros(0)


def _each(value: Callable[[PageFlags, Candidate], float]) -> Column:
    return lambda flags, cands: np.array([value(flags, c) for c in cands], dtype=float)


def _page(value: Callable[[PageFlags], float]) -> Column:
    return lambda flags, cands: np.full(len(cands), value(flags), dtype=float)


def _line_flag(name: str) -> Column:
    return _at(lambda f: f.flag(name))


def _above_flag(name: str) -> Column:
    return _at(lambda f: f.above(name))


def _ratio(text: str, test: Callable[[str], bool]) -> float:
    return sum(map(test, text)) / max(len(text), 1)


def _common() -> list[Feature]:
    """Where the candidate's line stands and how it was read: every field has these."""
    return [
        Feature("top", "line's top, 0-1 of its page", _at(lambda f: f.table.top)),
        Feature("page", "page of the line (0 first)", _at(lambda f: f.table.page.astype(float))),
        Feature("line_rank", "line's index among the document's lines, 0-1", _at(_rank)),
        Feature("left", "line's left edge, 0-1 of the page width", _at(lambda f: f.table.left)),
        Feature("right", "line's right edge, 0-1", _at(lambda f: f.table.right)),
        Feature("centring", "distance of the line's centre from the page's, 0-0.5", _at(_centring)),
        Feature("text_height", "line height over the document's median line height", _at(lambda f: f.table.height)),
        Feature("ocr_confidence", "the engine's confidence in the line, 0-1", _at(lambda f: f.table.confidence)),
        Feature(
            "text_layer", "read from a PDF text layer (1) or by OCR (0)", _page(lambda f: float(f.table.text_layer))
        ),
        Feature("lines", "how many lines the document has (log)", _page(lambda f: math.log1p(len(f.table)))),
        Feature(
            "invoice",
            "the document calls itself an invoice (lines with an invoice title)",
            _page(lambda f: f.count("invoice_title")),
        ),
    ]


def _rank(flags: PageFlags) -> np.ndarray:
    n = len(flags.table)
    return np.arange(n, dtype=float) / max(n - 1, 1)


def _centring(flags: PageFlags) -> np.ndarray:
    return np.abs((flags.table.left + flags.table.right) / 2 - 0.5)


# merchant ------------------------------------------------------------------------------------------


def _name_rank(flags: PageFlags, cands: Sequence[Candidate]) -> np.ndarray:
    """How many lines of the first page stand before the candidate's line."""
    before = np.concatenate([[0], np.cumsum(flags.table.page == 0)])
    return before[[c.line for c in cands]].astype(float)


def _height_rank(flags: PageFlags, cands: Sequence[Candidate]) -> np.ndarray:
    """How many of the first 25 lines are taller than this one (0: the tallest)."""
    heights = flags.table.height[:25]
    mine = flags.table.height[[c.line for c in cands]] * 1.05
    return (heights[None, :] > mine[:, None]).sum(axis=1).astype(float)


def _repeats(flags: PageFlags, cand: Candidate) -> float:
    """How often the name appears in the document's text beyond its own line (legal footers, thanks)."""
    key = _key(cand.value)
    if len(key) < 3:
        return 0.0
    return float(max(flags.page_text_key.count(f" {key} ") - 1, 0))


def _first_letters_line(flags: PageFlags, cand: Candidate) -> float:
    first = next((i for i, t in enumerate(flags.table.texts) if sum(ch.isalpha() for ch in t) >= 3), -1)
    return float(cand.line == first)


MERCHANT = [
    *_common(),
    Feature("name_rank", "position among the first page's lines (0: the first)", _name_rank),
    Feature("height_rank", "lines among the first 25 taller than this one", _height_rank),
    Feature("first_letters_line", "the first line with letters", _each(_first_letters_line)),
    Feature("joined", "the line and the next one joined", _each(lambda f, c: float(c.joined))),
    Feature("chars", "characters in the name", _each(lambda f, c: float(len(c.value)))),
    Feature("words", "words in the name", _each(lambda f, c: float(len(c.value.split())))),
    Feature("kept", "share of the line kept as the name", _each(lambda f, c: len(c.value) / max(len(c.raw), 1))),
    Feature("upper", "share of capitals", _each(lambda f, c: _ratio(c.value, str.isupper))),
    Feature("digits", "share of digits", _each(lambda f, c: _ratio(c.value, str.isdigit))),
    Feature("letters", "share of letters", _each(lambda f, c: _ratio(c.value, str.isalpha))),
    Feature("repeats", "times the name appears elsewhere in the document", _each(_repeats)),
    Feature("legal_form", "the line holds a legal form (Sdn Bhd, GmbH, Ltd, ...)", _line_flag("legal")),
    Feature("business_word", "the line holds a kind of business (restaurant, mart, ...)", _line_flag("business")),
    Feature(
        "not_merchant_word",
        "the line holds a word of other lines (receipt, tel, gst, date, ...)",
        _line_flag("not_merchant"),
    ),
    Feature("address_word", "the line looks like an address", _line_flag("address")),
    Feature("web", "the line holds a web or mail address", _line_flag("web")),
    Feature("amount_on_line", "the line holds an amount", _line_flag("has_amount")),
    Feature("date_on_line", "the line holds a date", _line_flag("has_date")),
    Feature("invoice_title", "the line holds an invoice title", _line_flag("invoice_title")),
    Feature("seller_above", "the line above labels the seller", _above_flag("seller")),
    Feature("buyer_above", "the line above labels the buyer", _above_flag("buyer")),
    Feature("buyer_on_line", "the line labels the buyer", _line_flag("buyer")),
    Feature("thanks_above", "the line above thanks for shopping at ...", _above_flag("thanks")),
    Feature("bank", "the line names a bank", _line_flag("bank")),
    Feature("legal_lines", "lines of the document with a legal form", _page(lambda f: f.count("legal"))),
]

# date ----------------------------------------------------------------------------------------------


def _date_repeats(flags: PageFlags, cands: Sequence[Candidate]) -> np.ndarray:
    counts = Counter((c.value, c.reading) for c in cands)
    return np.array([counts[(c.value, c.reading)] - 1 for c in cands], dtype=float)


def _readings(flags: PageFlags, cands: Sequence[Candidate]) -> np.ndarray:
    """How many readings the printed date has (1: unambiguous)."""
    counts = Counter((c.line, c.start) for c in cands)
    return np.array([counts[(c.line, c.start)] for c in cands], dtype=float)


def _year_gap(flags: PageFlags, cands: Sequence[Candidate]) -> np.ndarray:
    years = np.array([int(c.value[:4]) for c in cands], dtype=float)
    return np.abs(years - np.median(years)) if len(years) else years


def _date_order(flags: PageFlags, cands: Sequence[Candidate]) -> np.ndarray:
    """The candidate's date against the others: 0 the earliest, 1 the latest."""
    values = sorted({c.value for c in cands})
    return np.array([values.index(c.value) / max(len(values) - 1, 1) for c in cands], dtype=float)


DATE = [
    *_common(),
    Feature("dayfirst", "read day first", _each(lambda f, c: float(c.reading == "dayfirst"))),
    Feature("monthfirst", "read month first", _each(lambda f, c: float(c.reading == "monthfirst"))),
    Feature("yearfirst", "read year first", _each(lambda f, c: float(c.reading == "yearfirst"))),
    Feature("readings", "readings of the printed date (1: unambiguous)", _readings),
    Feature(
        "month_name", "the month is printed as a word", _each(lambda f, c: float(any(ch.isalpha() for ch in c.raw)))
    ),
    Feature(
        "four_digit_year",
        "the year is printed with four digits",
        _each(lambda f, c: float(bool(re.search(r"\d{4}", c.raw)))),
    ),
    Feature(
        "position_in_line",
        "where the date starts in its line, 0-1",
        _each(lambda f, c: c.start / max(len(f.table.texts[c.line]), 1)),
    ),
    Feature("date_repeats", "the same date elsewhere on the page", _date_repeats),
    Feature("year_gap", "years from the median year of the page's dates", _year_gap),
    Feature("date_order", "0 the earliest of the page's dates, 1 the latest", _date_order),
    Feature("dates", "distinct dates on the page", lambda f, c: np.full(len(c), float(len({x.value for x in c})))),
    Feature("date_label", "the line labels a date", _line_flag("date_label")),
    Feature("date_label_above", "the line above labels a date", _above_flag("date_label")),
    Feature("issue_label", "the line labels the issue date", _line_flag("issue_label")),
    Feature("issue_label_above", "the line above labels the issue date", _above_flag("issue_label")),
    Feature(
        "other_date_label",
        "the line labels a date that is not the document's (due, expiry, arrival)",
        _line_flag("not_document_date"),
    ),
    Feature("other_date_label_above", "the same, on the line above", _above_flag("not_document_date")),
    Feature("departure", "the line labels a departure", _line_flag("departure")),
    Feature("time_on_line", "the line holds a time of day", _line_flag("time")),
    Feature("us_markers", "lines with signs of a US document (month first)", _page(lambda f: f.count("us"))),
    Feature("day_first_markers", "lines with signs of a day-first country", _page(lambda f: f.count("day_first"))),
]

# total ---------------------------------------------------------------------------------------------


def _values(cands: Sequence[Candidate]) -> np.ndarray:
    return np.array([float(c.value) for c in cands], dtype=float)


def _is_largest(flags: PageFlags, cands: Sequence[Candidate]) -> np.ndarray:
    values = _values(cands)
    return (values >= values.max()).astype(float) if len(values) else values


def _rank_desc(flags: PageFlags, cands: Sequence[Candidate]) -> np.ndarray:
    distinct = sorted({float(c.value) for c in cands}, reverse=True)
    return np.array([distinct.index(float(c.value)) for c in cands], dtype=float)


def _amount_repeats(flags: PageFlags, cands: Sequence[Candidate]) -> np.ndarray:
    counts = Counter(c.value for c in cands)
    return np.array([counts[c.value] - 1 for c in cands], dtype=float)


def _sum_of_two(flags: PageFlags, cands: Sequence[Candidate]) -> np.ndarray:
    """The amount is the sum of two amounts printed above it (subtotal + tax, net + VAT)."""
    values = [Decimal(c.value) for c in cands]
    out = np.zeros(len(cands))
    for k, (cand, value) in enumerate(zip(cands, values, strict=True)):
        before = {v for c, v in zip(cands[:k], values[:k], strict=True) if c.line < cand.line and 0 < v < value}
        out[k] = float(any(value - v in before and value - v != v for v in before))
    return out


def _sum_above(flags: PageFlags, cands: Sequence[Candidate]) -> np.ndarray:
    """The amount equals the sum of the last amounts of the lines above it (the items' sum)."""
    last_per_line: dict[int, Decimal] = {}
    for c in cands:
        last_per_line[c.line] = Decimal(c.value)
    out = np.zeros(len(cands))
    for k, cand in enumerate(cands):
        above = [v for line, v in last_per_line.items() if line < cand.line and v > 0]
        value = Decimal(cand.value)
        out[k] = float((len(above) >= 2 and sum(above[:-1]) == value) or sum(above) == value)
    return out


def _last_on_line(flags: PageFlags, cands: Sequence[Candidate]) -> np.ndarray:
    last = {c.line: c.start for c in cands}
    return np.array([float(last[c.line] == c.start) for c in cands], dtype=float)


def _on_line(flags: PageFlags, cands: Sequence[Candidate]) -> np.ndarray:
    counts = Counter(c.line for c in cands)
    return np.array([counts[c.line] for c in cands], dtype=float)


def _largest_labelled(flags: PageFlags, cands: Sequence[Candidate]) -> np.ndarray:
    """The largest amount among those on lines that say they hold the total."""
    weights = flags.flag("total_weight")
    labelled = [float(c.value) for c in cands if weights[c.line] > 0]
    top = max(labelled) if labelled else None
    return np.array([float(top is not None and float(c.value) == top and weights[c.line] > 0) for c in cands])


TOTAL = [
    *_common(),
    Feature("magnitude", "log of the amount's size", _each(lambda f, c: math.log1p(abs(float(c.value))))),
    Feature("negative", "the amount is negative", _each(lambda f, c: float(c.value.startswith("-")))),
    Feature("whole", "printed without decimals", _each(lambda f, c: float(not re.search(r"[.,]\d\d", c.raw)))),
    Feature("largest", "the page's largest amount", _is_largest),
    Feature("rank_desc", "distinct amounts on the page larger than this one", _rank_desc),
    Feature("amount_repeats", "the same amount elsewhere on the page", _amount_repeats),
    Feature("sum_of_two", "the sum of two amounts above it (subtotal + tax)", _sum_of_two),
    Feature("sum_above", "the sum of the lines' amounts above it (the items)", _sum_above),
    Feature("largest_labelled", "the largest amount on lines that say total", _largest_labelled),
    Feature("last_on_line", "the last amount on its line", _last_on_line),
    Feature("amounts_on_line", "amounts on its line", _on_line),
    Feature(
        "position_in_line",
        "where the amount starts in its line, 0-1",
        _each(lambda f, c: c.start / max(len(f.table.texts[c.line]), 1)),
    ),
    Feature(
        "total_word", "how strongly the line says total (keyword weight, 0 none)", _at(lambda f: f.flag("total_weight"))
    ),
    Feature("total_word_above", "the same for the line above", _at(lambda f: f.above("total_weight"))),
    Feature("grand_total", "the line says grand or invoice total", _line_flag("grand_total")),
    Feature("amount_due", "the line says amount or balance due", _line_flag("amount_due")),
    Feature("subtotal", "the line says subtotal", _line_flag("subtotal")),
    Feature("tax", "the line names a tax", _line_flag("tax")),
    Feature("change", "the line says change", _line_flag("change")),
    Feature("payment", "the line names a payment (cash, card)", _line_flag("payment")),
    Feature("rounding", "the line says rounding", _line_flag("rounding")),
    Feature("not_total", "the line says it is no total (total items, total qty, ...)", _line_flag("not_total")),
    Feature("currency_mark", "the line holds a currency mark", _line_flag("currency")),
    Feature("amounts", "amounts on the page", lambda f, c: np.full(len(c), float(len(c)))),
]

FEATURES: dict[str, list[Feature]] = {"merchant": MERCHANT, "date": DATE, "total": TOTAL}


def feature_names(field: str) -> list[str]:
    return [f.name for f in FEATURES[field]]


def feature_matrix(field: str, flags: PageFlags, cands: Sequence[Candidate]) -> np.ndarray:
    """The candidates' features as a (candidates x features) array, columns in ``FEATURES[field]`` order."""
    if not cands:
        return np.zeros((0, len(FEATURES[field])))
    return np.column_stack([np.asarray(f.column(flags, cands), dtype=float) for f in FEATURES[field]])
