"""The merchant's address: the address-like lines right under the merchant's name."""

from __future__ import annotations

from backends.rules.keywords import ADDRESS_WORDS, NOT_MERCHANT, compile_pattern
from backends.rules.lines import Line

#: The most lines an address spans.
MAX_LINES = 5
_ADDRESS = compile_pattern(ADDRESS_WORDS)
_NOT_ADDRESS = compile_pattern(NOT_MERCHANT)
#: Registration and tax numbers printed between the name and the address.
_REGISTRATION = compile_pattern(
    r"^\W*\(?[A-Z]{0,3}\d[\w-]{3,}\)?\W*$|\b(?:co|company|br|brn|roc|reg|gst|sst|vat|tax|abn|uen)\b.*\d"
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
        if _NOT_ADDRESS.search(line.text) or sum(c.isalpha() for c in line.text) < 2:
            break
        block.append(line.text.strip(" |"))
    if not any(_ADDRESS.search(text) for text in block):
        return None
    return " ".join(block) or None
