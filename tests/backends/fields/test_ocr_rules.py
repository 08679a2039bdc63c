"""The OCR + rules backend end to end: real Tesseract on receipts the tests render (several countries
and styles), the shipped sample, refusals, and what the backend reports about itself."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from backends import registry
from backends.documents.document import Document
from backends.errors import InvalidOutput
from backends.fields.ocr_rules import OcrRulesBackend
from backends.normalize import normalize_text_for_match
from backends.options import OcrOptions, OcrRulesOptions
from backends.testing.synthetic import LOCALES, ReceiptSpec, random_receipt, render_receipt

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "examples" / "receipt.png"
PER_LOCALE = 3


def document_of(image: Image.Image, source: str = "<rendered>") -> Document:
    image = image.convert("RGB")
    digest = hashlib.sha256(image.tobytes()).hexdigest()
    return Document(sha256=digest, pages=(image,), media_type="image/png", source=source, size_bytes=1)


@pytest.fixture(scope="session")
def backend() -> OcrRulesBackend:
    return OcrRulesBackend(OcrRulesOptions())


@pytest.fixture(scope="session")
def readings(backend) -> dict[str, tuple[ReceiptSpec, dict]]:
    """Each locale's receipts rendered (degraded: blur, rotation, speckle, fonts) and read once."""
    out = {}
    for code in LOCALES:
        for number in range(PER_LOCALE):
            spec = random_receipt(random.Random(f"{code}-{number}"), locale=code)
            extraction = backend.extract(document_of(render_receipt(spec)))
            out[f"{code}-{number}"] = (spec, extraction)
    return out


@pytest.mark.parametrize("key", [f"{code}-{n}" for code in LOCALES for n in range(PER_LOCALE)])
def test_rendered_receipts_from_several_countries_are_read_right(readings, key):
    spec, extraction = readings[key]
    truth, fields = spec.truth(), extraction.fields
    assert normalize_text_for_match(fields.merchant) == normalize_text_for_match(truth["merchant"])
    assert (fields.date, fields.total, fields.currency) == (truth["date"], truth["total"], truth["currency"])
    assert fields.date_raw == truth["date_raw"]


def test_meta_reports_counts_and_timings_but_no_text(readings):
    spec, extraction = readings["MY-0"]
    meta = extraction.meta
    assert meta["ocr_chars"] > 100 and meta["ocr_words"] > 20 and meta["ocr_lines"] > 10
    assert 0 < meta["ocr_mean_confidence"] <= 100 and meta["ocr_s"] > 0 and meta["rules_s"] >= 0
    assert (meta["pages"], meta["psm"], meta["lang"]) == (1, 6, "eng")
    dumped = json.dumps(meta)
    for value in (spec.merchant, spec.truth()["total"], spec.date_raw, *spec.address):
        assert value not in dumped


