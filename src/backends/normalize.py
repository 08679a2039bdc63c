"""Normalising what receipts print: dates to ISO 8601, amounts to decimal strings, currencies to
ISO 4217 codes. Shared by the rules and by the post-processing of model output.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("jan", "january", "januar", "janvier", "enero", "gennaio", "januari"),
            ("feb", "february", "februar", "fevrier", "février", "febrero", "febbraio", "februari"),
            ("mar", "march", "märz", "marz", "mars", "marzo", "maret", "mac"),
            ("apr", "april", "avril", "abril", "aprile"),
            ("may", "mai", "mayo", "maggio", "mei"),
            ("jun", "june", "juni", "juin", "junio", "giugno"),
            ("jul", "july", "juli", "juillet", "julio", "luglio", "julai"),
            ("aug", "august", "aout", "août", "agosto", "agustus", "ogos"),
            ("sep", "sept", "september", "septembre", "septiembre", "settembre"),
            ("oct", "october", "oktober", "octobre", "octubre", "ottobre", "okt"),
            ("nov", "november", "novembre", "noviembre"),
            ("dec", "december", "dezember", "decembre", "décembre", "diciembre", "dicembre", "dis", "des"),
        ],
        start=1,
    )
    for name in names
}
_MONTH_ALT = "|".join(sorted(map(re.escape, _MONTHS), key=len, reverse=True))

#: Date shapes, most specific first. Named groups: y (year), m (month number), b (month name), d.
DATE_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"(?<!\d)(?P<y>(?:19|20)\d\d)[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})(?!\d)",  # 2018-12-25
        r"(?<!\d)(?P<d>\d{1,2})[-/. ](?P<b>" + _MONTH_ALT + r")\.?[-/., ]+(?P<y>(?:19|20)?\d\d)(?!\d)",
        r"(?<![a-z])(?P<b>" + _MONTH_ALT + r")\.?[ -](?P<d>\d{1,2})(?:st|nd|rd|th)?,? (?P<y>(?:19|20)\d\d)(?!\d)",
        r"(?<!\d)(?P<d>\d{1,2})[-/.](?P<m>\d{1,2})[-/.](?P<y>(?:19|20)?\d\d)(?!\d)",  # 25/12/2018
    )
)


def parse_date(text: str, *, dayfirst: bool = True) -> dt.date | None:
    """The first plausible date in ``text``, or None.

    Numeric dates are read day-first (most of the world) unless that is impossible and month-first
    is not (``03/25/2018``); ``dayfirst=False`` prefers month-first.
    """
    for pattern in DATE_PATTERNS:
        for match in pattern.finditer(text):
            date = _date_from_match(match.groupdict(), dayfirst)
            if date is not None:
                return date
    return None


def normalize_date(text: str | None, *, dayfirst: bool = True) -> str | None:
    """ISO 8601 (``YYYY-MM-DD``) for the first date in ``text``, or None."""
    if not text:
        return None
    date = parse_date(text, dayfirst=dayfirst)
    return date.isoformat() if date else None


def _date_from_match(groups: dict[str, str | None], dayfirst: bool) -> dt.date | None:
    year = _full_year(groups["y"] or "")
    first = int(groups["d"] or 0)
    if groups.get("b"):
        candidates = [(_MONTHS[(groups["b"] or "").lower()], first)]
    elif (groups.get("y") or "").startswith(("19", "20")) and len(groups["y"] or "") == 4 and _year_leads(groups):
        candidates = [(int(groups["m"] or 0), first)]
    else:
        # 'd' holds the first number, 'm' the second: day-first reads them as day, month.
        second = int(groups["m"] or 0)
        candidates = [(second, first), (first, second)]
        if not dayfirst:
            candidates.reverse()
    for month, day in candidates:
        try:
            date = dt.date(year, month, day)
        except ValueError:
            continue
        if 1990 <= date.year <= dt.date.today().year + 1:
            return date
    return None


def _year_leads(groups: dict[str, str | None]) -> bool:
    """Pattern 1 (year first) is the only one whose groups come in the order y, m, d."""
    return next(iter(groups)) == "y"


def _full_year(text: str) -> int:
    if not text.isdigit():
        return 0
    year = int(text)
    return year + 2000 if year < 100 else year


_CURRENCY_MARKS: tuple[tuple[str, str], ...] = (
    (r"(?<![A-Za-z])RM(?![A-Za-z])|\bMYR\b", "MYR"),
    (r"S\$|\bSGD\b", "SGD"),
    (r"A\$|\bAUD\b", "AUD"),
    (r"C\$|\bCAD\b", "CAD"),
    (r"HK\$|\bHKD\b", "HKD"),
    (r"€|\bEUR\b|\bEURO?S?\b", "EUR"),
    (r"£|\bGBP\b", "GBP"),
    (r"₹|\bINR\b|(?<![A-Za-z])Rs\.?(?![A-Za-z])", "INR"),
    (r"¥|\bJPY\b|円", "JPY"),
    (r"\bCHF\b|\bFr\.", "CHF"),
    (r"(?<![A-Za-z])Rp\.?(?![A-Za-z])|\bIDR\b", "IDR"),
    (r"₱|\bPHP\b", "PHP"),
    (r"฿|\bTHB\b", "THB"),
    (r"\bUSD\b|US\$", "USD"),
    (r"\$", "USD"),
)


def detect_currency(text: str | None) -> str | None:
    """The ISO 4217 code for the first currency mark in ``text`` (``RM 9.00`` -> ``MYR``)."""
    if not text:
        return None
    for pattern, code in _CURRENCY_MARKS:
        if re.search(pattern, text):
            return code
    return None


_AMOUNT_TOKEN = re.compile(r"-?\d[\d.,' ]*\d|-?\d")


def parse_amount(text: str) -> Decimal | None:
    """The amount in ``text`` as a Decimal: ``RM 1,234.50``, ``1.234,50 €``, ``12,50``, ``$9``."""
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
    if decimals == 3 and token.count(token[separator_at]) >= 1 and (last_dot == -1 or last_comma == -1):
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
    places = Decimal("0.01") if -value.as_tuple().exponent <= 2 else Decimal("0.0001")  # type: ignore[operator]
    return str(value.quantize(places, rounding=ROUND_HALF_UP))
