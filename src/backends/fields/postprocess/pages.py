"""Multi-page documents for the vision tiers, which see one page image per generation.

A business document names its merchant, date and address at the top of page 1 and its total at the
end of the last page, so a vision tier reads page 1, then the last page, then the pages between
(``reading_order``), and stops once the core fields are found. ``merge_pages`` joins what each page
gave: every field from the earliest page that has it, except the total, which the latest page's
figure settles (an earlier one is a subtotal carried forward); line items in page order.
"""

from __future__ import annotations

from typing import Any

from backends.schema import ReceiptFields

#: Fields the latest page that has a total settles, together.
_FROM_LAST = ("total", "total_raw")


def reading_order(pages: int, limit: int) -> list[int]:
    """0-based page indices to read, at most ``limit``: first, last, then the rest in order."""
    order = [0, *([pages - 1] if pages > 1 else []), *range(1, pages - 1)]
    return order[:limit]


def merge_pages(readings: dict[int, ReceiptFields]) -> ReceiptFields:
    """One answer from per-page answers keyed by 0-based page index."""
    in_order = [readings[index] for index in sorted(readings)]
    merged: dict[str, Any] = {}
    for name in ReceiptFields.model_fields:
        if name == "line_items":
            merged[name] = [item for page in in_order for item in page.line_items]
        elif name not in _FROM_LAST:
            merged[name] = next((getattr(p, name) for p in in_order if getattr(p, name) is not None), None)
    with_total = [page for page in in_order if page.total is not None]
    if with_total:
        merged.update({name: getattr(with_total[-1], name) for name in _FROM_LAST})
    return ReceiptFields.model_validate(merged)


def combine_meta(metas: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-page metadata as one: counts and timings summed, flags or-ed, anything else the first page's."""
    combined: dict[str, Any] = {}
    for meta in metas:
        for key, value in meta.items():
            if key not in combined:
                combined[key] = value
            elif isinstance(value, bool):
                combined[key] = combined[key] or value
            elif isinstance(value, int | float) and isinstance(combined[key], int | float):
                combined[key] = round(combined[key] + value, 3) if isinstance(value, float) else combined[key] + value
    return combined
