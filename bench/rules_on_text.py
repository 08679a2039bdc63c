"""Re-apply the rules to the text an evaluation kept, in seconds instead of a full OCR run.

Usage (from the repository root)::

    PYTHONPATH=src python bench/rules_on_text.py /work/shared/docs-dev OUT [--misses FIELD] [--kind KIND]

``OUT`` is a ``docroute eval`` output folder: ``results.jsonl`` (to map each document to its sha256
and answering tier) and ``ocr-text/`` (the text each tier read). Each document answered by the
e-invoice tier keeps that answer (its XML is not in the text); every other one is read again by
``backends.fields.rules.read_text`` from its kept text. Printed: per kind, each field's normalised score
beside its ceiling, scored as ``docroute eval`` scores; how many documents the cpu policy would
fail (no total: its last tier's gate) and how many it would answer without a merchant or a date.

Not the measurement: the kept text has no line confidences, and a document the OCR tier refused
(too little text) has none. Report numbers from ``docroute eval``; use this to iterate on rules.
``--misses FIELD`` prints, for each document whose FIELD is wrong while the text holds the answer,
the label, the answer and the text's first lines, to look at before writing a rule.
"""

from __future__ import annotations

import argparse
import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

from backends.fields.rules import read_text
from router.evaluation.ceiling import answer_in_text, read_texts
from router.evaluation.dataset import load_labels
from router.evaluation.scoring import REQUIRED, normalised_match

FIELDS = ("merchant", "date", "total")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("out", type=Path, help="a docroute eval output folder (results.jsonl, ocr-text/)")
    parser.add_argument("--misses", choices=FIELDS, help="print the documents that miss this field")
    parser.add_argument("--kind", help="only documents of this kind")
    parser.add_argument("--lines", type=int, default=25, help="text lines printed per miss")
    parser.add_argument("--answers", type=Path, help="write each document's answer here (JSON), to diff two runs")
    args = parser.parse_args()
    answers: dict[str, dict[str, Any]] = {}
    records = _records(args.out / "results.jsonl")
    texts = read_texts(args.out / "ocr-text")
    table: dict[str, dict[str, list[int]]] = defaultdict(lambda: {f: [0, 0, 0] for f in FIELDS})
    failed: dict[str, int] = defaultdict(int)
    incomplete: dict[str, int] = defaultdict(int)
    for label in load_labels(args.dataset):
        kind = label.kind or "(no kind)"
        record = records.get(os.path.realpath(label.image)) or records.get(label.image.name)
        if record is None or (args.kind and kind != args.kind):
            continue
        digest = (record.get("document") or {}).get("sha256", "")
        text = texts.get(digest, "")
        answer = answers[label.id] = _answer(record, text)
        failed[kind] += answer.get("total") is None
        incomplete[kind] += answer.get("total") is not None and any(answer.get(name) is None for name in REQUIRED)
        for name in FIELDS:
            if name not in label.fields:
                continue
            right = normalised_match(name, label.fields[name], answer)
            in_text = answer_in_text(name, label.fields[name], text) if text else right
            for group in (kind, "(all)"):
                counts = table[group][name]
                counts[0] += 1
                counts[1] += right
                counts[2] += in_text
            if args.misses == name and not right and in_text:
                _print_miss(label.id, kind, label.fields[name], answer.get(name), text, args.lines)
    _print_table(table, failed, incomplete)
    if args.answers:
        args.answers.write_text(json.dumps(answers, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def _records(path: Path) -> dict[str, dict[str, Any]]:
    """Each record by its input's real path, and by its file name: the evaluation wrote the path as
    it was given, relative to where it ran, which need not be here."""
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    records = {os.path.realpath(r["input"]): r for r in lines if "input" in r}
    return {**{Path(r["input"]).name: r for r in lines if "input" in r}, **records}


def _answer(record: dict[str, Any], text: str) -> dict[str, Any]:
    if record.get("tier") == "einvoice" or not text:
        return {name: entry.get("value") for name, entry in (record.get("fields") or {}).items()}
    fields = read_text(text).fields
    return {name: getattr(fields, name) for name in FIELDS}


def _print_miss(doc: str, kind: str, label: str, answer: Any, text: str, lines: int) -> None:
    print(f"--- {doc} ({kind}): label {label!r}, answer {answer!r}")
    for line in text.splitlines()[:lines]:
        print(f"    | {line}")


def _print_table(table: dict[str, dict[str, list[int]]], failed: dict[str, int], incomplete: dict[str, int]) -> None:
    header = "| kind | documents | no total | incomplete | "
    print(header + " | ".join(f"{f} (norm. / ceiling)" for f in FIELDS) + " |")
    print("|---|---:|---:|---:|" + "---:|" * len(FIELDS))
    for group in sorted(table, key=lambda g: (g != "(all)", g)):
        counts = table[group]
        documents = max(c[0] for c in counts.values())
        gate = sum(failed.values()) if group == "(all)" else failed[group]
        partial = sum(incomplete.values()) if group == "(all)" else incomplete[group]
        cells = [f"{_pct(c[1], c[0])} / {_pct(c[2], c[0])}" for c in counts.values()]
        print(f"| {group} | {documents} | {gate} | {partial} | " + " | ".join(cells) + " |")


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


if __name__ == "__main__":
    main()
