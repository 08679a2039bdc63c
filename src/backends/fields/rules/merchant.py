"""The merchant: the name-like line at the top of a receipt, or the seller of an invoice.

Receipts: candidates are the first lines, before the body starts (further down when a logo and a
slogan push the address below them: the name is then the line above the address). A line scores
for naming a legal form (``Sdn Bhd``, ``GmbH``, ``LLC``) or a kind of business, for standing right
above the address, and for being early, confident and mostly letters; it loses for looking like an
address, a phone or tax number, a document title or a greeting. A name the receipt prints twice, a
logo and then the printed line ("MedlaMarkt" / "MEDIA MARKT"), is its name, read from the print. A
name broken over lines (``... HARDWARE &`` / ``ELECTRICAL``, ``APOTHEKE`` / ``AM`` / ``RATZELBOGEN``,
a legal form on a line of its own) is joined. ``names.clean_name`` cuts the name out of its line.

Invoices (``seller``): the first line is often something else (a stylesheet's version, ``Währung:
EUR``, the buyer's address). The seller is the name with a legal form (GmbH, SARL, B.V., Inc., Ltd,
Sdn Bhd...) anywhere on the page, preferring the sender line above the buyer's address, the seller
block (``Verkäufer``, ``From``), and the legal footer (register, VAT number, IBAN), and never the
buyer's block (``Rechnungsadresse``, ``Bill to``, ``Client``) or the bank beside the IBAN. Without
such a name, the name that signs the footer over its address and contact lines (a hotel's folio).
"""

from __future__ import annotations

import re

from backends.fields.rules.candidate import keyword_weight
from backends.fields.rules.echoes import MIN_LETTERS, alike, respelled, thanked_name
from backends.fields.rules.keywords import (
    ADDRESS_WORDS,
    BANKS,
    BUSINESS_WORDS,
    BUYER_CUES,
    INVOICE_TITLES,
    SELLER_CUES,
    compile_pattern,
)
from backends.fields.rules.lines import Line
from backends.fields.rules.names import (
    DEBRIS,
    LEGAL,
    NOT_MERCHANT_RE,
    ONLY_LEGAL,
    clean_name,
    legal_form,
    mostly_upper,
    normalise,
)
from backends.normalize import find_amounts

#: How many lines from the top the name may be on.
TOP_LINES = 8
#: How far down an address may start under a logo and a slogan, the name above it.
LATE_ADDRESS = 14
#: For standing right above a late address: the name, under a logo and a slogan.
LATE_NAME_BONUS = 3.0
#: A best score below this is no convincing name (an item line, a booking table's row, a plain name
#: in title case below the third line: ``score`` starts at 3.0 and loses 0.4 a line): a thank-you
#: that names the store is believed over it.
WEAK_NAME = 2.0
_BUSINESS = compile_pattern(BUSINESS_WORDS)
_ADDRESS = compile_pattern(ADDRESS_WORDS)
#: A kind of business on a line of its own, under the name it belongs to ("Crisfield Seafood" / "Restaurant").
_ONLY_BUSINESS = compile_pattern(r"^\W*(?:" + BUSINESS_WORDS + r")\W*$")
_CONTINUES = compile_pattern(r"(?:&|\band|\bund|\bet|,|-)\s*$")
_INVOICE = compile_pattern(INVOICE_TITLES)
#: What a seller's name line is not (narrower than ``NOT_MERCHANT``: "bol.com b.v." is a name).
_NOT_SELLER = compile_pattern(r"@|www\.|https?:|\btel\b|\bfax\b|\biban\b|\bbic\b|" + BANKS + "|" + INVOICE_TITLES)
_SELLER = compile_pattern(SELLER_CUES)
_CONTACT = compile_pattern(r"\btel\b|telefon|phone|\bfax\b|e-?mail|www\.|\w@\w+\.\w")
_BUYER = compile_pattern(BUYER_CUES)
#: A kind of business and its number, a letter only after its mark ("Restaurant #C160014", not "HOTEL U232").
_STORE_NUMBER = compile_pattern(r"^\W*(?:" + BUSINESS_WORDS + r")\W*(?:(?:#|no\.?|nr\.?)\s*[a-z]?)?\d*\W*$")
#: How a sender line's parts are set apart: a spaced dash, a middle dot or bar, a comma.
_PARTS = re.compile(r"\s+[-\u2013]\s+|\s*[\u00b7|\u2022]\s*|,\s+")
#: A street and its number, or a number and its street ("Kennedyplatz 3", "1 Morrison Link").
_STREET = re.compile(r"^\s*(?:[^\d,]{3,40}\s\d+[a-z]?(?:[-/]\d+[a-z]?)?|\d{1,4}[a-z]?\s+[^\W\d]{3,}.*)$", re.IGNORECASE)
#: A street line, not a name: a house number first, a street type after ("1234 Company St,").
_HOUSE_NUMBER = re.compile(
    r"^\W*\d+[a-z]?\s+\D+?\b(?:st|street|rd|road|ave|avenue|blvd|lane|ln|drive|dr|way)\b", re.IGNORECASE
)
#: A label and its value ("Währung: EUR", "Version: 2.1"): not a name.
_FIELD = re.compile(r"^[^:]{2,30}:\s*\S")


