"""Any Unicode in a document's text (an emoji, a CJK extension character: two UTF-16 halves in
PDFium) is decoded once, at the text layer, into valid characters: results encode as UTF-8 on
every surface, and an encoding error, should one still happen, is the document's, not the tier's."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

import pypdfium2 as pdfium
import pytest

from backends.documents import pdf as pdf_pages
from router import Router
from router.core.breaker import BreakerState
from tests.router.hostile_pdfs import mapped_text_page
from tests.router.surfaces_kit import cpu_inline

ASTRAL = "\U0001f600 \U00020000 \U0001f9fe"
LINES = [f"CAF\u00c9 SOLEIL {ASTRAL}", "12 rue de la Paix, Paris", "Date 14.03.2024", "Caf\u00e9 x2 5.00"]
RECEIPT = mapped_text_page([*LINES, f"TOTAL {ASTRAL[0]} 27.10"])


def text_layer(pdf_bytes: bytes) -> Any:
    """The text layer ``page_text`` reads from the PDF's first page."""
    pdf = pdfium.PdfDocument(pdf_bytes)
    try:
        page = pdf[0]
        layer = pdf_pages.page_text(page)
        page.close()
    finally:
        pdf.close()
    return layer


def test_pdfiums_surrogate_halves_are_joined_into_one_character_at_the_text_layer():
    layer = text_layer(RECEIPT)
    assert layer is not None
    text = "\n".join(line.text for line in layer.lines)
    assert ASTRAL in text
    assert not any(0xD800 <= ord(ch) < 0xE000 for ch in text)
    text.encode("utf-8")


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ([0xD83D, 0xDE00, 0x41], ["\U0001f600", None, "A"]),
        ([0xD83D, 0x41], ["\ufffd", "A"]),  # a high half alone
        ([0x41, 0xDE00], ["A", "\ufffd"]),  # a low half alone
        ([0, 0x110000], ["\ufffd", "\ufffd"]),
        ([0x32, 0x200B, 0x37, 0x200D, 0x202E, 0x2066, 0xFEFF, 0xAD], ["2", None, "7", None, None, None, None, None]),
    ],
    ids=["pair", "lone-high", "lone-low", "no-character", "format-characters"],
)
def test_each_code_unit_becomes_a_character_a_joined_half_or_a_replacement(codes, expected):
    assert [pdf_pages._character(codes, i) for i in range(len(codes))] == expected


def test_the_cpu_policy_answers_with_valid_unicode_and_no_tier_breaker_moves():
    with Router(cpu_inline()) as docroute:
        results = [docroute.extract(RECEIPT, name=f"astral-{n}.pdf") for n in range(6)]
        states = {tier.name: tier.health.breaker.state for tier in docroute.tiers}
    for result in results:
        assert result.status in ("ok", "degraded"), result.error
        json.dumps(result.model_dump(mode="json"), ensure_ascii=False).encode("utf-8")
    assert results[0].fields["total"].value == "27.10"
    assert results[0].fields["merchant"].value == "CAF\u00c9 SOLEIL"
    assert set(states.values()) == {BreakerState.CLOSED}


def test_no_format_character_reaches_the_layer():
    """A zero-width space or joiner, a bidi override or isolate, a BOM inside "27.10" shows
    nothing and is not part of the layer (before: the rules read 27.00 or 2.00 from it). The
    helper's font draws a glyph for each, so only their absence is checked here."""
    layer = text_layer(mapped_text_page([*LINES, "TOTAL 2\u200d7\u200b.1\u202e0\u2069 \ufeff"]))
    assert layer is not None
    text = "\n".join(line.text for line in layer.lines)
    assert "TOTAL" in text and not any(unicodedata.category(ch) == "Cf" for ch in text)


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ([0x32, 0x332, 0x37], ["2", None, "7"]),  # a low line under a digit
        ([0x31, 0x2E, 0x301, 0x30], ["1", ".", None, "0"]),  # an accent on the decimal point
        ([0x39, 0x20E3, 0x336, 0x39], ["9", None, None, "9"]),  # an enclosing keycap, then a stroke
        ([0x65, 0x301], ["e", "\u0301"]),  # on a letter it is an accent: kept
    ],
    ids=["under-a-digit", "on-the-point", "marks-in-a-row", "on-a-letter"],
)
def test_a_combining_mark_on_a_digit_or_separator_is_left_out(codes, expected):
    """No mark makes a digit another digit: 2\u03327.10 is 27.10 to a person (before: the rules
    found no amount in it). Marks on letters stay: they make the letters."""
    assert [pdf_pages._character(codes, i) for i in range(len(codes))] == expected


def test_the_rules_read_an_amount_with_combining_marks_as_it_looks():
    layer = text_layer(mapped_text_page([*LINES, "TOTAL 2\u03327.1\u03010"]))
    assert layer is not None and layer.lines[-1].text == "TOTAL 27.10"
