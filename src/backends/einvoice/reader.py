"""E-invoices read from the XML their PDF embeds: ZUGFeRD, Factur-X and XRechnung (CII), and UBL.

A ZUGFeRD / Factur-X PDF (PDF/A-3) carries the whole invoice as XML (``factur-x.xml``,
``zugferd-invoice.xml``, ...); ``router.api.inputs`` extracts it with the PDF (``backends.documents.pdf``). The
answer is exact: seller, issue date, grand total, amount due, currency, invoice number, seller
address and line items, straight from the XML, no OCR. The grand total is checked against the
PDF's printed text: a page that prints another total (the document contradicts itself) lowers its
confidence to 0.5, and ``meta["total_printed"]`` says which. Elements are found by local name, so CII
(``CrossIndustryInvoice``), ZUGFeRD 1 (``CrossIndustryDocument``) and UBL (``Invoice``,
``CreditNote``) share one reader.

A document without such a file is declined before any attempt (``declines``: the router skips the
tier as ``not_applicable``, which counts against nothing). The XML is untrusted: it is parsed with
defusedxml, DTDs and entities forbidden (billion laughs, external entities), and a file over
``backends.documents.pdf.MAX_ATTACHMENT_BYTES`` is never read. Malformed or hostile XML, or XML that is not an
invoice, is ``InvalidOutput`` naming the file and the problem, never the document's text: the
chain goes on to the next tier.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from backends.documents.document import Document, EmbeddedFile
from backends.errors import InvalidOutput, NotApplicable
from backends.fields.rules.lines import make_lines
from backends.fields.rules.total import find_total
from backends.normalize import MAX_AMOUNT_DIGITS, find_amounts
from backends.ocr.reader import layer_text
from backends.options import EInvoiceOptions
from backends.protocol import BaseBackend, Extraction
from backends.schema import DATE_YEARS, ReceiptFields

#: The names the standards give the embedded file (Factur-X, ZUGFeRD 1 and 2, XRechnung), lower case.
KNOWN_NAMES = ("factur-x.xml", "zugferd-invoice.xml", "xrechnung.xml", "order-x.xml")
#: Words that make any other embedded XML file worth a look.
NAME_HINTS = ("invoice", "factur", "zugferd", "xrechnung", "rechnung", "ubl", "cii")
#: Most line items read (a real invoice has a few hundred at most).
MAX_LINE_ITEMS = 1000
#: The fields whose confidence the XML sets to 1 (those a policy's accept can name).
CONFIDENT = frozenset(
    {"merchant", "date", "total", "address", "currency", "invoice_number", "amount_due", "line_items"}
)

_CII_ROOTS = ("CrossIndustryInvoice", "CrossIndustryDocument")
_UBL_ROOTS = ("Invoice", "CreditNote")
#: The namespace each root element must be in (an invoice in another, or in none, is not one).
_NAMESPACES = {
    "CrossIndustryInvoice": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "CrossIndustryDocument": "urn:ferd:CrossIndustryDocument:invoice:1p0",
    "Invoice": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    "CreditNote": "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
}


class EInvoiceBackend(BaseBackend):
    kind = "einvoice"
    uses_gpu = False

    def __init__(self, options: EInvoiceOptions):
        self.options = options

    @classmethod
    def declines(cls, options: Any, document: Document) -> str | None:
        """Why this tier does not apply to ``document`` (no embedded e-invoice XML), or None."""
        return None if _candidates(document) else "no embedded e-invoice XML"

    def extract(self, document: Document) -> Extraction:
        candidates = _candidates(document)
        if not candidates:
            raise NotApplicable(f"{document.source}: no embedded e-invoice XML")
        started = time.perf_counter()
        embedded = candidates[0]
        if embedded.data is None:
            raise InvalidOutput(f"embedded {embedded.name}: {embedded.problem}")
        printed = layer_text(document)
        root = parse_xml(embedded.data, embedded.name)
        fields, syntax = read_invoice(root, embedded.name)
        agrees = total_printed(fields, printed)
        # The XML is exact: every field it gives is sure (so a cascade accepts it), except a total the
        # page prints otherwise, which is doubtful.
        sure = {name: 0.5 if name == "total" and agrees is False else 1.0 for name in fields.present() & CONFIDENT}
        fields = fields.model_copy(update={"confidence": sure})
        disagreeing = _disagreements(fields, candidates[1:])
        if disagreeing:  # another embedded invoice says otherwise: neither is sure
            doubted = dict.fromkeys(disagreeing, 0.5)
            fields = fields.model_copy(update={"confidence": {**fields.confidence, **doubted}})
        meta = {
            "einvoice_file": embedded.name,
            "einvoice_syntax": syntax,
            "xml_bytes": len(embedded.data),
            "total_printed": agrees,
            "einvoice_disagreeing": disagreeing,
            "einvoice_unread": ["date"] if fields.date is None and fields.date_raw else [],
            "line_items": len(fields.line_items),
            "parse_s": round(time.perf_counter() - started, 4),
            "pages": len(document.pages),
        }
        return Extraction(fields, meta, document.text_if_asked(printed))  # an evaluation's ceiling


def total_printed(fields: ReceiptFields, text: str) -> bool | None:
    """Whether the PDF's printed text agrees with the XML's grand total: True where it prints that
    amount, False where it prints none and states another total ("Endsumme 963,12 €" over XML
    963.11: the document contradicts itself, a pipeline may send it to review), None where there is
    nothing to compare (no total, no text layer)."""
    if fields.total is None or not text.strip():
        return None
    total = Decimal(fields.total)  # signed: a credit note's -27.10 is not a printed 27.10
    if any(a.value == total for line in text.splitlines() for a in find_amounts(line)):
        return True
    stated = find_total(make_lines(text.splitlines()))
    return None if stated is None else stated.amount.value == total


#: The fields two embedded invoices of one PDF are compared on.
_COMPARED = ("merchant", "date", "total", "amount_due", "currency", "invoice_number")


def _disagreements(fields: ReceiptFields, others: list[EmbeddedFile]) -> dict[str, list[str]]:
    """The fields on which another readable embedded invoice differs, with the files that differ."""
    found: dict[str, list[str]] = {}
    for other in others:
        if other.data is None:
            continue
        try:
            theirs, _ = read_invoice(parse_xml(other.data, other.name), other.name)
        except InvalidOutput:  # not an invoice after all: nothing to compare
            continue
        for name in _COMPARED:
            mine, their = getattr(fields, name, None), getattr(theirs, name, None)
            if mine is not None and their is not None and mine != their:
                found.setdefault(name, []).append(other.name)
    return found


def _candidates(document: Document) -> list[EmbeddedFile]:
    """The embedded files that may be the e-invoice, the standard names first."""
    known = [f for f in document.attachments if f.name.lower() in KNOWN_NAMES]
    hinted = [f for f in document.attachments if f not in known and any(h in f.name.lower() for h in NAME_HINTS)]
    return known + hinted


def parse_xml(data: bytes, name: str) -> Element:
    """The XML's root, parsed hardened: no DTD, no entities, no external references."""
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    try:
        root: Element = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise InvalidOutput(f"embedded {name}: refused, the XML declares {type(exc).__name__} content") from None
    except ParseError as exc:
        raise InvalidOutput(f"embedded {name}: malformed XML ({exc})") from None
    return root


