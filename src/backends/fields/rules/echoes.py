"""The merchant's name where the document prints it again, small and plain.

A logo or a large bold name at the top is what OCR reads worst ("RSSMANN", "TRADDER JOE'S"); the
same name printed again in the body reads well: in a thank-you ("Thank you for shopping at" /
"TRADER JOE'S", "Thank you for flying Norwegian"), in the web or mail address ("rossmann.de"), in
the legal footer ("Dirk Rossmann GmbH"). ``respelled`` corrects a name at the top that is a near
copy of such an echo; ``thanked_name`` is the name a thank-you gives, for a receipt whose top has
no convincing name (a travel receipt that starts with its booking table).
"""

from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher

from backends.fields.rules.keywords import THANKS_NAMING, compile_pattern
from backends.fields.rules.lines import Line
from backends.fields.rules.names import DEBRIS, LEGAL, NOT_MERCHANT_RE, clean_name, mostly_upper

#: How alike two spellings must be (their letters, in capitals) to be one name misread once.
ALIKE = 0.8
#: The fewest letters a name needs to be respelled: a short name matches too many words by chance.
MIN_LETTERS = 5
#: The most words a respelled name has: a logo's few words are misread, a printed line's many are not
#: (two misread copies of a long legal name are no better than each other).
MAX_WORDS = 3
_THANKS = compile_pattern(THANKS_NAMING)
#: What a thank-you names that is not a store ("Thank you for dining with us", "... your visit").
_NOT_A_NAME = compile_pattern(r"^\W*(?:us|our|your|you|the\s*store|today|coming)\b")
#: Where a thank-you's name ends: a sentence's end, a comma, "and ...".
_NAME_END = re.compile(r"[.!?,;]|\s(?:and|und|et|y|e|en)\s", re.IGNORECASE)
#: The word before a name, when a thank-you breaks its line there ("Thank You For Shopping" / "At Guardian").
_PREPOSITION = compile_pattern(r"^\W*(?:at|with|in|bei|chez|en)\s+")
#: A thank-you that ends on the word before the name ("THANK YOU FOR SHOPPING AT" / "TRADER JOE'S"):
#: only then is the next line its name, not a slogan ("THANK YOU FOR SHOPPING" / "PLEASE COME AGAIN").
_ENDS_BEFORE_NAME = compile_pattern(r"\b(?:at|with|in|bei|im|chez|en|bij|di|da)\W*$")
#: Letters a web address spells out ("hoeffner.de" for "Höffner").
_SPELLED_OUT = str.maketrans({"Ä": "AE", "Ö": "OE", "Ü": "UE", "ß": "SS", "Æ": "AE", "Ø": "OE", "Å": "AA"})
#: A web or mail address's own name: "www.rossmann.de", "rossmann.de/", "info@traderjoes.com".
_DOMAIN = compile_pattern(r"(?:www\.|@|\b)([a-z][a-z0-9-]{2,})\.(?:com|de|nl|fr|es|it|at|ch|be|eu|cz|ee|uk|my|net)\b")


def thanked_name(lines: list[Line]) -> Line | None:
    """The store a thank-you names ("Thank you for visiting Domino's."), on its line or the next."""
    for position, line in enumerate(lines):
        found = _THANKS.search(line.text)
        if found is None:
            continue
        rest = line.text[found.end() :]
        if rest.strip() or position + 1 == len(lines):
            name, source = _name_in(rest), line
        else:  # the name on the next line ("THANK YOU FOR SHOPPING AT" / "TRADER JOE'S", ... / "At Guardian")
            source = lines[position + 1]
            named = _ENDS_BEFORE_NAME.search(line.text) or _PREPOSITION.search(source.text)
            name = _name_in(_PREPOSITION.sub("", source.text)) if named else None
        if name:
            return Line(source.index, name, source.confidence)
    return None


def _name_in(text: str) -> str | None:
    name = _NAME_END.split(text)[0].strip(DEBRIS)
    words = name.split()
    if not 1 <= len(words) <= 5 or sum(c.isalpha() for c in name) < 2 or any(c.isdigit() for c in name):
        return None
    return None if _NOT_A_NAME.search(name) or NOT_MERCHANT_RE.search(name) else name


def respelled(lines: list[Line], found: Line) -> Line:
    """``found`` spelled as the document prints its name elsewhere, where it is a near copy of it
    (one or two letters misread): the echo's words, in the found name's case."""
    name = clean_name(found.text)
    letters = _letters(name)
    if len(letters) < MIN_LETTERS or len(name.split()) > MAX_WORDS:
        return found
    for echo in _echoes(lines, found):
        for span in _spans(echo, len(name.split())):
            other = _letters(span)
            if other == letters:
                return found  # printed alike elsewhere: nothing to correct
            if alike(letters, other):
                text = span.upper() if mostly_upper(name) else span[:1].upper() + span[1:]
                return Line(found.index, text, found.confidence)
    return found


def alike(letters: str, other: str) -> bool:
    """Whether two spellings (letters in capitals) are one name misread: ``ALIKE`` or more alike."""
    return SequenceMatcher(None, letters, other).ratio() >= ALIKE


def _echoes(lines: list[Line], found: Line) -> list[str]:
    """Where the document names itself again below ``found`` (above it stands the logo, no better
    read), the most telling first: a thank-you, legal names, web and mail addresses."""
    below = [line for line in lines if line.index > found.index]
    thanked = thanked_name(below)
    legal = [clean_name(line.text) for line in below if LEGAL.search(line.text)]
    domains = [match.group(1) for line in below for match in _DOMAIN.finditer(line.text)]
    return ([thanked.text] if thanked else []) + legal + domains


def _spans(text: str, count: int) -> list[str]:
    """The runs of ``count`` words in ``text``."""
    words = text.split()
    return [" ".join(words[i : i + count]) for i in range(len(words) - count + 1)]


def _letters(text: str) -> str:
    """The letters of ``text`` in capitals, spelled out as a web address would ("HÖFFNER" -> "HOEFFNER")."""
    spelled = unicodedata.normalize("NFKD", text.upper().translate(_SPELLED_OUT))
    return "".join(c for c in spelled if c.isalpha() and not unicodedata.combining(c))
