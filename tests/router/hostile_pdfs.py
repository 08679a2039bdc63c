"""Hostile PDFs written byte by byte (no PDF library would write them): compression bombs hidden
behind indirect filters, in embedded files, page content and images. Each is a few kilobytes."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

MIB = 2**20


def zeros_deflate(mib: int) -> bytes:
    """A zlib stream that inflates to ``mib`` MiB of zero bytes, built without deflating them all:
    after a full flush every further MiB of zeros compresses to the same bytes."""
    deflater = zlib.compressobj(9)
    first = deflater.compress(b"\0" * MIB) + deflater.flush(zlib.Z_FULL_FLUSH)
    again = deflater.compress(b"\0" * MIB) + deflater.flush(zlib.Z_FULL_FLUSH)
    size = mib * MIB
    adler = ((size % 65521) << 16) | 1  # Adler-32 of zero bytes: a = 1, b = size
    return first + again * (mib - 1) + b"\x03\x00" + adler.to_bytes(4, "big")


def pdf(objects: Sequence[bytes]) -> bytes:
    """A PDF of these objects (numbered from 1; object 1 is the catalog) with a correct xref."""
    out, offsets = bytearray(b"%PDF-1.7\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def stream(dictionary: bytes, data: bytes) -> bytes:
    return b"<< " + dictionary + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def embedding(dictionary: bytes, data: bytes, *, extra: Sequence[bytes] = (), name: bytes = b"factur-x.xml") -> bytes:
    """A one-page PDF whose embedded file (object 5) has this stream dictionary and data; ``extra``
    objects follow as 6, 7, ... (for the dictionary to refer to)."""
    return pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles << /Names [(" + name + b") 4 0 R] >> >> >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
            b"<< /Type /Filespec /F (" + name + b") /UF (" + name + b") /EF << /F 5 0 R >> >>",
            stream(dictionary, data),
            *extra,
        ]
    )


def attachment_bomb(mib: int) -> bytes:
    """An embedded XML file that inflates to ``mib`` MiB through two Flate passes, its /Filter an
    indirect reference to the array (no pattern over the dictionary's bytes sees a filter)."""
    twice = zlib.compress(zeros_deflate(mib), 9)
    return embedding(
        b"/Type /EmbeddedFile /Subtype /text#2Fxml /Filter 6 0 R", twice, extra=[b"[/FlateDecode /FlateDecode]"]
    )


def content_bomb(mib: int) -> bytes:
    """A page whose content stream inflates to ``mib`` MiB (of zeros: no drawing, all decoding)."""
    return pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >>",
            stream(b"/Filter [/FlateDecode /FlateDecode]", zlib.compress(zeros_deflate(mib), 9)),
        ]
    )


#: How a line of a text layer can be hidden from a person: each a way the page shows something else.
HIDING = ("white", "tiny", "outside", "covered", "render-mode-3")