def find_merchant(lines: list[Line]) -> Line | None:
    """The line that names the merchant (joined with its continuation), or None; spelled as the
    document prints the name again where the top's copy is misread (``echoes``)."""
    if any(_INVOICE.search(line.text) for line in lines[: 3 * TOP_LINES]):
        seller = sender_line(lines) or _signed_or_found(lines, find_seller(lines))
        if seller is not None:
            return respelled(lines, seller)
    found, strength = _top_name(lines)
    thanked = thanked_name(lines)
    if thanked is not None and strength < WEAK_NAME:  # no convincing name at the top: the one thanked
        return thanked
    return respelled(lines, found) if found is not None else None


def _top_name(lines: list[Line]) -> tuple[Line | None, float]:
    """The name at the top of a receipt, and its score (0 without one)."""
    end = _header_end(lines)
    top = _logo_words([_before_buyer(_before_address(line)) for line in lines[:end]])
    scored = [
        (score(line, position, _above_address(top, position)) - _after_address(top, position), position)
        for position, line in enumerate(top)
    ]
    if end > TOP_LINES:  # the top is a logo and advertising: the name is the line above the address
        scored = [(s + (LATE_NAME_BONUS if s > 0 and p == end - 2 else 0.0), p) for s, p in scored]
    scored = [(s, p) for s, p in scored if s > 0]
    if not scored:
        return None, 0.0
    strength, best = max(scored, key=lambda sp: (sp[0], -sp[1]))
    copy = _printed_copy(top, {p for _, p in scored})
    if copy is not None:
        return top[copy], strength
    return _with_name_above(top, best, dict((p, s) for s, p in scored)) or _joined(top, best), strength


def _header_end(lines: list[Line]) -> int:
    """How many lines from the top the name may be on: ``TOP_LINES``, or down to the first address
    when a logo and a slogan fill the top ("Marktkauf Lehr" under eight lines of advertising)."""
    first = next((p for p, line in enumerate(lines[:LATE_ADDRESS]) if _ADDRESS.search(line.text)), None)
    return first + 1 if first is not None and first >= TOP_LINES and _address_block(lines, first - 1) else TOP_LINES


def _address_block(lines: list[Line], position: int) -> bool:
    """Whether a street and its town follow line ``position`` ("Detmolder Str. 4" / "33102 Paderborn")."""
    block = lines[position + 1 : position + 3]
    return len(block) == 2 and all(_ADDRESS.search(line.text) for line in block)


