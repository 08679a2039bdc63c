"""What an OCR engine read: a page's text with its lines, their boxes and confidences.

Every engine (Tesseract in ``engine``, RapidOCR in ``rapid``) and a PDF page's text layer
(``reader``) give an ``OcrPage``, so the tiers that read text never care which one read it.
"""

from __future__ import annotations

import dataclasses

#: A line read with at least this mean word confidence (0-100) counts as read.
CONFIDENT = 70.0


@dataclasses.dataclass(frozen=True)
class OcrLine:
    """One line as Tesseract laid it out: its text, mean word confidence (0-100) and box."""

    text: str
    confidence: float
    left: int
    top: int
    width: int
    height: int


@dataclasses.dataclass(frozen=True)
class OcrPage:
    """What Tesseract read: the text (lines joined by newlines) and statistics about it."""

    text: str
    mean_confidence: float
    words: int
    chars: int
    lines: tuple[OcrLine, ...] = ()
    seconds: float = 0.0
    rotated: int = 0  # pages read turned upright
    enlarged: int = 0  # pages enlarged before reading
    sideways: bool = False  # the engine saw the text run up or down the page (RapidOCR)

    @classmethod
    def join(cls, pages: list[OcrPage]) -> OcrPage:
        """Pages of one document as one: text separated by blank lines, confidence word-weighted."""
        words = sum(p.words for p in pages)
        confidence = sum(p.mean_confidence * p.words for p in pages) / words if words else 0.0
        text = "\n\n".join(p.text for p in pages if p.text)
        return cls(
            text=text,
            mean_confidence=confidence,
            words=words,
            chars=sum(p.chars for p in pages),
            lines=tuple(line for p in pages for line in p.lines),
            seconds=sum(p.seconds for p in pages),
            rotated=sum(p.rotated for p in pages),
            enlarged=sum(p.enlarged for p in pages),
        )

    @property
    def quality(self) -> float:
        """How much confidently read text: the better of two readings is higher (garbage read off a
        sideways page makes many words, but few confident ones)."""
        return sum(len(line.text) for line in self.lines if line.confidence >= CONFIDENT)
