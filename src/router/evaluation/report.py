"""The evaluation's outputs: ``report.md`` for people, ``scores.json`` for tools, ``accuracy.png``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from router.evaluation import scoring
from router.evaluation.dataset import SCORED_FIELDS
from router.evaluation.scoring import ALL, REQUIRED, Group

PERCENTILES = (50, 95, 99)


def scores_dict(groups: dict[str, Group]) -> dict[str, Any]:
    """Per group: counts, statuses and each field's rates (with its ceiling when texts were kept)."""
    return {
        name: {
            "documents": group.documents,
            "statuses": dict(group.statuses),
            "all_required_correct": _rate(group.all_required, group.documents),
            "incomplete": group.incomplete,
            "failed_with_partial": group.partial,
            "fields": {field: _field_scores(s) for field, s in group.fields.items() if s.scored},
            "latency_ms": {f"p{q}": _round(group.latency(q)) for q in PERCENTILES},
        }
        for name, group in groups.items()
    }


def _field_scores(s: scoring.FieldScore) -> dict[str, Any]:
    found: dict[str, Any] = {"scored": s.scored, "strict": s.rate("strict"), "normalised": s.rate("normalised")}
    return found | ({"ceiling": s.ceiling()} if s.text_known else {})


def kind_table(kinds: dict[str, Group]) -> str:
    """Normalised accuracy per document kind, each field beside its ceiling (the share of documents
    whose read text contains the answer)."""
    header = "| kind | documents | " + " | ".join(f"{f} (norm. / ceiling)" for f in REQUIRED) + " |"
    rows = [header, "|---|---:|" + "---:|" * len(REQUIRED)]
    for name, group in kinds.items():
        cells = [f"{_pct(group.fields[f].rate('normalised'))} / {_pct(group.fields[f].ceiling())}" for f in REQUIRED]
        rows.append(f"| {name} | {group.documents} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def markdown(
    groups: dict[str, Group], context: dict[str, Any], chart: str | None, kinds: dict[str, Group] | None = None
) -> str:
    overall = groups[ALL]
    lines = [
        f"# docroute evaluation: {context['dataset']}",
        "",
        f"- policy: `{context['policy']}` [{context['policy_hash']}]",
        f"- documents: {overall.documents}; " + ", ".join(f"{k} {v}" for k, v in sorted(overall.statuses.items())),
        f"- merchant, date and total all correct (normalised): {_pct(_rate(overall.all_required, overall.documents))}",
        f"- answered without a field the policy requires (degraded, `missing` named): {overall.incomplete}; "
        f"failed with a `partial` answer (not scored): {overall.partial}",
        f"- wall time {context['elapsed_s']:.1f} s with {context['jobs']} at a time; generated {context['when']}",
        "",
        "## Accuracy by field",
        "",
        "| field | scored | strict | normalised |",
        "|---|---:|---:|---:|",
    ]
    for name in SCORED_FIELDS:
        s = overall.fields[name]
        if s.scored:
            lines.append(f"| {name} | {s.scored} | {_pct(s.rate('strict'))} | {_pct(s.rate('normalised'))} |")
    if kinds:
        lines += [
            "",
            "## By document kind (normalised; ceiling: the answer is in the text read)",
            "",
            kind_table(kinds),
        ]
    lines += ["", "## By answering tier", "", _tier_table(groups), "", "## Latency (whole request)", ""]
    lines += ["| tier | documents | p50 | p95 | p99 |", "|---|---:|---:|---:|---:|"]
    for name, group in groups.items():
        cells = " | ".join(_ms(group.latency(q)) for q in PERCENTILES)
        lines.append(f"| {name} | {group.documents} | {cells} |")
    if chart:
        lines += ["", f"![accuracy and latency]({chart})"]
    lines += ["", "## How fields are compared", "", *_doc_lines(scoring.__doc__ or ""), ""]
    return "\n".join(lines)


def _tier_table(groups: dict[str, Group]) -> str:
    header = "| tier | documents | " + " | ".join(f"{f} (strict / norm.)" for f in SCORED_FIELDS) + " |"
    rows = [header, "|---|---:|" + "---:|" * len(SCORED_FIELDS)]
    for name, group in groups.items():
        if name == ALL:
            continue
        cells = [f"{_pct(s.rate('strict'))} / {_pct(s.rate('normalised'))}" for s in group.fields.values()]
        rows.append(f"| {name} | {group.documents} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _doc_lines(doc: str) -> list[str]:
    """The scoring module's docstring, minus its first line: the conventions, stated once."""
    return "\n".join(doc.strip().splitlines()[1:]).strip().splitlines()


def write_chart(groups: dict[str, Group], path: Path) -> None:
    """Strict and normalised accuracy per field; latency distribution per answering tier."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    overall = groups[ALL]
    names = [n for n in SCORED_FIELDS if overall.fields[n].scored]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    positions = range(len(names))
    for offset, kind in ((-0.2, "strict"), (0.2, "normalised")):
        heights = [100 * (overall.fields[n].rate(kind) or 0) for n in names]
        bars = left.bar([p + offset for p in positions], heights, width=0.4, label=kind)
        left.bar_label(bars, fmt="%.0f", fontsize=8)
    left.set_xticks(list(positions), names)
    left.set_ylim(0, 105)
    left.set_ylabel("% of documents")
    left.set_title(f"Accuracy ({overall.documents} documents)")
    left.legend()
    tiers = [(n, g) for n, g in groups.items() if n != ALL and g.latencies_ms]
    right.boxplot([[ms / 1000 for ms in g.latencies_ms] for _, g in tiers], showfliers=True)
    right.set_xticks(range(1, len(tiers) + 1), [f"{n}\n({g.documents})" for n, g in tiers])
    right.set_ylabel("seconds")
    right.set_title("Latency by answering tier")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_outputs(
    groups: dict[str, Group], context: dict[str, Any], out: Path, kinds: dict[str, Group] | None = None
) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {"report": out / "report.md", "chart": out / "accuracy.png", "scores": out / "scores.json"}
    write_chart(groups, paths["chart"])
    paths["report"].write_text(markdown(groups, context, paths["chart"].name, kinds), encoding="utf-8")
    data = {"context": context, "groups": scores_dict(groups)} | ({"kinds": scores_dict(kinds)} if kinds else {})
    paths["scores"].write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return paths


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{100 * rate:.1f}%"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