def read_invoice(root: Element, name: str) -> tuple[ReceiptFields, str]:
    """The fields of a CII or UBL invoice, and which syntax it was."""
    local = _local(root.tag)
    namespace = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else None
    if namespace != _NAMESPACES.get(local, namespace):
        raise InvalidOutput(f"embedded {name}: root element {local!r} is not in its standard's namespace")
    if local in _CII_ROOTS:
        values, syntax = _cii(root), "cii" if local == "CrossIndustryInvoice" else "zugferd1"
    elif local in _UBL_ROOTS:
        values, syntax = _ubl(root), "ubl"
    else:
        raise InvalidOutput(f"embedded {name}: root element {local!r} is not a CII or UBL invoice")
    try:
        return ReceiptFields.model_validate(values), syntax
    except ValueError as exc:
        raise InvalidOutput(f"embedded {name}: {_first_line(exc)}") from None


def _cii(root: Element) -> dict[str, Any]:
    # CII (ZUGFeRD 2, Factur-X, XRechnung) names first, then ZUGFeRD 1's
    document = _first(root, "ExchangedDocument", "HeaderExchangedDocument")
    trade = _first(root, "SupplyChainTradeTransaction", "SpecifiedSupplyChainTradeTransaction")
    agreement = _first(trade, "ApplicableHeaderTradeAgreement", "ApplicableSupplyChainTradeAgreement")
    settlement = _first(trade, "ApplicableHeaderTradeSettlement", "ApplicableSupplyChainTradeSettlement")
    seller = _first(agreement, "SellerTradeParty")
    summation = _first(
        settlement, "SpecifiedTradeSettlementHeaderMonetarySummation", "SpecifiedTradeSettlementMonetarySummation"
    )
    currency = _text(_first(settlement, "InvoiceCurrencyCode"))
    date_raw = _text(_first(_first(document, "IssueDateTime"), "DateTimeString"))
    total_raw = _amount_text(summation, "GrandTotalAmount", currency)
    address = _first(seller, "PostalTradeAddress")
    return {
        "merchant": _text(_first(seller, "Name")),
        **_date_and_amounts(date_raw, total_raw, _amount_text(summation, "DuePayableAmount", currency)),
        "currency": currency,
        "invoice_number": _text(_first(document, "ID")),
        "address": _address(address, ("LineOne", "LineTwo", "LineThree"), "PostcodeCode", "CityName", ("CountryID",)),
        "line_items": [
            {
                "description": _text(_first(_first(item, "SpecifiedTradeProduct"), "Name")),
                "quantity": _amount(
                    _text(
                        _first(
                            _first(item, "SpecifiedLineTradeDelivery", "SpecifiedSupplyChainTradeDelivery"),
                            "BilledQuantity",
                        )
                    )
                ),
                "amount": _amount(_text(_deep(item, "LineTotalAmount"))),
            }
            for item in _children(trade, "IncludedSupplyChainTradeLineItem", limit=MAX_LINE_ITEMS)
        ],
    }


