"""RapidOCR: PP-OCR detection and recognition models on onnxruntime, as a second OCR engine.

The models ship inside the ``rapidocr`` wheel (nothing is downloaded). One engine is built per
process (and thread count), lazily, with onnxruntime's intra-op threads set by the options' ``threads``
(1 by default, like Tesseract's ``OMP_THREAD_LIMIT=1``: parallelise by documents instead) and one
inter-op thread, and its log level raised to errors so that it prints nothing per page. RapidOCR
returns text fragments with their quadrilaterals; ``rebuild_lines`` puts the fragments printed on
one row back together (``TOTAL`` and ``56.58`` are two boxes on a receipt), so that the rules,
which read lines, see ``TOTAL 56.58``.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from PIL import Image

from backends.errors import BackendUnavailable
from backends.ocr.result import OcrLine, OcrPage

INSTALL_HINT = "the rapidocr engine needs the 'rapidocr' and 'onnxruntime' packages: pip install rapidocr onnxruntime"
#: Settings of the engine: one thread per run (intra-op: the options' ``threads``), quiet (errors
#: only), the wheel's own models.
PARAMS = {
    "Global.log_level": "error",  # its warnings ("detection result is empty") would reach stderr
    "EngineConfig.onnxruntime.intra_op_num_threads": 1,
    "EngineConfig.onnxruntime.inter_op_num_threads": 1,
}
INTRA_OP = "EngineConfig.onnxruntime.intra_op_num_threads"


@dataclass(frozen=True)
class Fragment:
    """One box RapidOCR read: its text, score (0-1) and corners (top-left, top-right, ...)."""

    text: str
    score: float
    corners: tuple[tuple[float, float], ...]

    @property
    def left(self) -> float:
        return min(x for x, _ in self.corners)

    @property
    def right(self) -> float:
        return max(x for x, _ in self.corners)

    @property
    def top(self) -> float:
        return min(y for _, y in self.corners)

    @property
    def bottom(self) -> float:
        return max(y for _, y in self.corners)

    @property
    def slope(self) -> float | None:
        (x0, y0), (x1, y1) = self.corners[0], self.corners[1]
        return (y1 - y0) / (x1 - x0) if x1 - x0 > 2 * (self.bottom - self.top) else None


def available() -> bool:
    try:
        import onnxruntime  # noqa: F401
        import rapidocr  # noqa: F401
    except ImportError:
        return False
    return True


@cache
def engine(threads: int = 1) -> Any:
    """This process's RapidOCR engine for ``threads`` intra-op threads (built once: loading the
    models takes about a second)."""
    try:
        from rapidocr import RapidOCR
    except ImportError:
        raise BackendUnavailable(INSTALL_HINT) from None
    return RapidOCR(params={**PARAMS, INTRA_OP: threads})


def read_rapidocr(image: Image.Image, threads: int = 1) -> OcrPage:
    """The page as RapidOCR reads it, fragments rebuilt into lines.

    RapidOCR's direction classifier turns each upside-down fragment before reading it; when most
    fragments were upside down the page was, and the positions are turned too, so that lines come
    top to bottom. A page whose fragments stand upright (taller than wide) is read sideways:
    ``sideways`` says so, and the caller turns the page (``backends.ocr.engine``)."""
    fragments, upside_down = _fragments(image.convert("RGB") if image.mode != "RGB" else image, threads)
    if upside_down:
        fragments = [_turned(f, image.width, image.height) for f in fragments]
    lines = rebuild_lines(fragments)
    text = "\n".join(line.text for line in lines)
    words = sum(len(line.text.split()) for line in lines)
    weights = [len(f.text) for f in fragments]
    confidence = 100 * sum(f.score * w for f, w in zip(fragments, weights, strict=True)) / sum(weights or [1])
    return OcrPage(
        text=text,
        mean_confidence=confidence,
        words=words,
        chars=len(text),
        lines=tuple(lines),
        rotated=int(upside_down),
        sideways=sideways(fragments),
    )


def _fragments(image: Image.Image, threads: int) -> tuple[list[Fragment], bool]:
    """The fragments read, and whether most were upside down (from the direction classifier)."""
    ocr = engine(threads)
    original = ocr.load_img(image)
    prepared, record = ocr.preprocess_img(original)
    det, cls, rec, crops = ocr.run_ocr_steps(prepared, record)
    output = ocr.build_final_output(original, det, cls, rec, crops, record)
    boxes = getattr(output, "boxes", None)
    texts, scores = getattr(output, "txts", None) or (), getattr(output, "scores", None) or ()
    fragments = [
        Fragment(str(text), float(score), tuple((float(x), float(y)) for x, y in box))
        for box, text, score in zip(boxes if boxes is not None else [], texts, scores, strict=False)
        if str(text).strip()
    ]
    labels = [str(label) for label, _ in (getattr(cls, "cls_res", None) or [])]
    return fragments, labels.count("180") > len(labels) / 2


def _turned(fragment: Fragment, width: int, height: int) -> Fragment:
    """The fragment where it would be on the page turned half a turn."""
    corners = [(width - x, height - y) for x, y in fragment.corners]
    return Fragment(fragment.text, fragment.score, tuple(corners[2:] + corners[:2]))


def sideways(fragments: Sequence[Fragment]) -> bool:
    """Whether most fragments of several characters stand taller than wide: a page turned 90 degrees."""
    long = [f for f in fragments if len(f.text) >= 4]
    tall = sum(f.bottom - f.top > f.right - f.left for f in long)
    return bool(long) and tall > len(long) / 2


def rebuild_lines(fragments: Sequence[Fragment]) -> list[OcrLine]:
    """Fragments grouped into printed rows, left to right, rows top to bottom.

    Photos are tilted: positions are first straightened by the page's median slope, then a fragment
    joins the row whose middle lies within half a text height of its own.
    """
    if not fragments:
        return []
    slopes = [s for f in fragments if (s := f.slope) is not None]
    slope = statistics.median(slopes) if slopes else 0.0
    height = statistics.median(f.bottom - f.top for f in fragments) or 1.0

    def middle(fragment: Fragment) -> float:
        return (fragment.top + fragment.bottom) / 2 - slope * (fragment.left + fragment.right) / 2

    rows: list[list[Fragment]] = []
    for fragment in sorted(fragments, key=middle):
        row = rows[-1] if rows else None
        if row is not None and abs(middle(fragment) - statistics.fmean(map(middle, row))) <= height / 2:
            row.append(fragment)
        else:
            rows.append([fragment])
    return [_line(sorted(row, key=lambda f: f.left)) for row in rows]


def _line(row: list[Fragment]) -> OcrLine:
    left, top = min(f.left for f in row), min(f.top for f in row)
    return OcrLine(
        text=" ".join(" ".join(f.text.split()) for f in row),
        confidence=100 * statistics.fmean(f.score for f in row),
        left=int(left),
        top=int(top),
        width=int(max(f.right for f in row) - left),
        height=int(max(f.bottom for f in row) - top),
    )
