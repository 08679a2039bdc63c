"""Scoring answers against labels, field by field, strictly and after normalisation.

Strict: the label equals, character for character (outer whitespace and runs of spaces aside),
the value docroute returns or the text it read (``date_raw``, ``total_raw``).

Normalised:
- merchant, address: upper case, every run of characters other than letters and digits becomes one
  space (``SDN. BHD.`` = ``SDN BHD``; line breaks and punctuation do not count);
- date: both read as a calendar date with ``backends.normalize.normalize_date`` (day first, as
  printed on receipts outside the US) and compared as ISO dates;
- total: both read as an amount with ``backends.normalize.normalize_amount`` (``RM 9.00`` = ``9.0``).

A document that failed, or lacks the field, counts as wrong; a label without the field is not scored.
An answer accepted without a field the policy requires (``missing``, status degraded) is scored on
the fields it has; a failed document's ``partial`` answer is counted, never scored.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from backends.normalize import normalize_amount, normalize_date
from router.batch.summary import percentile
from router.evaluation.ceiling import answer_in_text, normalise_text
from router.evaluation.dataset import SCORED_FIELDS, Label

RAW_FORMS = {"date": "date_raw", "total": "total_raw"}
ALL = "(all)"
FAILED = "(failed)"  # tier names cannot hold parentheses, so these never clash with one
REQUIRED = ("merchant", "date", "total")


def strict_match(name: str, label: str, predicted: dict[str, Any]) -> bool:
    wanted = _squash(label)
    candidates = [predicted.get(name), predicted.get(RAW_FORMS.get(name, ""))]
    return any(c is not None and _squash(str(c)) == wanted for c in candidates)


def normalised_match(name: str, label: str, predicted: dict[str, Any]) -> bool:
    value = predicted.get(name)
    if value is None:
        return False
    if name == "date":
        expected = normalize_date(label)
        return expected is not None and expected == normalize_date(str(value))
    if name == "total":
        expected = normalize_amount(label)
        return expected is not None and expected == normalize_amount(str(value))
    return normalise_text(label) == normalise_text(str(value))


def _squash(text: str) -> str:
    return " ".join(text.split())


@dataclass
class FieldScore:
    scored: int = 0
    strict: int = 0
    normalised: int = 0
    in_text: int = 0  # documents whose read text contains the answer (see ``ceiling``)
    text_known: int = 0  # documents whose read text the evaluation has

    def ceiling(self) -> float | None:
        return self.in_text / self.text_known if self.text_known else None

    def rate(self, kind: str) -> float | None:
        return getattr(self, kind) / self.scored if self.scored else None


@dataclass
class Group:
    """Scores of a set of documents (all of them, or those one tier answered)."""

    documents: int = 0
    statuses: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    fields: dict[str, FieldScore] = field(default_factory=lambda: {n: FieldScore() for n in SCORED_FIELDS})
    all_required: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    incomplete: int = 0  # answers a tier's laxer gate accepted without a field the policy requires
    partial: int = 0  # failed documents whose rejected answer came back as ``partial`` (not scored)

    def add(self, label: Label, record: dict[str, Any], text: str | None = None) -> None:
        predicted = values(record)
        self.documents += 1
        self.statuses[record["status"]] += 1
        self.latencies_ms.append(float(record["duration_ms"]))
        self.incomplete += bool(record.get("missing"))
        self.partial += bool(record.get("partial"))
        required_ok = True
        for name, expected in label.fields.items():
            score = self.fields[name]
            score.scored += 1
            score.strict += strict_match(name, expected, predicted)
            matched = normalised_match(name, expected, predicted)
            score.normalised += matched
            if text is not None:
                score.text_known += 1
                score.in_text += answer_in_text(name, expected, text)
            required_ok &= matched or name not in REQUIRED
        self.all_required += required_ok

    def latency(self, q: float) -> float | None:
        return percentile(self.latencies_ms, q)


def values(record: dict[str, Any]) -> dict[str, Any]:
    """Field name to value in a batch output line."""
    return {name: entry.get("value") for name, entry in (record.get("fields") or {}).items()}


def score(pairs: list[tuple[Label, dict[str, Any]]], texts: dict[str, str] | None = None) -> dict[str, Group]:
    """Groups keyed ``(all)`` and by answering tier (``(failed)`` for documents no tier answered)."""
    groups: dict[str, Group] = defaultdict(Group)
    for label, record in pairs:
        text = _text_of(record, texts)
        groups[ALL].add(label, record, text)
        groups[record.get("tier") or FAILED].add(label, record, text)
    return dict(groups)


def score_kinds(pairs: list[tuple[Label, dict[str, Any]]], texts: dict[str, str] | None = None) -> dict[str, Group]:
    """Groups keyed by the labels' document kind (``(all)`` first); {} when no label has a kind."""
    if not any(label.kind for label, _ in pairs):
        return {}
    groups: dict[str, Group] = defaultdict(Group)
    for label, record in pairs:
        text = _text_of(record, texts)
        groups[ALL].add(label, record, text)
        groups[label.kind or "(no kind)"].add(label, record, text)
    return dict(groups)


def _text_of(record: dict[str, Any], texts: dict[str, str] | None) -> str | None:
    """The text the tiers read for this document: "" when it was read to nothing, None when the
    evaluation kept no texts."""
    if texts is None:
        return None
    digest = (record.get("document") or {}).get("sha256")
    return texts.get(digest, "") if digest else ""
