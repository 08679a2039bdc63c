"""The e-invoice reader: CII (Factur-X / ZUGFeRD 2 / XRechnung), ZUGFeRD 1 and UBL XML read exactly;
hostile or malformed XML refused as invalid output; documents without e-invoice XML declined."""

from __future__ import annotations

import dataclasses

import pytest
from PIL import Image

from backends import registry
from backends.documents.document import Document, EmbeddedFile
from backends.documents.textlayer import PageText, TextLine
from backends.einvoice.reader import EInvoiceBackend
from backends.errors import InvalidOutput, NotApplicable
from backends.options import EInvoiceOptions
from tests.backends import einvoice_xml as xml


def pdf_with(*files: EmbeddedFile) -> Document:
    page = Image.new("RGB", (8, 8), "white")
    return Document("e" * 64, (page,), "application/pdf", "invoice.pdf", 100, attachments=files)


def read(name: str, data: bytes, printed: tuple[str, ...] = ()):
    document = pdf_with(EmbeddedFile(name, data))
    if printed:
        lines = tuple(TextLine(text, 10, 10 + 12 * i, 200, 10) for i, text in enumerate(printed))
        document = dataclasses.replace(document, text_layer=(PageText(lines),))
    return EInvoiceBackend(EInvoiceOptions()).extract(document)


def test_a_factur_x_invoice_is_read_exactly_from_its_cii_xml():
    extraction = read("factur-x.xml", xml.CII)
    fields = extraction.fields
    assert (fields.merchant, fields.date, fields.date_raw) == ("Eisenwaren Huber GmbH", "2024-03-14", "20240314")
    assert (fields.total, fields.amount_due, fields.currency) == ("56.58", "46.58", "EUR")
    assert fields.invoice_number == "RE-2024-0815"  # the document's ID, not the guideline's
    assert fields.address == "Marienplatz 1, 80331 München, DE"
    assert [(i.description, i.quantity, i.amount) for i in fields.line_items] == [
        ("Schrauben M4", "4.0000", "40.00"),
        ("Muttern M4", "2", "7.55"),
    ]
    assert extraction.meta["einvoice_syntax"] == "cii" and extraction.meta["line_items"] == 2
    assert "Huber" not in str(extraction.meta)  # meta is logged: no document text


def test_a_zugferd_1_invoice_is_read():
    fields = read("ZUGFeRD-invoice.xml", xml.ZUGFERD1).fields
    assert (fields.merchant, fields.date, fields.total, fields.invoice_number) == (
        "Lieferant GmbH",
        "2013-03-05",
        "529.87",
        "471102",
    )
    assert [(i.description, i.quantity, i.amount) for i in fields.line_items] == [
        ("Trennblätter A4", "20.0000", "198.00")
    ]


def test_a_ubl_invoice_is_read():
    extraction = read("xrechnung.xml", xml.UBL)
    fields = extraction.fields
    assert (fields.merchant, fields.date, fields.total, fields.amount_due, fields.currency) == (
        "Widgets Ltd",
        "2024-02-29",
        "120.00",
        "120.00",
        "GBP",
    )
    assert fields.address == "1 High Street, LS1 1AA Leeds, GB"
    assert extraction.meta["einvoice_syntax"] == "ubl"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (xml.BILLION_LAUGHS, "refused, the XML declares DTDForbidden"),
        (xml.EXTERNAL_ENTITY, "refused, the XML declares DTDForbidden"),
        (xml.MALFORMED, "malformed XML"),
        (b"<metadata><title>x</title></metadata>", "root element 'metadata' is not a CII or UBL invoice"),
    ],
    ids=["billion-laughs", "external-entity", "malformed", "not-an-invoice"],
)
def test_hostile_or_broken_xml_is_invalid_output_naming_the_file(data, problem):
    with pytest.raises(InvalidOutput, match=r"embedded factur-x\.xml") as caught:
        read("factur-x.xml", data)
    assert problem in str(caught.value)
    assert "lol" not in str(caught.value) and "passwd" not in str(caught.value)


