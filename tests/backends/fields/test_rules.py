"""The rules over realistic OCR text: receipts from several countries, and the lines that only look
like the answer (subtotals, tax, change, cash, tax tables, expiry dates, addresses)."""

from __future__ import annotations

import json

import pytest

from backends.fields.rules import read_receipt, read_text
from backends.schema import ReceiptFields

MALAYSIA = """\
tan woon yann
BOOK TA -K (TAMAN DAYA) SDN BHD
NO.5: 55,57 & 59, JALAN SAGU 18,
TAMAN DAYA,
81100 JOHOR BAHRU,
Document No : TD01167104
Date 25/12/2018 8:13:39 PM
Cashier MANIS
CASH BILL
1 PC * 9.00 0.00 9.00
Total : 9.02
Rounding Adjustment -0.02
Rounded Total (RM): 9.00
Cash 10.00
CHANGE 1.00
GOODS SOLD ARE NOT RETURNABLE
"""

US = """\
Main Street Hardware
1234 Market St
San Francisco, CA 94103
Tel (415) 555-0134
SALES RECEIPT
03/04/2024 10:22 AM
Hammer 19.99
Nails 1lb 5.49
Subtotal 25.48
Sales Tax 8.25% 2.10
TOTAL $27.58
CASH 40.00
CHANGE DUE 12.42
THANK YOU
"""

GERMANY = """\
Backstube Krause GmbH
Hauptstraße 5
10115 Berlin
USt-IdNr DE123456789
Kassenbon
Datum: 03.04.2024 14:05
2 x Brezel 2,40
Kaffee 3,10
Zwischensumme 5,50
enth. MwSt 19% 0,88
SUMME EUR 5,50
Gegeben Bar 10,00
Rückgeld 4,50
Vielen Dank für Ihren Einkauf
"""

FRANCE = """\
Boulangerie Dupont SARL
12 rue de la Paix
75002 Paris
SIRET 123 456 789 00012
TICKET DE CAISSE
Le 14/02/2024 08:12
Baguette 1,20
Croissant x2 2,60
Sous-total 3,80
dont TVA 5,5% 0,20
TOTAL TTC 3,80 €
Espèces 5,00
Rendu 1,20
Merci de votre visite
"""

UK = """\
Corner Cafe Ltd
12 High Street
London SW1A 1AA
VAT Reg No GB 123 4567 89
Date: 29/05/2019 07:02
Flat White 3.20
Scone 2.80
Sub-total 6.00
VAT included 20% 1.00
Balance Due £6.00
Contactless 6.00
"""


@pytest.mark.parametrize(
    ("text", "merchant", "date", "total", "currency"),
    [
        (MALAYSIA, "BOOK TA -K (TAMAN DAYA) SDN BHD", "2018-12-25", "9.00", "MYR"),
        (US, "Main Street Hardware", "2024-03-04", "27.58", "USD"),
        (GERMANY, "Backstube Krause GmbH", "2024-04-03", "5.50", "EUR"),
        (FRANCE, "Boulangerie Dupont SARL", "2024-02-14", "3.80", "EUR"),
        (UK, "Corner Cafe Ltd", "2019-05-29", "6.00", "GBP"),
    ],
    ids=["malaysia", "us", "germany", "france", "uk"],
)
def test_receipts_from_several_countries(text, merchant, date, total, currency):
    fields = read_text(text).fields
    assert (fields.merchant, fields.date, fields.total, fields.currency) == (merchant, date, total, currency)


def test_raw_values_keep_what_was_printed():
    fields = read_text(US).fields
    assert fields.date_raw == "03/04/2024"  # month-first: a US address is on the receipt
    assert fields.total_raw == "$27.58"
    assert read_text(GERMANY).fields.total_raw == "EUR 5,50"


def test_address_is_the_block_under_the_merchant():
    assert read_text(MALAYSIA).fields.address == "NO.5: 55,57 & 59, JALAN SAGU 18, TAMAN DAYA, 81100 JOHOR BAHRU,"
    assert read_text(FRANCE).fields.address == "12 rue de la Paix 75002 Paris"


