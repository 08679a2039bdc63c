"""What the tiny models are taught to answer, and the receipt images they read: no torch here, so
test modules import these at collection for free (the models themselves: tiny_models.py)."""

from __future__ import annotations

from PIL import Image, ImageDraw

#: What the taught models answer: every required field, printed the way receipts print them.
ANSWER = '{"merchant": "TINY MART", "date": "31/01/2024", "total": "RM 12.50"}'
ANSWER_FIELDS = {"merchant": "TINY MART", "date": "2024-01-31", "total": "12.50", "currency": "MYR"}
#: Valid JSON that lacks required fields: what the quality gate is for.
PARTIAL_ANSWER = '{"merchant": "TINY MART", "date": null, "total": null}'


def receipt_image(size: tuple[int, int] = (200, 300)) -> Image.Image:
    """A small synthetic receipt page."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(["TINY MART", "31/01/2024", "TOTAL RM 12.50"]):
        draw.text((10, 10 + 20 * row), line, fill="black")
    return image


def printed_receipt() -> Image.Image:
    """A receipt Tesseract reads: large, clean type."""
    from PIL import ImageFont

    image = Image.new("RGB", (640, 420), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=30)
    lines = ["TINY MART SDN BHD", "12 JALAN BESAR, 50000 KUALA LUMPUR", "Date: 31/01/2024", "1 x TEA 12.50"]
    for row, line in enumerate([*lines, "TOTAL RM 12.50", "CASH RM 20.00"]):
        draw.text((20, 20 + 60 * row), line, fill="black", font=font)
    return image
