"""The Tesseract layer: real tesseract on rendered pages; a stand-in binary only where the edge is the
binary itself (its environment, its exit status, its absence)."""

from __future__ import annotations

import hashlib
import os
import random
import stat
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from backends.documents.document import Document
from backends.errors import BackendUnavailable, InvalidOutput
from backends.ocr import engine as ocr
from backends.ocr.engine import ocr_document, ocr_page, parse_tsv
from backends.ocr.result import OcrPage
from backends.options import OcrOptions
from backends.testing.synthetic import random_receipt, render_receipt

TSV_HEADER = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n"


def document_of(*pages: Image.Image) -> Document:
    digest = hashlib.sha256(b"".join(p.tobytes() for p in pages)).hexdigest()
    return Document(sha256=digest, pages=pages, media_type="image/png", source="<test>", size_bytes=1)


@pytest.fixture(scope="module")
def receipt():
    spec = random_receipt(random.Random(7), locale="UK", degrade=False)
    return spec, render_receipt(spec)


def test_ocr_page_reads_text_lines_and_confidences(receipt):
    spec, image = receipt
    page = ocr_page(image, OcrOptions())
    assert spec.merchant in page.text
    assert page.chars == len(page.text)
    assert page.words >= 10 and 60 < page.mean_confidence <= 100
    assert [line.text for line in page.lines] == page.text.splitlines()
    assert [line.top for line in page.lines] == sorted(line.top for line in page.lines)
    assert all(0 <= line.confidence <= 100 and line.width > 0 and line.height > 0 for line in page.lines)
    assert page.seconds > 0


def test_ocr_document_joins_pages_and_adds_up_their_counts(receipt):
    _, image = receipt
    one = ocr_page(image, OcrOptions())
    both = ocr_document(document_of(image, image), OcrOptions())
    assert both.text == f"{one.text}\n\n{one.text}"
    assert (both.words, both.chars, len(both.lines)) == (2 * one.words, 2 * one.chars, 2 * len(one.lines))
    assert both.mean_confidence == pytest.approx(one.mean_confidence)


def test_a_page_longer_than_max_side_px_is_read_reduced_with_positions_on_the_page(receipt):
    _, image = receipt
    big = image.resize((image.width * 2, image.height * 2), Image.Resampling.NEAREST)
    options = OcrOptions(max_side_px=max(image.size))
    one, two = ocr_page(image, options), ocr_page(big, options)
    assert two.text == one.text
    assert [line.top for line in two.lines] == [2 * line.top for line in one.lines]


@pytest.mark.parametrize(
    ("size", "limit", "factor"),
    [((463, 1013), 3600, 1), ((4961, 7016), 3600, 2), ((4961, 7016), 2000, 4), ((4961, 7016), 0, 1)],
)
def test_reduction_is_the_smallest_integer_factor_within_the_limit(size, limit, factor):
    assert ocr.reduction(size, limit) == factor


def test_a_blank_page_is_a_failure_to_escalate_not_an_empty_answer():
    blank = Image.new("RGB", (400, 300), "white")
    with pytest.raises(InvalidOutput, match=r"OCR read only 0 characters, fewer than min_chars=40"):
        ocr_page(blank, OcrOptions())
    with pytest.raises(InvalidOutput):
        ocr_document(document_of(blank), OcrOptions())


def test_too_short_text_is_refused_without_quoting_it():
    image = Image.new("RGB", (500, 120), "white")
    ImageDraw.Draw(image).text((20, 40), "ZEBRA 42", fill="black", font=ImageFont.load_default(size=40))
    with pytest.raises(InvalidOutput) as refused:
        ocr_page(image, OcrOptions(min_chars=40))
    assert "fewer than min_chars=40" in str(refused.value)
    assert "ZEBRA" not in str(refused.value)
    assert "ZEBRA" in ocr_page(image, OcrOptions(min_chars=3)).text


def test_a_run_past_timeout_s_raises_timeout_error(receipt):
    _, image = receipt
    with pytest.raises(TimeoutError, match="timeout_s"):
        ocr_page(image, OcrOptions(timeout_s=0.001))