def address_of(*lines: str) -> str | None:
    return read_text("\n".join(["ACME TRADING SDN BHD", *lines, "TOTAL 5.00"])).fields.address


@pytest.mark.parametrize(
    ("lines", "address"),
    [
        # ends at the postcode line; the phone line after it is not part of the address
        (
            ["LOT 6, JALAN BATAI,", "50490 KUALA LUMPUR", "T 03 2093 7358 F 03 2093 7359"],
            "LOT 6, JALAN BATAI, 50490 KUALA LUMPUR",
        ),
        # a state line after the postcode is
        (
            ["LOT 3, JALAN PELABUR 23/1,", "40300 SHAH ALAM,", "SELANGOR.", "CARRY OUT NOW"],
            "LOT 3, JALAN PELABUR 23/1, 40300 SHAH ALAM, SELANGOR.",
        ),
        # a branch name before the first address line is not
        (["IKEA CHERAS", "NO 2A, JALAN COCHRANE,", "55100 KUALA LUMPUR"], "NO 2A, JALAN COCHRANE, 55100 KUALA LUMPUR"),
        # a building name is
        (["PARADIGM MALL", "LOT NO 4F-27, 4TH FLOOR"], "PARADIGM MALL LOT NO 4F-27, 4TH FLOOR"),
        # five digits in a lot number do not end it early: the last postcode does
        (
            ["LOT PT 1138 & PT 33122,", "BANDAR MAHKOTA CHERAS,", "43200 CHERAS, SELANGOR"],
            "LOT PT 1138 & PT 33122, BANDAR MAHKOTA CHERAS, 43200 CHERAS, SELANGOR",
        ),
        # a registration number under the name is skipped
        (
            ["(NO.193673-M)", "LEVEL G2, BLOCK D1, SOLARIS DUTAMAS", "50480 KUALA LUMPUR"],
            "LEVEL G2, BLOCK D1, SOLARIS DUTAMAS 50480 KUALA LUMPUR",
        ),
        # British and US postcodes end it too
        (["12 High Street", "London SW1A 1AA", "Open daily 9-5 here"], "12 High Street London SW1A 1AA"),
        (["1234 Market St", "San Francisco, CA 94103", "Store 1182 lane 4"], "1234 Market St San Francisco, CA 94103"),
    ],
    ids=["phone-after", "state-after", "branch-before", "building", "lot-number", "registration", "uk", "us"],
)
def test_the_address_runs_from_the_first_address_line_to_the_postcode(lines, address):
    assert address_of(*lines) == address


def total_of(*lines: str) -> str | None:
    return read_text("ACME TRADING\n" + "\n".join(lines)).fields.total


@pytest.mark.parametrize(
    ("lines", "total"),
    [
        (("Sub Total 95.17", "Total GST 5.71", "Total Sales (Inclusive of GST) 100.90", "CASH 104.00"), "100.90"),
        (("Total Qty: 7 51.42", "Total Sales (Excluding GST) 51.42", "Total (Inclusive of GST) 54.50"), "54.50"),
        (("TOTAL 38.37", "CASH 50.00", "CHANGE DUE 11.63", "YOUR SAVINGS FOR TODAY 7.59"), "38.37"),
        (
            ("Total Incl. GST@6% RM 5,90", "CASH RM 10.00", "CHANGE RM 4.10", "GST @6% included in total RM 0.33"),
            "5.90",
        ),
        (("Total 142.00", "CASH 152.00", "Change 10.00", "Total Qty : 4"), "142.00"),
        (("Grand Total : 39.60", "Change Due : 0.40"), "39.60"),
        (("Amount To Be Paid : 25.45", "Cash Received : 25.50", "Change 0.05"), "25.45"),
        (("Total Payable: 33.05", "Total 6% supplies (excl. GST): 24.00"), "33.05"),
        (("Item 2 Total with GST @ 6% 77.20", "Qty 4 Rounding 0.00", "Cash 100.00", "Change 22.80"), "77.20"),
    ],
)
def test_the_total_is_the_amount_due_not_subtotal_tax_cash_or_change(lines, total):
    assert total_of(*lines) == total


def test_a_tax_summary_table_after_the_total_is_ignored():
    assert (
        total_of("Total : 116.28", "CASH : 116.28", "Change : 0.00", "GST SUMMARY", "Total : 109.70 6.58") == "116.28"
    )


