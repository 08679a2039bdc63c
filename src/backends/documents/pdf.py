"""PDFium in one place: a page's text layer, a PDF's embedded XML files, and pages rendered lazily.

Everything here decodes what an untrusted PDF holds; the router calls it only inside its capped
reader process (``router.api.pdfreader``), where a bomb or a crash costs that process, not the caller.

PDFium is not thread-safe (its last-error state is global: two threads reading a corrupt and a
locked PDF at once swapped their errors), so every call into it holds ``LOCK``. Validation and the
errors users see stay in ``router.api.inputs``; this module only reads.
"""

from __future__ import annotations

import math
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any, overload

from PIL import Image

from backends.documents.document import EmbeddedFile
from backends.documents.textlayer import Char, PageText, rebuild_lines, usable

LOCK = threading.Lock()
#: Largest embedded XML file read (an XRechnung or Factur-X file is tens of kilobytes).
MAX_ATTACHMENT_BYTES = 5 * 2**20
#: Letters and digits a person cannot see that make a page's text layer untrusted (read it by OCR).
MAX_HIDDEN_CHARS = 3
#: Share of a layer's letters and digits hidden on images above which the images are read instead
#: (a scanner app's layer is all hidden; a generator's invisible footer on a page-sized template
#: image is a few per cent, and is left out).
HIDDEN_SHARE = 0.1
#: Most embedded files looked at in one PDF.
MAX_ATTACHMENTS = 32
#: Most characters of a page's text layer judged one by one (a dense A4 invoice holds about 5000);
#: a page with more is read from its image. Two kilobytes of content stream, drawn on 20 pages,
#: asked for 1.4 million judgements: the PDF reader's whole time.
MAX_PAGE_CHARS = 10_000


def page_text(page: Any) -> PageText | None:
    """The page's visible text layer as lines, or None when it is empty, not text (a scanned page),
    or holds ``MAX_HIDDEN_CHARS`` letters or digits a person cannot see (``backends.documents.visibility``)
    lying on an image, a tenth of its layer's or more: such a page is read from its image, as a
    person reads it, never from a layer that says something else. A scanner app's invisible OCR
    layer over a scan is one case: on docs-dev's 79 phone-app scans the apps' layers gave the rules
    far less than Tesseract (total 0.38 against 0.62). Hidden characters elsewhere are left out of
    the layer, which then holds what is seen: nothing but the visible text can show what they say
    there (an invisible "Powered by TCPDF" footer sent a whole invoice to OCR, which misread its
    total).

    ``page`` is an open ``pypdfium2.PdfPage``; the caller holds ``LOCK``."""
    import pypdfium2 as pdfium

    from backends.documents.visibility import PageVisibility

    started = time.perf_counter()
    try:
        textpage = page.get_textpage()
    except pdfium.PdfiumError:  # no text to be had: the page is read as an image
        return None
    try:
        if textpage.count_chars() > MAX_PAGE_CHARS:  # too much to judge: read as a person does, from the image
            return None
        visibility = PageVisibility(page, textpage)
        if visibility.overloaded:
            return None
        raw, hidden, letters = [], 0, 0
        for char in _raw_chars(textpage):
            letters += char[1].isalnum()
            if not visibility.hidden(char[0], char[2]):
                raw.append(char)
            elif char[1].isalnum() and visibility.over_image(char[2]):
                hidden += 1
        if hidden >= MAX_HIDDEN_CHARS and hidden >= HIDDEN_SHARE * letters:
            return None
    finally:
        textpage.close()
    if not raw:
        return None
    # Text drawn sideways (a landscape scan's OCR layer, a page turned by /Rotate) is read in its own
    # direction: the quarter turn most characters share. Characters at other angles (a note up the
    # margin) would only break the lines apart, and are left out.
    quarters = Counter(quarter for *_, quarter in raw)
    turn = quarters.most_common(1)[0][0]
    width, height = page.get_size()
    if page.get_rotation() % 180 == 90:
        width, height = height, width  # get_size is as shown; the boxes are in the unturned page
    upright = _TURNS[turn]
    chars = []
    for _, text, box, font_size, space, quarter in raw:
        if quarter != turn:
            continue
        left, top, right, bottom = upright(box, width, height)
        chars.append(Char(text, left, top, right, bottom, (bottom - top) or font_size, space_before=space))
    if not usable("".join(f" {c.text}" if c.space_before else c.text for c in chars)):
        return None
    return PageText(rebuild_lines(chars), seconds=time.perf_counter() - started)


