"""Receipts for drills and the bad-input corpus: synthetic ones, rendered here (no files shipped)."""

from __future__ import annotations

import io
import random

from PIL import Image

from backends.testing.synthetic import random_receipt, render_receipt


def receipt(rng: random.Random, *, degrade: bool = True) -> Image.Image:
    """A varied, realistic receipt (``backends.testing.synthetic``), the same for the same ``rng`` state."""
    return render_receipt(random_receipt(rng, degrade=degrade))


def encode(image: Image.Image, format: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format, **options)
    return buffer.getvalue()
