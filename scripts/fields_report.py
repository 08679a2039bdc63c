"""Write docs/results/fields.md and its reliability plot from scripts/train_fields.py's JSON report.

`python scripts/fields_report.py REPORT.json [--out docs/results]`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

FIELDS = ("merchant", "date", "total")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("report")
    parser.add_argument("--out", default="docs/results")
    args = parser.parse_args()
    report = json.loads(Path(args.report).read_text())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    _plot(report, out / "fields-reliability.png")
    (out / "fields.md").write_text(_markdown(report))
    slim = {
        **report,
        "fields": {f: {k: {**v, "curve": None} for k, v in kinds.items()} for f, kinds in report["fields"].items()},
    }
    (out / "fields.json").write_text(json.dumps(slim, indent=1) + "\n")


def _markdown(report: dict[str, Any]) -> str:
    lines = [
        "# The OCR tier's field confidence, cross-validated",
        "",
        "Written by `scripts/fields_report.py` from `scripts/train_fields.py` (command and data hashes in",
        "`src/backends/fields/model/manifest.json`). Grouped "
        f"{report['folds']}-fold cross-validation over {report['documents']} labelled documents (e-invoices left",
        "out: their fields are the XML's, confidence 1.0); folds grouped by set and labelled merchant, so no",
        "merchant is in a training fold and its test fold. The OCR is the cpu policy's (text layer, else",
        "RapidOCR), the same for every column.",
        "",
        "- **in text**: share of documents whose read text holds the labelled answer (the ceiling);",
        "- **rules**: today's rules' answer, right (normalised match, as `docroute eval` scores);",
        "- **scorer**: the learned ranker's own pick (not shipped as the answer yet: below the rules here);",
        "- **ECE before / after**: expected calibration error (10 bins) of the rules' confidence as it was, and",
        "  of the shipped confidence (the verifier's probability, isotonic, cross-fitted on the other folds);",
        "- **p@50/80/100**: precision of the most confident 50/80/100 % of answers; **cov@0.9** and **p@0.9**:",
        "  share of documents answered with confidence >= 0.9 and how many of those are right; **cov@p0.97**:",
        "  the largest share whose precision is still >= 0.97.",
        "",
    ]
    for field in FIELDS:
        lines += [
            f"## {field}",
            "",
            "| kind | docs | in text | rules | scorer | ECE before | ECE after "
            "| p@50 | p@80 | p@100 | cov@0.9 | p@0.9 | cov@p0.97 |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for kind, row in report["fields"][field].items():
            cells = [
                kind,
                row["documents"],
                row["in_text"],
                row["rules"],
                row["scorer"],
                row["rules_old_ece"],
                row["ece"],
                row["precision_at_50"],
                row["precision_at_80"],
                row["precision_at_100"],
                row["coverage_at_0.9"],
                row["precision_at_0.9"],
                row["coverage_at_precision_0.97"],
            ]
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        lines.append("")
    lines += ["![reliability](fields-reliability.png)", ""]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return "-" if value is None else str(value)


def _plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(FIELDS), figsize=(12, 4), sharey=True)
    for axis, field in zip(axes, FIELDS, strict=True):
        curve = report["fields"][field]["all"]["curve"]
        bins: list[list[bool]] = [[] for _ in range(10)]
        for confidence, right in curve:
            bins[min(int(confidence * 10), 9)].append(right)
        centres = [(b + 0.5) / 10 for b in range(10) if bins[b]]
        accuracy = [sum(bins[b]) / len(bins[b]) for b in range(10) if bins[b]]
        sizes = [8 + 2 * len(bins[b]) ** 0.5 * 4 for b in range(10) if bins[b]]
        axis.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
        axis.scatter(centres, accuracy, s=sizes)
        axis.plot(centres, accuracy)
        axis.set_title(f"{field} (ECE {report['fields'][field]['all']['ece']:.3f})")
        axis.set_xlabel("confidence")
    axes[0].set_ylabel("share right")
    figure.tight_layout()
    figure.savefig(path, dpi=90)


if __name__ == "__main__":
    main()
