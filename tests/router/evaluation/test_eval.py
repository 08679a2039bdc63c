"""``docroute eval``: scoring rules, and a whole evaluation of a tiny dataset rendered here."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from backends.testing.synthetic import random_receipt, render_receipt
from router.api.router import Router
from router.batch import BatchSettings
from router.evaluation import DatasetError, evaluate, load_labels
from router.evaluation.ceiling import answer_in_text
from router.evaluation.dataset import Label
from router.evaluation.report import kind_table, scores_dict
from router.evaluation.scoring import ALL, normalised_match, score, score_kinds, strict_match
from router.policy.model import load_policy
from tests.router.surfaces_kit import cpu_inline, images, policy_file, run_cli, tier

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
    one right after normalisation, one wrong, one whose image cannot be read (a failed document)."""
    paths = images(folder / "images", 3)
    labels = [
        {"id": "exact", "image": f"images/{paths[0].name}", "company": "FAULTY MART", "date": "2024-01-31",
         "total": "12.50"},
        {"id": "normal", "image": f"images/{paths[1].name}", "company": "Faulty Mart.", "date": "31/01/2024",
         "total": "RM 12.5"},
        {"id": "wrong", "image": f"images/{paths[2].name}", "company": "OTHER SHOP", "date": "01/02/2024",
         "total": "9.00"},
        {"id": "gone", "image": "images/broken.png", "company": "FAULTY MART", "date": "2024-01-31",
         "total": "12.50"},
    ]  # fmt: skip
    (folder / "images" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)  # unreadable: bad_input
    (folder / "labels.jsonl").write_text("".join(json.dumps(label) + "\n" for label in labels))
    return folder


def test_an_evaluation_scores_each_field_by_tier_and_writes_report_and_chart(tmp_path):
    dataset = tiny_dataset(tmp_path / "set")
    out = tmp_path / "report"
    with Router(load_policy(policy_file(tmp_path, tier("a")))) as router:
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
    (tmp_path / "a.png").write_bytes(b"\x89PNG")
    (tmp_path / "labels.jsonl").write_text('{"image": "a.png"}\n{"id": 2}\n')
    with pytest.raises(DatasetError, match=r"labels.jsonl:2: expected an object with 'image'"):
        load_labels(tmp_path)
    assert len(load_labels(tmp_path, limit=1)) == 1


