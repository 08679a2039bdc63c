"""A PDF page's own text (its text layer), rebuilt into lines, and read in place of OCR.

PDFium gives each character with its box but in content-stream order: a table's "TOTAL" and its
"56.58" are often separate text objects, far apart in that order. ``rebuild_lines`` groups the
characters into visual rows by their vertical centres and orders each row left to right, so the
rules see "TOTAL 56.58" on one line, as Tesseract would print it. Spaces come from the gaps between
boxes (and from the spaces the PDF itself holds).

``usable`` tells a born-digital page from a scanned one: too few characters, or characters that are
not text (private-use glyphs, replacement characters, control codes: a font without a Unicode map),
mean the page is rendered and OCR'd instead.

The OCR tiers read it through ``backends.ocr.reader``. This module is pure Python (no PDFium): the
layers travel with the document, also to worker processes.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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