def test_a_total_with_a_huge_exponent_is_refused_unwritten():
    """ "1e30000000" would be written out as 30 million digits; the schema refuses it as given."""
    data = xml.CII.replace(b">56.58</ram:GrandTotalAmount>", b">1e30000000</ram:GrandTotalAmount>")
    assert data != xml.CII
    with pytest.raises(InvalidOutput, match=r"total: .*at most 18 digits before the point") as caught:
        read("factur-x.xml", data)
    assert len(str(caught.value)) < 300


def test_a_refused_value_is_named_by_its_field_never_quoted():
    """The refusal reaches the decision log: a currency holding an IBAN and a name stays out of it."""
    secret = b"IBAN DE89370400440532013000 Max Mustermann"
    with pytest.raises(InvalidOutput, match="currency") as caught:
        read(
            "factur-x.xml",
            xml.CII.replace(b">EUR</ram:InvoiceCurrencyCode>", b">" + secret + b"</ram:InvoiceCurrencyCode>"),
        )
    assert "IBAN" not in str(caught.value) and "Mustermann" not in str(caught.value)


def test_an_embedded_file_over_the_size_limit_is_invalid_output_unread():
    too_big = EmbeddedFile("factur-x.xml", None, "9000000 bytes, over the limit of 5242880")
    with pytest.raises(InvalidOutput, match="over the limit"):
        EInvoiceBackend(EInvoiceOptions()).extract(pdf_with(too_big))


def test_a_document_without_einvoice_xml_is_declined_before_any_attempt():
    options = EInvoiceOptions()
    assert registry.declines(options, pdf_with()) == "no embedded e-invoice XML"
    assert registry.declines(options, pdf_with(EmbeddedFile("metadata.xml", b"<x/>"))) == "no embedded e-invoice XML"
    assert registry.declines(options, pdf_with(EmbeddedFile("factur-x.xml", b"<x/>"))) is None
    with pytest.raises(NotApplicable):
        EInvoiceBackend(options).extract(pdf_with())


def test_other_backends_never_decline():
    from backends.options import OcrRulesOptions

    assert registry.declines(OcrRulesOptions(), pdf_with()) is None


@pytest.mark.parametrize(
    ("printed", "agrees", "confidence"),
    [
        (("Eisenwaren Huber GmbH", "Rechnung RE-2024-0815", "Gesamtbetrag 56,58 EUR"), True, 1.0),
        (("Eisenwaren Huber GmbH", "Rechnung RE-2024-0815", "Endsumme 56,59 EUR"), False, 0.5),
        ((), None, 1.0),
    ],
)
def test_the_xml_total_is_checked_against_the_total_the_page_prints(printed, agrees, confidence):
    extraction = read("factur-x.xml", xml.CII, printed)
    assert extraction.fields.total == "56.58"  # the XML's, always: the structured invoice is exact
    assert extraction.meta["total_printed"] is agrees
    assert extraction.fields.confidence.get("total") == confidence
    assert extraction.fields.confidence["merchant"] == 1.0  # read from the XML: exact


def test_a_credit_notes_negative_total_does_not_agree_with_the_same_amount_printed_positive():
    """An XML total of -56.58 against a printed 56.58 was agreement, at confidence 1.0."""
    credit = xml.CII.replace(b"<ram:GrandTotalAmount>56.58<", b"<ram:GrandTotalAmount>-56.58<")
    assert credit != xml.CII
    extraction = read("factur-x.xml", credit, ("Eisenwaren Huber GmbH", "Gesamtbetrag 56,58 EUR"))
    assert extraction.meta["total_printed"] is False and extraction.fields.confidence["total"] == 0.5
    signed = read("factur-x.xml", credit, ("Eisenwaren Huber GmbH", "Gutschrift -56,58 EUR"))
    assert signed.meta["total_printed"] is True


