"""The merchant's address: the address-like lines right under the merchant's name."""

from __future__ import annotations

from backends.rules.keywords import ADDRESS_WORDS, NOT_MERCHANT, compile_pattern
from backends.rules.lines import Line

#: The most lines an address spans.
MAX_LINES = 5
_ADDRESS = compile_pattern(ADDRESS_WORDS)
_NOT_ADDRESS = compile_pattern(NOT_MERCHANT)
_REGISTRATION = compile_pattern(r"^\W*\(?[A-Z]{0,3}\d[\w-]{3,}\)?\W*$")


def find_address(lines: list[Line], merchant: Line | None) -> str | None:
    """The address lines after the merchant, joined with spaces; None when none look like one."""
    if merchant is None:
        return None
    start = next((i for i, line in enumerate(lines) if line.index > merchant.index), len(lines))
    while start < len(lines) and _REGISTRATION.search(lines[start].text):
        start += 1
    block: list[str] = []
    for line in lines[start : start + MAX_LINES]:
        if _NOT_ADDRESS.search(line.text) or sum(c.isalpha() for c in line.text) < 2:
            break
        block.append(line.text.strip(" |"))
    if not any(_ADDRESS.search(text) for text in block):
        return None
    return " ".join(block) or None
