"""What-if for accept thresholds, from an eval run: no document is read again.

Each result of a policy with accept thresholds keeps every tier's answer (``Result.answers``, in the
order the tiers answered, with their own confidences). Under other thresholds the cascade is
re-decided with the router's own merge (``router.core.merge``): tier by tier, the answers so far are
merged and accepted when every thresholded field reaches its threshold; a document no tier settles
goes to review. Agreement is judged on the kept values as the engine judges it (``same_value``).

Only what the run holds: a document whose run stopped at a tier (accepted there) cannot tell what
a later tier would have said, so under stricter thresholds it is ``unknown``. To explore a whole
grid, run the eval once with thresholds no tier reaches (every tier answers every document).
Faults are not re-decided here (``docroute replay`` does that from the decision log); cost is the
policy's cost of each tier tried, once per tier.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from router.core import merge
from router.evaluation.dataset import Label
from router.evaluation.scoring import normalised_match

HOW = (
    "Accepted: documents whose merged answer reached every threshold at that tier; precision: the share "
    "of them right (normalised) on every thresholded field that is labelled; unknown: a run that stopped "
    "before the tier these thresholds would need (rerun the eval with stricter thresholds to see them)."
)
GRID = (0.0, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.97, 0.99)


@dataclass
class Point:
    """The cascade at one set of thresholds."""

    thresholds: dict[str, float]
    accepted: dict[str, int] = field(default_factory=dict)  # tier -> documents accepted there
    review: int = 0
    unknown: int = 0
    failed: int = 0
    right: int = 0  # accepted documents right on every scored thresholded field
    cost: float = 0.0

    @property
    def documents(self) -> int:
        return sum(self.accepted.values()) + self.review + self.failed

    @property
    def precision(self) -> float | None:
        accepted = sum(self.accepted.values())
        return self.right / accepted if accepted else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "thresholds": self.thresholds,
            "accepted": self.accepted,
            "needs_review": self.review,
            "failed": self.failed,
            "unknown": self.unknown,
            "precision_of_accepted": self.precision,
            "cost": round(self.cost, 6),
        }


def what_if(
    pairs: Sequence[tuple[Label, dict[str, Any]]], thresholds: Mapping[str, float], costs: Mapping[str, float]
) -> Point:
    """The cascade of the recorded answers under ``thresholds`` (one set for every tier)."""
    point = Point(dict(thresholds))
    for label, record in pairs:
        _decide(point, label, record, thresholds, costs)
    return point


def frontier(
    pairs: Sequence[tuple[Label, dict[str, Any]]],
    fields: Sequence[str],
    costs: Mapping[str, float],
    grid: Sequence[float] = GRID,
) -> list[Point]:
    """``costs``: each tier's cost, in the policy's order (which is how later tiers are known)."""
    return [what_if(pairs, {name: t for name in fields}, costs) for t in grid]


def _decide(
    point: Point, label: Label, record: dict[str, Any], thresholds: Mapping[str, float], costs: Mapping[str, float]
) -> None:
    answers: dict[str, dict[str, Any]] = record.get("answers") or {}
    if not answers:
        point.failed += record.get("status") == "failed"
        point.unknown += record.get("status") != "failed"
        return
    seen: list[merge.Answer] = []
    values: dict[str, dict[str, Any]] = {}
    cost = 0.0
    for tier, fields in answers.items():
        cost += costs.get(tier, 0.0)
        seen.append(_answer(tier, fields, values))
        values[tier] = {name: fv.get("value") for name, fv in fields.items()}
        picks = merge.merge(seen)
        if not merge.doubtful(picks, thresholds):
            point.accepted[tier] = point.accepted.get(tier, 0) + 1
            point.right += _right(label, picks, values, thresholds)
            point.cost += cost
            return
    if _stopped_early(record, list(answers), list(costs)):
        point.unknown += 1
        return
    point.review += 1
    point.cost += cost


def _answer(tier: str, fields: dict[str, Any], earlier: dict[str, dict[str, Any]]) -> merge.Answer:
    confidence = {name: fv.get("confidence") for name, fv in fields.items()}
    agrees = {
        name: frozenset(t for t, theirs in earlier.items() if merge.same_value(name, theirs.get(name), fv.get("value")))
        for name, fv in fields.items()
    }
    return merge.Answer(tier, confidence, {name: tiers for name, tiers in agrees.items() if tiers})


def _stopped_early(record: dict[str, Any], answered: list[str], tiers: list[str]) -> bool:
    """Whether the run accepted an answer while tiers were left, so they never read the document."""
    if record.get("status") not in ("ok", "degraded") or answered[-1] not in tiers:
        return False
    return tiers.index(answered[-1]) < len(tiers) - 1


def _right(
    label: Label, picks: Mapping[str, merge.Pick], values: Mapping[str, Mapping[str, Any]], fields: Mapping[str, float]
) -> bool:
    scored = [name for name in fields if label.fields.get(name) is not None]
    chosen = {name: values[pick.tier].get(name) for name, pick in picks.items()}
    return all(normalised_match(name, str(label.fields[name]), chosen) for name in scored)


def frontier_table(points: Sequence[Point], cost_unit: str) -> str:
    """The frontier as a markdown table."""
    tiers = list(dict.fromkeys(t for p in points for t in p.accepted))
    head = ["threshold", *[f"accepted at {t}" for t in tiers], "review", "unknown", "precision", f"cost ({cost_unit})"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for p in points:
        threshold = ", ".join(f"{k} {v:g}" for k, v in p.thresholds.items())
        precision = "-" if p.precision is None else f"{100 * p.precision:.1f}%"
        cells = [threshold, *[str(p.accepted.get(t, 0)) for t in tiers], str(p.review), str(p.unknown)]
        rows.append("| " + " | ".join([*cells, precision, f"{p.cost:g}"]) + " |")
    return "\n".join(rows)


def write_frontier_chart(points: Sequence[Point], path: Path, cost_unit: str) -> None:
    """Precision of what is accepted, and the share sent to review, against cost."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6.5, 4.2))
    known = [p for p in points if p.precision is not None]
    axis.plot([p.cost for p in known], [100 * (p.precision or 0) for p in known], marker="o", label="precision")
    axis.plot(
        [p.cost for p in points],
        [100 * p.review / max(1, p.documents) for p in points],
        marker="s",
        label="to review",
    )
    for p in known:
        axis.annotate(f"{next(iter(p.thresholds.values()), 0):g}", (p.cost, 100 * (p.precision or 0)), fontsize=7)
    axis.set_xlabel(f"cost ({cost_unit})")
    axis.set_ylabel("% of documents")
    axis.set_title("Cost-quality frontier over accept thresholds")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