Box = tuple[float, float, float, float]


def _raw_chars(textpage: Any) -> Iterator[tuple[int, str, Box, float, bool, int]]:
    """Each character that is not a space: its index, text, loose box in PDF space (left, bottom,
    right, top), font size, whether a space came before it, and its direction in quarter turns (0-3)."""
    import pypdfium2.raw as pdfium_c

    space = False
    count = textpage.count_chars()
    codes = [pdfium_c.FPDFText_GetUnicode(textpage, index) for index in range(count)]
    held: tuple[int, str, Box, float, bool, int] | None = None  # yielded one behind: a mark widens it
    for index in range(count):
        if held is not None and _marks_a_number(codes, index):
            # the mark is drawn with the digit before it: its box is the digit's, and no gap follows
            mark = textpage.get_charbox(index, loose=True)
            at, base, box, size, spaced, turned = held
            held = (at, base, (box[0], box[1], max(box[2], mark[2]), box[3]), size, spaced, turned)
            continue
        text = _character(codes, index)
        if text is None:  # the low half of a pair, joined to the high half before it
            continue
        if text.isspace() or pdfium_c.FPDFText_IsGenerated(textpage, index) == 1:
            space = True
            continue
        # Loose boxes span the font's ascent to descent: one height for every glyph of a font (a
        # comma's tight box sits below the line), and their widths are the advances, so the gap
        # between two letters of a word is nil whatever the kerning.
        box = textpage.get_charbox(index, loose=True)
        angle = pdfium_c.FPDFText_GetCharAngle(textpage, index)
        quarter = -round(angle / (math.pi / 2)) % 4 if angle >= 0 else 0  # PDFium measures clockwise
        if held is not None:
            yield held
        held = (index, text, box, pdfium_c.FPDFText_GetFontSize(textpage, index), space, quarter)
        space = False
    if held is not None:
        yield held


def _character(codes: Sequence[int], index: int) -> str | None:
    """The character at ``index`` as valid Unicode. PDFium gives UTF-16 code units: a character
    beyond the BMP (an emoji, a CJK extension) is a high and a low surrogate in two places; the
    pair is the character at the high half's place, and None at the low half's. A lone half, or a
    code that is no character, is U+FFFD. Nothing downstream sees a surrogate. A format character
    (a zero-width space or joiner, a bidi override or isolate, a soft hyphen) shows nothing, and is
    None too: "2\u200d7.10" reads 27.10, as it looks; so is a combining mark on a digit or an
    amount's separator (``_marks_a_number``)."""
    code = codes[index]
    if 0xAD <= code < 0x10000 and unicodedata.category(chr(code)) == "Cf":
        return None
    if _marks_a_number(codes, index):
        return None
    if 0xD800 <= code < 0xDC00:
        low = codes[index + 1] if index + 1 < len(codes) else 0
        return chr(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)) if 0xDC00 <= low < 0xE000 else "\ufffd"
    if 0xDC00 <= code < 0xE000:
        return None if index and 0xD800 <= codes[index - 1] < 0xDC00 else "\ufffd"
    return chr(code) if 0 < code < 0x110000 else "\ufffd"


#: What an amount or a date is written with besides digits: a mark on one is no part of the number.
_NUMBER_SEPARATORS = frozenset(".,-/'")


def _marks_a_number(codes: Sequence[int], index: int) -> bool:
    """Whether the code at ``index`` is a combining mark (an underline, an accent, a keycap) on a
    digit or separator, past any marks before it: no mark makes a digit another one, and "2\u0332"
    shows a 2, so the rules must read it as one (they found no amount in 2\u03327.10). A mark on a
    letter is part of the letter and stays."""
    if not _is_mark(codes[index]):
        return False
    before = index - 1
    while before >= 0 and _is_mark(codes[before]):
        before -= 1
    if before < 0 or not 0 < codes[before] < 0xD800:
        return False
    base = chr(codes[before])
    return base.isdecimal() or base in _NUMBER_SEPARATORS


