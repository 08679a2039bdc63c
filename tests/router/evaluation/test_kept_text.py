"""The text the tiers read reaches a caller only when it asks (``keep_text``), and no backend writes
it anywhere: the evaluation's ceiling gets it through the result, not through a folder on disk."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

from backends.documents.document import Document
from backends.fields.ocr_rules import OcrRulesBackend
from backends.options import OcrRulesOptions
from backends.protocol import Extraction
from backends.schema import ReceiptFields
from backends.testing.synthetic import random_receipt, render_receipt
from router.api.router import Router
from router.policy.model import load_policy
from tests.router.surfaces_kit import policy_file

OCR = {"engine": "tesseract", "psm": 6, "min_chars": 10}


@pytest.fixture(scope="module")
def receipt(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    spec = random_receipt(random.Random(7), locale="UK", degrade=False)
    path = tmp_path_factory.mktemp("receipt") / "r.png"
    render_receipt(spec).save(path)
    return path, spec.merchant


def _policy(tmp_path: Path, isolation: str) -> Path:
    tier = {"name": "ocr", "backend": {"kind": "ocr_rules", "ocr": OCR}, "isolation": isolation, "timeout_s": 60}
    return policy_file(tmp_path, tier)


def _files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_a_worker_tier_returns_the_text_it_read_only_when_asked_and_no_dump_holds_it(tmp_path, receipt):
    path, merchant = receipt
    with Router(load_policy(_policy(tmp_path, "process"))) as router:
        plain = router.extract(path)
        kept = router.extract(path, keep_text=True)
    assert plain.ok and kept.ok
    assert plain.text is None
    assert kept.text is not None and merchant.split()[0].upper() in kept.text.upper()
    assert "text" not in kept.model_dump() and "text" not in json.loads(kept.model_dump_json())
    assert kept.model_dump_json() == kept.model_copy(update={"text": None}).model_dump_json()


def test_no_backend_writes_what_it_read_to_disk_whatever_the_environment(tmp_path, monkeypatch, receipt):
    path, _ = receipt
    monkeypatch.setenv("DOCROUTE_EVAL_TEXT_DIR", str(tmp_path))  # the side channel that once existed
    monkeypatch.chdir(tmp_path)
    (tmp_path / "policy").mkdir()
    with Router(load_policy(_policy(tmp_path / "policy", "inline"))) as router:
        assert router.extract(path, keep_text=True).text
        assert router.extract(path).text is None
    assert _files(tmp_path) == {tmp_path / "policy" / "policy.yaml"}


def test_a_backend_fills_the_text_only_for_a_document_that_asks(receipt):
    from PIL import Image

    path, _ = receipt
    page = Image.open(path).convert("RGB")
    document = Document(sha256="0" * 64, pages=(page,), media_type="image/png", source="r.png", size_bytes=1)
    backend = OcrRulesBackend(OcrRulesOptions.model_validate({"ocr": OCR, "reread_psm": []}))
    assert backend.extract(document).text is None
    assert backend.extract(Document(**{**document.__dict__, "keep_text": True})).text


def test_the_asked_flag_and_the_text_cross_the_worker_wire():
    document = Document(sha256="0" * 64, pages=(), media_type="image/png", source="x", size_bytes=1, keep_text=True)
    assert Document.extras_from_wire(document.extras_to_wire())["keep_text"] is True
    extraction = Extraction(ReceiptFields(), {"pages": 1}, "TOTAL 9.90")
    assert Extraction.from_dict(extraction.to_dict()) == extraction
    assert Extraction.from_dict({"fields": {}, "meta": {}}).text is None


def test_no_source_module_names_the_old_environment_variable():
    src = Path(__file__).resolve().parents[3] / "src"
    assert not [p for p in src.rglob("*.py") if "DOCROUTE_EVAL_TEXT_DIR" in p.read_text(encoding="utf-8")]
    assert "DOCROUTE_EVAL_TEXT_DIR" not in os.environ