def layered_page(
    visible: Sequence[str],
    secret: str,
    how: str | None,
    *,
    scan: Any = None,
    attachments: dict[str, bytes] | None = None,
) -> bytes:
    """A one-page A4 PDF: ``scan`` (a PIL image) over the whole page if given, ``visible`` lines in
    black Helvetica, then each line of ``secret`` hidden as ``how`` says (``HIDING``), or shown like
    the rest when ``how`` is None."""
    import ctypes

    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c
    from PIL import Image

    pdf = pdfium.PdfDocument.new()
    try:
        page = pdf.new_page(595, 842)

        def image(picture: Any, width: float, height: float, x: float, y: float) -> None:
            obj = pdfium.PdfImage.new(pdf)
            obj.set_bitmap(pdfium.PdfBitmap.from_pil(picture))
            obj.set_matrix(pdfium.PdfMatrix().scale(width, height).translate(x, y))
            page.insert_obj(obj)

        if scan is not None:
            image(scan, 595, 842, 0, 0)

        def text(line: str, x: float, y: float, size: float = 11, fill: int = 0, mode: int | None = None) -> None:
            obj = pdfium_c.FPDFPageObj_NewTextObj(pdf.raw, b"Helvetica", ctypes.c_float(size))
            encoded = (line + "\x00").encode("utf-16-le")
            buffer = ctypes.create_string_buffer(encoded, len(encoded))
            pdfium_c.FPDFText_SetText(obj, ctypes.cast(buffer, pdfium_c.FPDF_WIDESTRING))
            pdfium_c.FPDFPageObj_SetFillColor(obj, fill, fill, fill, 255)
            if mode is not None:
                pdfium_c.FPDFTextObj_SetTextRenderMode(obj, mode)
            pdfium_c.FPDFPageObj_Transform(obj, 1, 0, 0, 1, x, y)
            pdfium_c.FPDFPage_InsertObject(page.raw, obj)

        for n, line in enumerate(visible):
            text(line, 50, 780 - 18 * n)
        for n, line in enumerate(secret.splitlines()):
            y = 780 - 18 * (len(visible) + n)
            if how == "white":
                text(line, 50, y, fill=255)
            elif how == "tiny":
                text(line, 50, y, size=0.6)
            elif how == "outside":
                text(line, 50, 900 + 18 * n)  # above the media box's top (842)
            elif how == "render-mode-3":
                text(line, 50, y, mode=pdfium_c.FPDF_TEXTRENDERMODE_INVISIBLE)
            else:
                text(line, 50, y)
            if how == "covered":  # an opaque image drawn over the line, after it
                image(Image.new("RGB", (40, 8), (250, 250, 250)), 300, 20, 45, y - 5)
        page.gen_content()
        page.close()
        for name, data in (attachments or {}).items():
            pdf.new_attachment(name).set_data(data)
        buffer_out = __import__("io").BytesIO()
        pdf.save(buffer_out)
        return buffer_out.getvalue()
    finally:
        pdf.close()


def mapped_text_page(lines: Sequence[str]) -> bytes:
    """A one-page PDF whose text is ``lines`` with any Unicode characters at all (emoji, CJK
    extensions beyond the BMP): each distinct character is drawn with a code of a Helvetica font
    that has a glyph (so it leaves ink) and that the font's /ToUnicode CMap maps to the character,
    as PDFs with embedded subset fonts do."""
    alphabet = sorted({ch for line in lines for ch in line} - {" "})
    slots = [*range(0x21, 0x7F), *range(0xC0, 0x100)]
    if len(alphabet) > len(slots):
        raise ValueError(f"at most {len(slots)} distinct characters")
    codes = {ch: code for ch, code in zip(alphabet, slots, strict=False)} | {" ": 0x20}
    mapping = b"".join(
        b"<%02X> <%s>\n" % (code, ch.encode("utf-16-be").hex().upper().encode()) for ch, code in codes.items()
    )
    cmap = (
        b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /X def\n"
        b"1 begincodespacerange <00> <FF> endcodespacerange\n"
        b"%d beginbfchar\n"
        % len(codes)
        + mapping
        + b"endbfchar endcmap CMapName currentdict /CMap defineresource pop end end"
    )
    content = (
        b"BT /F1 11 Tf 14 TL 50 780 Td "
        + b"".join(b"(" + _escaped(bytes(codes[ch] for ch in line)) + b") '" for line in lines)
        + b" ET"
    )
    return pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
            b" /Resources << /Font << /F1 5 0 R >> >> >>",
            stream(b"", content),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 6 0 R >>",
            stream(b"", cmap),
        ]
    )


def lying_cmap_page(lines: Sequence[str], lie: dict[str, str]) -> bytes:
    """A one-page PDF that shows ``lines`` (ASCII, Helvetica's own glyphs) while its font's
    /ToUnicode CMap says each character of ``lie`` is another: glyphs 27.10, text layer 99.99."""
    shown = sorted({ch for line in lines for ch in line})
    mapping = b"".join(b"<%02X> <%04X>\n" % (ord(ch), ord(lie.get(ch, ch))) for ch in shown)
    cmap = (
        b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /X def\n"
        b"1 begincodespacerange <00> <FF> endcodespacerange\n%d beginbfchar\n"
        % len(shown)
        + mapping
        + b"endbfchar endcmap CMapName currentdict /CMap defineresource pop end end"
    )
    content = b"BT /F1 11 Tf 14 TL 50 780 Td " + b"".join(b"(" + _escaped(ln.encode()) + b") '" for ln in lines)
    return pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
            b" /Resources << /Font << /F1 5 0 R >> >> >>",
            stream(b"", content + b" ET"),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 6 0 R >>",
            stream(b"", cmap),
        ]
    )


def _escaped(string: bytes) -> bytes:
    """Bytes as the inside of a PDF literal string."""
    return string.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