def test_two_embedded_invoices_that_disagree_are_reported_and_neither_total_trusted():
    other = xml.CII.replace(b"<ram:GrandTotalAmount>56.58<", b"<ram:GrandTotalAmount>99.99<")
    document = pdf_with(EmbeddedFile("factur-x.xml", xml.CII), EmbeddedFile("zugferd-invoice.xml", other))
    extraction = EInvoiceBackend(EInvoiceOptions()).extract(document)
    assert extraction.meta["einvoice_disagreeing"] == {"total": ["zugferd-invoice.xml"]}
    assert extraction.fields.confidence["total"] == 0.5
    same = pdf_with(EmbeddedFile("factur-x.xml", xml.CII), EmbeddedFile("zugferd-invoice.xml", xml.CII))
    assert EInvoiceBackend(EInvoiceOptions()).extract(same).meta["einvoice_disagreeing"] == {}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ((b'xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"', b'xmlns:rsm="urn:x"'),
         "not in its standard's namespace"),
        ((b">56.58</ram:GrandTotalAmount>", b">5_6.58</ram:GrandTotalAmount>"), "total: Value error, expected"),
        ((b"<ram:Name>Eisenwaren Huber GmbH</ram:Name>", b"<ram:Name>" + b"A" * 200_000 + b"</ram:Name>"),
         "expected at most 1000 characters"),
    ],
    ids=["foreign-namespace", "underscored-amount", "huge-name"],
)  # fmt: skip
def test_an_invoice_outside_its_standard_is_refused_naming_the_problem(change, problem):
    """Any namespace or none, Python's Decimal reading 5_6.58 as 56.58, a 200,000-character name."""
    changed = xml.CII.replace(*change)
    assert changed != xml.CII
    with pytest.raises(InvalidOutput, match=problem):
        read("factur-x.xml", changed)


@pytest.mark.parametrize(
    "written",
    ["99991231", "00010101", "00000000", "20241332", "20230229", "18991231", "31.12.2024", "2024-3-14", "heute"],
    ids=["placeholder-9999", "placeholder-0001", "zeros", "month-13", "no-leap-day", "before-1900", "dotted",
         "short-month", "words"],
)  # fmt: skip
def test_a_date_that_is_no_date_drops_only_the_date_and_the_rest_of_the_invoice_stands(written):
    """A generator's placeholder, an impossible day or a date in another format: the XML's other
    fields are exact all the same; the date is left missing, its text kept, and meta names it."""
    dated = xml.CII.replace(b">20240314<", f">{written}<".encode())
    assert dated != xml.CII
    extraction = read("factur-x.xml", dated)
    fields = extraction.fields
    assert (fields.date, fields.date_raw, fields.total, fields.invoice_number) == (
        None,
        written,
        "56.58",
        "RE-2024-0815",
    )
    assert "date" not in fields.confidence and fields.confidence["total"] == 1.0
    assert extraction.meta["einvoice_unread"] == ["date"]


def test_a_ubl_date_that_is_no_date_drops_only_the_date():
    fields = read("invoice-ubl.xml", xml.UBL.replace(b">2024-02-29<", b">2023-02-29<")).fields
    assert (fields.date, fields.date_raw, fields.invoice_number) == (None, "2023-02-29", "UBL-77")


@pytest.mark.parametrize("written", ["2024-02-29Z", "2024-02-29+01:00", "2024-02-29-05:00"])
def test_a_ubl_date_with_a_time_zone_is_the_day_it_names(written):
    """xsd:date allows a time zone; it was read as no date."""
    fields = read("invoice-ubl.xml", xml.UBL.replace(b">2024-02-29<", f">{written}<".encode())).fields
    assert (fields.date, fields.date_raw) == ("2024-02-29", written)


def test_a_date_in_another_scripts_digits_is_no_xml_date():
    """xsd:date's digits are ASCII: Arabic-Indic ones are left out like any other unreadable date."""
    arabic = ">\u0662\u0660\u0662\u0664\u0660\u0663\u0661\u0664<".encode()
    fields = read("factur-x.xml", xml.CII.replace(b">20240314<", arabic)).fields
    assert fields.date is None and fields.total == "56.58"
