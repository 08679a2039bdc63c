"""``docroute eval`` what-if: the cascade re-decided at other thresholds from one run's kept answers,
checked against a real run at those thresholds; the frontier table and its chart."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from backends.testing.synthetic import random_receipt, render_receipt
from router.api.router import Router
from router.batch import BatchSettings
from router.batch.sink import read_records
from router.evaluation import evaluate, load_labels
from router.evaluation.whatif import what_if
from router.policy.model import policy_from_dict

pytestmark = pytest.mark.slow


def dataset(folder: Path, count: int) -> Path:
    rows = []
    (folder / "images").mkdir(parents=True)
    for seed in range(count):
        spec = random_receipt(random.Random(seed), locale="MY", degrade=seed % 2 == 1)
        render_receipt(spec).save(folder / "images" / f"r{seed}.png")
        rows.append({"id": f"r{seed}", "image": f"images/r{seed}.png", "company": spec.merchant,
                     "date": spec.date_raw, "total": spec.money(spec.total, mark=True)})  # fmt: skip
    (folder / "labels.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return folder


def cascade(accept: dict[str, float]) -> dict[str, Any]:
    model = {"kind": "faulty", "fields": {"merchant": "X", "date": "2024-01-31", "total": "1.00"},
             "confidence": {"merchant": 0.9, "date": 0.75, "total": 0.95}}  # fmt: skip
    return {
        "name": "cascade-test",
        "accept": accept,
        "quality_gate": {"required": ["total"]},
        "tiers": [
            {"name": "ocr", "backend": {"kind": "ocr_rules", "ocr": {"engine": "tesseract"}}, "isolation": "inline",
             "cost": 1},
            {"name": "model", "backend": model, "isolation": "inline", "cost": 10},
        ],
    }  # fmt: skip


def test_eval_predicts_a_run_at_other_thresholds_and_prints_the_frontier(tmp_path):
    data = dataset(tmp_path / "set", 4)
    strict = policy_from_dict(cascade({"total": 0.999, "date": 0.999}))
    with Router(strict) as router:
        evaluation = evaluate(router, data, tmp_path / "strict", BatchSettings(jobs=1))
    frontier = evaluation.outputs["frontier"].read_text()
    assert "| threshold |" in frontier and "accepted at ocr" in frontier
    assert evaluation.outputs["frontier_chart"].stat().st_size > 1000
    labels = {str(label.image): label for label in load_labels(data)}
    pairs = [(labels[r["input"]], r) for r in read_records(tmp_path / "strict" / "results.jsonl")]
    lax = policy_from_dict(cascade({"total": 0.9, "date": 0.7}))
    predicted = what_if(pairs, lax.accept, {t.name: t.cost for t in lax.tiers})
    with Router(lax) as router:
        evaluate(router, data, tmp_path / "lax", BatchSettings(jobs=1))
    rerun = read_records(tmp_path / "lax" / "results.jsonl")
    accepted: dict[str, int] = {}
    for record in rerun:
        if record["status"] in ("ok", "degraded"):
            accepted[record["tier"]] = accepted.get(record["tier"], 0) + 1
    assert predicted.accepted == accepted and predicted.unknown == 0
    assert predicted.review == sum(r["status"] == "needs_review" for r in rerun)
    assert predicted.cost == sum(r["cost"] for r in rerun)