def _printed_copy(top: list[Line], candidates: set[int]) -> int | None:
    """The name printed under a logo that says it too ("MedlaMarkt" / "MEDIA MARKT", "foom
    Boumarkt GmbH" / ... / "toom Baumarkt GmbH"): a name the receipt repeats is its name, and the
    printed copy reads better than the logo's. Of two copies that differ only in spacing ("Kaufland"
    / "Kauf land"), the unbroken one. A one-word brand followed by the store's full name ("PAUL" /
    "Paul Docks") gives that name, unless a company is named ("Chili's" / "Chili's Grill & Bar
    KLCC" / "T.A.S Leisure Sdn Bhd": the company)."""
    wordy = {p for p in candidates if not any(c.isdigit() for c in top[p].text)}  # no address, no item
    company = any(legal_form(clean_name(top[p].text)) for p in candidates)  # its name, by convention
    for first in sorted(p for p in wordy if p <= 2):
        logo = _letters(top[first].text)
        for second in sorted(p for p in wordy if first < p <= first + 4):
            printed = _letters(top[second].text)
            if _extends(top[first].text, top[second].text) and not company:
                return second  # "PAUL" / ... / "Paul Docks": the brand, then the store's full name
            if min(len(logo), len(printed)) < MIN_LETTERS or not alike(logo, printed):
                continue
            if logo == printed:
                return min((first, second), key=lambda p: len(top[p].text.split()))
            return second
    return None


def _extends(logo: str, printed: str) -> bool:
    """Whether ``printed`` is a one-word logo's name and more ("PAUL" / "Paul Docks")."""
    brand, words = clean_name(logo).split(), clean_name(printed).split()
    return len(brand) == 1 and len(brand[0]) >= 3 and len(words) >= 2 and words[0].casefold() == brand[0].casefold()


def _letters(text: str) -> str:
    return "".join(c for c in clean_name(text).upper() if c.isalpha())


def _with_name_above(top: list[Line], best: int, scores: dict[int, float]) -> Line | None:
    """A kind of business under the name it describes, joined to it: "SAGE" / "FRENCH CAFE & WINE
    BAR", "ipanema" / "Brazilian Steak House". The name above is short, name-like and names no
    business or legal form of its own."""
    line = top[best]
    text = clean_name(line.text)
    if best == 0 or not _BUSINESS.search(text) or LEGAL.search(text):
        return None
    above = top[best - 1]
    name = clean_name(above.text)
    if scores.get(best - 1, 0) <= 0 or len(name.split()) > 2 or _BUSINESS.search(name) or LEGAL.search(name):
        return None
    if normalise(name) in normalise(text):  # "IKEA" / "IKEA FOOD": the name is already there
        return None
    return Line(line.index, f"{name} {text}", min(line.confidence, above.confidence))


def sender_line(lines: list[Line]) -> Line | None:
    """The seller's name from the sender line printed above an invoice's address window: name,
    street and town on one row, parts set apart by dashes, dots or commas ("Motel One Essen -
    Kennedyplatz 3 - 45127 Essen"). The name block under it is the buyer's."""
    for position, line in enumerate(lines[: TOP_LINES + 4]):
        parts = [part for part in _PARTS.split(line.text) if part.strip()]
        after_address = position > 0 and _ADDRESS.search(lines[position - 1].text)  # the town of an address
        if len(parts) < 2 or after_address or _in_buyer_block(lines, position):
            continue
        name, street = parts[0].strip(DEBRIS), parts[1]
        if any(c.isdigit() for c in name) or len(name.split()) < 2 or NOT_MERCHANT_RE.search(name):
            continue
        if _STREET.search(street) and score(Line(line.index, name, line.confidence), 0) > 0:
            return Line(line.index, name, line.confidence)
    return None


def _signed_or_found(lines: list[Line], seller: Line | None) -> Line | None:
    """The seller with a legal form, when a seller's label or the legal footer names it; else the
    name that signs an address with a phone, a mail or a web address (the guest's or buyer's block
    has none); else the letterhead's name over ``seller``."""
    if seller is not None and _cued(lines, seller):
        return seller
    return _signature(lines) or _letterhead_over(lines, seller)


