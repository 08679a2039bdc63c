"""The canary: a small receipt every new worker must read before it takes traffic.

A worker passes when its process answers the canary without a process-poisoning failure (sticky
CUDA error, crash, timeout). The canary proves the process and its CUDA context work, not that the
model reads this receipt well: an answer that fails validation, an out-of-memory error or even a
backend exception still pass, because the process can serve. So fault injection does not make
canaries flaky: a canary fails only when the process really could not have served.
"""

from __future__ import annotations

import functools
import hashlib

from PIL import Image, ImageDraw, ImageFont

from backends.documents.document import Document

LINES = ("CANARY MART", "12 MAIN STREET", "DATE 2024-01-31", "TOTAL 1.00")


@functools.cache
def canary_document() -> Document:
    image = Image.new("RGB", (420, 200), "white")
    draw = ImageDraw.Draw(image)
    try:
        font: ImageFont.ImageFont | ImageFont.FreeTypeFont = ImageFont.load_default(size=26)
    except (AttributeError, OSError, TypeError):  # Pillow without FreeType: the small bitmap font
        font = ImageFont.load_default()
    for row, line in enumerate(LINES):
        draw.text((16, 12 + row * 44), line, fill="black", font=font)
    pixels = image.tobytes()
    digest = hashlib.sha256(b"docroute-canary\0" + pixels).hexdigest()
    return Document(digest, (image,), "image/png", "<canary>", len(pixels))
