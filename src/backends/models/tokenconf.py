"""Per-field confidence of a model tier, from the probabilities of the tokens that spell each value.

Generation records, for every new token, the probability the model gave it after every logits
processor (the repetition penalty, the answer grammar's mask: the distribution the token was chosen
from). A field's confidence is the **minimum** over the tokens that overlap its value in the raw
JSON answer (quotes excluded). Why the minimum: one doubtful digit makes a total wrong, however sure
the other digits are, so the weakest token bounds the value; the product (the joint probability)
would punish long values such as a merchant's name for their length alone, and the geometric mean
would hide the one doubtful digit among sure ones.

Uncalibrated: a model's token probability is not the probability that the value is right (greedy
decoding of a fine-tuned model is overconfident; the tiny random models of the tests are not
models at all). Calibrate it on an eval run before a threshold relies on it: run ``docroute eval``
with thresholds no tier reaches (every tier answers, and the results keep each tier's answer with
its confidence), fit an isotonic regression (or Platt scaling) from those confidences to
correctness per field on a held-out part, and apply it where the confidence is set.

Sampling breaks the record (the chosen token need not be the most probable): where a chosen token
is not the one recorded, no confidence is given (None, which the router counts as 0).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from backends.schema import ReceiptFields

#: The key generation puts each row's token record under in its metadata; taken out before the
#: metadata goes anywhere (it is bulky, though it holds no text).
TOKENS = "_token_probabilities"
_VALUE = r'"{name}"\s*:\s*(?:"(?P<text>(?:[^"\\]|\\.)*)"|(?P<number>-?[0-9][0-9.,]*))'


def value_confidences(text: str, tokens: Sequence[tuple[int, float | None]], names: Sequence[str]) -> dict[str, float]:
    """Per field of ``names`` found in ``text`` (the raw answer), the minimum probability of the
    tokens overlapping its value. ``tokens``: per token, the offset in ``text`` where it ends and
    its probability (None: not known, and then neither is any value it overlaps)."""
    found: dict[str, float] = {}
    for name in names:
        match = re.search(_VALUE.format(name=re.escape(name)), text)
        if match is None:
            continue
        group = "text" if match.group("text") is not None else "number"
        start, end = match.span(group)
        if start == end:
            continue
        probabilities = _overlapping(tokens, start, end)
        if probabilities and all(p is not None for p in probabilities):
            found[name] = round(min(p for p in probabilities if p is not None), 4)
    return found


def _overlapping(tokens: Sequence[tuple[int, float | None]], start: int, end: int) -> list[float | None]:
    begins = 0
    picked: list[float | None] = []
    for ends, probability in tokens:
        if ends > start and begins < end:
            picked.append(probability)
        begins = ends
    return picked


def with_confidences(fields: ReceiptFields, text: str, meta: dict[str, Any]) -> ReceiptFields:
    """``fields`` with the confidences their tokens give (the record taken out of ``meta``)."""
    tokens = meta.pop(TOKENS, None)
    if not tokens:
        return fields
    present = [name for name in fields.present() if name != "line_items"]
    confidence = value_confidences(text, [(int(end), p) for end, p in tokens], present)
    return fields.model_copy(update={"confidence": {**confidence, **fields.confidence}})
