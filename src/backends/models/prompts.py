"""The prompts the model tiers send: one JSON object, nothing else.

Each prompt names the fields of ``backends.schema.ReceiptFields`` and the shape of their values,
and asks for JSON only (no prose, no Markdown). Values are asked for as printed: the
post-processing normalises dates, amounts and currencies, which small models get wrong.
"""

from __future__ import annotations

from typing import Any

SHAPE = (
    '{"merchant": string, "date": string, "total": string, "currency": string, "address": string, '
    '"line_items": [{"description": string, "quantity": string, "amount": string}]}'
)

INSTRUCTIONS = (
    "Extract the fields of this receipt or invoice. Answer with one JSON object of this shape and "
    f"nothing else, no explanation, no Markdown:\n{SHAPE}\n"
    "merchant is the business that issued the document; date is the document date as printed; total "
    "is the final amount due as printed; currency is its ISO 4217 code (MYR, EUR, USD...) if printed "
    "or implied; address is the merchant's address on one line. Use null for a field that is not on "
    "the document. Do not invent values."
)

SYSTEM_TEXT = "You read business documents and answer with JSON only."

#: Where the OCR text goes in the text-only prompt; the fence keeps instructions and text apart.
OCR_TEMPLATE = "{instructions}\n\nOCR text of the document, between the lines of ===:\n===\n{text}\n==="


def vision_messages() -> list[dict[str, Any]]:
    """A chat for a vision-language model: the page image, then the instructions."""
    return [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": INSTRUCTIONS}]}]


def ocr_messages(ocr_text: str) -> list[dict[str, Any]]:
    """A chat for a text-only model: the instructions around the document's OCR text."""
    return [
        {"role": "system", "content": SYSTEM_TEXT},
        {"role": "user", "content": OCR_TEMPLATE.format(instructions=INSTRUCTIONS, text=ocr_text.strip())},
    ]


#: The question for an original InternVL checkpoint's ``chat()``; it expands ``<image>`` itself.
REMOTE_CODE_QUESTION = "<image>\n" + INSTRUCTIONS
