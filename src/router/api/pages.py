"""The checks every reader applies to a document's pages: their size (a decompression bomb), how
many there are, and which of a long document's pages are read. One place for the images read
here and the PDFs read in the PDF reader's helper process (``router.api.pdfreader``)."""

from __future__ import annotations

from router.failures.errors import BadInputError
from router.policy.model import InputLimits

MAX_SIDE_PX = 30_000  # no real document page is longer than this at any sane resolution


def pages_to_read(total: int, max_pages: int) -> list[int]:
    """The 0-based pages read of a document of ``total`` pages: all, or the first ``max_pages - 1``
    and the last (an invoice's total is on its last page)."""
    if total <= max_pages:
        return list(range(total))
    return [*range(max_pages - 1), total - 1] if max_pages > 1 else [0]


def check_page_count(count: int, limits: InputLimits, name: str, what: str) -> None:
    if count > limits.max_document_pages:
        raise BadInputError(name, f"{what} {count} pages, over the limit of {limits.max_document_pages}")


def check_dimensions(size: tuple[int, int], limits: InputLimits, name: str) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise BadInputError(name, f"image has no pixels ({width}x{height})")
    if width * height > limits.max_pixels:
        raise BadInputError(
            name,
            f"image is {width}x{height} ({width * height / 1e6:.0f} MP), over the limit of "
            f"{limits.max_pixels / 1e6:.0f} MP: possible decompression bomb",
        )
    if max(width, height) > MAX_SIDE_PX:
        raise BadInputError(name, f"image is {width}x{height}: a side is over {MAX_SIDE_PX} px")
