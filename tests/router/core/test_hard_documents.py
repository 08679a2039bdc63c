"""Hard documents are not a broken tier: real Tesseract and rules, the ``cpu`` policy, one process.

Found on 346 real receipts: five receipts in a row whose total the rules could not find opened the
only tier's breaker, and every document of the next 30 s came back failed without being read.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from PIL import Image

from backends.testing.synthetic import random_receipt, render_receipt
from router.api.router import Router
from router.policy.model import load_policy
from tests.router.service.test_service import serving, upload
from tests.router.surfaces_kit import cpu_inline

ROOT = Path(__file__).resolve().parents[3]
BLANKS = 6  # more than the breaker's failure_threshold (5)


def blank_pages(folder: Path, count: int) -> list[Path]:
    paths = []
    for index in range(count):
        path = folder / f"blank{index}.png"
        Image.new("RGB", (400 + index, 560), "white").save(path)  # distinct sizes: distinct documents
        paths.append(path)
    return paths


def good_receipts(folder: Path, seeds: tuple[int, ...]) -> list[Path]:
    paths = []
    for seed in seeds:
        path = folder / f"receipt{seed}.png"
        render_receipt(random_receipt(random.Random(seed), locale="UK", degrade=False)).save(path)
        paths.append(path)
    return paths


@pytest.mark.slow
def test_documents_the_rules_cannot_answer_do_not_refuse_the_good_ones_after_them(tmp_path):
    documents = blank_pages(tmp_path, BLANKS) + good_receipts(tmp_path, (11, 12))
    with Router(cpu_inline()) as router:
        results = [router.extract(path) for path in documents]
        status = router.status()["ocr-rules"]
    refused = [s for r in results for s in r.skipped if s.reason != "not_applicable"]  # einvoice: not PDFs
    assert all(r.attempts for r in results) and not refused, "a document was refused unread"
    assert [r.status for r in results[:BLANKS]] == ["failed"] * BLANKS
    assert {r.error.error_class for r in results[:BLANKS] if r.error} == {"invalid_output"}
    assert [r.status for r in results[BLANKS:]] == ["ok", "ok"]
    assert (status["breaker"], status["admits"]) == ("closed", True)


@pytest.mark.slow
def test_over_http_five_blank_pages_then_a_good_receipt_is_200_and_ready_throughout(tmp_path):
    blanks, receipt = blank_pages(tmp_path, 5), good_receipts(tmp_path, (11,))[0]
    assert load_policy(ROOT / "policies" / "cpu.yaml").tier("ocr-rules").breaker.failure_threshold == 5
    with serving(ROOT / "policies" / "cpu.yaml") as client:
        answers = []
        for path in blanks:
            answers.append(upload(client, path))
            assert client.get("/readyz").status_code == 200
        good = upload(client, receipt)
        assert client.get("/readyz").status_code == 200
    for answer in answers:
        assert answer.status_code != 200
        assert answer.json()["error"]["error_class"] == "invalid_output"
        assert answer.json()["attempts"], "a blank page was refused unread"
    assert good.status_code == 200, good.json()
    assert good.json()["status"] == "ok"