def test_a_tax_line_that_mentions_the_total_is_not_the_total():
    assert total_of("Total 25.15", "Change 0.08", "(Total Included GST @ 6%: 1.42)") == "25.15"


def test_the_rounded_total_wins_over_the_unrounded_one():
    assert total_of("Total (incl GST) 25.28", "Rounding Adjust 0.02", "Total Rounded 25.30", "Cash 50.00") == "25.30"
    assert total_of("Total Sales (Inclusive GST) RM 22.91", "Rounding RM 22.90", "CASH RM 50.00") == "22.90"


def test_a_rounding_adjustment_right_after_the_total_is_applied_even_without_its_sign():
    assert total_of("Total (Inclusive of GST): 31.02", "Rounding Adj: -0.02", "CASH : 31.00") == "31.00"
    assert total_of("Total (Inclusive of GST): 31.02", "Rounding Adj: 0.02", "CASH : 31.00") == "31.00"
    assert total_of("TOTAL 38.37", "CASH 40.37", "ROUNDING ADJUSTMENTS 0.02") == "38.37"  # after payment: not ours


def test_the_amount_printed_under_its_label_is_found():
    assert total_of("Sub Total 10.00", "GRAND TOTAL", "RM 12.50", "Cash 20.00") == "12.50"


def test_ocr_misreadings_of_total_and_amounts_are_tolerated():
    assert total_of("Tota] (Inclusive of GST): 31.00") == "31.00"
    assert total_of("T0TAL RM 49. 40", "Cash 50.00") == "49.40"
    assert total_of("Tota | RMO.50") == "0.50"


@pytest.mark.parametrize(
    ("lines", "total", "source"),
    [
        (("Item A 10.00", "CASH 50.00", "CHANGE 27.10"), "22.90", "payment_less_change"),
        (("SUB TOTAL 10.00", "GRAND TOTAL 1000", "CASH 20.00"), "10.00", "subtotal"),
        (("SUB-TOTAL 495.28", "TOTAL 42.004", "CASH 48.00", "CHANGE L o_c0"), "48.00", "payment"),
        # a line that starts with "Pay" is a payment ("ang 25.15": the total's label garbled)
        (("Qty 8 25.15", "ang 25.15", "Pay 25.15", "Change 0.00"), "25.15", "payment_less_change"),
    ],
)
def test_without_a_total_line_payment_change_and_subtotal_stand_in(lines, total, source):
    reading = read_text("ACME TRADING\n" + "\n".join(lines))
    assert (reading.fields.total, reading.notes["total_from"]) == (total, source)


def date_of(*lines: str) -> str | None:
    return read_text("ACME TRADING\n" + "\n".join(lines)).fields.date


def test_expiry_and_due_dates_are_not_the_document_date():
    assert date_of("Card Expiry: 30/09/18", "01/03/18 19:14 Slip No.: 0010104733") == "2018-03-01"
    assert date_of("Valid until 31/12/2024", "Date: 02/01/2024") == "2024-01-02"


def test_a_labelled_date_beats_an_unlabelled_one():
    assert date_of("Printed 2019-01-01", "Invoice Date: 15/06/2020") == "2020-06-15"


def test_an_unambiguous_date_on_the_receipt_decides_how_others_read():
    assert date_of("Date: 04/05/2024 10:00", "Member since 12/25/2019") == "2024-04-05"  # US-style elsewhere
    assert date_of("Date: 04/05/2024 10:00", "Next visit 25/12/2024") == "2024-05-04"


def merchant_of(*lines: str) -> str | None:
    return read_text("\n".join(lines)).fields.merchant


