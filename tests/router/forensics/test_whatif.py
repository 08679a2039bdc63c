"""What-if for thresholds: replay of a recorded cascade under other accept thresholds predicts exactly
what a rerun under those thresholds does. Real OCR (Tesseract + rules on rendered receipts) as the cheap
tier, the fault-injecting backend with set confidences as the dear one."""

from __future__ import annotations

import io
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from backends.testing.synthetic import random_receipt, render_receipt
from router.api.router import Router
from router.forensics.reader import read_logs
from router.forensics.replay import replay
from router.observe import events as schema
from router.observe import logs
from router.policy.model import policy_from_dict
from tests.router.surfaces_kit import env

pytestmark = pytest.mark.slow

MODEL = {"merchant": "MODEL STORE", "date": "2024-01-31", "total": "12.50"}


def receipts(count: int) -> list[bytes]:
    pages = []
    for seed in range(count):
        buffer = io.BytesIO()
        render_receipt(random_receipt(random.Random(seed), locale="MY", degrade=seed % 2 == 1)).save(buffer, "PNG")
        pages.append(buffer.getvalue())
    return pages


def cascade(name: str, accept: dict[str, float]) -> dict[str, Any]:
    ocr = {"kind": "ocr_rules", "ocr": {"engine": "tesseract"}}
    model = {
        "kind": "faulty",
        "cuda": "off",
        "fields": MODEL,
        "confidence": {"merchant": 0.9, "date": 0.75, "total": 0.95},
    }
    return {
        "name": name,
        "accept": accept,
        "cost_unit": "units",
        "quality_gate": {"required": ["total"]},
        "tiers": [
            {"name": "ocr", "backend": ocr, "isolation": "inline", "cost": 1},
            {"name": "model", "backend": model, "isolation": "inline", "cost": 10},
        ],
    }


def run(policy: dict[str, Any], documents: list[bytes], log: Path) -> list[Any]:
    router = Router(policy_from_dict(policy), log_json=log, log_stderr=False)
    try:
        return [router.extract(d, request_id=f"{policy['name']}-{i}") for i, d in enumerate(documents)]
    finally:
        router.close()
        logs.configure(stderr=False)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> tuple[Path, list[bytes]]:
    """Thresholds no tier reaches: every tier answers every document, and the log holds all of it."""
    documents = receipts(4)
    log = tmp_path_factory.mktemp("cascade") / "strict.jsonl"
    results = run(cascade("strict", {"total": 0.999, "date": 0.999}), documents, log)
    assert {r.status for r in results} == {"needs_review"}
    return log, documents


@pytest.mark.parametrize(
    "accept",
    [{"total": 0.9, "date": 0.7}, {"merchant": 0.7}, {"total": 0.97, "merchant": 0.95}],
)
def test_replay_at_other_thresholds_predicts_exactly_what_a_rerun_at_them_does(recorded, tmp_path, accept):
    log, documents = recorded
    policy = cascade("lax", accept)
    report = replay(read_logs([log]).events, policy_from_dict(policy))
    rerun = run(policy, documents, tmp_path / "lax.jsonl")
    predicted = [
        (p.predicted.status, p.predicted.tier, p.predicted.review, p.predicted.cost) for p in report.predictions
    ]
    actual = [(r.status, r.tier, sorted(r.review), r.cost) for r in rerun]
    assert predicted == actual
    what_if = report.what_if()
    assert what_if["cost"] == sum(r.cost for r in rerun)
    assert what_if["needs_review"] == sum(r.status == "needs_review" for r in rerun)


def test_the_log_of_a_cascaded_document_tells_why_each_tier_was_not_accepted(recorded):
    log, _ = recorded
    events = [e for e in read_logs([log]).events if e.get("request_id") == "strict-0"]
    names = [e["event"] for e in events]
    assert names.count("route.low_confidence") == 2
    escalations = [e for e in events if e["event"] == "route.low_confidence"]
    assert [e["to_tier"] for e in escalations] == ["model", None]
    assert all(set(e["doubtful"]) <= {"total", "date"} for e in escalations)
    done = events[-1]
    assert done["event"] == "request.done" and done["status"] == "needs_review" and done["cost"] == 11


def test_every_event_of_a_cascade_run_matches_the_schema(recorded):
    log, _ = recorded
    logged = read_logs([log]).events
    assert sorted({p for event in logged for p in schema.validate(event)}) == []
    assert {"route.low_confidence", "attempt.succeeded", "request.done"} <= {e["event"] for e in logged}


def test_trail_shows_each_escalation_of_a_cascaded_document_and_replay_prints_the_what_if(recorded, tmp_path):
    log, _ = recorded
    trail = subprocess.run(
        [sys.executable, "-m", "router", "trail", "strict-0", str(log)],
        capture_output=True,
        text=True,
        env={**env(), "COLUMNS": "200"},
    )
    assert trail.returncode == 0, trail.stderr
    lines = [line for line in trail.stdout.splitlines() if "route.low_confidence" in line]
    assert len(lines) == 2 and "to_tier=model" in lines[0] and "doubtful=" in lines[1]
    assert "status=needs_review" in trail.stdout
    assert len(trail.stdout.splitlines()) < 40  # one screen
    lax = tmp_path / "lax.yaml"
    lax.write_text(yaml.safe_dump(cascade("lax", {"merchant": 0.7})))
    out = subprocess.run(
        [sys.executable, "-m", "router", "replay", str(log), "--policy", str(lax)],
        capture_output=True,
        text=True,
        env={**env(), "COLUMNS": "200"},
    )
    assert out.returncode == 0, out.stderr
    assert "at these thresholds: accepted" in out.stdout and "cost" in out.stdout