def _ubl(root: Element) -> dict[str, Any]:
    seller = _path(root, "AccountingSupplierParty", "Party")
    totals = _first(root, "LegalMonetaryTotal")
    currency = _text(_first(root, "DocumentCurrencyCode"))
    date_raw = _text(_first(root, "IssueDate"))
    total_raw = _amount_text(totals, "TaxInclusiveAmount", currency)
    name = _text(_path(seller, "PartyName", "Name")) or _text(_path(seller, "PartyLegalEntity", "RegistrationName"))
    line_tag = "CreditNoteLine" if _local(root.tag) == "CreditNote" else "InvoiceLine"
    return {
        "merchant": name,
        **_date_and_amounts(date_raw, total_raw, _amount_text(totals, "PayableAmount", currency)),
        "currency": currency,
        "invoice_number": _text(_first(root, "ID")),
        "address": _address(
            _first(seller, "PostalAddress"),
            ("StreetName", "AdditionalStreetName"),
            "PostalZone",
            "CityName",
            ("Country", "IdentificationCode"),
        ),
        "line_items": [
            {
                "description": _text(_path(item, "Item", "Name")),
                "quantity": _amount(_text(_first(item, "InvoicedQuantity", "CreditedQuantity"))),
                "amount": _amount(_text(_first(item, "LineExtensionAmount"))),
            }
            for item in _children(root, line_tag, limit=MAX_LINE_ITEMS)
        ],
    }


def _date_and_amounts(date_raw: str | None, total_raw: str | None, due_raw: str | None) -> dict[str, Any]:
    """The date and amounts as both syntaxes give them: normalised, and as written."""
    return {
        "date": _iso_date(date_raw),
        "date_raw": date_raw,
        "total": _amount(total_raw),
        "total_raw": total_raw,
        "amount_due": _amount(due_raw),
    }