def _signature(lines: list[Line]) -> Line | None:
    """A name over its address and contact lines in the footer, where an invoice signs ("Citadines
    Michel Hamburg" / "Ludwig-Erhard-Str. 7, D-20459 Hamburg" / "Tel: +49 ... www.citadines.com")."""
    for position in range(len(lines) // 2, len(lines) - 1):
        line, name = lines[position], clean_name(lines[position].text)
        if not _ADDRESS.search(lines[position + 1].text) or _ADDRESS.search(line.text) or _FIELD.match(line.text):
            continue
        if len(name.split()) < 2 or any(c.isdigit() for c in line.text):
            continue
        if not any(_CONTACT.search(x.text) for x in lines[position + 1 : position + 4]):
            continue
        if score(Line(line.index, name, line.confidence), 0) > 0 and not _in_buyer_block(lines, position):
            return Line(line.index, name, line.confidence)
    return None


def _letterhead_over(lines: list[Line], seller: Line | None) -> Line | None:
    """The letterhead's name (its first name-like line) instead of ``seller`` when ``seller``
    stands in a later name-and-address block with nothing that ties it to the seller (a seller's
    label, the legal footer): the first block at the top of an invoice is the sender's, a later
    one the addressee's ("Ibis Styles Konstanz" / "Oberlohnstrasse 5b" ... "Beispiel GmbH" /
    "Friedrichstrasse 123")."""
    first = next((i for i, line in enumerate(lines[:TOP_LINES]) if _ADDRESS.search(line.text)), None)
    if seller is None or first is None or first == 0 or seller.index <= lines[first].index or _cued(lines, seller):
        return seller
    if any(_BUYER.search(line.text) for line in lines[:first]):
        return seller  # the first block is the buyer's
    top = lines[:first]
    named = next((p for p, line in enumerate(top) if score(line, p) > 0), None)
    if named is None:
        return seller
    following = top[named + 1] if named + 1 < len(top) else None
    if following is not None and _capital_words(top[named].text) and _capital_words(following.text):
        text = f"{top[named].text} {following.text}"  # "EUROSTARS" / "REY DON JAIME"
        return Line(following.index, text, min(top[named].confidence, following.confidence))
    return _joined(top, named)


def _logo_words(top: list[Line]) -> list[Line]:
    """The top lines with a logo's name read a word a line joined into one ("TESCO" / "IRELAND",
    "APOTHEKE" / "AM" / "RATZELBOGEN"). A third word only after a short one that needs it ("AM"):
    after a name, a third word on its own is the town ("HAPPY" / "ITALY" / "AMSTERDAM")."""
    count = 0
    while count < min(3, len(top)) and _one_capital_word(top[count].text):
        count += 1
    if count == 3 and len(top[1].text.strip(DEBRIS)) > 3:
        count = 2
    if count < 2:
        return top
    words = top[:count]
    joined = Line(words[-1].index, " ".join(w.text for w in words), min(w.confidence for w in words))
    return [joined, *top[count:]]


def _one_capital_word(text: str) -> bool:
    """One word in capitals: letters, or a letter then digits ("HOTEL" / "U232")."""
    word = text.strip(DEBRIS)
    return (
        len(word) >= 2 and word.isalnum() and word[0].isalpha() and word.isupper() and not NOT_MERCHANT_RE.search(word)
    )


def _capital_words(text: str) -> bool:
    """Words in capitals only, no digits: a name's line in a letterhead."""
    words = text.split()
    return 0 < len(words) <= 4 and all(w.isalpha() and w.isupper() for w in words) and not LEGAL.search(text)


def _cued(lines: list[Line], line: Line) -> bool:
    """Whether a seller's label or the legal footer stands at ``line`` or the two lines above it."""
    position = next(p for p, x in enumerate(lines) if x.index == line.index)
    return bool(_SELLER.search(" ".join(x.text for x in lines[max(0, position - 2) : position + 1])))


def find_seller(lines: list[Line]) -> Line | None:
    """An invoice's seller: a name with a legal form, from the seller's parts of the page."""
    buyer = {line.index for i, line in enumerate(lines) if _in_buyer_block(lines, i)}
    buyer_names = {normalise(clean_name(line.text)) for line in lines if line.index in buyer}  # on every page
    scored = []
    for position, line in enumerate(lines):
        name = clean_name(line.text)
        if not legal_form(name) or line.index in buyer or ONLY_LEGAL.search(name) or _FIELD.match(line.text):
            continue
        if normalise(name) in buyer_names:
            continue
        letters = sum(c.isalpha() for c in name)
        if keyword_weight(line.text) and find_amounts(line.text):  # "Total inc. VAT 798.03", not "... Inc."
            continue
        if letters < 4 or _NOT_SELLER.search(name) or len(name.split()) > 8 or _HOUSE_NUMBER.match(line.text):
            continue
        value = 5.0 - 0.05 * min(position, 40)
        value += 2.0 if _SELLER.search(" ".join(x.text for x in lines[max(0, position - 2) : position + 1])) else 0.0
        value += 1.0 if _ADDRESS.search(line.text) else 0.0  # the sender line: "ACME GmbH · Weg 1 · 12345 Ort"
        scored.append((value, position))
    if not scored:
        return None
    _, best = max(scored, key=lambda sp: (sp[0], -sp[1]))
    return lines[best]


def _in_buyer_block(lines: list[Line], i: int) -> bool:
    """Whether line ``i`` is in a buyer's block: a buyer's label ("Bill to", "Kunde") and the lines
    after it, up to its address (at most four). A label printed after a name on the same row
    ("Example, LLC   Bill To") heads the other column."""
    own = _BUYER.search(lines[i].text)
    legal = LEGAL.search(lines[i].text)
    if own and legal and legal.start() < own.start():
        return False
    for start in range(max(0, i - 4), i + 1):
        if _BUYER.search(lines[start].text):
            between = lines[start + 1 : i]
            return not any(_ADDRESS.search(line.text) for line in between)
    return False


def _before_buyer(line: Line) -> Line:
    """The line's text before a buyer's label printed on the same row ("Example, LLC   Bill To"):
    the seller's column, then the buyer's."""
    found = _BUYER.search(line.text)
    prefix = line.text[: found.start()].strip(DEBRIS) if found else ""
    return Line(line.index, prefix, line.confidence) if sum(c.isalpha() for c in prefix) >= 3 else line


def _generic(text: str) -> bool:
    """A kind of business and a store number, without a name ("Restaurant #0160014")."""
    return bool(_STORE_NUMBER.search(text.strip(DEBRIS)))


def _after_address(top: list[Line], position: int) -> float:
    """A penalty for lines after the address (the city, the phone): the name comes first."""
    return 2.0 if any(_ADDRESS.search(line.text) for line in top[:position]) else 0.0


def _above_address(top: list[Line], position: int) -> bool:
    """Whether the next line is an address (not a phone or table number that looks like a postcode)."""
    following = top[position + 1 : position + 3]
    return (
        bool(following) and bool(_ADDRESS.search(following[0].text)) and not NOT_MERCHANT_RE.search(following[0].text)
    )


def score(line: Line, position: int, above_address: bool = False) -> float:
    """How much a line looks like the merchant's name; 0 or less when it does not."""
    text = clean_name(line.text)
    letters = sum(c.isalpha() for c in text)
    visible = sum(not c.isspace() for c in re.sub(r"\s*#\s*\d+\W*$", "", text))  # a store number aside
    # A company's name with its registration on the row ("Dion Realties Sdn Bhd (Co. No:20154-T)") is
    # judged without what follows its legal form.
    judged = text if legal_form(text) and not ONLY_LEGAL.search(text) else line.text
    if letters < 3 or letters < 0.6 * visible or NOT_MERCHANT_RE.search(judged) or _generic(line.text):
        return 0.0
    if find_amounts(line.text):  # a price or a sum: an item line or a table's row, never a name
        return 0.0
    value = 3.0 - 0.4 * position
    value += 1.5 if above_address and not _ADDRESS.search(line.text) else 0.0
    value += 4.0 if legal_form(text) else 0.0
    value += 2.0 if _BUSINESS.search(text) else 0.0
    value -= 4.0 if _ADDRESS.search(line.text) else 0.0
    value -= 3.0 if ONLY_LEGAL.search(text) else 0.0
    value -= 3.0 if line.confidence < 50 else 0.0
    value += 1.0 if mostly_upper(text) else 0.0
    value -= 2.0 if text == text.lower() else 0.0  # names are printed in capitals or title case
    value -= 1.5 if len(text.split()) == 1 and letters < 5 else 0.0
    return value


def _joined(top: list[Line], position: int) -> Line:
    line = top[position]
    previous = top[position - 1] if position > 0 else None
    joins_previous = (
        ONLY_LEGAL.search(line.text)
        or (previous is not None and _CONTINUES.search(previous.text))
        or (previous is not None and _tail_of_name(line.text, previous.text))
    )
    if previous is not None and joins_previous and _name_part(previous):
        return Line(line.index, f"{previous.text} {line.text}", min(line.confidence, previous.confidence))
    if position + 2 < len(top) and _ONLY_BUSINESS.search(top[position + 2].text):
        middle, kind = top[position + 1], top[position + 2]  # "NEW DELHI" / "INDIAN" / "RESTAURANT"
        if len(middle.text.split()) == 1 and _name_part(middle) and _name_part(kind):
            text = f"{line.text} {middle.text} {kind.text}"
            return Line(kind.index, text, min(line.confidence, middle.confidence, kind.confidence))
    following = top[position + 1] if position + 1 < len(top) else None
    continues = following is not None and (
        ONLY_LEGAL.search(following.text) or _CONTINUES.search(line.text) or _ONLY_BUSINESS.search(following.text)
    )
    if following is not None and continues and _name_part(following):
        return Line(following.index, f"{line.text} {following.text}", min(line.confidence, following.confidence))
    return line


def _tail_of_name(text: str, above: str) -> bool:
    """One or two words and a legal form under a name without one, printed alike: the name's end
    on a line of its own ("Belchicken Docks" / "Brussel SRL")."""
    words = clean_name(text).split()
    name = clean_name(above)
    return (
        2 <= len(words) <= 3
        and bool(ONLY_LEGAL.search(words[-1]))
        and not LEGAL.search(" ".join(words[:-1]))
        and 2 <= len(name.split()) <= 4
        and not LEGAL.search(name)
        and not any(c.isdigit() or c in ",.!?:" for c in above)  # not a slogan or a label
        and mostly_upper(name) == mostly_upper(text)  # printed alike
    )


def _before_address(line: Line) -> Line:
    """The line's text before an address printed on the same row ("KOBE STEAK 69838 HIGHWAY 111")."""
    found = _ADDRESS.search(line.text)
    if found is None or not any(c.isdigit() for c in found.group()) or NOT_MERCHANT_RE.search(line.text):
        return line
    if LEGAL.search(line.text):  # "BOOK TA .K (TAMAN DAYA) SDN BHD": a place in the name, no address
        return line
    prefix = line.text[: found.start()].strip(DEBRIS)
    named = len(prefix.split()) >= 2 and sum(c.isalpha() for c in prefix) >= 4  # not "Warburger" Straße 130
    if named and not any(c.isdigit() for c in prefix):
        return Line(line.index, prefix, line.confidence)
    return line


def _name_part(line: Line) -> bool:
    return not NOT_MERCHANT_RE.search(line.text) and not _ADDRESS.search(line.text) and line.confidence >= 50
