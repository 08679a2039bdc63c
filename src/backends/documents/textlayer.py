"""A PDF page's own text (its text layer), rebuilt into lines, and read in place of OCR.

PDFium gives each character with its box but in content-stream order: a table's "TOTAL" and its
"56.58" are often separate text objects, far apart in that order. ``rebuild_lines`` groups the
characters into visual rows by their vertical centres and orders each row left to right, so the
rules see "TOTAL 56.58" on one line, as Tesseract would print it. Spaces come from the gaps between
boxes (and from the spaces the PDF itself holds).

``usable`` tells a born-digital page from a scanned one: too few characters, or characters that are
not text (private-use glyphs, replacement characters, control codes: a font without a Unicode map),
mean the page is rendered and OCR'd instead.

``read_document`` is the OCR tiers' hook: pages with a usable text layer come from it, the others
from the tier's OCR, each page in its place. This module is pure Python (no PDFium): the layers
travel with the document, also to worker processes.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backends.documents.document import Document
    from backends.ocr.engine import OcrPage
    from backends.options import OcrOptions

#: Fewer readable characters than this on a page: read it as an image (a scan, a logo-only page).
MIN_CHARS = 40
#: Share of a page's characters that must be real text (not private-use, control or unmapped).
MIN_TEXT_SHARE = 0.9
#: Share of a page's tokens that must be mostly letters and digits (not symbol salad).
MIN_WORDLIKE_SHARE = 0.5
#: A gap wider than this share of the line height between two boxes is a space.
SPACE_GAP_EM = 0.12
#: Two characters belong to one row when their vertical centres differ by less than this share of
#: the line height.
ROW_TOLERANCE_EM = 0.35


@dataclass(frozen=True)
class Char:
    """One character of a page: its text and box in points, with the origin at the page's top left."""

    text: str
    left: float
    top: float
    right: float
    bottom: float
    size: float  # the line height of its font in points (about 1.15 times the font size)
    space_before: bool = False  # the PDF holds a space between this and the previous character


@dataclass(frozen=True)
class TextLine:
    """One rebuilt line: its text and box in points (top left origin)."""

    text: str
    left: float
    top: float
    width: float
    height: float


@dataclass(frozen=True)
class PageText:
    """A page's usable text layer, as lines in reading order."""

    lines: tuple[TextLine, ...]
    seconds: float = 0.0

    def to_wire(self) -> dict[str, Any]:
        return {"lines": [[ln.text, ln.left, ln.top, ln.width, ln.height] for ln in self.lines], "s": self.seconds}

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> PageText:
        return cls(tuple(TextLine(*row) for row in data["lines"]), data["s"])


def usable(text: str) -> bool:
    """Whether a page's raw text is a text layer worth reading (not empty, not glyph garbage)."""
    visible = "".join(text.split())
    if len(visible) < MIN_CHARS:
        return False
    real = sum(1 for ch in visible if _is_text(ch))
    if real < MIN_TEXT_SHARE * len(visible):
        return False
    tokens = text.split()
    wordlike = sum(1 for token in tokens if 2 * sum(ch.isalnum() for ch in token) >= len(token))
    return wordlike >= MIN_WORDLIKE_SHARE * len(tokens)


def _is_text(ch: str) -> bool:
    return ch != "\ufffd" and unicodedata.category(ch) not in ("Co", "Cc", "Cn", "Cs")


def rebuild_lines(chars: Sequence[Char]) -> tuple[TextLine, ...]:
    """The characters as visual lines: rows top to bottom, each row's characters left to right."""
    rows: list[list[Char]] = []
    for char in sorted(chars, key=_centre):
        if rows and abs(_centre(char) - _centre(rows[-1][0])) < ROW_TOLERANCE_EM * max(char.size, 1.0):
            rows[-1].append(char)
        else:
            rows.append([char])
    return tuple(line for row in rows if (line := _line(sorted(row, key=lambda c: c.left))) is not None)


def _centre(char: Char) -> float:
    return (char.top + char.bottom) / 2


def _line(row: list[Char]) -> TextLine | None:
    parts: list[str] = []
    previous: Char | None = None
    for char in row:
        if previous is not None and (char.space_before or char.left - previous.right > SPACE_GAP_EM * char.size):
            parts.append(" ")
        parts.append(char.text)
        previous = char
    text = " ".join("".join(parts).split())
    if not text:
        return None
    left, top = min(c.left for c in row), min(c.top for c in row)
    return TextLine(text, left, top, max(c.right for c in row) - left, max(c.bottom for c in row) - top)


OcrFunction = Callable[["Document", "OcrOptions"], "OcrPage"]


def read_document(document: Document, options: OcrOptions, ocr: OcrFunction) -> tuple[OcrPage, list[str]]:
    """The document's text: text-layer pages as they are, the others through ``ocr`` (one page each).

    Returns the joined page (the length check applies to the whole, as in ``ocr_document``) and
    how each page was read, ``"text_layer"`` or ``"ocr"``. A document without text layers goes to
    ``ocr`` whole, exactly as before.
    """
    from backends.errors import InvalidOutput
    from backends.ocr.engine import OcrPage, check_length, keep_text

    layers = document.text_layer
    if not any(layers):
        return ocr(document, options), ["ocr"] * len(document.pages)
    pages: list[OcrPage] = []
    sources: list[str] = []
    for index, layer in enumerate(layers):
        if layer is not None:
            pages.append(_as_ocr_page(layer))
            keep_text(document, pages[-1].text)  # for an evaluation's ceiling, as OCR text is kept
            sources.append("text_layer")
            continue
        sources.append("ocr")
        try:
            pages.append(ocr(document.page_document(index), options))
        except InvalidOutput:  # a blank scanned page among text pages: the whole is checked below
            continue
    page = OcrPage.join(pages)
    check_length(page, options)
    return page, sources


def layer_text(document: Document) -> str:
    """The text of the document's text layers, pages apart by a blank line."""
    return "\n\n".join("\n".join(line.text for line in layer.lines) for layer in document.text_layer if layer)


def _as_ocr_page(layer: PageText) -> OcrPage:
    from backends.ocr.engine import OcrLine, OcrPage

    started = time.perf_counter()
    lines = tuple(
        OcrLine(ln.text, 100.0, round(ln.left), round(ln.top), round(ln.width), round(ln.height)) for ln in layer.lines
    )
    text = "\n".join(line.text for line in lines)
    words = sum(len(line.text.split()) for line in lines)
    seconds = layer.seconds + time.perf_counter() - started
    return OcrPage(text=text, mean_confidence=100.0, words=words, chars=len(text), lines=lines, seconds=seconds)