#: Content-stream ways to draw a line nobody sees, beyond ``HIDING``: each wraps ``BT ... ET``.
HIDING_IN_CONTENT = {
    "clipped-away": (b"q 0 0 1 1 re W n ", b" Q"),  # drawn inside a 1 pt clip in the corner
    "transparent": (b"q /Clear gs ", b" Q"),  # fill alpha 0
    "behind-a-box": (b"", b" 1 1 1 rg 40 0 400 842 re f"),  # a white box drawn over it
    "risen-off-the-page": (b"", b""),  # text rise of 2000 pt (Ts)
    "squeezed-by-cm": (b"q 0.05 0 0 1 47.5 0 cm ", b" Q"),  # 5 % of its width: a smear
    "flattened-by-cm": (b"q 1 0 0 0.01 0 594 cm ", b" Q"),  # 1 % of its height: a hairline
    "squeezed-by-Tz": (b"", b""),  # horizontal scaling of 5 % (Tz)
    "flattened-by-Tm": (b"", b""),  # a text matrix 1 % high (Tm)
    # black text under a blend mode that leaves white paper white: max(paper, ink), 1-(1-paper)(1-ink),
    # |paper - ink|; the text object itself is drawn as any other (render mode 0, black fill)
    "blend-lighten": (b"q /Lighten gs ", b" Q"),
    "blend-screen": (b"q /Screen gs ", b" Q"),
    "blend-difference": (b"q /Difference gs ", b" Q"),
}
#: Text-state operators some of ``HIDING_IN_CONTENT`` set inside ``BT``, after the line's position.
_TEXT_STATE = {
    "risen-off-the-page": b" 2000 Ts",
    "squeezed-by-Tz": b" 5 Tz",
    "flattened-by-Tm": b" 1 0 0 0.01 50 600 Tm",
}


def content_hidden_page(visible: Sequence[str], secret: str, how: str | None) -> bytes:
    """A one-page PDF written by hand: ``visible`` lines in black Helvetica, then ``secret`` hidden
    as ``HIDING_IN_CONTENT[how]`` says (shown like the rest when ``how`` is None)."""
    before, after = HIDING_IN_CONTENT[how] if how else (b"", b"")
    shown = b"BT /F1 11 Tf 14 TL 50 780 Td " + b"".join(b"(" + _escaped(line.encode()) + b") '" for line in visible)
    state = _TEXT_STATE.get(how or "", b"")
    hidden = before + b"BT /F1 11 Tf 50 600 Td" + state + b" (" + _escaped(secret.encode()) + b") Tj ET" + after
    return pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
            b" /Resources << /Font << /F1 5 0 R >> /ExtGState << /Clear << /ca 0 >> /Lighten << /BM /Lighten >>"
            b" /Screen << /BM /Screen >> /Difference << /BM /Difference >> >> >> >>",
            stream(b"", shown + b" ET " + hidden),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
    )


#: Ways to hide a line inside a form XObject (or behind what a viewer turns off), each as the form's
#: content around the line's ``BT ... ET`` and what the form's dictionary adds; the page draws the form.
HIDING_IN_FORM = {
    "white-box-in-form": (b"", b" 1 1 1 rg 40 590 300 30 re f", b""),
    "render-mode-3-in-form": (b"3 Tr ", b"", b""),
    "clipped-in-form": (b"0 0 1 1 re W n ", b"", b""),
    "outside-the-forms-bbox": (b"", b"", b"/BBox [0 0 1 1]"),
    "striped-image-in-form-over-it": (b"", b" q 300 0 0 30 40 590 cm /Im Do Q", b""),
    "soft-mask-in-form": (b"/Masked gs ", b"", b""),
    "optional-content-off": (b"", b"", b"/OC 8 0 R"),
    "blend-lighten-on-the-form": (b"", b"", b""),  # the page draws the form under /BM /Lighten
}


