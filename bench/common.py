"""Shared helpers for the benchmarks: receipt-sized pages, statistics, tables.

Top-level imports stay light: a spawned worker re-imports the benchmark's main module.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

#: The median SROIE receipt is 1.35 megapixels (150 receipts in the dev set), e.g. 1000 x 1350.
RECEIPT = (1000, 1350)


def page(size: tuple[int, int] = RECEIPT, seed: int = 0) -> Any:
    """An RGB page with some texture; ``seed`` changes one pixel (and so the document's sha256)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    for row in range(0, size[1], 24):
        draw.text((20, row), f"ITEM {row:05d} .......... {row * 7 % 1000:>4}.{row % 100:02d}", fill="black")
    image.putpixel((0, 0), (seed % 256, seed // 256 % 256, seed // 65536 % 256))
    return image


def document(image: Any, seed: int = 0) -> Any:
    from backends.documents.document import Document

    return Document(f"{seed:064x}", (image,), "image/png", f"bench-{seed}", image.width * image.height * 3)


def summary(values_ms: Sequence[float]) -> dict[str, float]:
    ordered = sorted(values_ms)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return {"median": statistics.median(ordered), "p90": p90, "min": ordered[0], "n": len(ordered)}


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[str(h) for h in header]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    for index, row in enumerate(cells):
        print(
            "  "
            + "  ".join(
                value.rjust(width) if i else value.ljust(width)
                for i, (value, width) in enumerate(zip(row, widths, strict=True))
            )
        )
        if index == 0:
            print("  " + "  ".join("-" * width for width in widths))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)
