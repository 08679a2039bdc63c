"""What a merchant's name looks like, and the name alone out of the line it is printed on.

``clean_name`` keeps the name and drops what OCR and the printer put around it: what follows its
legal form, a registration number, a date before it, a hotel's stars and slogan, the logo's words
read on the same row, debris from a crease or a logo ("oo ,", "Sb", "S|"), and keeps what belongs
to it (an article, a legal form printed first as in "OÜ VIP Shop", initials or a number before a
name in capitals as in "TK DIVISION KITCHEN" or "99 SPEED MART").
"""

from __future__ import annotations

import re

from backends.fields.rules.keywords import LEGAL_FORM_REPAIRS, LEGAL_FORMS, NOT_MERCHANT, compile_pattern

LEGAL = compile_pattern(LEGAL_FORMS)
#: What a line near the top is when it is not a name: a title, a greeting, a contact, a label.
NOT_MERCHANT_RE = compile_pattern(NOT_MERCHANT)
#: Characters OCR leaves around a name: rules, bars, quotes (typographic ones too), dashes.
DEBRIS = " -:;|'\",*_=~\u00b7\u2013\u2014\u2018\u2019\u201c\u201d"
_REPAIRS = tuple((re.compile(pattern), replacement) for pattern, replacement in LEGAL_FORM_REPAIRS)
#: A legal form alone, after "Co." and a country's mark perhaps ("CO. (M) SDN BHD": the name is above).
ONLY_LEGAL = compile_pattern(r"^\W*(?:&\s*)?(?:co\.?\s*)?(?:\([a-z]{1,3}\)\s*)?(?:" + LEGAL_FORMS + r")\W*$")
_REGISTRATION = re.compile(r"[\s(]*\(?\s*(?:co\.?\s*no\.?\s*:?)?\s*[A-Z]{0,3}\d[\w-]{3,}\s*\)?\W*$", re.IGNORECASE)
_STORE_NO = re.compile(r"[A-Za-z]\s?#\s?\d+\W*$")
#: Short words a name may start with (articles, titles); other one- or two-letter words before a
#: name are OCR debris from a logo or a crease.
_NAME_STARTS = frozenset(
    ("a", "an", "at", "al", "da", "de", "di", "du", "el", "il", "la", "le", "lo", "my", "mr", "dr", "st", "the")
)
#: A hotel's stars, and the slogan after them: "Only YOU Hotel Atocha ****- Your style, Our way".
_STARS = re.compile(r"\s*[*\u2605\u2606]{2,}")
_LEADING_DATE = re.compile(r"^\W*\d{1,4}[./-]\d{1,2}[./-]\d{2,4},?\s+(?=[^\W\d])")
#: Words a receipt prints in a second column, beside the name: cut off, they are not part of it.
_CUT_OFF = ("receipt", "invoice", "subtotal", "total")


def clean_name(text: str) -> str:
    """The name alone: nothing after its legal form, no registration number, no leading debris or
    date (a browser prints the date before the page's title: "5/21/2019 Ryanair")."""
    text = _STARS.split(_LEADING_DATE.sub("", text))[0]
    for pattern, replacement in _REPAIRS:
        text = pattern.sub(replacement, text)
    legal = [form for form in LEGAL.finditer(text) if not _form_first(text, form)]
    name = text[: legal[-1].end()] if legal else _without_registration(text)
    words = _after_logo(_without_debris(name.split()))
    return " ".join(words).strip(DEBRIS).lstrip(". ")


def _after_logo(words: list[str]) -> list[str]:
    """The name without the logo's words read on the same row before it, when the name starts
    again with the logo's first word ("swissôtel TALLINN Swissôtel Estonia OÜ")."""
    first = words[0] if words else ""
    # printed apart from the first word and in another case: the logo's "swissôtel", then "Swissôtel"
    # (not "TAPA TAPA", not "SUSHI KING SUSHI BAR")
    again = [i for i, word in enumerate(words) if i > 1 and word.casefold() == first.casefold() and word != first]
    return words[again[-1] :] if len(first) >= 4 and again and len(words) - again[-1] >= 2 else words


