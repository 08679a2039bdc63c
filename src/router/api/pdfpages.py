"""What the PDF reader's helper process reads from a PDF (``router.api.pdfreader`` runs this there,
under its memory cap): the page count, each page's text layer, the scanned pages rendered, and
refusals as ``BadInputError``. PDFium decodes here, and only here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from PIL import Image

from backends.documents.textlayer import PageText
from router.api.pages import check_dimensions, check_page_count, pages_to_read
from router.failures.errors import BadInputError
from router.policy.model import InputLimits

if TYPE_CHECKING:
    import pypdfium2

#: A PDF's pages as read: the pages read, the page count, text layers, pages rendered.
PdfPages = tuple[list[int], int, list[PageText | None], dict[int, Image.Image]]


@contextmanager
def read_pdf_pages(data: bytes, limits: InputLimits, name: str) -> Iterator[tuple[pypdfium2.PdfDocument, PdfPages]]:
    """The open PDF and its pages to read: their text layers and the scans rendered; refusals are
    ``BadInputError``. Runs only in the reader process (``router.api.pdfreader``): PDFium decodes here."""
    import pypdfium2 as pdfium  # only when a PDF arrives

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise BadInputError(name, _pdf_problem(str(exc), data)) from None
    try:
        try:
            pages = _pdf_pages(pdf, limits, name)
        except pdfium.PdfiumError as exc:  # a page PDFium cannot load (a page tree that loops, say)
            raise BadInputError(name, f"PDF is unreadable ({_first_line(exc)})") from None
        yield pdf, pages
    finally:
        pdf.close()


def _pdf_pages(pdf: pypdfium2.PdfDocument, limits: InputLimits, name: str) -> PdfPages:
    """The pages to read of an open PDF: their text layers, the scans rendered."""
    from backends.documents import pdf as pdf_pages

    count = real_page_count(pdf, limits.max_document_pages)
    if count == 0:
        raise BadInputError(name, "PDF has no pages")
    check_page_count(count, limits, name, "PDF has")
    scale = limits.pdf_dpi / 72
    indices = pages_to_read(count, limits.max_pages)
    layers: list[PageText | None] = []
    rendered: dict[int, Image.Image] = {}  # by position among the pages read
    for position, index in enumerate(indices):
        page = pdf[index]
        try:
            layers.append(pdf_pages.page_text(page))
            if layers[-1] is None:  # only a page that is rendered can be too large to render
                check_render_size(page, scale, limits, f"{name} page {index + 1}")
                rendered[position] = pdf_pages.render(page, scale)
        finally:
            page.close()
    return indices, count, layers, rendered


def check_render_size(page: Any, scale: float, limits: InputLimits, name: str) -> None:
    """Refuse to render a page whose image at ``scale`` would be a decompression bomb's size."""
    width, height = page.get_size()
    check_dimensions((int(width * scale), int(height * scale)), limits, name)


def real_page_count(pdf: pypdfium2.PdfDocument, limit: int) -> int:
    """How many pages the PDF has: its page tree's /Count, unless that is over ``limit`` and its last
    page cannot be loaded (a /Count of 100000 over one page); then the pages that load, found by
    bisection. A count within the limit is left as it is: a page that fails to load then says so."""
    import pypdfium2 as pdfium

    def loads(index: int) -> bool:
        try:
            pdf[index].close()
        except pdfium.PdfiumError:
            return False
        return True

    declared = len(pdf)
    if declared <= limit or loads(declared - 1):
        return declared
    low, high = 0, declared - 1  # pages below ``low`` load; ``high`` does not
    if not loads(0):
        return 0
    low = 1
    while low < high:
        middle = (low + high) // 2
        low, high = (middle + 1, high) if loads(middle) else (low, middle)
    return low


def _pdf_problem(error: str, data: bytes) -> str:
    """What PDFium's load error means for the user. PDFium refuses a PDF without pages but sets no
    error for it: its last error is then whatever an earlier load left ("Success", or a stale
    "Data format error"), so a page tree that declares no pages is told apart by its own bytes."""
    if _declares_no_pages(data):
        return "PDF has no pages (its page tree counts 0)"
    if "password" in error.lower():
        return "PDF is password-protected"
    return f"PDF is unreadable ({error})"


def _declares_no_pages(data: bytes) -> bool:
    return re.search(rb"/Count\s+0(?![0-9.])", data) is not None and re.search(rb"/Count\s+[1-9]", data) is None


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [""])[0][:200]
