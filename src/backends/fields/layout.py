"""A read page as a table of lines with their geometry, the one input of candidates and features.

OCR engines and the PDF text layer hand over ``OcrPage`` lines (text, confidence, box); a joined
document's lines restart at the top of each page. ``PageTable`` numbers the pages again (a line whose
top falls far above the one before starts a page) and gives each line its position relative to its
page, so that nothing downstream re-reads raw text or cares which engine read it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from backends.fields.rules.lines import clean_line
from backends.ocr.result import OcrLine

#: At most this many lines are looked at (a 10,000-line page is cut, bounded time and memory).
MAX_LINES = 2000
#: At most this many characters of one line are looked at (a 1 MB line is cut).
MAX_LINE_CHARS = 400


@dataclass(frozen=True)
class PageTable:
    """The lines of one document, columns as arrays (one entry per line, in reading order)."""

    texts: tuple[str, ...]
    confidence: np.ndarray  # 0-1
    page: np.ndarray  # 0-based page of each line
    top: np.ndarray  # 0-1 of its page's height (as far down as the page's lines reach)
    left: np.ndarray  # 0-1 of its page's width
    right: np.ndarray
    height: np.ndarray  # text height relative to the document's median line height
    text_layer: bool  # read from a PDF's text layer rather than OCR

    def __len__(self) -> int:
        return len(self.texts)

    @classmethod
    def from_lines(cls, lines: Sequence[OcrLine], *, text_layer: bool = False) -> PageTable:
        kept = [line for line in lines if line.text.strip()][:MAX_LINES]
        texts = tuple(clean_line(line.text[:MAX_LINE_CHARS]) for line in kept)
        box = np.array([[ln.left, ln.top, ln.width, ln.height] for ln in kept], dtype=float).reshape(-1, 4)
        page = _pages(box[:, 1], box[:, 3])
        top, left, right = (np.zeros(len(kept)) for _ in range(3))
        for number in np.unique(page):
            on = page == number
            bottom = max(float((box[on, 1] + box[on, 3]).max()), 1.0)
            width = max(float((box[on, 0] + box[on, 2]).max()), 1.0)
            top[on] = box[on, 1] / bottom
            left[on] = box[on, 0] / width
            right[on] = (box[on, 0] + box[on, 2]) / width
        median = float(np.median(box[:, 3])) if len(kept) else 1.0
        return cls(
            texts=texts,
            confidence=np.array([ln.confidence for ln in kept], dtype=float) / 100.0,
            page=page,
            top=top,
            left=left,
            right=right,
            height=box[:, 3] / max(median, 1.0),
            text_layer=text_layer,
        )


def _pages(tops: np.ndarray, heights: np.ndarray) -> np.ndarray:
    """Page numbers: a line whose top lies far above the previous line's starts the next page."""
    page = np.zeros(len(tops), dtype=int)
    reach = 0.0
    for i in range(1, len(tops)):
        reach = max(reach, tops[i - 1] + heights[i - 1])
        starts = tops[i] < 0.5 * reach and tops[i - 1] - tops[i] > 10 * max(heights[i - 1], 1.0)
        page[i] = page[i - 1] + int(starts)
        if starts:
            reach = 0.0
    return page