def _is_mark(code: int) -> bool:
    return 0x300 <= code < 0x10000 and unicodedata.category(chr(code)) in ("Mn", "Me", "Mc")


#: A box in PDF space (left, bottom, right, top; y up) as read along text turned by 0-3 quarters
#: counter-clockwise: (left, top, right, bottom) from the top left corner of the text's own page.
_TURNS: dict[int, Callable[[Box, float, float], Box]] = {
    0: lambda box, w, h: (box[0], h - box[3], box[2], h - box[1]),
    1: lambda box, w, h: (box[1], box[0], box[3], box[2]),
    2: lambda box, w, h: (w - box[2], box[1], w - box[0], box[3]),
    3: lambda box, w, h: (h - box[3], w - box[2], h - box[1], w - box[0]),
}


def xml_attachments(pdf: Any) -> list[tuple[Any, str]]:
    """The XML files ``pdf`` embeds (an open ``pypdfium2.PdfDocument``; the caller holds ``LOCK``),
    as (attachment, name), undecoded: naming them decodes nothing."""
    import pypdfium2 as pdfium

    xml = []
    for index in range(min(pdf.count_attachments(), MAX_ATTACHMENTS)):
        try:
            attachment = pdf.get_attachment(index)
            name = attachment.get_name()
        except pdfium.PdfiumError:
            continue
        if name.lower().endswith(".xml"):
            xml.append((attachment, name))
    return xml


def read_attachment(attachment: Any, name: str) -> EmbeddedFile:
    """One embedded file's bytes, or why not: it cannot be read, or is larger than
    ``MAX_ATTACHMENT_BYTES``. Whether that matters is for the tier that wanted it to say.

    PDFium decodes the whole file even to say how large it is, whatever filters its dictionary
    names: call this only where that decoding is bounded (``router.api.pdfreader``'s capped process)."""
    import ctypes

    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    size = ctypes.c_ulong()
    if not pdfium_c.FPDFAttachment_GetFile(attachment, None, 0, ctypes.byref(size)) or not size.value:
        return EmbeddedFile(name, None, "the embedded file cannot be read")
    if size.value > MAX_ATTACHMENT_BYTES:
        return EmbeddedFile(name, None, f"{size.value} bytes, over the limit of {MAX_ATTACHMENT_BYTES}")
    try:
        return EmbeddedFile(name, bytes(attachment.get_data()))
    except pdfium.PdfiumError as exc:
        return EmbeddedFile(name, None, f"the embedded file cannot be read ({exc})")


def render(page: Any, scale: float) -> Image.Image:
    """The page as an RGB image (a copy: PDFium's buffer is closed here). The caller holds ``LOCK``."""
    bitmap = page.render(scale=scale)
    try:
        return bitmap.to_pil().convert("RGB")
    finally:
        bitmap.close()


class LazyPages(Sequence[Image.Image]):
    """A PDF's pages read, rendered on first access: pages already rendered (the scanned ones, while
    loading; keyed by position) are given; the others come from ``render`` (given a page's 0-based
    index in the file) when a tier asks."""

    def __init__(self, render: Callable[[int], Image.Image], indices: Sequence[int], rendered: dict[int, Image.Image]):
        self._render = render
        self._indices = tuple(indices)
        self._count = len(self._indices)
        self._rendered = dict(rendered)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> Image.Image: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Image.Image]: ...

    def __getitem__(self, index: int | slice) -> Image.Image | Sequence[Image.Image]:
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(self._count)))
        if index < 0:
            index += self._count
        if not 0 <= index < self._count:
            raise IndexError(f"page {index} of {self._count}")
        with self._lock:
            page = self._rendered.get(index)
            if page is None:
                page = self._rendered[index] = self._render(self._indices[index])
            return page

    def __iter__(self) -> Iterator[Image.Image]:
        return (self[i] for i in range(self._count))

    def rendered(self) -> list[int]:
        """The positions of the pages rendered so far."""
        with self._lock:
            return sorted(self._rendered)
