"""PDFs end to end with the cpu policy: born-digital pages read from their text layer without
rendering, scanned pages still OCR'd, e-invoices answered from their embedded XML, and hostile XML
refused as a classified error while the chain still answers. The PDFs are built here."""

from __future__ import annotations

import random
import zlib

import pytest

from backends.fields.ocr_rules import OcrRulesBackend
from backends.options import OcrRulesOptions
from backends.testing.synthetic import random_receipt, render_receipt
from backends.testing.synthetic_pdf import joined_pdf, scanned_pdf, text_pdf
from router import Router
from router.api.inputs import load_document
from router.failures.errors import BadInputError
from router.policy.model import InputLimits
from router.workers import transport
from tests.backends import einvoice_xml as xml
from tests.router.hostile_pdfs import embedding
from tests.router.surfaces_kit import cpu_inline

INVOICE = [
    "Eisenwaren Huber GmbH",
    "Marienplatz 1, 80331 München",
    "Rechnung Nr. RE-2024-0815",
    "Rechnungsdatum: 14.03.2024",
    ("Schrauben M4", "40.00"),
    ("Muttern M4", "7.55"),
    ("Nettobetrag", "47.55"),
    ("MwSt 19%", "9.03"),
    ("TOTAL EUR", "56.58"),
]


@pytest.fixture(scope="module")
def cpu_router():
    with Router(cpu_inline()) as router:
        yield router


def test_a_born_digital_pdf_is_read_from_its_text_layer_and_never_rendered():
    document = load_document(text_pdf([INVOICE]), InputLimits(), name="invoice.pdf")
    assert document.attachments == () and document.pages.rendered() == []
    assert "TOTAL EUR 56.58" in [line.text for line in document.text_layer[0].lines]
    extraction = OcrRulesBackend(OcrRulesOptions()).extract(document)
    assert extraction.meta["page_sources"] == ["text_layer"]
    assert (extraction.fields.total, extraction.fields.date) == ("56.58", "2024-03-14")
    assert document.pages.rendered() == []  # no page was rendered, none OCR'd
    assert document.pages[0].size == (1653, 2339)  # an A4 page at 200 dpi, rendered when a tier asks
    assert document.pages.rendered() == [0]


def test_the_cpu_policy_answers_a_born_digital_pdf_and_says_how_each_page_was_read(cpu_router):
    result = cpu_router.extract(text_pdf([INVOICE]), name="invoice.pdf")
    assert (result.status, result.tier) == ("ok", "ocr-rules")
    assert result.fields["total"].value == "56.58"
    assert result.meta["page_sources"] == ["text_layer"]
    assert [(s.tier, s.reason) for s in result.skipped] == [("einvoice", "not_applicable")]


@pytest.fixture(scope="module")
def receipt():
    spec = random_receipt(random.Random(7), locale="UK", degrade=False)
    return spec, render_receipt(spec)


def test_a_scanned_pdf_is_still_rendered_and_ocrd(cpu_router, receipt):
    spec, image = receipt
    document = load_document(scanned_pdf([image]), InputLimits(), name="scan.pdf")
    assert document.text_layer == (None,) and document.pages.rendered() == [0]
    result = cpu_router.extract(scanned_pdf([image]), name="scan.pdf")
    assert result.status == "ok", result.error
    assert result.fields["total"].value == str(spec.total)
    assert result.meta["page_sources"] == ["ocr"]


def test_a_born_digital_page_beside_a_scanned_one_each_read_its_way(receipt):
    _, image = receipt
    document = load_document(joined_pdf(text_pdf([INVOICE]), scanned_pdf([image])), InputLimits(), name="m.pdf")
    assert [layer is not None for layer in document.text_layer] == [True, False]
    assert document.pages.rendered() == [1]  # the scan, at load; the text page never
    extraction = OcrRulesBackend(OcrRulesOptions()).extract(document)
    assert extraction.meta["page_sources"] == ["text_layer", "ocr"]
    assert document.pages.rendered() == [1]


def test_a_page_stored_sideways_is_read_in_its_text_direction():
    document = load_document(text_pdf([INVOICE], sideways=True), InputLimits(), name="sideways.pdf")
    assert [line.text for line in document.text_layer[0].lines][-1] == "TOTAL EUR 56.58"
    assert document.pages[0].size == (1653, 2339)  # shown upright (/Rotate 90): portrait


def test_a_scan_under_an_invisible_ocr_layer_is_ocrd_by_docroute():
    document = load_document(text_pdf([INVOICE], invisible=True), InputLimits(), name="app-scan.pdf")
    assert document.text_layer == (None,) and document.pages.rendered() == [0]


