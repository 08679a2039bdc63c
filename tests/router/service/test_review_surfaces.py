"""needs_review through every surface: the CLI (exit 0), batch JSONL and its summary, the HTTP service
(200, the OpenAPI schema) and its Prometheus counters of escalations, reviews and cost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from router.api.router import Router
from router.batch.sink import read_records
from router.policy.model import load_policy
from tests.router.batch.test_batch import batch
from tests.router.service.test_service import metric, serving, upload
from tests.router.surfaces_kit import env, images, policy_file, tier

SURE = {"merchant": 0.95, "date": 0.95, "total": 0.95}
DOUBT = {"merchant": 0.95, "date": 0.95, "total": 0.4}


def doubtful_chain(folder: Path) -> Path:
    """Two tiers, neither sure of the total: every document needs review."""
    first = tier("cheap", backend={"confidence": DOUBT}, cost=1)
    second = tier("dear", backend={"confidence": {**DOUBT, "total": 0.5}, "fields": {"total": "99.00"}}, cost=4)
    return policy_file(folder, first, second, accept={"total": 0.9}, quality_gate={"required": ["total"]})


def test_the_cli_prints_needs_review_with_the_doubtful_fields_and_exits_0(tmp_path):
    document = images(tmp_path / "in", 1)[0]
    out = subprocess.run(
        [sys.executable, "-m", "router", "extract", str(document), "--policy", str(doubtful_chain(tmp_path))],
        capture_output=True,
        text=True,
        env=env(),
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["status"] == "needs_review" and result["review"] == {"total": 0.5}
    assert result["fields"]["total"] == {
        "value": "99.00",
        "tier": "dear",
        "backend": "faulty",
        "confidence": 0.5,
        "agreed_with": [],
    }
    assert result["cost"] == 5 and result["cost_unit"] == "device_s"


def test_batch_lines_and_summary_count_needs_review_apart(tmp_path):
    inputs = images(tmp_path / "in", 3)
    out = tmp_path / "out.jsonl"
    with Router(load_policy(doubtful_chain(tmp_path))) as router:
        summary = batch(router, inputs, out)
    records = read_records(out)
    assert [r["status"] for r in records] == ["needs_review"] * 3
    assert all(r["review"] == {"total": 0.5} for r in records)
    assert summary.by_status == {"needs_review": 3}


def test_the_service_answers_needs_review_with_200_and_counts_escalations_reviews_and_cost(tmp_path):
    document = images(tmp_path / "in", 1)[0]
    with serving(doubtful_chain(tmp_path)) as client:
        response = upload(client, document)
        text = client.get("/metrics").text
        schema = client.get("/openapi.json").json()
    assert response.status_code == 200 and response.json()["status"] == "needs_review"
    assert metric(text, "docroute_escalations_total", tier="cheap", field="total") == 1
    assert metric(text, "docroute_escalations_total", tier="dear", field="total") == 1
    assert metric(text, "docroute_reviews_total", tier="dear", field="total") == 1
    assert metric(text, "docroute_cost_total", unit="device_s") == 5
    assert metric(text, "docroute_documents_total", status="needs_review", tier="none") == 1
    assert "needs_review" in json.dumps(schema)
