"""Which characters of a PDF page's text layer a person can see.

A text layer can say what the page does not show: text in the colour of what lies under it, text
too small to read, text outside the page's crop box, text under an opaque image drawn after it,
text drawn in an invisible render mode. Such text is not the document (a receipt image that says
27.10 over a white "999.99"), so ``backends.documents.pdf.page_text`` reads a page that holds any as an image
(OCR sees what a person sees) instead of trusting its layer.

Colour is judged on the page as drawn (rendered small, in grey): a character is seen where its box
holds ink, pixels that stand out from the most common shade around it. White text on white has
none, white text on a dark header bar has plenty. The caller holds ``pdf.LOCK``.
"""

from __future__ import annotations

import ctypes
import math
from typing import Any

#: A character box lower than this (points; a font of about 2.5 pt) is not meant to be read.
MIN_HEIGHT_PT = 3.0
#: Least difference of shade (0-1) between a character's ink and what lies around it.
MIN_CONTRAST = 0.15
#: Scale of the render ink is judged on (72 dpi: a few milliseconds for a page).
INK_SCALE = 1.0
#: Most pixels of that render (a 20000 pt square page is drawn smaller: its small text then cannot
#: be judged, and is not held against it).
MAX_INK_PIXELS = 4_000_000
#: Characters drawn lower than this many pixels are not judged by their ink.
MIN_JUDGED_PX = 3.0
#: Render modes that draw the glyphs (3 and 7 draw nothing: invisible, clip only).
_DRAWN = (0, 1, 2, 4, 5, 6)


class PageVisibility:
    """What can be seen of one open page (a ``pypdfium2.PdfPage``) and its text page."""

    def __init__(self, page: Any, textpage: Any):
        import pypdfium2.raw as pdfium_c

        self._page = page
        self._textpage = textpage
        self._crop = page.get_cropbox()
        objects = list(page.get_objects(max_depth=1))
        self._order = {_address(obj.raw): n for n, obj in enumerate(objects)}
        self._images = [
            (n, obj.get_bounds())
            for n, obj in enumerate(objects)
            if obj.type == pdfium_c.FPDF_PAGEOBJ_IMAGE and not pdfium_c.FPDFPageObj_HasTransparency(obj.raw)
        ]
        self._drawn: Any = None

    def hidden(self, index: int, box: tuple[float, float, float, float]) -> str | None:
        """Why character ``index`` (its loose ``box``: left, bottom, right, top) cannot be seen, or None."""
        import pypdfium2.raw as pdfium_c

        obj = pdfium_c.FPDFText_GetTextObject(self._textpage, index)
        if obj and pdfium_c.FPDFTextObj_GetTextRenderMode(obj) not in _DRAWN:
            return "invisible render mode"
        if max(box[2] - box[0], box[3] - box[1]) < MIN_HEIGHT_PT:  # the larger side: text may run sideways
            return "too small to read"
        x, y = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        left, bottom, right, top = self._crop
        if not (left <= x <= right and bottom <= y <= top):
            return "outside the page's crop box"
        position = self._order.get(_address(obj)) if obj else None
        if position is not None and any(n > position and _inside(x, y, pos) for n, pos in self._images):
            return "under an image drawn over it"
        if self._ink(box) < MIN_CONTRAST:
            return "no ink: the colour of what lies under it"
        return None

    def _ink(self, box: tuple[float, float, float, float]) -> float:
        """How far the darkest or lightest pixel in ``box`` stands from the most common shade
        around it (0-1), on the page as drawn."""
        if self._drawn is None:
            self._drawn = _unturned_render(self._page)
        (image, scale), (left, _, _, top) = self._drawn, self._crop
        x0, x1 = (box[0] - left) * scale, (box[2] - left) * scale
        y0, y1 = (top - box[3]) * scale, (top - box[1]) * scale
        if y1 - y0 < MIN_JUDGED_PX:
            return 1.0  # too small at this scale to judge: not held against it
        pad = max(2.0, y1 - y0)
        inside = _region(image, x0 - 1, y0, x1 + 1, y1)  # a pixel either side: a thin glyph's stroke
        around = _region(image, x0 - pad, y0 - pad, x1 + pad, y1 + pad)
        if inside is None or around is None:
            return 1.0
        histogram = around.histogram()
        common = max(range(256), key=histogram.__getitem__)
        darkest, lightest = inside.getextrema()
        return max(common - darkest, lightest - common) / 255


def _unturned_render(page: Any) -> tuple[Any, float]:
    """The page drawn in grey as stored, without its /Rotate (in the characters' own coordinates),
    and the scale it is drawn at."""
    rotation = page.get_rotation()
    page.set_rotation(0)
    width, height = page.get_size()
    scale = min(INK_SCALE, math.sqrt(MAX_INK_PIXELS / max(1.0, width * height)))  # a poster-sized page too
    try:
        bitmap = page.render(scale=scale, grayscale=True)
        try:
            return bitmap.to_pil().convert("L"), scale
        finally:
            bitmap.close()
    finally:
        page.set_rotation(rotation)


def _region(image: Any, x0: float, y0: float, x1: float, y1: float) -> Any:
    box = (max(0, int(x0)), max(0, int(y0)), min(image.width, int(x1) + 1), min(image.height, int(y1) + 1))
    return image.crop(box) if box[2] > box[0] and box[3] > box[1] else None


def _inside(x: float, y: float, pos: tuple[float, float, float, float]) -> bool:
    left, bottom, right, top = pos
    return left <= x <= right and bottom <= y <= top


def _address(handle: Any) -> int | None:
    return ctypes.cast(handle, ctypes.c_void_p).value
