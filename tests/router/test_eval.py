"""``docroute eval``: scoring rules, and a whole evaluation of a tiny dataset rendered here."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from backends.synthetic import random_receipt, render_receipt
from router.api import Router
from router.batch import BatchSettings
from router.evaluation import DatasetError, evaluate, load_labels
from router.evaluation.scoring import normalised_match, strict_match
from router.policy import load_policy
from tests.router.surfaces_kit import images, policy_file, run_cli, tier

SCORING = [
    # field, label, predicted, strict, normalised
    ("merchant", "BOOK TA .K (TAMAN DAYA) SDN BHD", {"merchant": "BOOK TA .K (TAMAN DAYA) SDN BHD"}, True, True),
    ("merchant", "BOOK TA .K (TAMAN DAYA) SDN BHD", {"merchant": "Book Ta.K (Taman Daya) Sdn. Bhd."}, False, True),
    ("merchant", "MR D.I.Y. (M) SDN BHD", {"merchant": "MR DIY SDN BHD"}, False, False),
    ("address", "NO.53 55,57 & 59, JALAN SAGU 18,", {"address": "NO.53 55,57 & 59,  JALAN SAGU 18,"}, True, True),
    ("date", "25/12/2018", {"date": "2018-12-25", "date_raw": "25/12/2018"}, True, True),
    ("date", "25/12/2018", {"date": "2018-12-25", "date_raw": "25-12-2018"}, False, True),
    ("date", "18-11-18", {"date": "2018-11-18"}, False, True),
    ("date", "12 MAR 2018", {"date": "2018-03-12"}, False, True),
    ("date", "25/12/2018", {"date": "2018-12-24"}, False, False),
    ("total", "9.00", {"total": "9.00", "total_raw": "RM9.00"}, True, True),
    ("total", "RM 9.00", {"total": "9.00", "total_raw": "RM 9.00"}, True, True),
    ("total", "9.0", {"total": "9.00"}, False, True),
    ("total", "1,234.50", {"total": "1234.50"}, False, True),
    ("total", "9.00", {"total": "90.00"}, False, False),
    ("total", "9.00", {}, False, False),
]


@pytest.mark.parametrize(("field", "label", "predicted", "strict", "normalised"), SCORING)
def test_fields_are_compared_strictly_and_after_normalisation(field, label, predicted, strict, normalised):
    assert strict_match(field, label, predicted) is strict
    assert normalised_match(field, label, predicted) is normalised


def tiny_dataset(folder: Path) -> Path:
    """Four labelled documents against the fixed answer FAULTY MART / 2024-01-31 / 12.50: one exact,
    one right after normalisation, one wrong, one whose image is missing (a failed document)."""
    paths = images(folder / "images", 3)
    labels = [
        {"id": "exact", "image": f"images/{paths[0].name}", "company": "FAULTY MART", "date": "2024-01-31",
         "total": "12.50"},
        {"id": "normal", "image": f"images/{paths[1].name}", "company": "Faulty Mart.", "date": "31/01/2024",
         "total": "RM 12.5"},
        {"id": "wrong", "image": f"images/{paths[2].name}", "company": "OTHER SHOP", "date": "01/02/2024",
         "total": "9.00"},
        {"id": "gone", "image": "images/missing.png", "company": "FAULTY MART", "date": "2024-01-31",
         "total": "12.50"},
    ]  # fmt: skip
    (folder / "labels.jsonl").write_text("".join(json.dumps(label) + "\n" for label in labels))
    return folder


def test_an_evaluation_scores_each_field_by_tier_and_writes_report_and_chart(tmp_path):
    dataset = tiny_dataset(tmp_path / "set")
    out = tmp_path / "report"
    with Router(load_policy(policy_file(tmp_path, tier("a"))), configure_logging=False) as router:
        result = evaluate(router, dataset, out, BatchSettings(jobs=2))
    scores = json.loads((out / "scores.json").read_text())["groups"]
    assert scores["(all)"]["documents"] == 4
    assert scores["(all)"]["statuses"] == {"ok": 3, "failed": 1}
    assert scores["(all)"]["fields"]["merchant"] == {"scored": 4, "strict": 0.25, "normalised": 0.5}
    assert scores["(all)"]["fields"]["date"] == {"scored": 4, "strict": 0.25, "normalised": 0.5}
    assert scores["(all)"]["fields"]["total"] == {"scored": 4, "strict": 0.25, "normalised": 0.5}
    assert "address" not in scores["(all)"]["fields"]
    assert scores["(all)"]["all_required_correct"] == 0.5
    assert scores["a"]["documents"] == 3 and scores["(failed)"]["documents"] == 1
    assert set(scores["a"]["latency_ms"]) == {"p50", "p95", "p99"}
    report = (out / "report.md").read_text()
    assert "| merchant | 4 | 25.0% | 50.0% |" in report
    assert "## How fields are compared" in report and "normalize_date" in report
    assert (out / "accuracy.png").read_bytes().startswith(b"\x89PNG")
    assert result.outputs["chart"] == out / "accuracy.png"
    assert len((out / "results.jsonl").read_text().splitlines()) == 4


def test_labels_are_validated_with_the_line_that_is_wrong(tmp_path):
    with pytest.raises(DatasetError, match=r"no labels\.jsonl"):
        load_labels(tmp_path)
    (tmp_path / "labels.jsonl").write_text('{"image": "a.png"}\n{"id": 2}\n')
    with pytest.raises(DatasetError, match=r"labels.jsonl:2: expected an object with 'image'"):
        load_labels(tmp_path)
    assert len(load_labels(tmp_path, limit=1)) == 1


@pytest.mark.slow
def test_the_eval_command_prints_the_summary_and_names_its_outputs(tmp_path):
    dataset = tiny_dataset(tmp_path / "set")
    out = tmp_path / "report"
    policy = policy_file(tmp_path, tier("a"))
    done = run_cli("eval", str(dataset), "--policy", str(policy), "--out", str(out), "--limit", "3")
    assert done.returncode == 0, done.stderr
    assert "| total | 3 | 33.3% | 66.7% |" in done.stdout
    assert f"chart:  {out / 'accuracy.png'}" in done.stdout
    bad = run_cli("eval", str(tmp_path), "--policy", str(policy))
    assert bad.returncode == 2 and "no labels.jsonl" in bad.stderr


@pytest.mark.slow
def test_the_cpu_policy_is_scored_on_receipts_rendered_here(tmp_path):
    """Real Tesseract and rules on clean rendered receipts, scored against what was printed."""
    rows = []
    (tmp_path / "set" / "images").mkdir(parents=True)
    for seed in range(4):
        spec = random_receipt(random.Random(seed), locale="MY", degrade=False)
        render_receipt(spec).save(tmp_path / "set" / "images" / f"r{seed}.png")
        total = spec.money(spec.total, mark=True)
        rows.append({"id": f"r{seed}", "image": f"images/r{seed}.png", "company": spec.merchant,
                     "date": spec.date_raw, "total": total, "address": ", ".join(spec.address)})  # fmt: skip
    (tmp_path / "set" / "labels.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    with Router.from_policy("cpu", configure_logging=False) as router:
        evaluate(router, tmp_path / "set", tmp_path / "out", BatchSettings(jobs=2))
    scores = json.loads((tmp_path / "out" / "scores.json").read_text())["groups"]
    overall = scores["(all)"]
    assert overall["documents"] == 4 and "ocr-rules" in scores
    assert overall["fields"]["total"]["normalised"] >= 0.75
    assert overall["fields"]["date"]["normalised"] >= 0.75
    assert overall["fields"]["merchant"]["normalised"] >= 0.5


def test_resuming_into_a_results_file_that_no_batch_wrote_is_one_line_and_exit_2(tmp_path):
    from typer.testing import CliRunner

    from router.cli import app

    dataset = tmp_path / "set"
    [image] = images(dataset, 1)
    (dataset / "labels.jsonl").write_text(json.dumps({"id": "a", "image": image.name, "total": "1.00"}) + "\n")
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "results.jsonl").write_text("notes\n")
    args = ["eval", str(dataset), "-p", str(policy_file(tmp_path, tier("a"))), "--out", str(tmp_path / "report")]
    result = CliRunner().invoke(app, [*args, "--resume", "--progress", "none"])
    assert result.exit_code == 2, result.output
    assert "not the output of a batch" in result.output