@pytest.mark.parametrize(
    ("lines", "merchant"),
    [
        (("TAX INVOICE", "LIGHTROOM GALLERY SDN BHD", "No: 28, JALAN ASTANA 1C,"), "LIGHTROOM GALLERY SDN BHD"),
        (("HOME MASTER HARDWARE &", "ELECTRICAL", "NO.113G, JALAN SETIA"), "HOME MASTER HARDWARE & ELECTRICAL"),
        (("PASARAYA BORONG PINTAR", "SDN BHD", "BR No.: (124525-H)"), "PASARAYA BORONG PINTAR SDN BHD"),
        (("Farmasi Maluri S/B(587969-U)", "GST NO: 000342237184"), "Farmasi Maluri S/B"),
        (("GARDENIA BAKERIES (KL) SDN BHD (139386 X)", "Lot 3, Jalan Pelabur 23/1"), "GARDENIA BAKERIES (KL) SDN BHD"),
        (("SUN WONG KUT SON BHD", "Company No 20965-V"), "SUN WONG KUT SDN BHD"),  # legal form misread
        (("oo , UNIHAKKA INTERNATIONAL SDN BHD", "(867388-U)"), "UNIHAKKA INTERNATIONAL SDN BHD"),
        (("Main Street Hardware", "1234 Market St", "San Francisco, CA 94103"), "Main Street Hardware"),
        (("Welcome!", "Tel: 03-7731 8169", "The Old Bookshop", "12 High Street"), "The Old Bookshop"),
        (("Rechnung", "Eisenwaren Schmidt GmbH", "Marktplatz 12", "80331 München"), "Eisenwaren Schmidt GmbH"),
    ],
)
def test_the_merchant_is_the_name_line_at_the_top(lines, merchant):
    assert merchant_of(*lines) == merchant


def test_low_confidence_debris_loses_to_a_confident_name():
    reading = read_receipt(["ia bee OV", "SYARIKAT PERNIAGAAN GIN KEE", "(81109-A)"], [20.8, 93.5, 88.9])
    assert reading.fields.merchant == "SYARIKAT PERNIAGAAN GIN KEE"


def test_text_without_fields_gives_an_empty_answer_not_an_error():
    assert read_text("").fields == ReceiptFields()
    assert read_text("~~~ ||| ---\n... ,,,").fields.total is None


def test_notes_hold_no_document_text():
    notes = read_text(MALAYSIA).notes
    assert all(isinstance(value, int | float | str | None) for value in notes.values())
    assert "TAMAN" not in json.dumps(notes) and "9.00" not in json.dumps(notes)


@pytest.mark.parametrize(
    ("lines", "total"),
    [
        (("Totale complessivo 12,40", "Contanti 20,00", "Resto 7,60"), "12.40"),  # Italian
        (("Subtotaal 8,10", "Te betalen 8,10", "Contant 10,00", "Wisselgeld 1,90"), "8.10"),  # Dutch
        (("Importe total 15,00", "Efectivo 20,00", "Cambio 5,00"), "15.00"),  # Spanish
        (("Nettobetrag 4,62", "MwSt-Betrag 0,88", "Brutto 5,50", "Bar 10,00", "Rückgeld 4,50"), "5.50"),  # German
        (("SUBTOTAL 25.48", "TAX 1 8.25 % 2.10", "TOTAL 27.58", "TOTAL NUMBER OF ITEMS SOLD = 2"), "27.58"),  # US
    ],
)
def test_totals_in_other_languages(lines, total):
    assert total_of(*lines) == total


@pytest.mark.parametrize(
    ("lines", "currency"),
    [
        (("UNIHAKKA INTERNATIONAL SDN BHD", "Total Amount: $8.20", "Change $0.00"), "MYR"),  # a bare $ in Malaysia
        (("Lucky Noodle House Pte Ltd", "TOTAL $12.40"), "SGD"),
        (("Main Street Hardware", "New York, NY 10012", "TOTAL $12.40"), "USD"),
        (("ACME TRADING", "£ ~~ noise", "TOTAL RM 12.40", "CASH RM 20.00"), "MYR"),  # a stray symbol is not a price
        (("ACME TRADING", "Description Amount (RM)", "TOTAL 12.40"), "MYR"),  # a code written as a word
        (("ACME TRADING", "Summe 12,40 EUR"), "EUR"),
        (("ACME TRADING", "TOTAL 12.40", "CASH 20.00"), None),  # nothing printed, nothing claimed
    ],
)
def test_the_currency_is_what_is_printed_beside_the_amounts(lines, currency):
    assert read_text("\n".join(lines)).fields.currency == currency
