"""The merchant's name where the document prints it again (``backends.fields.rules.echoes``): a misread
logo respelled from the legal footer, the web address or a thank-you; a thank-you believed where
the top names nothing convincing. The texts are written here, after misses seen on real receipts."""

from __future__ import annotations

import pytest

from backends.fields.rules import read_text
from backends.fields.rules.echoes import thanked_name
from backends.fields.rules.lines import make_lines


def merchant(*lines: str) -> str | None:
    return read_text("\n".join(lines)).fields.merchant


DRUGSTORE = (
    "Mein Drogeriemarkt",
    "27.02.2020 15:56 Bed.Nr.:120 Kasse 02",
    "662834502022 ZEISS BRILLENPUTZTUC €1,95 A",
    "4006643135570 MULTIP.PROT.KOKOS €1,89 B",
    "Total €3,84",
    "Bar €5,00",
    "Rückgeld (Bar) €1,16",
    "MWST Gruppe Netto MWST Total",
    "A 19% 1,64 0,31 1,95",
    "B 7% 1,77 0,12 1,89",
)


def test_a_misread_logo_is_spelled_as_the_legal_footer_prints_it():
    assert merchant("RSSMANN", *DRUGSTORE, "UKST: 3322 Dirk Rossmann GmbH", "Isernhägener Str. 16") == "ROSSMANN"


def test_a_misread_logo_is_spelled_as_its_web_address_prints_it():
    assert merchant("RSSMANN", *DRUGSTORE, "Ihre Meinung zählt: rossmann.de/umfrage") == "ROSSMANN"


def test_a_misread_name_is_spelled_as_the_thank_you_on_the_next_line_prints_it():
    text = (
        "TRADDER JOE'S",
        "400 Front Street",
        "Santa Cruz, CA",
        "WRAP ORG SOUTHWEST CHICK $5.99",
        "TOTAL $5.99",
        "THANK YOU FOR SHOPPING AT",
        "TRADER JOE'S",
    )
    assert merchant(*text) == "TRADER JOE'S"


def test_a_travel_receipt_that_starts_with_its_booking_table_is_named_by_its_thank_you():
    text = (
        "Not valid for travel Travel Receipt Booking reference: KPE6BN",
        "Product description VAT (EUR) Total (EUR)",
        "Stockholm-Arlanda - San Francisco-Oakland Premium 0.00 (0%) 644.92",
        "Total Amount 0.00 644.92",
        "Thank you for flying Skyways",
        "Skyways Air Shuttle - PB 115, N-1366 Lysaker, Norway",
    )
    assert merchant(*text) == "Skyways"


def test_the_logo_above_a_printed_copy_does_not_respell_it():
    assert merchant("foom Boumarkt GmbH", "toom Baumarkt GmbH", "Hauptstraße 5", "12345 Berlin", "SUMME 5,00") == (
        "toom Baumarkt GmbH"
    )


def test_a_long_name_is_not_respelled_from_another_misread_copy():
    text = (
        "EHM Hotel Amslerdam Rembrandipark BV",
        "Staalmeesterslaan 410",
        "1057 PH Amsterdam",
        "Invoice 03040575",
        "Room 2 nights 200.00",
        "City tax 14.00",
        "Total 214.00",
        "Mastercard -214.00",
        "Balance 0.00",
        "EHM Hotei Amsterdam Rembrandipork BV",
    )
    assert merchant(*text) == "EHM Hotel Amslerdam Rembrandipark BV"


def test_a_convincing_name_at_the_top_is_kept_over_a_shorter_one_thanked():
    text = ("AEON CO. (M) BHD", "3RD FLR, AEON TAMAN MALURI SC", "TOTAL 5.00", "Thank you for shopping at AEON")
    assert merchant(*text) == "AEON CO. (M) BHD"


@pytest.mark.parametrize(
    ("lines", "name"),
    [
        (["Thank you for visiting Domino's."], "Domino's"),
        (["Thank you for shopping atPASARAYA"], "PASARAYA"),
        (["Thank You For Shopping", "At Guardian"], "Guardian"),
        (["Thank you for choosing OZO. We look forward to welcoming you"], "OZO"),
        (["Vielen Dank für Ihren Einkauf bei", "Müller Drogerie"], "Müller Drogerie"),
        (["Merci de votre visite chez Monoprix !"], "Monoprix"),
        (["Gracias por su compra en Mercadona"], "Mercadona"),
        (["Bedankt voor uw bezoek bij Albert Heijn"], "Albert Heijn"),
    ],
)
def test_a_thank_you_names_the_store_in_several_languages(lines, name):
    found = thanked_name(make_lines(lines))
    assert found is not None
    assert found.text == name


def test_a_slogan_after_a_thank_you_is_no_name_and_a_weak_top_name_stays():
    text = ("Golden Lotus", "Jalan Ampang", "Kuala Lumpur", "NASI LEMAK 5.00", "TOTAL 5.00")
    assert merchant(*text, "THANK YOU FOR SHOPPING", "PLEASE COME AGAIN") == "Golden Lotus"


@pytest.mark.parametrize(
    ("top", "web"),
    [("Höffner", "www.hoeffner.de"), ("BÖTTCHER", "boettcher.de"), ("Café Müller", "info@cafe-mueller.de")],
)
def test_a_name_with_umlauts_is_not_respelled_from_its_web_address(top, web):
    assert merchant(top, "Hauptstraße 5", "12345 Berlin", "Kaffee 3,00", "Summe 3,00", web) == top


def test_an_item_code_of_twenty_digits_is_no_amount_and_the_rules_still_answer():
    fields = read_text("SHOP\nTOTAL 1234567890123456789.00\nCASH 10.00").fields
    assert fields.total == "10.00"


@pytest.mark.parametrize(
    "lines",
    [
        ["Thank you for dining with us!"],
        ["Thank You For Staying With Us!"],
        ["Thank you for visiting!", "Table 12"],
        ["Thank you for your business!"],
        ["THANK YOU FOR SHOPPING AT", "12/03/2019 14:02"],
        ["THANK YOU FOR SHOPPING", "PLEASE COME AGAIN"],
        ["Thank you for visiting", "Like and Follow Us on Facebook!"],
    ],
)
def test_a_thank_you_that_names_no_store_gives_no_name(lines):
    assert thanked_name(make_lines(lines)) is None
