"""What the verifier sees of a tier's answer to one field: its candidate's features and scores.

The verifier estimates whether the answer is right. It sees the features of the candidate that spells
the answer (``features.FEATURES``), the scorer's score of it and of the best candidate, whether the
two agree, whether the answer is among the candidates at all, and the confidence the rules gave it
(their cross-checks). Shared by training and by ``scorer`` at run time, so both see the same columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from backends.fields.rules.names import clean_name

EXTRA = ("answer_score", "best_score", "agrees_with_best", "among_candidates", "answered", "rules_confidence")


def same_value(field: str, a: str, b: str) -> bool:
    """Whether two values of ``field`` are the same answer (candidates and answers share one form:
    ISO dates, two-decimal amounts; names compared on letters and digits only)."""
    return value_key(field, a) == value_key(field, b)


def value_key(field: str, value: str) -> str:
    """What ``same_value`` compares of a value."""
    if field == "merchant":
        return "".join(ch for ch in clean_name(value).upper() if ch.isalnum())
    return value


def answer_features(
    field: str, X: np.ndarray, scores: np.ndarray, values: Sequence[str], answer: str | None, own: float
) -> list[float]:
    width = X.shape[1]
    if answer is None:
        return [0.0] * width + [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    best_score = float(scores.max()) if len(scores) else 0.0
    key = value_key(field, answer)
    keys = [value_key(field, value) for value in values]  # each value's key once
    same = [j for j, other in enumerate(keys) if other == key]
    if not same:
        return [0.0] * width + [0.0, best_score, 0.0, 0.0, 1.0, own]
    mine = max(same, key=lambda j: scores[j])
    best = int(np.argmax(scores))
    agrees = float(mine == best or keys[best] == key)
    return [*X[mine], float(scores[mine]), best_score, agrees, 1.0, 1.0, own]
