"""Receipt lines as the rules see them: text repaired for common OCR confusions, with confidence."""

from __future__ import annotations

import re
from dataclasses import dataclass

#: OCR confusions inside amounts: "RMO.00" -> "RM0.00", "o.50" -> "0.50", "12. 50" -> "12.50".
_REPAIRS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?<![A-Za-z])[oO](?=[.,]\d\d(?!\d))"), "0"),
    (re.compile(r"(?<=RM)[oO](?=[.,]\d)"), "0"),
    (re.compile(r"(?<=\d[.,])[oO](?=\d)|(?<=\d[.,]\d)[oO](?!\w)"), "0"),
    (re.compile(r"(?<=\d)([.,]) (?=\d\d(?![\d:]))"), r"\1"),
    (re.compile(r"(?<=\d) ([.,])(?=\d\d(?![\d:]))"), r"\1"),
    # a time printed against the next word: "06/02 2:44pTOTAL: 39.18"
    (re.compile(r"(?<=\d:\d\d[apAP])(?=[A-Z]{2})"), " "),
)


@dataclass(frozen=True)
class Line:
    """One receipt line: its position in the receipt, repaired text and OCR confidence (0-100)."""

    index: int
    text: str
    confidence: float = 100.0


def clean_line(text: str) -> str:
    """The line with OCR confusions in amounts repaired and runs of spaces collapsed."""
    text = " ".join(text.split())
    for pattern, replacement in _REPAIRS:
        text = pattern.sub(replacement, text)
    return text


def make_lines(texts: list[str], confidences: list[float] | None = None) -> list[Line]:
    """Lines from OCR output, blank ones dropped (indices keep the original order)."""
    confidences = confidences if confidences is not None else [100.0] * len(texts)
    return [
        Line(index, clean_line(text), confidence)
        for index, (text, confidence) in enumerate(zip(texts, confidences, strict=True))
        if text.strip()
    ]