def test_a_page_whose_text_layer_is_garbage_is_ocrd():
    garbage = ["#$%& ()*+ ,-./ {|}~ <=>?"] * 8
    document = load_document(text_pdf([garbage]), InputLimits(), name="garbage.pdf")
    assert document.text_layer == (None,) and document.pages.rendered() == [0]


def test_text_layers_and_embedded_xml_travel_to_worker_processes():
    document = load_document(text_pdf([INVOICE], attachments={"factur-x.xml": xml.CII}), InputLimits(), name="e.pdf")
    header, overflow = transport.pack(document, None)
    copy = transport.unpack(header, None, overflow)
    assert copy.text_layer == document.text_layer and copy.attachments == document.attachments


def test_a_factur_x_pdf_is_answered_from_its_xml(cpu_router):
    result = cpu_router.extract(text_pdf([INVOICE], attachments={"factur-x.xml": xml.CII}), name="facturx.pdf")
    assert (result.status, result.tier) == ("ok", "einvoice")
    values = {name: field.value for name, field in result.fields.items()}
    assert {k: values[k] for k in ("merchant", "date", "total", "amount_due", "currency", "invoice_number")} == {
        "merchant": "Eisenwaren Huber GmbH",
        "date": "2024-03-14",
        "total": "56.58",
        "amount_due": "46.58",
        "currency": "EUR",
        "invoice_number": "RE-2024-0815",
    }
    assert len(values["line_items"]) == 2
    assert {field.backend for field in result.fields.values()} == {"einvoice"}
    assert result.meta["einvoice_file"] == "factur-x.xml"


@pytest.mark.parametrize("hostile", [xml.BILLION_LAUGHS, xml.MALFORMED], ids=["billion-laughs", "malformed"])
def test_hostile_xml_is_a_classified_error_and_the_chain_still_answers(cpu_router, hostile):
    result = cpu_router.extract(text_pdf([INVOICE], attachments={"factur-x.xml": hostile}), name="hostile.pdf")
    assert result.tier == "ocr-rules" and result.fields["total"].value == "56.58"
    first = result.attempts[0]
    assert (first.tier, first.outcome, first.error_class) == ("einvoice", "failed", "invalid_output")
    assert "embedded factur-x.xml" in (first.message or "")


def test_documents_without_xml_skip_the_einvoice_tier_without_counting_against_it(cpu_router):
    for _ in range(7):  # more than the breaker's threshold of 5
        result = cpu_router.extract(text_pdf([INVOICE]), name="plain.pdf")
        assert result.status == "ok" and [a.tier for a in result.attempts] == ["ocr-rules"]
    status = cpu_router.status()["einvoice"]
    assert (status["breaker"], status["unavailable"]) == ("closed", None)
    answered = cpu_router.extract(text_pdf([INVOICE], attachments={"factur-x.xml": xml.CII}), name="e.pdf")
    assert answered.tier == "einvoice"


def test_replay_predicts_the_not_applicable_skip_and_the_einvoice_answer(tmp_path):
    from router.forensics.reader import read_logs
    from router.forensics.replay import replay
    from router.policy.model import load_policy

    log = tmp_path / "cpu.jsonl"
    documents = [text_pdf([INVOICE]), text_pdf([INVOICE], attachments={"factur-x.xml": xml.CII})]
    with Router.from_policy("cpu", log_json=log, log_stderr=False) as router:
        results = [router.extract(data, name=f"d{i}.pdf") for i, data in enumerate(documents)]
    report = replay(read_logs([log]).events, load_policy("cpu"))
    predicted = [(p.predicted.status, p.predicted.tier) for p in report.predictions]
    assert predicted == [(r.status, r.tier) for r in results] == [("ok", "ocr-rules"), ("ok", "einvoice")]
    assert report.predictions[0].predicted.path[0] == "einvoice:skip(not_applicable)"


