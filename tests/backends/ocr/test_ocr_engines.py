"""Both OCR engines on rendered receipts: RapidOCR's fragments rebuilt into lines, pages turned
upright (90 and 180 degrees), small receipts enlarged; and the OCR + rules tier on each engine."""

from __future__ import annotations

import hashlib
import random

import pytest
from PIL import Image

from backends.documents.document import Document
from backends.fields.ocr_rules import OcrRulesBackend
from backends.ocr import rapid as ocr_rapid
from backends.ocr.engine import detect_rotation, enlargement, ocr_page
from backends.ocr.rapid import Fragment, rebuild_lines
from backends.options import OcrOptions, OcrRulesOptions
from backends.testing.synthetic import random_receipt, render_receipt

needs_rapidocr = pytest.mark.skipif(not ocr_rapid.available(), reason="the rapidocr extra is not installed")


def document_of(*pages: Image.Image) -> Document:
    digest = hashlib.sha256(b"".join(p.tobytes() for p in pages)).hexdigest()
    return Document(sha256=digest, pages=pages, media_type="image/png", source="<test>", size_bytes=1)


def box(left: float, top: float, right: float, bottom: float, tilt: float = 0.0) -> tuple[tuple[float, float], ...]:
    """A fragment's corners (top-left, top-right, bottom-right, bottom-left), tilted by ``tilt``."""
    rise = tilt * (right - left)
    return ((left, top), (right, top + rise), (right, bottom + rise), (left, bottom))


@pytest.fixture(scope="module")
def receipt():
    spec = random_receipt(random.Random(7), locale="UK", degrade=False)
    return spec, render_receipt(spec)


def test_fragments_on_one_row_become_one_line_left_to_right():
    fragments = [
        Fragment("56.58", 0.99, box(300, 102, 360, 120)),
        Fragment("SHOP", 0.98, box(10, 10, 80, 30)),
        Fragment("TOTAL", 0.97, box(10, 100, 80, 121)),
    ]
    lines = rebuild_lines(fragments)
    assert [line.text for line in lines] == ["SHOP", "TOTAL 56.58"]
    assert lines[1].left == 10 and lines[1].width == 350
    assert 97 <= lines[1].confidence <= 99


def test_rows_of_a_tilted_photo_are_kept_apart():
    """On a photo tilted by 5%, the amount at the right of a row sits lower than the label at its
    left by more than half a line: straightened by the page's slope, rows still come out whole."""
    tilt = 0.05
    fragments = []
    for row, (label, amount) in enumerate([("SUBTOTAL", "50.00"), ("TAX", "4.00"), ("TOTAL", "54.00")]):
        top = 100 + 30 * row
        fragments.append(Fragment(label, 0.9, box(0, top, 200, top + 20, tilt)))
        fragments.append(Fragment(amount, 0.9, box(400, top + tilt * 400, 500, top + 20 + tilt * 400, tilt)))
    assert [line.text for line in rebuild_lines(fragments)] == ["SUBTOTAL 50.00", "TAX 4.00", "TOTAL 54.00"]


def test_sideways_fragments_say_the_page_is_turned():
    standing = [Fragment("TOTAL 5.00", 0.9, box(10, 10, 30, 200)), Fragment("SHOP", 0.9, box(40, 10, 60, 90))]
    assert ocr_rapid.sideways(standing)
    assert not ocr_rapid.sideways([Fragment("TOTAL 5.00", 0.9, box(10, 10, 200, 30))])


@pytest.mark.parametrize(("size", "factor"), [((231, 900), 2), ((100, 80), 4), ((463, 1000), 1), ((2000, 3000), 1)])
def test_small_pages_are_enlarged_by_an_integer_factor(size, factor):
    assert enlargement(size, 420) == factor
    assert enlargement(size, 0) == 1


@pytest.mark.parametrize("angle", [90, 180, 270])
def test_osd_says_how_far_a_turned_receipt_must_be_turned_back(receipt, angle):
    _, image = receipt
    assert detect_rotation(image.rotate(angle, expand=True), OcrOptions()) == angle


@pytest.mark.parametrize("angle", [90, 180])
def test_a_turned_receipt_is_answered_by_tesseract(receipt, angle):
    spec, image = receipt
    turned = image.rotate(angle, expand=True)
    extraction = OcrRulesBackend(OcrRulesOptions(reread_psm=[])).extract(document_of(turned))
    assert extraction.fields.merchant == spec.merchant
    assert extraction.fields.total == f"{spec.total:.2f}"
    assert extraction.meta["pages_rotated"] == 1


def test_an_upright_receipt_is_not_turned(receipt):
    _, image = receipt
    assert ocr_page(image, OcrOptions()).rotated == 0


def test_a_small_receipt_is_answered_after_enlarging_it(receipt):
    spec, image = receipt
    small = image.resize((231, round(image.height * 231 / image.width)), Image.Resampling.LANCZOS)
    extraction = OcrRulesBackend(OcrRulesOptions(reread_psm=[])).extract(document_of(small))
    assert extraction.meta["pages_enlarged"] == 1
    assert extraction.fields.date == spec.date.isoformat()
    assert extraction.fields.total == f"{spec.total:.2f}"


@needs_rapidocr
@pytest.mark.parametrize("angle", [0, 90, 180])
def test_rapidocr_answers_a_receipt_upright_or_turned(receipt, angle):
    spec, image = receipt
    options = OcrRulesOptions(ocr=OcrOptions(engine="rapidocr"))
    backend = OcrRulesBackend(options)
    backend.load()
    extraction = backend.extract(document_of(image.rotate(angle, expand=True)))
    assert extraction.meta["engine"] == "rapidocr"
    assert extraction.fields.date == spec.date.isoformat()
    assert extraction.fields.total == f"{spec.total:.2f}"
    assert extraction.fields.confidence["total"] > 0.5
    assert "reread_psm" not in extraction.meta  # page segmentation modes are Tesseract's


def test_the_rapidocr_engine_is_a_policy_choice():
    assert OcrRulesOptions.model_validate({"ocr": {"engine": "rapidocr"}}).ocr.engine == "rapidocr"
    with pytest.raises(ValueError, match="engine"):
        OcrRulesOptions.model_validate({"ocr": {"engine": "easyocr"}})