def test_missing_tesseract_is_unavailable_with_the_install_hint(monkeypatch, receipt):
    import pytesseract

    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    assert ocr.tesseract_cmd() is None
    with pytest.raises(BackendUnavailable, match="apt-get install tesseract-ocr"):
        ocr_page(receipt[1], OcrOptions())


def test_tesseract_runs_with_one_openmp_thread_without_touching_os_environ(monkeypatch, tmp_path):
    """A stand-in binary reports the OMP_THREAD_LIMIT and arguments it was started with."""
    words = [
        ["5", "1", "1", "1", "1", "1", "0", "0", "9", "9", "90", "omp=$OMP_THREAD_LIMIT"],
        ["5", "1", "1", "1", "1", "2", "9", "0", "9", "9", "80", "args=$5$6$7"],
    ]
    tsv = "\\n".join("\\t".join(word) for word in words)  # escapes for the shell's printf
    fake = _fake_tesseract(tmp_path, f'printf "${{HEADER}}{tsv}\\n"')
    monkeypatch.setattr("pytesseract.pytesseract.tesseract_cmd", str(fake))
    monkeypatch.setenv("OMP_THREAD_LIMIT", "8")
    page = ocr_page(Image.new("RGB", (10, 10)), OcrOptions(psm=4, min_chars=0))
    assert page.text == "omp=1 args=--psm4tsv"
    assert page.mean_confidence == 85 and page.words == 2
    assert os.environ["OMP_THREAD_LIMIT"] == "8"


def test_a_failing_tesseract_raises_with_its_last_error_line(monkeypatch, tmp_path):
    fake = _fake_tesseract(tmp_path, 'echo "Warning: something" >&2; echo "Image too large: (1, 99999)" >&2; exit 1')
    monkeypatch.setattr("pytesseract.pytesseract.tesseract_cmd", str(fake))
    with pytest.raises(RuntimeError, match=r"status 1: Image too large: \(1, 99999\)$"):
        ocr_page(Image.new("RGB", (10, 10)), OcrOptions())


def test_a_language_without_data_is_unavailable_with_the_package_to_install(receipt):
    assert ocr.missing_languages("eng+xyz") == ["xyz"]  # preflight's check
    with pytest.raises(BackendUnavailable, match=r"no data for language\(s\) 'xyz'.*tesseract-ocr-xyz"):
        ocr_page(receipt[1], OcrOptions(lang="xyz"))


def test_parse_tsv_groups_words_into_lines_and_skips_empty_and_unscored_rows():
    rows = [
        "1\t1\t0\t0\t0\t0\t0\t0\t100\t100\t-1\t",
        "5\t1\t1\t1\t1\t1\t10\t5\t30\t10\t90\tTOTAL",
        "5\t1\t1\t1\t1\t2\t50\t6\t30\t11\t70\t9.00",
        "5\t1\t1\t1\t2\t1\t10\t20\t30\t10\t-1\t ",
        "5\t1\t2\t1\t1\t1\t12\t40\t40\t10\t50\tCASH",
    ]
    page = parse_tsv(TSV_HEADER + "\n".join(rows) + "\n")
    assert page.text == "TOTAL 9.00\nCASH"
    assert (page.words, page.chars, page.mean_confidence) == (3, 15, 70)
    first = page.lines[0]
    assert (first.left, first.top, first.width, first.height, first.confidence) == (10, 5, 70, 12, 80)


def test_join_of_no_pages_is_empty():
    assert OcrPage.join([]) == OcrPage(text="", mean_confidence=0.0, words=0, chars=0)


def _fake_tesseract(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "tesseract"
    header = TSV_HEADER.replace("\t", "\\t").replace("\n", "\\n")
    script.write_text(f'#!/bin/sh\ncat > /dev/null\nHEADER="{header}"\n{body}\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def test_pages_reach_tesseract_through_an_in_memory_file_or_stdin_alike(receipt, monkeypatch):
    """Linux hands tesseract a BMP in a memfd (fast, nothing on disk); elsewhere PNG on stdin: same text."""
    _, image = receipt
    through_memory = ocr.run_tesseract(image, OcrOptions())
    monkeypatch.setattr(ocr, "_memory_file", lambda _image: None)
    assert ocr.run_tesseract(image.convert("RGBA"), OcrOptions()) == through_memory
    assert ocr.run_tesseract(image, OcrOptions()) == through_memory
