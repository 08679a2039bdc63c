"""Normalising what receipts print: dates to ISO 8601, amounts to decimal strings, currencies to
ISO 4217 codes, names to a comparison key. Shared by the rules, by the post-processing of model
output and by the benchmarks.

``find_dates`` and ``find_amounts`` return every candidate in a text with its position, for rules
that weigh candidates by context; ``normalize_*`` return the first one, normalised.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation

#: Month names and their abbreviations in English, German, French, Dutch, Spanish, Italian,
#: Portuguese, Malay and Indonesian (accents also without them: OCR drops them).
_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("jan", "january", "januar", "janvier", "janv", "enero", "ene", "gennaio", "gen", "januari", "janeiro"),
            ("feb", "february", "februar", "fevrier", "février", "fevr", "févr", "febrero", "febbraio", "februari",
             "fev", "fevereiro", "febr"),
            ("mar", "march", "märz", "marz", "maerz", "mär", "mars", "marzo", "maart", "mrt", "maret", "mac",
             "março", "marco"),
            ("apr", "april", "avril", "abril", "aprile", "abr", "avr"),
            ("may", "mai", "mayo", "maggio", "mei", "maio", "mag"),
            ("jun", "june", "juni", "juin", "junio", "giugno", "junho", "giu"),
            ("jul", "july", "juli", "juillet", "julio", "luglio", "julai", "julho", "lug", "juil"),
            ("aug", "august", "augustus", "aout", "août", "agosto", "agustus", "ogos", "ago", "agu", "agt"),
            ("sep", "sept", "september", "septembre", "septiembre", "setiembre", "settembre", "set", "setembro"),
            ("oct", "october", "oktober", "octobre", "octubre", "ottobre", "okt", "out", "outubro", "ott"),
            ("nov", "november", "novembre", "noviembre", "novembro", "nop"),
            ("dec", "december", "dezember", "decembre", "décembre", "déc", "diciembre", "dic", "dicembre",
             "disember", "dis", "des", "dez", "desember"),
        ],
        start=1,
    )
    for name in names
}  # fmt: skip
_MONTH_ALT = "|".join(sorted(map(re.escape, _MONTHS), key=len, reverse=True))
_SEP = r"\s?[-/.]\s?"  # OCR often puts a space beside a separator: "25 /12/2018"

#: Date shapes, most specific first. Named groups: y (year), m (month number), b (month name), d.
#: ``ymd`` marks the shapes whose numbers come year first.
DATE_PATTERNS: tuple[tuple[re.Pattern[str], bool], ...] = tuple(
    (re.compile(f"(?=(?P<date>{pattern}))", re.IGNORECASE), ymd)  # a lookahead: matches may overlap
    for pattern, ymd in (
        (r"(?<![\d.])(?P<y>(?:19|20)\d\d)" + _SEP + r"(?P<m>\d{1,2})" + _SEP + r"(?P<d>\d{1,2})(?![\d])", True),
        (r"(?<!\d)(?P<y>(?:19|20)\d\d)\s?年\s?(?P<m>\d{1,2})\s?月\s?(?P<d>\d{1,2})\s?日", True),
        (
            r"(?<![\d])(?P<d>\d{1,2})(?:st|nd|rd|th|er|e|\.)?[-/. ]{0,2}(?:de\s)?(?P<b>" + _MONTH_ALT + r")(?![a-z])\.?"
            r"[-/.,' ]{0,3}(?:de\s)?(?P<y>(?:19|20)?\d\d)(?![\d:])",
            False,
        ),
        (
            r"(?<![a-z])(?P<b>"
            + _MONTH_ALT
            + r")\.?[ -](?P<d>\d{1,2})(?:st|nd|rd|th)?\s?,?\s?(?P<y>(?:19|20)\d\d)(?!\d)",
            False,
        ),
        (
            # the same separator twice, so that "12/03 - 18:45" is not a date across tokens
            r"(?<![\d.,])(?P<d>\d{1,2})\s?(?P<sep>[-/.])\s?(?P<m>\d{1,2})\s?(?P=sep)\s?"
            r"(?P<y>(?:19|20)\d\d|\d\d(?![:h]\d))(?![\d]|[.,]\d)",
            False,
        ),
    )
)
_COMPACT = re.compile(r"\d{8}")
_DIGIT = re.compile(r"\d")


#: Separators of other scripts, one character for one: the Arabic decimal and thousands
#: separators, fullwidth full stop, comma, slash and hyphen, the minus sign.
_SEPARATORS = str.maketrans("\u066b\u066c\uff0e\uff0c\uff0f\uff0d\u2212", ".,.,/--")
_NON_ASCII_DIGIT = re.compile(r"[^\x00-\x7f]")


def fold_digits(text: str) -> str:
    """``text`` with the decimal digits of every script (fullwidth, Arabic-Indic, Devanagari...)
    as ASCII digits and their separators as ASCII ones, one character for one, so positions in it
    are positions in ``text``: a person reads 27.10 in fullwidth forms or Arabic-Indic digits alike."""
    if text.isascii():
        return text

    def ascii_digit(match: re.Match[str]) -> str:
        digit = unicodedata.decimal(match.group(), None)
        return match.group() if digit is None else str(digit)

    return _NON_ASCII_DIGIT.sub(ascii_digit, text.translate(_SEPARATORS))


@dataclass(frozen=True)
class DateMatch:
    """A date found in a text: where it is, what was printed, what it means."""

    start: int
    end: int
    raw: str
    date: dt.date


def find_dates(text: str, *, dayfirst: bool = True, yearfirst: bool = False) -> list[DateMatch]:
    """Every plausible date in ``text``, in order of position; overlapping readings are dropped.

    Numeric dates with a two-digit year are read day-first, or month-first (``dayfirst=False``), or
    year-month-day (``yearfirst``: ``24/03/15``) where that is a valid date."""
    return _read_dates(_date_shapes(text), dayfirst=dayfirst, yearfirst=yearfirst)


def find_dates_read(text: str, readings: Sequence[tuple[bool, bool]]) -> list[list[DateMatch]]:
    """``find_dates(text, dayfirst=d, yearfirst=y)`` for each ``(d, y)`` of ``readings``, the text
    matched once for all of them."""
    shapes = _date_shapes(text)
    return [_read_dates(shapes, dayfirst=dayfirst, yearfirst=yearfirst) for dayfirst, yearfirst in readings]


_Shape = tuple[int, int, str, dict[str, str | None], bool]  # start, end, printed, groups, ymd


def _date_shapes(text: str) -> list[_Shape]:
    """Every match of the date shapes in ``text``, in the order ``DATE_PATTERNS`` finds them (each
    shape holds a digit: a text without one holds none); digits of every script read as ASCII."""
    text = fold_digits(text)
    if not _DIGIT.search(text):
        return []
    return [
        (*match.span("date"), match.group("date"), match.groupdict(), ymd)
        for pattern, ymd in DATE_PATTERNS
        for match in pattern.finditer(text)
    ]


def _read_dates(shapes: list[_Shape], *, dayfirst: bool, yearfirst: bool) -> list[DateMatch]:
    found: list[DateMatch] = []
    for start, end, raw, groups, ymd in shapes:
        if any(start < f.end and f.start < end for f in found):
            continue
        date = _year_first(groups) if yearfirst and not ymd and not groups.get("b") else None
        date = date or _date_from_groups(groups, ymd, dayfirst)
        if date is not None:
            found.append(DateMatch(start, end, raw, date))
    return sorted(found, key=lambda f: f.start)


def parse_date(text: str, *, dayfirst: bool = True) -> dt.date | None:
    """The first plausible date in ``text``, or None.

    Numeric dates are read day-first (most of the world) unless that is impossible and month-first
    is not (``03/25/2018``); ``dayfirst=False`` prefers month-first. A text that is nothing but
    eight digits is read as a compact date (``20180304``, ``25032018``).
    """
    stripped = fold_digits(text).strip()
    if _COMPACT.fullmatch(stripped):
        return _compact_date(stripped)
    found = find_dates(text, dayfirst=dayfirst)
    return found[0].date if found else None


def normalize_date(text: str | None, *, dayfirst: bool = True) -> str | None:
    """ISO 8601 (``YYYY-MM-DD``) for the first date in ``text``, or None."""
    if not text:
        return None
    date = parse_date(text, dayfirst=dayfirst)
    return date.isoformat() if date else None


def _date_from_groups(groups: dict[str, str | None], ymd: bool, dayfirst: bool) -> dt.date | None:
    groups = {key: value for key, value in groups.items() if key != "sep"}
    year = _full_year(groups["y"] or "")
    first = int(groups["d"] or 0)
    if groups.get("b"):
        candidates = [(_MONTHS[(groups["b"] or "").lower()], first)]
    elif ymd:
        candidates = [(int(groups["m"] or 0), first)]
    else:
        # 'd' holds the first number, 'm' the second: day-first reads them as day, month.
        second = int(groups["m"] or 0)
        candidates = [(second, first), (first, second)]
        if not dayfirst:
            candidates.reverse()
    for month, day in candidates:
        date = _valid_date(year, month, day)
        if date is not None:
            return date
    return None


def _year_first(groups: dict[str, str | None]) -> dt.date | None:
    year, month, day = groups["d"] or "", groups["m"] or "0", groups["y"] or "0"
    return _valid_date(_full_year(year), int(month), int(day)) if len(day) == 2 else None


def _compact_date(digits: str) -> dt.date | None:
    year_first = _valid_date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    return year_first or _valid_date(int(digits[4:]), int(digits[2:4]), int(digits[:2]))


def _valid_date(year: int, month: int, day: int) -> dt.date | None:
    try:
        date = dt.date(year, month, day)
    except ValueError:
        return None
    return date if 1990 <= date.year <= dt.date.today().year + 1 else None


def _full_year(text: str) -> int:
    if not text.isdigit():
        return 0
    year = int(text)
    if year >= 100:
        return year
    return 2000 + year if 2000 + year <= dt.date.today().year + 1 else 1900 + year  # "99" is 1999


#: Currency marks, most specific first: a bare "$" means USD only when nothing better is printed.
_CURRENCY_MARKS: tuple[tuple[str, str], ...] = (
    (r"(?<![A-Za-z])RM(?![A-Za-z])|\bMYR\b", "MYR"),
    (r"S\$|\bSGD\b", "SGD"),
    (r"A\$|\bAUD\b", "AUD"),
    (r"C\$|\bCAD\b", "CAD"),
    (r"HK\$|\bHKD\b", "HKD"),
    (r"NZ\$|\bNZD\b", "NZD"),
    (r"€|\bEUR\b|\bEUROS?\b", "EUR"),
    (r"£|\bGBP\b", "GBP"),
    (r"₹|\bINR\b|(?<![A-Za-z])Rs\.?(?![A-Za-z])", "INR"),
    (r"¥|\bJPY\b|円", "JPY"),
    (r"\bCHF\b|(?<![A-Za-z])Fr\.(?=\s?\d)", "CHF"),
    (r"(?<![A-Za-z])Rp\.?(?![A-Za-z])|\bIDR\b", "IDR"),
    (r"₱|\bPHP\b", "PHP"),
    (r"฿|\bTHB\b", "THB"),
    (r"\bUSD\b|US\$", "USD"),
    (r"\$", "USD"),
)


def detect_currency(text: str | None) -> str | None:
    """The ISO 4217 code for the most specific currency mark in ``text`` (``RM 9.00`` -> ``MYR``)."""
    if not text:
        return None
    for pattern, code in _CURRENCY_MARKS:
        if re.search(pattern, text):
            return code
    return None


#: An amount as receipts print it: optional minus, thousands groups, two decimals ("1,234.50",
#: "1.234,50", "12,50", "-3.00", "1'234.50"). Bare integers are not amounts here (quantities, codes).
#: The most digits an amount has before its point: no document's amount is 10^18 in any currency
#: (an e-invoice's "1e30000000" would be a 30-million-digit answer; a longer number is a code).
MAX_AMOUNT_DIGITS = 18
_AMOUNT = re.compile(
    r"(?<![\d.,])(?:(?<![-\u2013\u2014~=_.:])(?P<neg>-\s?))?"  # a minus, not the end of a rule ("—-7.50")
    r"(?P<num>\d{1,3}(?:[,.']\d{3})+[.,]\d{2}|\d+[.,]\d{2})(?![\d])(?![.,]\d)"
    r"(?P<trail>-(?![\d\w-]))?"  # "27,10-": a refund as German and Dutch tills print it
)
#: A whole amount, as printed where amounts have no decimals ("Rs 1939", "1.939,-", "12 000").
_WHOLE_AMOUNT = re.compile(
    r"(?<![\d.,:/%])(?P<neg>-\s?)?(?P<num>\d{1,3}(?:[.,' ]\d{3})+|\d{1,7})(?:[.,]-{1,2})?(?![\d:/%]|[.,]\d)"
)


@dataclass(frozen=True)
class AmountMatch:
    """An amount found in a text: where it is, what was printed, its value."""

    start: int
    end: int
    raw: str
    value: Decimal


def find_amounts(text: str) -> list[AmountMatch]:
    """Every amount with two decimal places in ``text``, in order of position (a number of more than
    ``MAX_AMOUNT_DIGITS`` digits is a code, not an amount)."""
    found = []
    for match in _AMOUNT.finditer(fold_digits(text).replace("\u00a0", " ")):
        value = parse_amount(match.group("num"))
        if value is not None and value.adjusted() < MAX_AMOUNT_DIGITS:
            value = -value if match.group("neg") or match.group("trail") else value
            found.append(AmountMatch(match.start(), match.end(), match.group(), value))
    return found


def find_whole_amounts(text: str) -> list[AmountMatch]:
    """Every amount printed without decimals in ``text`` ("Grand Total Rs 1939"): only for lines that
    say they hold the total, since bare integers are mostly quantities, codes and percentages."""
    found = []
    for match in _WHOLE_AMOUNT.finditer(fold_digits(text).replace("\u00a0", " ")):
        digits = re.sub(r"\D", "", match.group("num"))
        value = Decimal(digits)
        if value.adjusted() >= MAX_AMOUNT_DIGITS:
            continue
        found.append(AmountMatch(match.start(), match.end(), match.group(), -value if match.group("neg") else value))
    return found


_AMOUNT_TOKEN = re.compile(r"-?\d[\d.,' ]*\d|-?\d")


def parse_amount(text: str) -> Decimal | None:
    """The amount in ``text`` as a Decimal: ``RM 1,234.50``, ``1.234,50 €``, ``12,50``, ``$9``."""
    text = fold_digits(text)
    match = _AMOUNT_TOKEN.search(text.replace("\u00a0", " "))
    if not match:
        return None
    token = match.group().replace(" ", "").replace("'", "")
    negative = token.startswith("-") or bool(re.search(r"-\s*$|\(\s*[\d.,]+\s*\)", text))
    token = token.lstrip("-")
    token = _decimal_separator_to_dot(token)
    try:
        value = Decimal(token)
    except InvalidOperation:
        return None
    return -value if negative else value


def _decimal_separator_to_dot(token: str) -> str:
    last_dot, last_comma = token.rfind("."), token.rfind(",")
    if last_dot == -1 and last_comma == -1:
        return token
    separator_at = max(last_dot, last_comma)
    decimals = len(token) - separator_at - 1
    if decimals == 3 and (last_dot == -1 or last_comma == -1):
        # "1,234" or "1.234": a thousands separator, not a decimal point
        return token.replace(",", "").replace(".", "")
    integer = token[:separator_at].replace(",", "").replace(".", "")
    return f"{integer}.{token[separator_at + 1 :]}"


def normalize_amount(text: str | None) -> str | None:
    """A decimal string with two places (``"1234.50"``) for the amount in ``text``, or None."""
    if not text:
        return None
    value = parse_amount(text)
    if value is None:
        return None
    return format_amount(value)


def format_amount(value: Decimal) -> str:
    """Two decimal places, or four when the amount has more (fuel prices, unit prices)."""
    exponent = value.as_tuple().exponent
    places = Decimal("0.01") if isinstance(exponent, int) and -exponent <= 2 else Decimal("0.0001")
    digits = max(28, value.adjusted() + 6)  # the default 28 digits cannot hold a misread 30-digit "amount"
    return str(value.quantize(places, rounding=ROUND_HALF_UP, context=Context(prec=digits)))


def normalize_text_for_match(text: str | None) -> str:
    """A key for comparing names: accents folded, uppercase, punctuation dropped, spaces collapsed.

    ``"Mr. D.I.Y. (M) Sdn Bhd"`` and ``"MR D.I.Y (M) SDN. BHD"`` both give ``"MR DIY M SDN BHD"``.
    """
    if not text:
        return ""
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(c for c in folded if not unicodedata.combining(c)).upper()
    words = re.sub(r"[^\w\s]|_", " ", folded.replace(".", "")).split()
    return " ".join(words)
