"""The field scorer's cost: model load, and layout, candidates, features and scoring per page, on one core.

`PYTHONPATH=src python bench/fields_speed.py [--pages N]`: pages are receipts the synthetic generator
writes (their text as OCR lines, geometry included), so the numbers need no labelled set. The process
is pinned to one CPU with one thread for the maths libraries. Prints a table: the import of the
scorer, the model load, and per page the median and p95 of each stage (``total`` is one call of
``FieldScorer.confidences``, which does candidates, features and scoring), with the machine's load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # before numpy is imported
    os.environ[_name] = "1"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=200)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    load_before = os.getloadavg()
    started = time.perf_counter()
    from backends.fields.scorer import FieldScorer

    imported = time.perf_counter() - started
    started = time.perf_counter()
    scorer = FieldScorer()
    loaded = time.perf_counter() - started
    pages = list(_pages(args.pages))
    stages: dict[str, list[float]] = {name: [] for name in ("layout", "candidates", "features", "scoring", "total")}
    for lines, answers in pages:
        for name, seconds in _stages(scorer, lines, answers).items():
            stages[name].append(seconds)
    print(f"{args.pages} pages, one CPU; load average before {_load(load_before)}, after {_load(os.getloadavg())}")
    print(f"import backends.fields.scorer: {imported * 1000:.0f} ms; model load (3 fields): {loaded * 1000:.0f} ms\n")
    print("| stage (ms per page) | median | p95 |\n|---|---|---|")
    for name, seconds in stages.items():
        seconds.sort()
        print(f"| {name} | {statistics.median(seconds) * 1000:.2f} | {seconds[int(0.95 * len(seconds))] * 1000:.2f} |")


def _stages(scorer, lines, answers) -> dict[str, float]:
    """Each stage's seconds on one page, the stages run as ``FieldScorer.confidences`` runs them."""
    import numpy as np

    from backends.fields.candidates import GENERATORS
    from backends.fields.features import PageFlags, feature_matrix
    from backends.fields.layout import PageTable
    from backends.fields.verify import answer_features

    clock = time.perf_counter
    t0 = clock()
    table = PageTable.from_lines(lines)
    t1 = clock()
    cands = {field: GENERATORS[field](table) for field in answers}
    t2 = clock()
    flags = PageFlags(table)
    X = {field: feature_matrix(field, flags, cands[field]) for field in answers}
    t3 = clock()
    for field, (value, own) in answers.items():
        model = scorer.models[field]
        scores = model.ranker.predict(X[field]) if len(cands[field]) else np.zeros(0)
        row = answer_features(field, X[field], scores, [c.value for c in cands[field]], value, own)
        model.calibration(float(model.verifier.predict(np.array([row], dtype=float))[0]))
    t4 = clock()
    scorer.confidences(table, answers)
    t5 = clock()
    return {"layout": t1 - t0, "candidates": t2 - t1, "features": t3 - t2, "scoring": t4 - t3, "total": t5 - t4}


def _load(average: tuple[float, float, float]) -> str:
    return " ".join(f"{value:.2f}" for value in average) + f" (1, 5, 15 min; {os.cpu_count()} CPUs)"


def _pages(n: int):
    import random

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
        yield lines, answers


if __name__ == "__main__":
    sys.exit(main())
