"""The merchant's address: the address-like lines right under the merchant's name."""

from __future__ import annotations

from backends.fields.rules.keywords import ADDRESS_WORDS, NOT_MERCHANT, compile_pattern
from backends.fields.rules.lines import Line

#: The most lines an address spans.
MAX_LINES = 5
_ADDRESS = compile_pattern(ADDRESS_WORDS)
_NOT_ADDRESS = compile_pattern(NOT_MERCHANT)
#: Buildings an address may start with ("PARADIGM MALL", "WISMA ..."); not merchant-excluding words.
_PLACE = compile_pattern(r"\b(?:mall|plaza|centre|center|complex|kompleks|wisma|menara|pusat|arcade)\b")
#: A line that ends in an amount (an item, a total) is past the address.
_PRICED = compile_pattern(r"\d[.,]\d{2}\W*$")
#: Postcodes: five digits (Malaysia, US, France, Germany...) or British.
_POSTCODE = compile_pattern(r"\b\d{5}\b|\b[a-z]{1,2}\d[a-z\d]?\s*\d[a-z]{2}\b")
#: A state or country line after the postcode: a few words, no digits ("SELANGOR", "D.E. MALAYSIA").
_REGION = compile_pattern(r"^[^\W\d]+(?:[\s.,'-]+[^\W\d]+){0,3}[\s.,]*$")
#: Registration and tax numbers printed between the name and the address.
_REGISTRATION = compile_pattern(
    r"^\W*\(?(?:no\.?\s*)?[A-Z]{0,3}\d[\w-]{3,}\)?\W*$|\b(?:co|company|br|brn|roc|reg|gst|sst|vat|tax|abn|uen)\b.*\d"
)


def find_address(lines: list[Line], merchant: Line | None) -> str | None:
    """The address lines after the merchant, joined with spaces; None when none look like one."""
    if merchant is None:
        return None
    after = [line for line in lines if line.index > merchant.index]
    while after and _REGISTRATION.search(after[0].text):
        after.pop(0)
    block: list[str] = []
    for line in after[:MAX_LINES]:
        if _NOT_ADDRESS.search(line.text) or _PRICED.search(line.text) or sum(c.isalpha() for c in line.text) < 2:
            break
        block.append(line.text.strip(" |"))
    block = _trim(block)
    return " ".join(block) or None


def _trim(block: list[str]) -> list[str]:
    """From the first address-like line to the last line with a postcode (and a state line after it).

    Branch names and licensee lines come before an address, phone and shop lines after it; the
    postcode is where most addresses end. Without a postcode, the block is kept to its end.
    """
    if not any(_ADDRESS.search(text) for text in block):
        return []
    first = next(i for i, text in enumerate(block) if _ADDRESS.search(text) or _PLACE.search(text))
    block = block[first:]
    last = max((i for i, text in enumerate(block) if _POSTCODE.search(text)), default=None)
    if last is None:
        return block
    end = last + 1
    if end < len(block) and _REGION.match(block[end]):
        end += 1
    return block[:end]
