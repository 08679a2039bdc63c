"""Text layers: lines rebuilt from character boxes, garbage told from text, and the OCR tiers' hook
that reads text-layer pages as they are and OCRs only the others."""

from __future__ import annotations

import pytest
from PIL import Image

from backends.documents.document import Document, EmbeddedFile
from backends.documents.textlayer import Char, PageText, TextLine, rebuild_lines, usable
from backends.errors import InvalidOutput
from backends.ocr.reader import read_document
from backends.ocr.result import OcrPage
from backends.options import OcrOptions


def word(text: str, left: float, top: float, size: float = 12.0, *, width: float = 6.0) -> list[Char]:
    """The characters of ``text`` side by side from ``left``, on a line whose top is ``top``."""
    return [Char(ch, left + i * width, top, left + (i + 1) * width, top + size, size) for i, ch in enumerate(text)]


def test_a_label_and_its_amount_written_apart_are_one_line_left_to_right():
    # the content stream's order: the amounts' column after the labels, as table generators write it
    chars = word("TOTAL", 50, 200) + word("Subtotal", 50, 180) + word("56.58", 420, 200.8) + word("47.55", 420, 180)
    lines = rebuild_lines(chars)
    assert [line.text for line in lines] == ["Subtotal 47.55", "TOTAL 56.58"]
    assert lines[1].left == 50 and lines[1].top == 200


def test_spaces_come_from_gaps_and_from_the_pdf_but_not_from_kerning():
    tight = word("Gesamt", 10, 10, width=5.5)  # letters of a word touch: no space
    spaced = word("betrag", 10 + 6 * 5.5 + 4, 10)  # a gap of a third of the line height: a space
    flagged = [Char("€", 100, 10, 106, 22, 12, space_before=True)]  # the PDF's own space, zero gap
    assert [line.text for line in rebuild_lines(tight + spaced + flagged)] == ["Gesamt betrag €"]


def test_usable_text_needs_enough_real_characters():
    assert usable("Rechnung Nr. 2024-0042 vom 14.03.2024 Gesamtbetrag 56,58 EUR")
    assert not usable("")
    assert not usable("Seite 1 von 2")  # too little to be a page's text
    assert not usable("\ue000\ue001\ue002 " * 30)  # private-use glyphs: a font without a Unicode map
    assert not usable("#$%& ()*+ ,-./ " * 10)  # symbol salad


def text_document(*layers: PageText | None) -> Document:
    pages = tuple(Image.new("RGB", (10 + i, 10), "white") for i in range(len(layers)))
    return Document("t" * 64, pages, "application/pdf", "t.pdf", 10, text_layer=layers)


INVOICE = PageText(
    (TextLine("ACME GmbH", 50, 40, 80, 12), TextLine("Rechnung vom 14.03.2024 TOTAL 56.58", 50, 60, 90, 12))
)


def test_text_layer_pages_are_read_as_they_are_and_only_the_others_ocrd():
    seen: list[int] = []

    def ocr(document: Document, options: OcrOptions) -> OcrPage:
        seen.append(document.pages[0].width)
        assert len(document.pages) == 1 and not document.text_layer
        return OcrPage(text="SCANNED PAGE TEXT", mean_confidence=80.0, words=3, chars=17)

    page, sources = read_document(text_document(INVOICE, None), OcrOptions(), ocr)
    assert sources == ["text_layer", "ocr"] and seen == [11]  # only the second page met OCR
    assert page.text.splitlines()[:2] == ["ACME GmbH", "Rechnung vom 14.03.2024 TOTAL 56.58"]
    assert page.text.endswith("SCANNED PAGE TEXT")


def test_a_document_without_text_layers_goes_to_ocr_whole():
    calls: list[int] = []

    def ocr(document: Document, options: OcrOptions) -> OcrPage:
        calls.append(len(document.pages))
        return OcrPage(text="x" * 50, mean_confidence=90.0, words=1, chars=50)

    _, sources = read_document(text_document(None, None), OcrOptions(), ocr)
    assert calls == [2] and sources == ["ocr", "ocr"]


def test_too_little_text_in_all_is_still_invalid_output():
    def blank(document: Document, options: OcrOptions) -> OcrPage:
        raise InvalidOutput("OCR read only 0 characters")

    short = PageText((TextLine("Seite 2", 0, 0, 10, 10),))
    with pytest.raises(InvalidOutput, match="fewer than min_chars"):
        read_document(text_document(short, None), OcrOptions(), blank)


def test_text_layers_and_attachments_survive_the_wire():
    document = Document(
        "w" * 64,
        (Image.new("RGB", (4, 4), "white"),),
        "application/pdf",
        "w.pdf",
        10,
        text_layer=(INVOICE,),
        attachments=(EmbeddedFile("factur-x.xml", b"<x/>"), EmbeddedFile("big.xml", None, "too big")),
    )
    header, buffers = document.to_wire()
    copy = Document.from_wire(header, buffers)
    assert copy.text_layer == document.text_layer and copy.attachments == document.attachments
