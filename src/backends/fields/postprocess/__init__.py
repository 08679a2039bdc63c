"""Model text to a validated answer: repetition cleanup, JSON extraction and repair, normalisation,
validation against the result schema. Shared by every model tier.

    raw text --collapse_lines--> --extract_json--> dict --build_fields--> ReceiptFields

``parse_answer`` raises ``InvalidOutput`` (classified ``invalid_output`` by the router) when the
text holds no usable JSON object; its messages and the metadata it returns never hold document text.

Imports ``backends.schema``, ``backends.errors`` and ``backends.normalize``; imported by ``models``.
"""

from __future__ import annotations

from typing import Any

from backends.errors import InvalidOutput
from backends.fields.postprocess.fields import build_fields, has_receipt_fields
from backends.fields.postprocess.jsonout import extract_json
from backends.fields.postprocess.repetition import collapse_lines
from backends.schema import ReceiptFields

__all__ = ["parse_answer"]


def parse_answer(text: str) -> tuple[ReceiptFields, dict[str, Any]]:
    """The fields in a model's answer, and metadata about what it took to get them."""
    cleaned, lines_removed = collapse_lines(text)
    try:
        found = extract_json(cleaned, prefer=has_receipt_fields)
        built = build_fields(found.value)
    except RecursionError:  # a looping model's "[[[[..." nested past the parsers' recursion limit
        raise InvalidOutput(f"the model output is nested too deeply to be an answer ({len(text)} characters)") from None
    meta = {
        "output_chars": len(text),
        "json_repaired": found.repaired,
        "prose_chars": found.prose_chars,
        "repetitions_removed": lines_removed + built.repetitions_removed,
        "values_dropped": built.dropped,
    }
    return built.fields, meta