def _form_first(text: str, form: re.Match[str]) -> bool:
    """Whether ``form`` is a legal form printed before the name ("OÜ VIP Shop", "PT Matahari")."""
    return form.start() == 0 and _legal_prefix(form.group()) and len(text) > form.end() + 2


def _legal_prefix(word: str) -> bool:
    """A short legal form in capitals, of those printed before a name (OÜ, AS, PT, not "Company")."""
    word = word.strip(". ")
    return len(word) <= 3 and word.isupper() and bool(ONLY_LEGAL.search(word))


def _without_registration(text: str) -> str:
    """The text without a registration number after the name; a store number ("#2614") stays."""
    return text if _STORE_NO.search(text) else _REGISTRATION.sub("", text)


def _without_debris(words: list[str]) -> list[str]:
    """The words of a name without OCR debris around it: lower-case scraps, stray letters and marks
    before it ("oo ,", "Sb", "Be ee"), and after it ("rae" after an upper-case name, "S|", "2")."""
    while len(words) > 1 and not any(c.isupper() or c.isdigit() for c in words[0]) and _scrap(words[0]):
        words.pop(0)  # "oo , ACME SDN BHD", but not "real GmbH", "toom Baumarkt GmbH"
    while len(words) > 2 and _stray(words[0]) and not _name_start(words):
        words.pop(0)
    upper = mostly_upper(" ".join(words))
    while len(words) > 1 and (_stray(words[-1], end=True) or (upper and words[-1].islower()) or _cut(words[-1])):
        words.pop()
    return words


def _name_start(words: list[str]) -> bool:
    """Whether a short first word belongs to the name: an article or title ("The", "Dr"), a legal
    form printed first ("OÜ"), or initials or a number before a name in capitals ("TK DIVISION
    KITCHEN", "B & BEST", "99 SPEED MART")."""
    first, rest = words[0], " ".join(words[1:])
    if first.lower() in _NAME_STARTS or _legal_prefix(first):
        return True
    if not (first.isupper() or first.isdigit()) or not first.isalnum() or not mostly_upper(rest):
        return False
    if rest.startswith("&"):
        return rest.lstrip("& ")[:1].isalpha()  # "B & BEST"
    return len(first) >= 2 and rest[:1].isalpha()  # "TK DIVISION", "99 SPEED"; not a logo's "I" before a name


def _cut(word: str) -> bool:
    """A column heading cut off by the photo's edge, next to the name ("FourthStreetMill Receip")."""
    lower = word.lower()
    return len(lower) >= 4 and any(full.startswith(lower) and full != lower for full in _CUT_OFF)


def _scrap(word: str) -> bool:
    """Debris rather than a word: two characters or fewer, or mostly not letters ("oo", ",", "|1")
    ("dm-drogerie", "bol.com" are words)."""
    return len(word) <= 2 or sum(c.isalpha() for c in word) < 0.75 * len(word)


def _stray(word: str, *, end: bool = False) -> bool:
    letters = sum(c.isalnum() for c in word)
    if end and re.fullmatch(r"\(\d+\)?", word):
        return True  # an area code: "... Kitchen (612)"
    if any(c in word for c in "&.'%"):  # "M&S", "ST.", "DIA%"
        return False
    marked = letters < len(word) and not word[-1].isalnum() and word[-1] not in ")"
    return letters <= (1 if end else 2) or (marked and (letters <= 3 or word[-1] == ":"))  # "S|", "Name:", not "BILLA,"


def legal_form(name: str) -> bool:
    """Whether ``name`` ends in a legal form; a short one without dots in capitals ("Hesburger AS",
    not "your rights as")."""
    found = list(LEGAL.finditer(name))
    if not found:
        return False
    form = found[-1].group()
    return len(form.strip(". ")) > 2 or "." in form or form.strip(". ").isupper() or form[:1].isupper()


def normalise(text: str) -> str:
    return " ".join(re.sub(r"[^0-9A-Z]+", " ", text.upper()).split())


def mostly_upper(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return sum(c.isupper() for c in letters) >= 0.8 * len(letters)