def form_hidden_page(visible: Sequence[str], secret: str, how: str | None) -> bytes:
    """A one-page PDF: ``visible`` lines in black Helvetica drawn by the page, then a form XObject
    that draws ``secret`` hidden as ``HIDING_IN_FORM[how]`` says (shown when ``how`` is None). The
    striped image leaves ink all over the line (black and white columns), so only its being drawn
    over the line hides it; the optional content group is off in the document's default view."""
    before, after, extra = HIDING_IN_FORM[how] if how else (b"", b"", b"")
    shown = b"BT /F1 11 Tf 14 TL 50 780 Td " + b"".join(b"(" + _escaped(line.encode()) + b") '" for line in visible)
    line = before + b"BT /F1 11 Tf 50 600 Td (" + _escaped(secret.encode()) + b") Tj ET" + after
    if b"/BBox" not in extra:
        extra += b" /BBox [0 0 595 842]"
    resources = (
        b"/Resources << /Font << /F1 5 0 R >> /XObject << /Im 7 0 R >>"
        b" /ExtGState << /Masked << /SMask << /Type /Mask /S /Luminosity /G 9 0 R >> >> >> >>"
    )
    return pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R /OCProperties << /OCGs [8 0 R] /D << /OFF [8 0 R] >> >> >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
            b" /Resources << /Font << /F1 5 0 R >> /XObject << /Fm 6 0 R >>"
            b" /ExtGState << /Lighten << /BM /Lighten >> >> >> >>",
            stream(
                b"", shown + (b" ET q /Lighten gs /Fm Do Q" if how == "blend-lighten-on-the-form" else b" ET /Fm Do")
            ),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            stream(b"/Type /XObject /Subtype /Form " + extra + b" " + resources, line),
            stream(
                b"/Type /XObject /Subtype /Image /Width 300 /Height 30 /ColorSpace /DeviceGray /BitsPerComponent 8",
                b"\x00\xff" * (150 * 30),
            ),
            b"<< /Type /OCG /Name (draft) >>",
            stream(  # a mask that lets nothing through: black all over
                b"/Type /XObject /Subtype /Form /BBox [0 0 595 842] /Group << /S /Transparency /CS /DeviceGray >>",
                b"0 g 0 0 595 842 re f",
            ),
        ]
    )


def text_flood(pages: int, lines: int = 160) -> bytes:
    """A PDF of ``pages`` 600 x 1000 pt pages sharing one content stream of ``lines`` lines of 240
    visible characters in 5 pt Helvetica (38400 on a page for the default): a kilobyte or two that
    asks every character of every page to be judged."""
    line = b"(" + b"TOTAL 27.10 " * 20 + b") ' "
    content = b"BT /F1 5 Tf 0 990 Td 6 TL " + line * lines + b" ET"
    kids = b" ".join(b"%d 0 R" % (6 + n) for n in range(pages))
    page = (
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 600 1000] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>"
    )
    return pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages,
            b"null",
            stream(b"/Filter /FlateDecode", zlib.compress(content)),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            *[page] * pages,
        ]
    )


def hex_and_flate_bomb(mib: int) -> bytes:
    """A page whose content is ASCIIHex over Flate: a text filter in front of the bomb."""
    return pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >>",
            stream(b"/Filter [/ASCIIHexDecode /FlateDecode]", zeros_deflate(mib).hex().encode() + b">"),
        ]
    )


def inline_image_bomb(mib: int) -> bytes:
    """A page drawing an inline image (BI ... ID ... EI) of 20000 x 20000 RGB pixels whose Flate
    data inflates to ``mib`` MiB: no XObject, no stream dictionary to look at."""
    content = b"q 200 0 0 200 0 0 cm BI /W 20000 /H 20000 /CS /RGB /BPC 8 /F /Fl ID\n" + zeros_deflate(mib) + b"\nEI Q"
    return pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >>",
            stream(b"", content),
        ]
    )


def form_fanout(levels: int) -> bytes:
    """A page drawing a form that draws the next form ten times, ``levels`` deep: 10^levels copies of
    one letter from a file of a kilobyte (PDFium builds each copy: memory, not decoding)."""
    forms = []
    for n in range(levels):
        body, resources = (
            (b"/X Do " * 10, b"/XObject << /X %d 0 R >>" % (7 + n))
            if n < levels - 1
            else (b"BT /F1 1 Tf (a) Tj ET", b"/Font << /F1 5 0 R >>")
        )
        forms.append(
            stream(b"/Type /XObject /Subtype /Form /BBox [0 0 200 200] /Resources << " + resources + b" >>", body)
        )
    return pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R"
            b" /Resources << /XObject << /X 6 0 R >> >> >>",
            stream(b"", b"/X Do"),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            *forms,
        ]
    )