def load_sample_module():
    spec = importlib.util.spec_from_file_location("make_sample", ROOT / "examples" / "make_sample.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_shipped_sample_is_read_right(backend):
    truth = load_sample_module().SAMPLE.truth()
    with Image.open(SAMPLE) as image:
        fields = backend.extract(document_of(image, str(SAMPLE))).fields
    assert (fields.merchant, fields.date, fields.date_raw, fields.total, fields.currency) == (
        truth["merchant"],
        truth["date"],
        truth["date_raw"],
        truth["total"],
        truth["currency"],
    )
    assert fields.merchant == "KEDAI BUKU CAHAYA SDN BHD" and fields.total == "27.10" and fields.date == "2024-03-14"


@pytest.mark.slow
def test_the_readme_command_prints_the_samples_fields():
    """``docroute extract examples/receipt.png --policy cpu``, run as a user would (a real process)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-m", "router", "extract", str(SAMPLE), "--policy", "cpu", "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    values = {name: field["value"] for name, field in result["fields"].items()}
    assert (result["status"], result["tier"]) == ("ok", "ocr-rules")
    assert (values["merchant"], values["date"], values["total"]) == ("KEDAI BUKU CAHAYA SDN BHD", "2024-03-14", "27.10")


def test_a_page_without_enough_text_is_invalid_output(backend):
    with pytest.raises(InvalidOutput, match="fewer than min_chars=40"):
        backend.extract(document_of(Image.new("RGB", (600, 800), "white")))


def test_min_chars_comes_from_the_policy_options():
    strict = OcrRulesBackend(OcrRulesOptions(ocr=OcrOptions(min_chars=100_000)))
    with Image.open(SAMPLE) as image, pytest.raises(InvalidOutput, match="min_chars=100000"):
        strict.extract(document_of(image))


def test_preflight_checks_for_the_tesseract_binary_and_its_languages(monkeypatch):
    assert OcrRulesBackend.preflight(OcrRulesOptions()) is None
    missing = OcrRulesBackend.preflight(OcrRulesOptions(ocr=OcrOptions(lang="eng+xyz")))
    assert missing is not None and "tesseract-ocr-xyz" in missing
    monkeypatch.setattr("pytesseract.pytesseract.tesseract_cmd", "/nonexistent/tesseract")
    assert "tesseract is not installed" in (OcrRulesBackend.preflight(OcrRulesOptions()) or "")


def test_the_registry_creates_it_from_policy_options():
    backend = registry.create(OcrRulesOptions())
    assert isinstance(backend, OcrRulesBackend)
    assert (backend.kind, backend.uses_gpu) == ("ocr_rules", False)
    assert registry.preflight(OcrRulesOptions()) is None


def test_importing_the_backend_does_not_import_model_code():
    code = "import sys, backends.fields.ocr_rules; sys.exit(any(m in sys.modules for m in ('torch', 'transformers')))"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    assert subprocess.run([sys.executable, "-c", code], env=env, check=False).returncode == 0


def stamped_receipt() -> Image.Image:
    """A receipt whose date is a tilted stamp beside the total: in mode 6 Tesseract reads the stamp
    into the total's line and misreads it (95/12/2018); sparse mode (11) reads it apart, right."""
    from PIL import ImageDraw, ImageFont

    font = ImageFont.truetype("DejaVuSans.ttf", 28)
    image = Image.new("L", (900, 900), 255)
    draw = ImageDraw.Draw(image)
    lines = ["SUNRISE GROCER SDN BHD", "NO 5 JALAN MAWAR", "56000 KUALA LUMPUR", "ITEM A        5.00"]
    lines += ["ITEM B        2.50", "TOTAL         7.50", "THANK YOU"]
    for row, text in enumerate(lines):
        draw.text((40, 40 + row * 60), text, fill=0, font=font)
    stamp = Image.new("L", (260, 50), 255)
    ImageDraw.Draw(stamp).text((5, 5), "25/12/2018", fill=0, font=font)
    image.paste(stamp.rotate(8, expand=True, fillcolor=255), (560, 330))
    return image.convert("RGB")


def test_a_missing_core_field_is_filled_by_a_second_reading_in_sparse_mode():
    document = document_of(stamped_receipt())
    once = OcrRulesBackend(OcrRulesOptions(reread_psm=[])).extract(document)
    assert once.fields.date is None and "reread_psm" not in once.meta  # what mode 6 alone gives
    twice = OcrRulesBackend(OcrRulesOptions()).extract(document)
    assert (twice.fields.merchant, twice.fields.date, twice.fields.total) == (
        "SUNRISE GROCER SDN BHD",
        "2018-12-25",
        "7.50",
    )
    assert twice.fields.date_raw == "25/12/2018"
    assert twice.meta["reread_psm"] == [11] and twice.meta["filled_by_reread"] == ["date"]


def test_a_complete_first_reading_is_not_read_again(backend):
    extraction = backend.extract(document_of(Image.open(SAMPLE)))
    assert extraction.fields.present() >= {"merchant", "date", "total"}
    assert "reread_psm" not in extraction.meta


def test_filling_takes_only_missing_fields_with_their_printed_text():
    from backends.schema import ReceiptFields

    first = ReceiptFields(merchant="ACME", total="5.00", total_raw="RM5.00")
    other = ReceiptFields(merchant="OTHER", date="2024-01-02", date_raw="02/01/2024", total="9.00")
    filled, taken = first.filled_from(other)
    assert taken == ["date"]
    assert (filled.merchant, filled.total, filled.total_raw) == ("ACME", "5.00", "RM5.00")
    assert (filled.date, filled.date_raw) == ("2024-01-02", "02/01/2024")
