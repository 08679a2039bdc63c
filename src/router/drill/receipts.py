"""Receipts for drills and the bad-input corpus, rendered here (no files shipped)."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw, ImageFont


def receipt(rng: random.Random, number: int = 0) -> Image.Image:
    """A small, legible receipt image."""
    lines = [
        f"SHOP NUMBER {number}",
        f"{rng.randint(1, 99)} HIGH STREET",
        f"DATE 2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        *(f"ITEM {i}   {rng.randint(1, 40)}.{rng.randint(0, 99):02d}" for i in range(rng.randint(2, 6))),
        f"TOTAL {rng.randint(10, 400)}.{rng.randint(0, 99):02d}",
    ]
    image = Image.new("RGB", (560, 60 + 40 * len(lines)), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=24)
    for row, line in enumerate(lines):
        draw.text((24, 24 + row * 40), line, fill="black", font=font)
    return image


def encode(image: Image.Image, format: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format, **options)
    return buffer.getvalue()