def test_every_problem_of_a_labels_file_is_named_at_once_and_nothing_is_scored(tmp_path):
    """A missing image, one outside the folder, a field of the wrong type, an id given twice: a
    dataset error, not documents docroute failed."""
    (tmp_path / "a.png").write_bytes(b"\x89PNG")
    rows = [
        {"id": "one", "image": "a.png", "total": 27.1},
        {"id": "two", "image": "gone.png"},
        {"id": "three", "image": "../../../../etc/passwd"},
        {"id": "four", "image": "a.png", "company": ["A", "B"]},
        {"id": "five", "image": "a.png", "kind": 7},
        {"id": 0, "image": "a.png", "total": float("nan")},
        {"id": "one", "image": "a.png"},
    ]
    (tmp_path / "labels.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    with pytest.raises(DatasetError) as caught:
        load_labels(tmp_path)
    problems = str(caught.value).splitlines()
    assert [p.split(": ", 1)[1] for p in problems] == [
        "image 'gone.png' not found in " + str(tmp_path),
        "image '../../../../etc/passwd' is outside the dataset folder",
        "company: expected a string (or a number), got list",
        "kind: expected a string such as 'receipt-photo', got int",
        "total: expected a string (or a number), got nan",
        "id 'one' is already used at " + str(tmp_path / "labels.jsonl") + ":1 (give each line its 'id')",
    ]
    assert [p.split(": ", 1)[0].rsplit(":", 1)[1] for p in problems] == ["2", "3", "4", "5", "6", "7"]


def test_an_image_linked_from_elsewhere_is_in_the_dataset(tmp_path):
    """A subset made of links to another folder's files is a dataset like any other."""
    elsewhere = tmp_path / "all"
    elsewhere.mkdir()
    (elsewhere / "a.png").write_bytes(b"\x89PNG")
    subset = tmp_path / "subset"
    subset.mkdir()
    (subset / "a.png").symlink_to(elsewhere / "a.png")
    (subset / "labels.jsonl").write_text(json.dumps({"id": "a", "image": "a.png", "total": "1.00"}) + "\n")
    assert [label.id for label in load_labels(subset)] == ["a"]


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
    with Router(cpu_inline()) as router:
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


CEILING = [
    # field, label, text, in text
    ("total", "197.65", "Netto 166,09\nBrutto 197,65", True),
    ("total", "1939", "Grand Total Rs 1939", True),
    ("total", "27.10", "TOTAL RM -27.10", True),
    ("total", "9.00", "TOTAL 90.00", False),
    ("total", "17115.45", "Kwota należności ogółem: 17 115,45PLN", True),  # thousands set apart by a space
    ("total", "2115.45", "2 x 115,45", False),
    ("date", "2017-03-10", "GA 30303\n3/10/2017", True),
    ("date", "2014-03-29", "Amsterdam 29 maart 2014", True),
    ("date", "2024-01-31", "20240131", True),
    ("date", "2024-01-31", "31/01/2023", False),
    ("merchant", "Golden Panda Buffet", "Sb Golden Panda Buffet\n14428 Ramona Blvd", True),
    ("merchant", "real GmbH", "realGmbH", False),
]


@pytest.mark.parametrize(("field", "label", "text", "found"), CEILING)
def test_the_ceiling_asks_whether_the_read_text_holds_the_answer(field, label, text, found):
    assert answer_in_text(field, label, text) is found


def test_scores_per_kind_give_each_field_beside_its_ceiling(tmp_path):
    photo, scan = (Label(name, tmp_path / f"{name}.png", {"total": "5.00"}, kind) for name, kind in
                   (("p", "receipt-photo"), ("s", "receipt-scan")))  # fmt: skip
    records = [
        {"status": "ok", "duration_ms": 1.0, "document": {"sha256": "a" * 64}, "fields": {"total": {"value": "5.00"}}},
        {"status": "ok", "duration_ms": 1.0, "document": {"sha256": "b" * 64}, "fields": {}},
    ]
    kinds = score_kinds([(photo, records[0]), (scan, records[1])], {"a" * 64: "TOTAL 5.00", "b" * 64: "TOTAL 5,00"})
    assert kinds["receipt-photo"].fields["total"].rate("normalised") == 1.0
    assert kinds["receipt-scan"].fields["total"].rate("normalised") == 0.0
    assert kinds["receipt-scan"].fields["total"].ceiling() == 1.0  # the answer was there, the rules missed it
    assert kinds["(all)"].fields["total"].ceiling() == 1.0
    table = kind_table(kinds)
    assert "| receipt-scan | 1 | - / - | - / - | 0.0% / 100.0% |" in table
    assert score_kinds([(Label("x", tmp_path / "x.png", {}), records[0])]) == {}


def test_an_incomplete_answer_is_scored_on_its_fields_and_a_partial_one_only_counted(tmp_path):
    label = Label("r", tmp_path / "r.png", {"merchant": "ACME", "date": "2024-03-01", "total": "9.90"})
    answered = {"status": "degraded", "duration_ms": 1.0, "missing": ["date"],
                "fields": {"merchant": {"value": "ACME"}, "total": {"value": "9.90"}}}  # fmt: skip
    failed = {"status": "failed", "duration_ms": 1.0, "fields": {}, "partial": {"merchant": {"value": "ACME"}}}
    group = score([(label, answered), (label, failed)])[ALL]
    assert (group.incomplete, group.partial) == (1, 1)
    assert [group.fields[name].normalised for name in ("merchant", "date", "total")] == [1, 0, 1]
    assert scores_dict({ALL: group})[ALL]["incomplete"] == 1


@pytest.mark.slow
def test_eval_reports_kinds_and_ceilings_from_the_text_the_tier_read_and_logs_none_of_it(tmp_path):
    rows = []
    (tmp_path / "set" / "images").mkdir(parents=True)
    for seed, kind in enumerate(("receipt-scan", "receipt-scan", "receipt-photo")):
        spec = random_receipt(random.Random(seed), locale="UK", degrade=False)
        render_receipt(spec).save(tmp_path / "set" / "images" / f"r{seed}.png")
        rows.append({"id": f"r{seed}", "image": f"images/r{seed}.png", "company": spec.merchant, "kind": kind,
                     "date": spec.date.isoformat(), "total": f"{spec.total:.2f}"})  # fmt: skip
    (tmp_path / "set" / "labels.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    out, log = tmp_path / "out", tmp_path / "log.jsonl"
    done = run_cli("eval", str(tmp_path / "set"), "-p", "cpu", "-o", str(out), "--log-json", str(log), timeout=300)
    assert done.returncode == 0, done.stderr
    kinds = json.loads((out / "scores.json").read_text())["kinds"]
    assert set(kinds) == {"(all)", "receipt-scan", "receipt-photo"}
    assert kinds["receipt-scan"]["fields"]["total"]["ceiling"] == 1.0
    assert "## By document kind" in (out / "report.md").read_text()
    assert len(list((out / "ocr-text").glob("*.txt"))) == 3
    logged = log.read_text()
    assert logged and not any(row["company"] in logged or row["total"] in logged for row in rows)


@pytest.mark.parametrize("out", ["/proc/self", "/sys/kernel"])
def test_eval_into_a_folder_that_cannot_be_written_is_one_line_and_exit_2(tmp_path, out):
    """It crashed with a traceback: eval checked only that --out was no file."""
    dataset = tiny_dataset(tmp_path / "set")
    done = run_cli("eval", str(dataset), "--policy", str(policy_file(tmp_path, tier("a"))), "--out", out)
    [line] = done.stderr.strip().splitlines()
    assert done.returncode == 2 and line.startswith(f"docroute: --out {out}: cannot be")
