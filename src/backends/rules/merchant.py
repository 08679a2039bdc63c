"""The merchant: the name-like line at the top of the receipt.

Candidates are the first lines, before the body starts. A line scores for naming a legal form
(``Sdn Bhd``, ``GmbH``, ``LLC``) or a kind of business, and for being early, confident and mostly
letters; it loses for looking like an address, a phone or tax number, a document title or a
greeting. A name broken over two lines (``... HARDWARE &`` / ``ELECTRICAL``, or a legal form on a
line of its own) is joined; registration numbers printed after the name are dropped.
"""

from __future__ import annotations

import re

from backends.rules.keywords import (
    ADDRESS_WORDS,
    BUSINESS_WORDS,
    LEGAL_FORM_REPAIRS,
    LEGAL_FORMS,
    NOT_MERCHANT,
    compile_pattern,
)
from backends.rules.lines import Line

#: How many lines from the top the name may be on.
TOP_LINES = 8
_LEGAL = compile_pattern(LEGAL_FORMS)
_BUSINESS = compile_pattern(BUSINESS_WORDS)
_NOT_MERCHANT = compile_pattern(NOT_MERCHANT)
_ADDRESS = compile_pattern(ADDRESS_WORDS)
#: Characters OCR leaves around a name: rules, bars, quotes (typographic ones too), dashes.
_DEBRIS = " -:;|'\",*_=~\u2013\u2014\u2018\u2019\u201c\u201d"
_REPAIRS = tuple((re.compile(pattern), replacement) for pattern, replacement in LEGAL_FORM_REPAIRS)
_ONLY_LEGAL = compile_pattern(r"^\W*(?:" + LEGAL_FORMS + r")\W*$")
_CONTINUES = compile_pattern(r"(?:&|\band|\bund|\bet|,|-)\s*$")
_REGISTRATION = re.compile(r"[\s(]*\(?\s*(?:co\.?\s*no\.?\s*:?)?\s*[A-Z]{0,3}\d[\w-]{3,}\s*\)?\W*$", re.IGNORECASE)


def find_merchant(lines: list[Line]) -> Line | None:
    """The line that names the merchant (joined with its continuation), or None."""
    top = lines[:TOP_LINES]
    scored = [(score(line, position), position) for position, line in enumerate(top)]
    scored = [(s, p) for s, p in scored if s > 0]
    if not scored:
        return None
    _, best = max(scored, key=lambda sp: (sp[0], -sp[1]))
    return _joined(top, best)


def score(line: Line, position: int) -> float:
    """How much a line looks like the merchant's name; 0 or less when it does not."""
    text = clean_name(line.text)
    letters = sum(c.isalpha() for c in text)
    visible = sum(not c.isspace() for c in text)
    if letters < 3 or letters < 0.6 * visible or _NOT_MERCHANT.search(line.text):
        return 0.0
    value = 3.0 - 0.4 * position
    value += 4.0 if _LEGAL.search(text) else 0.0
    value += 2.0 if _BUSINESS.search(text) else 0.0
    value -= 4.0 if _ADDRESS.search(line.text) else 0.0
    value -= 3.0 if _ONLY_LEGAL.search(text) else 0.0
    value -= 3.0 if line.confidence < 50 else 0.0
    value += 1.0 if _mostly_upper(text) else 0.0
    value -= 1.5 if len(text.split()) == 1 and letters < 5 else 0.0
    return value


def clean_name(text: str) -> str:
    """The name alone: nothing after its legal form, no registration number, no leading debris."""
    for pattern, replacement in _REPAIRS:
        text = pattern.sub(replacement, text)
    legal = list(_LEGAL.finditer(text))
    name = text[: legal[-1].end()] if legal else _REGISTRATION.sub("", text)
    words = name.split()
    while len(words) > 1 and not any(c.isupper() or c.isdigit() for c in words[0]):
        words.pop(0)  # OCR debris before the name: "oo , ACME SDN BHD"
    return " ".join(words).strip(_DEBRIS).lstrip(". ")


def _joined(top: list[Line], position: int) -> Line:
    line = top[position]
    previous = top[position - 1] if position > 0 else None
    if previous is not None and _ONLY_LEGAL.search(line.text) and _name_part(previous):
        return Line(line.index, f"{previous.text} {line.text}", min(line.confidence, previous.confidence))
    following = top[position + 1] if position + 1 < len(top) else None
    continues = following is not None and (_ONLY_LEGAL.search(following.text) or _CONTINUES.search(line.text))
    if following is not None and continues and _name_part(following):
        return Line(following.index, f"{line.text} {following.text}", min(line.confidence, following.confidence))
    return line


def _name_part(line: Line) -> bool:
    return not _NOT_MERCHANT.search(line.text) and not _ADDRESS.search(line.text) and line.confidence >= 50


def _mostly_upper(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return sum(c.isupper() for c in letters) >= 0.8 * len(letters)
