"""The field scorer's cost: model load, and candidates + features + scoring per page, on one core.

`PYTHONPATH=src python bench/fields_speed.py [--pages N]`: pages are receipts the synthetic generator
writes (their text as OCR lines, geometry included), so the numbers need no labelled set. Prints a
table: the import of the scorer, the model load, and per page the median and p95 of the scoring.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=200)
    args = parser.parse_args()
    started = time.perf_counter()
    from backends.fields.scorer import FieldScorer

    imported = time.perf_counter() - started
    started = time.perf_counter()
    scorer = FieldScorer()
    loaded = time.perf_counter() - started
    pages = list(_pages(args.pages))
    seconds = []
    for table, answers in pages:
        started = time.perf_counter()
        scorer.confidences(table, answers)
        seconds.append(time.perf_counter() - started)
    seconds.sort()
    lines = statistics.median(len(t) for t, _ in pages)
    rows = [
        ("import backends.fields.scorer", f"{imported * 1000:.0f} ms"),
        ("model load (3 fields)", f"{loaded * 1000:.0f} ms"),
        (f"per page, p50 ({lines:.0f} lines)", f"{statistics.median(seconds) * 1000:.1f} ms"),
        ("per page, p95", f"{seconds[int(0.95 * len(seconds))] * 1000:.1f} ms"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"| {'what':<{width}} | time |\n|{'-' * (width + 2)}|------|")
    for what, value in rows:
        print(f"| {what:<{width}} | {value} |")


def _pages(n: int):
    import random

    from backends.fields.layout import PageTable
    from backends.fields.rules import read_receipt
    from backends.ocr.result import OcrLine
    from backends.testing.synthetic import _rows, random_receipt

    rng = random.Random(0)
    for _ in range(n):
        texts = [f"{left} {right or ''}".strip() for left, right, _ in _rows(random_receipt(rng))]  # as printed
        lines = [OcrLine(t, 95.0, 20, 30 * i, 12 * len(t), 24) for i, t in enumerate(texts)]
        fields = read_receipt(texts).fields
        answers = {
            name: (value, fields.confidence.get(name, 0.0))
            for name in ("merchant", "date", "total")
            if (value := getattr(fields, name))
        }
        yield PageTable.from_lines(lines), answers


if __name__ == "__main__":
    sys.exit(main())
