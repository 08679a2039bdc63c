"""Which characters of a PDF page's text layer a person can see.

A text layer can say what the page does not show: text in the colour of what lies under it, text
too small to read (however it was made small: font size, text matrix, CTM), squeezed to a smear
(horizontal scaling), outside the page's crop box, under an opaque image drawn after it (on the
page or inside a form XObject), drawn in an invisible render mode, or blended into what lies
under it (a blend mode: black text under /Lighten leaves white paper white in a viewer that
honours it, and PDFium draws it as plain ink, so its render cannot say). Such text is not the document
(a receipt image that says 27.10 over a white "999.99"), so ``backends.documents.pdf.page_text``
leaves it out, and reads a page that holds some and draws images from its image (OCR sees what a
person sees) instead of trusting its layer.

Colour is judged on the page as drawn (rendered small, in grey): a character is seen where its box
holds ink, pixels that stand out from the most common shade around it. White text on white has
none, white text on a dark header bar has plenty. The caller holds ``pdf.LOCK``.
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Iterator
from typing import Any

import numpy as np

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
#: A glyph drawn narrower than this share of its height's scale (horizontal scaling, a text matrix
#: or a CTM squeezing it: Tz 20) is a smear, not a character; condensed fonts are Tz 50 and wider.
MIN_ASPECT = 0.2
#: Deepest form XObject nesting walked for images drawn over text (PDFium's own limit is deeper).
MAX_FORM_DEPTH = 16
#: Most page objects walked; a page with more is not judged character by character (no receipt
#: has that many), and is read from its image.
MAX_OBJECTS = 50_000
#: Render modes that draw the glyphs (3 and 7 draw nothing: invisible, clip only).
_DRAWN = (0, 1, 2, 4, 5, 6)
#: An affine matrix (a, b, c, d, e, f), as PDF writes it: x' = a x + c y + e, y' = b x + d y + f.
Matrix = tuple[float, float, float, float, float, float]
_IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


class PageVisibility:
    """What can be seen of one open page (a ``pypdfium2.PdfPage``) and its text page."""

    def __init__(self, page: Any, textpage: Any):
        import pypdfium2.raw as pdfium_c

        self._page = page
        self._textpage = textpage
        self._crop = page.get_cropbox()
        self._order: dict[int | None, int] = {}  # text objects, by address: their place in drawing order
        self._blended: set[int | None] = set()  # text objects, by address, drawn with a blend mode
        images: list[tuple[int, float, float, float, float]] = []  # opaque images: place, bounds on the page
        self.overloaded = False  # more objects than are judged
        pictures: list[tuple[float, float, float, float]] = []  # every image's bounds on the page
        for n, (obj, kind, to_page) in enumerate(_walk(page.raw)):
            if n >= MAX_OBJECTS:
                self.overloaded = True
                break
            if kind == pdfium_c.FPDF_PAGEOBJ_TEXT:
                self._order[_address(obj)] = n
                if _blended(obj):  # a blend mode set around a form reaches the text inside in its own state
                    self._blended.add(_address(obj))
            if kind == pdfium_c.FPDF_PAGEOBJ_IMAGE:
                drawn = _bounds(obj, to_page)
                if drawn is not None:
                    pictures.append(drawn)
            if kind == pdfium_c.FPDF_PAGEOBJ_IMAGE and not pdfium_c.FPDFPageObj_HasTransparency(obj):
                bounds = _bounds(obj, to_page)
                if bounds is not None:
                    images.append((n, *bounds))
        self._images = np.array(images, dtype=float).reshape(-1, 5)
        self._pictures = np.array(pictures, dtype=float).reshape(-1, 4)
        self._drawn: Any = None

    def hidden(self, index: int, box: tuple[float, float, float, float]) -> str | None:
        """Why character ``index`` (its loose ``box``: left, bottom, right, top) cannot be seen, or None."""
        import pypdfium2.raw as pdfium_c

        obj = pdfium_c.FPDFText_GetTextObject(self._textpage, index)
        if obj and pdfium_c.FPDFTextObj_GetTextRenderMode(obj) not in _DRAWN:
            return "invisible render mode"
        if max(box[2] - box[0], box[3] - box[1]) < MIN_HEIGHT_PT:  # the larger side: text may run sideways
            return "too small to read"
        height, aspect = _glyph_shape(self._textpage, index)
        if height < MIN_HEIGHT_PT:  # flattened by its text matrix or the CTM: a hairline
            return "too small to read"
        if aspect < MIN_ASPECT:
            return "squeezed too narrow to read"
        x, y = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        left, bottom, right, top = self._crop
        if not (left <= x <= right and bottom <= y <= top):
            return "outside the page's crop box"
        if obj and _address(obj) in self._blended:
            return "blended into what lies under it"
        position = self._order.get(_address(obj)) if obj else None
        if position is not None and self._covered(position, x, y):
            return "under an image drawn over it"
        if self._ink(box) < MIN_CONTRAST:
            return "no ink: the colour of what lies under it"
        return None

    def over_image(self, box: tuple[float, float, float, float]) -> bool:
        """Whether the middle of ``box`` lies on an image: hidden text there may stand for what the
        picture shows (a scanner app's invisible OCR layer over its scan), and only the picture tells."""
        if not len(self._pictures):
            return False
        x, y = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        left, bottom, right, top = self._pictures.T
        return bool(np.any((left <= x) & (x <= right) & (bottom <= y) & (y <= top)))

    def _covered(self, position: int, x: float, y: float) -> bool:
        """Whether an opaque image drawn after the text object at ``position`` covers (x, y)."""
        if not len(self._images):
            return False
        n, left, bottom, right, top = self._images.T
        return bool(np.any((n > position) & (left <= x) & (x <= right) & (bottom <= y) & (y <= top)))

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
        common = int(np.bincount(around.ravel(), minlength=256).argmax())
        darkest, lightest = int(inside.min()), int(inside.max())
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
            return np.array(bitmap.to_pil().convert("L")), scale
        finally:
            bitmap.close()
    finally:
        page.set_rotation(rotation)


def _region(image: Any, x0: float, y0: float, x1: float, y1: float) -> Any:
    """The pixels of ``image`` (a grey numpy array) in a box, or None when none of it is on the page."""
    height, width = image.shape
    left, top, right, bottom = max(0, int(x0)), max(0, int(y0)), min(width, int(x1) + 1), min(height, int(y1) + 1)
    return image[top:bottom, left:right] if right > left and bottom > top else None


def _glyph_shape(textpage: Any, index: int) -> tuple[float, float]:
    """Character ``index``'s glyph height on the page (points, across its baseline: the font size
    scaled by its text matrix and the CTM) and its width's scale against its height's (1 for
    upright text, 0.5 for a condensed Tz 50); (inf, inf) when PDFium cannot say."""
    import pypdfium2.raw as pdfium_c

    matrix = pdfium_c.FS_MATRIX()
    if not pdfium_c.FPDFText_GetMatrix(textpage, index, matrix):
        return math.inf, math.inf
    along = math.hypot(matrix.a, matrix.b)  # the baseline's scale
    area = abs(matrix.a * matrix.d - matrix.b * matrix.c)
    if along == 0 or area == 0:
        return 0.0, 0.0
    height = area / along  # the scale across the baseline
    return pdfium_c.FPDFText_GetFontSize(textpage, index) * height, along / height


def _walk(parent: Any, to_page: Matrix = _IDENTITY, depth: int = 0) -> Iterator[tuple[Any, int, Matrix]]:
    """Every object of a page (or form object), in the order drawn, forms' objects where the form
    is drawn: (handle, type, the matrix from the space its bounds are given in to the page's)."""
    import pypdfium2.raw as pdfium_c

    count, get = (
        (pdfium_c.FPDFFormObj_CountObjects, pdfium_c.FPDFFormObj_GetObject)
        if depth
        else (pdfium_c.FPDFPage_CountObjects, pdfium_c.FPDFPage_GetObject)
    )
    for n in range(max(0, count(parent))):
        obj = get(parent, n)
        if not obj:
            continue
        kind = pdfium_c.FPDFPageObj_GetType(obj)
        yield obj, kind, to_page
        if kind == pdfium_c.FPDF_PAGEOBJ_FORM and depth < MAX_FORM_DEPTH:
            # a form's objects are given in its own space; the form object's matrix takes them to its parent's
            yield from _walk(obj, _times(_matrix(obj), to_page), depth + 1)


def _blended(obj: Any) -> bool:
    """Whether text object ``obj`` is drawn with a blend mode (or a soft mask). PDFium has no getter
    for the blend mode: a text object it calls transparent whose fill is fully opaque owes it to one
    of those (partial alpha shows in the render, and the ink check judges it). Only text is asked:
    a form's own transparency may be no more than its group (/Group /S /Transparency, common)."""
    import pypdfium2.raw as pdfium_c

    if not pdfium_c.FPDFPageObj_HasTransparency(obj):
        return False
    r, g, b, a = (ctypes.c_uint() for _ in range(4))
    if not pdfium_c.FPDFPageObj_GetFillColor(obj, r, g, b, a):
        return True
    return a.value == 255


def _matrix(obj: Any) -> Matrix:
    import pypdfium2.raw as pdfium_c

    matrix = pdfium_c.FS_MATRIX()
    if not pdfium_c.FPDFPageObj_GetMatrix(obj, matrix):
        return _IDENTITY
    return (matrix.a, matrix.b, matrix.c, matrix.d, matrix.e, matrix.f)


def _times(first: Matrix, then: Matrix) -> Matrix:
    """The matrix that applies ``first``, then ``then``."""
    a, b, c, d, e, f = first
    a2, b2, c2, d2, e2, f2 = then
    return (
        a * a2 + b * c2,
        a * b2 + b * d2,
        c * a2 + d * c2,
        c * b2 + d * d2,
        e * a2 + f * c2 + e2,
        e * b2 + f * d2 + f2,
    )


def _bounds(obj: Any, to_page: Matrix) -> tuple[float, float, float, float] | None:
    """An object's bounds on the page (left, bottom, right, top), or None when PDFium has none."""
    import pypdfium2.raw as pdfium_c

    left, bottom, right, top = (ctypes.c_float() for _ in range(4))
    if not pdfium_c.FPDFPageObj_GetBounds(obj, left, bottom, right, top):
        return None
    a, b, c, d, e, f = to_page
    xs, ys = [], []
    for x, y in (
        (left.value, bottom.value),
        (left.value, top.value),
        (right.value, bottom.value),
        (right.value, top.value),
    ):
        xs.append(a * x + c * y + e)
        ys.append(b * x + d * y + f)
    return min(xs), min(ys), max(xs), max(ys)


def _address(handle: Any) -> int | None:
    return ctypes.cast(handle, ctypes.c_void_p).value
