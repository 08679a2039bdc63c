"""Per-field merge across the tiers that answered one request, and the accept thresholds.

Each tier that answered contributes, per field, its confidence (a field without one counts as 0) and
the earlier tiers whose value for that field it agrees with, after normalisation (the engine compares
values; the log records only who agreed, never what). Tiers that agree form one group; a group's
confidence is the noisy-OR of its members', ``1 - prod(1 - c)``, capped at ``AGREEMENT_CAP``: two
tiers that err independently are both wrong less often than either. Tiers are not independent (two
OCR engines misread the same faint print; the rules are the same), so the combined figure is a
prior, not a measurement: it must be checked for calibration on an eval run (``docroute eval``'s
reliability table) before a threshold is trusted on it, and the cap keeps agreement alone from ever
reaching certainty.

A field is taken from the group with the highest confidence (the earlier tier on a tie: cheaper,
and what a cascade without merge would have kept); its provenance is the member that gave the
highest confidence of its own, with the others as ``agreed_with``.

Pure functions over names and numbers, so that the decision core (``router.core.decide``) and replay
decide alike from what the log holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from backends import normalize

#: The most confidence agreement alone can give a value.
AGREEMENT_CAP = 0.99


@dataclass(frozen=True)
class Answer:
    """What one tier's answer tells the merge: per field present, its confidence (None: the backend
    gave none) and the earlier tiers whose normalised value it equals."""

    tier: str
    confidence: Mapping[str, float | None]
    agrees_with: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Pick:
    """Where a merged field comes from."""

    tier: str
    confidence: float | None  # the tier's own, raised by agreement; None: one tier, which gave none
    agreed_with: tuple[str, ...] = ()


def own(confidence: float | None) -> float:
    """A confidence for acceptance: none given counts as 0."""
    return 0.0 if confidence is None else confidence


def combine(confidences: Sequence[float | None]) -> float | None:
    """Noisy-OR of agreeing tiers' confidences (none given: 0), capped; a single tier's is returned
    as it is. The cap never lowers the best single confidence."""
    if len(confidences) == 1:
        return confidences[0]
    doubt = 1.0
    for value in confidences:
        doubt *= 1.0 - own(value)
    best = max(own(value) for value in confidences)
    return max(best, min(AGREEMENT_CAP, 1.0 - doubt))


def merge(answers: Sequence[Answer]) -> dict[str, Pick]:
    """Each field from the most trusted group of agreeing tiers; see the module's docstring."""
    picks: dict[str, Pick] = {}
    names = [name for answer in answers for name in answer.confidence]
    for name in dict.fromkeys(names):
        groups = _groups(answers, name)
        best = max(groups, key=lambda group: own(combine([c for _, c in group])))  # the first on a tie
        leader = max(best, key=lambda member: own(member[1]))
        others = tuple(tier for tier, _ in best if tier != leader[0])
        picks[name] = Pick(leader[0], combine([c for _, c in best]), others)
    return picks


def _groups(answers: Sequence[Answer], name: str) -> list[list[tuple[str, float | None]]]:
    """The answers holding ``name``, grouped by agreement, in the order the tiers answered."""
    groups: list[list[tuple[str, float | None]]] = []
    where: dict[str, int] = {}
    for answer in answers:
        if name not in answer.confidence:
            continue
        member = (answer.tier, answer.confidence[name])
        agreed = [where[t] for t in answer.agrees_with.get(name, ()) if t in where]
        if agreed:
            index = min(agreed)
            groups[index].append(member)
        else:
            index = len(groups)
            groups.append([member])
        where[answer.tier] = index
    return groups


def doubtful(picks: Mapping[str, Pick], accept: Mapping[str, float]) -> dict[str, float]:
    """The fields with a threshold that the merged answer does not reach (absent: confidence 0),
    with their confidence, in the thresholds' order."""
    found = {name: own(pick.confidence) for name, pick in picks.items()}
    return {name: found.get(name, 0.0) for name, limit in accept.items() if found.get(name, 0.0) < limit}


def same_value(name: str, left: object, right: object) -> bool:
    """Whether two tiers' values of field ``name`` agree once normalised: amounts as decimals, dates as
    ISO dates, names and addresses as ``normalize_text_for_match`` keys, anything else exactly."""
    key = _KEYS.get(name, _exact)
    a, b = key(left), key(right)
    return a is not None and a != "" and a == b


def _exact(value: object) -> object:
    return value


def _amount(value: object) -> object:
    return normalize.normalize_amount(str(value)) if value is not None else None


def _date(value: object) -> object:
    return normalize.parse_date(str(value)) if value is not None else None


def _text(value: object) -> object:
    return normalize.normalize_text_for_match(str(value)) if value is not None else None


_KEYS = {
    "total": _amount,
    "amount_due": _amount,
    "date": _date,
    "merchant": _text,
    "address": _text,
    "invoice_number": _text,
    "currency": _text,
}