# -- finding elements by local name ------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(parent: Element | None, *names: str, limit: int = 1_000_000) -> Iterator[Element]:
    """The children of ``parent`` with one of these local names (Elements are never tested for
    truth here: a leaf element is falsy)."""
    if parent is None:
        return
    count = 0
    for child in parent:
        if _local(child.tag) in names:
            yield child
            count += 1
            if count >= limit:
                return


def _first(parent: Element | None, *names: str) -> Element | None:
    return next(_children(parent, *names), None)


def _path(parent: Element | None, *names: str) -> Element | None:
    for name in names:
        parent = _first(parent, name)
    return parent


def _deep(parent: Element, name: str) -> Element | None:
    """The first descendant named ``name`` (line totals sit at different depths in CII versions)."""
    return next((e for e in parent.iter() if _local(e.tag) == name), None)


def _text(element: Element | None) -> str | None:
    if element is None or element.text is None:
        return None
    return " ".join(element.text.split()) or None


def _amount_text(parent: Element | None, name: str, currency: str | None) -> str | None:
    """The amount named ``name``: the one in the invoice's currency where several are given (CII
    repeats tax totals in the tax currency)."""
    amounts = list(_children(parent, name))
    chosen = next((a for a in amounts if a.get("currencyID") in (None, currency)), amounts[0] if amounts else None)
    return _text(chosen)


#: An xsd:decimal as written: a sign, digits and a point (no exponent, no underscores: Python's
#: Decimal reads "2_7.10" as 27.10).
_XSD_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


def _amount(text: str | None) -> str | None:
    if text is None:
        return None
    if not _XSD_DECIMAL.fullmatch(text):
        return text  # the schema names the field and refuses it as given
    try:
        value = Decimal(text)
    except InvalidOperation:
        return text  # the schema names the field and refuses it
    if not value.is_finite() or value.adjusted() >= MAX_AMOUNT_DIGITS:
        return text  # "1e30000000" written out would be 30 million digits: the schema refuses it as given
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -4:
        value = value.quantize(Decimal("0.0001"))
    return f"{value:f}"


def _iso_date(text: str | None) -> str | None:
    """CII format 102 (``YYYYMMDD``) or UBL's ISO date as ISO 8601; None for anything else.

    Generators write placeholders (00010101, 99991231, 00000000) and typos (a 13th month, 29
    February of a common year) where they have no date. That says nothing against the XML's other
    fields, which are exact: only the date is left missing (``date_raw`` keeps what it says, meta's
    ``einvoice_unread`` names it), never guessed, and the policy's gate decides what follows."""
    if text is None:
        return None
    # xsd:date may carry a time zone (2024-03-14Z, 2024-03-14+01:00): the day is the invoice's
    digits = re.fullmatch(r"(\d{4})-?(\d{2})-?(\d{2})(Z|[+-]\d{2}:\d{2})?", text, re.ASCII)
    if digits is None:
        return None
    try:
        date = dt.date(*(int(g) for g in digits.groups()[:3]))
    except ValueError:
        return None
    return date.isoformat() if DATE_YEARS[0] <= date.year <= DATE_YEARS[1] else None


def _address(
    element: Element | None, streets: tuple[str, ...], postcode: str, city: str, country: tuple[str, ...]
) -> str | None:
    if element is None:
        return None
    town = " ".join(filter(None, (_text(_first(element, postcode)), _text(_first(element, city)))))
    parts = [_text(_first(element, name)) for name in streets] + [town, _text(_path(element, *country))]
    return ", ".join(part for part in parts if part) or None


def _first_line(exc: Exception) -> str:
    """A validation error's first problem, without pydantic's echo of the value."""
    lines = [line.strip() for line in str(exc).splitlines()]
    field = lines[1] if len(lines) > 1 else ""
    problem = lines[2].split("[type=")[0].split("input_value=")[0].rstrip(" ,") if len(lines) > 2 else lines[0]
    return f"{field}: {problem}" if field else problem
