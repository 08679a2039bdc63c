"""Synthetic PDFs with known content, for tests and benchmarks: born-digital pages with a real text
layer (PDFium's standard Helvetica), scanned pages (an image, no text), and embedded files (the
XML of a Factur-X e-invoice). Built with pypdfium2, which docroute already reads PDFs with.

A row given as ``(label, amount)`` is written as two text objects, the amounts' column after all
the labels: the content stream then holds them apart, as table-built invoices do, and only a
reader that rebuilds lines from the characters' positions sees "TOTAL 56.58" on one line.
"""

from __future__ import annotations

import ctypes
import io
from collections.abc import Sequence

from PIL import Image

A4 = (595.0, 842.0)
Row = str | tuple[str, str]


def text_pdf(
    pages: Sequence[Sequence[Row]],
    *,
    attachments: dict[str, bytes] | None = None,
    font_size: float = 11,
    sideways: bool = False,
    invisible: bool = False,
    size: tuple[float, float] = A4,
) -> bytes:
    """A born-digital PDF: one A4 page per list of rows, each row a line of text from the top.

    ``sideways``: the page is stored landscape with its text drawn a quarter turn counter-clockwise
    and shown upright by /Rotate 90, as scanners and some generators store portrait pages.
    ``invisible``: the text is drawn in render mode 3, as a scanner app's OCR layer over a scan.
    ``size``: the page's width and height in points (rows start 60 pt below its top)."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument.new()
    try:
        for rows in pages:
            page = pdf.new_page(*(reversed(size) if sideways else size))
            placed = [(size[1] - 60 - n * font_size * 1.6, row) for n, row in enumerate(rows)]
            for y, row in placed:
                _text(pdf, page, row if isinstance(row, str) else row[0], 50, y, font_size, sideways, invisible)
            for y, row in placed:  # the amounts' column after all labels, as a table generator writes it
                if not isinstance(row, str):
                    _text(pdf, page, row[1], 420, y, font_size, sideways, invisible)
            if sideways:
                page.set_rotation(90)
            page.gen_content()
            page.close()
        for name, data in (attachments or {}).items():
            pdf.new_attachment(name).set_data(data)
        return _saved(pdf)
    finally:
        pdf.close()


def scanned_pdf(images: Sequence[Image.Image], *, dpi: int = 200) -> bytes:
    """An image-only PDF (a scan): no text layer at all."""
    buffer = io.BytesIO()
    first, *rest = [image.convert("RGB") for image in images]
    first.save(buffer, "PDF", save_all=True, append_images=rest, resolution=dpi)
    return buffer.getvalue()


def joined_pdf(*parts: bytes) -> bytes:
    """The pages of several PDFs, in order, as one PDF (a born-digital page beside a scanned one)."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument.new()
    try:
        for part in parts:
            source = pdfium.PdfDocument(part)
            pdf.import_pages(source)
            source.close()
        return _saved(pdf)
    finally:
        pdf.close()


def _text(
    pdf: object, page: object, text: str, x: float, y: float, size: float, sideways: bool, invisible: bool
) -> None:
    import pypdfium2.raw as pdfium_c

    obj = pdfium_c.FPDFPageObj_NewTextObj(pdf.raw, b"Helvetica", ctypes.c_float(size))  # type: ignore[attr-defined]
    encoded = (text + "\x00").encode("utf-16-le")
    buffer = ctypes.create_string_buffer(encoded, len(encoded))
    pdfium_c.FPDFText_SetText(obj, ctypes.cast(buffer, pdfium_c.FPDF_WIDESTRING))
    if sideways:  # a quarter turn counter-clockwise, into the landscape page
        pdfium_c.FPDFPageObj_Transform(obj, 0, 1, -1, 0, A4[1] - y, x)
    else:
        pdfium_c.FPDFPageObj_Transform(obj, 1, 0, 0, 1, x, y)
    if invisible:
        pdfium_c.FPDFTextObj_SetTextRenderMode(obj, pdfium_c.FPDF_TEXTRENDERMODE_INVISIBLE)
    pdfium_c.FPDFPage_InsertObject(page.raw, obj)  # type: ignore[attr-defined]


def _saved(pdf: object) -> bytes:
    buffer = io.BytesIO()
    pdf.save(buffer)  # type: ignore[attr-defined]
    return buffer.getvalue()


def factur_x_xml(seller: str, issued: str, total: str, *, due: str | None = None, currency: str = "EUR") -> bytes:
    """A minimal Factur-X (CII) invoice: seller, issue date (``YYYYMMDD``), grand total, amount due."""
    from xml.sax.saxutils import escape

    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
 xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
 xmlns:udt="urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100">
 <rsm:ExchangedDocument><ram:ID>INV-1</ram:ID><ram:IssueDateTime>
  <udt:DateTimeString format="102">{issued}</udt:DateTimeString></ram:IssueDateTime></rsm:ExchangedDocument>
 <rsm:SupplyChainTradeTransaction>
  <ram:ApplicableHeaderTradeAgreement><ram:SellerTradeParty><ram:Name>{escape(seller)}</ram:Name>
  </ram:SellerTradeParty></ram:ApplicableHeaderTradeAgreement>
  <ram:ApplicableHeaderTradeSettlement><ram:InvoiceCurrencyCode>{currency}</ram:InvoiceCurrencyCode>
   <ram:SpecifiedTradeSettlementHeaderMonetarySummation><ram:GrandTotalAmount>{total}</ram:GrandTotalAmount>
    <ram:DuePayableAmount>{due or total}</ram:DuePayableAmount>
   </ram:SpecifiedTradeSettlementHeaderMonetarySummation></ram:ApplicableHeaderTradeSettlement>
 </rsm:SupplyChainTradeTransaction>
</rsm:CrossIndustryInvoice>
""".encode()