def test_an_einvoice_whose_date_is_a_placeholder_keeps_its_xml_answer_with_the_date_missing(tmp_path):
    """The XML's 00010101 says the generator had no date; the page prints the same placeholder and a
    due date, which OCR would take for the issue date. The exact XML answer stands, degraded, with
    the date named missing for review, and replay predicts it."""
    from router.forensics.reader import read_logs
    from router.forensics.replay import replay
    from router.policy.model import load_policy

    placeholder = xml.CII.replace(b">20240314<", b">00010101<")
    page = [row for row in INVOICE if "datum" not in str(row)] + ["Leistungsdatum: 01.01.0001", "Fällig: 16.09.2026"]
    log = tmp_path / "cpu.jsonl"
    with Router.from_policy("cpu", log_json=log, log_stderr=False) as router:
        result = router.extract(text_pdf([page], attachments={"factur-x.xml": placeholder}), name="p.pdf")
    assert (result.status, result.tier, result.missing) == ("degraded", "einvoice", ["date"])
    assert "date" not in result.fields and result.fields["invoice_number"].value == "RE-2024-0815"
    assert result.fields["date_raw"].value == "00010101"  # what the XML says, for the reviewer
    assert {field.backend for field in result.fields.values()} == {"einvoice"}
    assert result.meta["einvoice_unread"] == ["date"]
    [predicted] = replay(read_logs([log]).events, load_policy("cpu")).predictions
    assert (predicted.predicted.status, predicted.predicted.tier) == ("degraded", "einvoice")


MARKED = b"/Type /EmbeddedFile /Subtype /text#2Fxml"


def test_a_small_compressed_embedded_xml_is_read():
    document = load_document(embedding(MARKED + b" /Filter /FlateDecode", zlib.compress(xml.CII)), InputLimits())
    assert [(f.name, f.data) for f in document.attachments] == [("factur-x.xml", xml.CII)]


@pytest.mark.parametrize(
    ("dictionary", "stream", "data", "problem"),
    [
        (MARKED + b" /Filter /FlateDecode", zlib.compress(b" " * (6 * 2**20), 9), None, "over the limit of 5242880"),
        (MARKED + b" /Params << /Size 9999999999 >>", b"<a/>", b"<a/>", None),
        (
            MARKED + b" /Filter [/ASCIIHexDecode /FlateDecode]",
            zlib.compress(b"<a/>").hex().encode() + b">",
            b"<a/>",
            None,
        ),
        (b"/Filter /FlateDecode", zlib.compress(b"<a/>"), b"<a/>", None),
    ],
    ids=["inflates-too-large", "declares-too-large", "chained-filters", "unmarked"],
)
def test_an_embedded_file_is_measured_by_decoding_it_in_the_reader_whatever_its_dictionary_says(
    dictionary, stream, data, problem
):
    """Neither a declared size nor the filters named decide: the capped reader decodes the file and
    measures what came out."""
    [embedded] = load_document(embedding(dictionary, stream), InputLimits()).attachments
    assert (embedded.data, embedded.problem and problem in embedded.problem) == (data, problem and True)


def test_the_cpu_policys_last_tier_answers_without_a_date_as_degraded_naming_it(cpu_router):
    undated = [line for line in INVOICE if not (isinstance(line, str) and "datum" in line)]
    result = cpu_router.extract(text_pdf([undated]), name="undated.pdf")
    assert (result.status, result.tier, result.missing) == ("degraded", "ocr-rules", ["date"])
    assert "date" not in result.fields and result.fields["total"].value == "56.58"


def test_the_cpu_policys_last_tier_still_refuses_an_answer_without_a_total(cpu_router):
    untotalled = [line for line in INVOICE if isinstance(line, str)]
    result = cpu_router.extract(text_pdf([untotalled]), name="untotalled.pdf")
    assert result.status == "failed" and result.error.error_class == "invalid_output"
    assert "total" not in result.partial and result.partial["merchant"].value


def test_a_poster_sized_page_with_a_text_layer_is_read_and_refused_only_when_asked_to_render():
    """A 20000 pt square page was refused as a decompression bomb though it need never be drawn."""
    document = load_document(text_pdf([INVOICE], size=(20_000.0, 20_000.0)), InputLimits(), name="poster.pdf")
    assert "TOTAL EUR 56.58" in [line.text for line in document.text_layer[0].lines]
    with pytest.raises(BadInputError, match=r"poster.pdf page 1: image is .* possible decompression bomb"):
        document.pages[0]


def test_a_page_tree_that_claims_more_pages_than_it_has_is_read_by_the_pages_that_load():
    """A /Count of 100000 over one page was refused as 100000 pages."""
    from tests.router.hostile_pdfs import pdf, stream

    content = b"BT /F1 11 Tf 50 780 Td " + b" ".join(b"(Receipt line %d TOTAL 27.10) Tj 0 -14 Td" % n for n in range(6))
    data = pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 100000 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
            b" /Resources << /Font << /F1 5 0 R >> >> >>",
            stream(b"", content + b" ET"),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
    )
    document = load_document(data, InputLimits(), name="liar.pdf")
    assert len(document.pages) == 1 and document.pages_total is None
    assert document.text_layer[0] is not None
