"""Text a person cannot see on a PDF page (white on white, 0.6 pt, outside the page, under an
image, invisible render mode) is never read as the page: the page is read from its image instead,
and nothing is reported as printed that was not seen. The PDFs are built by ``hostile_pdfs``."""

from __future__ import annotations

import random

import pytest

from backends.testing.synthetic import random_receipt, render_receipt
from router import Router
from router.api.inputs import load_document
from router.policy.model import InputLimits
from tests.backends import einvoice_xml as xml
from tests.router.hostile_pdfs import (
    HIDING,
    HIDING_IN_CONTENT,
    HIDING_IN_FORM,
    content_hidden_page,
    form_hidden_page,
    layered_page,
)
from tests.router.surfaces_kit import cpu_inline

VISIBLE = ["ACME STORE SDN BHD", "12 Jalan Besar, Kuala Lumpur", "Date 14.03.2024", "Coffee 2 x 5.00 10.00"]


def _lines(data: bytes) -> list[str] | None:
    layer = load_document(data, InputLimits()).text_layer[0]
    return None if layer is None else [line.text for line in layer.lines]


#: What reading a page with hidden text may give: its visible lines alone (a page without images:
#: nothing else can show what the hidden text says), or no layer (a page with images: read from them).
SEEN = (None, VISIBLE)


def test_a_line_drawn_like_the_others_is_read_from_the_text_layer():
    assert "TOTAL 999.99" in (_lines(layered_page(VISIBLE, "TOTAL 999.99", None)) or [])


@pytest.mark.parametrize("how", HIDING)
def test_a_page_whose_text_layer_holds_text_a_person_cannot_see_is_read_without_it(how):
    assert _lines(layered_page(VISIBLE, "TOTAL 999.99", how)) in SEEN


def test_one_stray_hidden_letter_is_left_out_and_the_rest_of_the_layer_read():
    assert _lines(layered_page(VISIBLE, "x", "white")) == VISIBLE


@pytest.mark.slow
def test_a_receipt_image_under_a_hidden_layer_is_answered_from_what_the_image_shows():
    """The issue's case: the image says its total, a white layer says 999.99 (before: ``ok``,
    999.99 at 0.95 from ``text_layer``). The other ways of hiding reach the same decision above."""
    spec = random_receipt(random.Random(11), locale="UK", degrade=False)
    secret = "ACME TRADING LTD\nReceipt 0001 Date 14.03.2024\nTOTAL 999.99"
    with Router(cpu_inline()) as router:
        result = router.extract(layered_page([], secret, "white", scan=render_receipt(spec)), name="r.pdf")
    assert result.meta["page_sources"] == ["ocr"]
    assert result.fields["total"].value == str(spec.total)


def test_an_e_invoice_is_not_said_to_agree_with_a_total_printed_only_in_hidden_text():
    """The cross-check of the XML against the printed total never counts text nobody can see."""
    data = layered_page(VISIBLE, "TOTAL 56.58", "white", attachments={"factur-x.xml": xml.CII})
    with Router(cpu_inline()) as router:
        result = router.extract(data, name="e.pdf")
    assert result.tier == "einvoice" and result.meta.get("total_printed") is None


@pytest.mark.parametrize("how", list(HIDING_IN_CONTENT))
def test_text_hidden_by_the_content_stream_itself_is_not_read_as_the_page(how):
    """Clipped away, fully transparent, under a box drawn after it, risen off the page, squeezed to
    a smear or flattened to a hairline (by the text matrix, the CTM or Tz), blended away (Lighten,
    Screen, Difference over white paper: PDFium draws it as ink, so the blend itself is the sign):
    the page as a viewer draws it shows none of it readable, whatever the means."""
    assert "TOTAL 999.99" in (_lines(content_hidden_page(VISIBLE, "TOTAL 999.99", None)) or [])
    assert _lines(content_hidden_page(VISIBLE, "TOTAL 999.99", how)) in SEEN


@pytest.mark.parametrize("how", list(HIDING_IN_FORM))
def test_text_hidden_inside_a_form_xobject_is_not_read_as_the_page(how):
    """A form XObject is a page within the page: a box or an image it draws over its text, its
    render mode, clip, bounding box, soft mask or optional content hide the text as on the page."""
    assert "TOTAL 999.99" in (_lines(form_hidden_page(VISIBLE, "TOTAL 999.99", None)) or [])
    assert _lines(form_hidden_page(VISIBLE, "TOTAL 999.99", how)) in SEEN


@pytest.mark.parametrize("scale", [b"50 Tz", b"1 0 0 1 50 600 Tm", b"1 0 0.3 1 50 600 Tm", b"2 0 0 2 50 600 Tm"])
def test_condensed_turned_or_slanted_text_is_still_read_from_the_layer(scale):
    """A condensed font (Tz 50), a slanted or a doubled text matrix draws text a person reads."""
    data = content_hidden_page(VISIBLE, "TOTAL 999.99", None).replace(b"50 600 Td", b"50 600 Td " + scale)
    assert "TOTAL 999.99" in " ".join(_lines(data) or [])


def test_hidden_text_on_a_page_without_images_is_left_out_and_the_visible_layer_read():
    """A generator's invisible footer ("Powered by TCPDF") hides nothing: the page's visible text is
    its whole content, read from the layer (OCR of the page misread an invoice's total)."""
    assert _lines(layered_page(VISIBLE, "Powered by TCPDF (www.tcpdf.org)", "render-mode-3")) == VISIBLE
    assert _lines(layered_page(VISIBLE, "TOTAL 999.99", "white")) == VISIBLE


def test_text_in_a_form_with_a_transparency_group_and_no_blend_mode_is_read():
    """A transparency group is how many generators wrap a page's content: it hides nothing."""
    plain = form_hidden_page(VISIBLE, "TOTAL 999.99", None)
    grouped = plain.replace(b"/Subtype /Form  /BBox", b"/Subtype /Form /Group << /S /Transparency >> /BBox")
    assert grouped != plain
    assert "TOTAL 999.99" in (_lines(grouped) or [])


@pytest.mark.xfail(strict=True, reason="open: a lying /ToUnicode CMap is not detected (README, PDFs)")
def test_a_text_layer_whose_cmap_lies_about_the_glyphs_is_not_read_as_the_page():
    """The glyphs show 27.10, the font's /ToUnicode says 99.99. Every glyph leaves ink where its
    character is, so no visibility check sees it; only reading the glyphs (OCR of the render) does."""
    from tests.router.hostile_pdfs import lying_cmap_page

    data = lying_cmap_page([*VISIBLE, "TOTAL 27.10"], {"2": "9", "7": "9", "1": "9", "0": "9"})
    assert "TOTAL 99.99" not in (_lines(data) or [])
