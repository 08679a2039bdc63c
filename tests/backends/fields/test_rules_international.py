"""The rules on receipts and invoices from many countries: each typical miss seen on real documents
(issue 13) as a text the test writes, plus languages, date orders, cross-checks and confidences."""

from __future__ import annotations

import pytest

from backends.fields.rules import read_text


def read(*lines: str, date_order: str = "auto"):
    return read_text("\n".join(lines), date_order=date_order)


# --- dates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "iso"),
    [
        ("Date: August 3 , 2014", "2014-08-03"),  # a space before the comma
        ("Amsterdam, 29 maart 2014", "2014-03-29"),  # Dutch
        ("Datum: 3. März 2024", "2024-03-03"),  # German, day with a full stop
        ("Le 1er janvier 2024", "2024-01-01"),  # French
        ("Fecha: 15 de marzo de 2024", "2024-03-15"),  # Spanish
        ("Data: 7 dicembre 2023", "2023-12-07"),  # Italian
        ("Tarikh: 12 Disember 2019", "2019-12-12"),  # Malay
        ("Factuurdatum 2 mei 2022", "2022-05-02"),  # Dutch
    ],
)
def test_month_names_in_seven_languages(line, iso):
    assert read("SHOP", line, "TOTAL 5.00").fields.date == iso


def test_a_us_receipt_reads_numeric_dates_month_first():
    reading = read("WAFFLE HOUSE", "1234 Peachtree St", "Atlanta, GA 30303", "3/10/2017 8:14 PM", "TOTAL $12.40")
    assert reading.fields.date == "2017-03-10"
    assert reading.notes["date_order"] == "mdy"


def test_us_cues_without_a_zip_code_still_make_dates_month_first():
    reading = read("DINER", "(404) 555-0134", "03/10/2017", "Sales Tax 0.80", "TOTAL $12.40", "Tip")
    assert reading.fields.date == "2017-03-10"


def test_a_euro_receipt_reads_numeric_dates_day_first():
    assert read("CAFE", "03/10/2017", "TOTAL 12,40 €").fields.date == "2017-10-03"


def test_an_impossible_day_decides_the_order_for_the_whole_document():
    reading = read("SHOP", "Printed 12/25/2019", "Sold 03/10/2019", "TOTAL $1.00")
    assert reading.notes["date_order"] == "mdy"


@pytest.mark.parametrize(("order", "iso"), [("dmy", "2024-04-03"), ("mdy", "2024-03-04"), ("ymd", "2003-04-24")])
def test_the_policy_can_set_the_date_order(order, iso):
    assert read("SHOP", "Date 03/04/24", "TOTAL 5.00", date_order=order).fields.date == iso


def test_a_two_digit_year_is_not_taken_from_the_next_token():
    reading = read("SHOP", "Table 12/03 - 18:45", "Datum 01.02.2024", "TOTAL 5.00")
    assert reading.fields.date == "2024-02-01"


@pytest.mark.parametrize(
    ("lines", "iso"),
    [
        (("Arrival Date 11/07/2022 20:30:00", "Departure Date 18/07/2022 08:49:00"), "2022-07-18"),
        (("Rechnungsdatum 21.02.2024", "Datum Ankunft 19.02.2024", "Datum Abreise 22.02.2024"), "2024-02-21"),
        (("Date: 01.03.2024", "Invoice date: 05.03.2024"), "2024-03-05"),
        # without a document date the departure dates the folio
        (("Arrival 06.07.19", "Departure 13.07.19", "06.07.19 Room 100,00", "07.07.19 Room 100,00"), "2019-07-13"),
        # a folio printed (and paid) the evening before departure is dated when it was printed
        (
            ("Arrival Date: 23/11/2021 20:53", "Departure Date: 24/11/2021", "HOTEL BEISPIEL 23/11/2021 20:54:00"),
            "2021-11-23",
        ),
        # a folio's rows printed with their time do not beat the departure
        (("Arrival: 06.07.19", "Departure: 13.07.19", "06.07.19 19:30 Restaurant 25,00"), "2019-07-13"),
        # a plain "Datum" beats the departure on a folio issued at check-in
        (("Datum: 02.03.2024", "Anreise: 02.03.2024", "Abreise: 03.03.2024"), "2024-03-02"),
    ],
)
def test_a_folios_arrival_is_not_its_date_and_an_issue_date_beats_a_plain_date(lines, iso):
    assert read("HOTEL BEISPIEL", *lines, "TOTAL EUR 95,90").fields.date == iso


def test_a_twelve_hour_clock_is_a_us_cue_for_month_first_dates():
    reading = read("SAGE CAFE", "CHANDA R SvrCk: 8 1:56p 06/02/15", "06/02 2:44p TOTAL: 39.18")
    assert (reading.fields.date, reading.notes["date_order"]) == ("2015-06-02", "mdy")


# --- totals -----------------------------------------------------------------------------------


def test_a_whole_unit_total_is_read():
    assert read("SPICE HUT", "Biryani 1", "Grand Total Rs 1939", "Thank you").fields.total == "1939.00"


def test_a_refund_has_a_negative_total():
    assert read("ACME SDN BHD", "RETURN", "TOTAL RM -27.10", "CASH -27.10").fields.total == "-27.10"


def test_a_dash_of_a_rule_is_not_a_minus():
    assert read("SHOP", "TOTAL —-7.50").fields.total == "7.50"


@pytest.mark.parametrize("label", ["Bruttosumme", "Zahlbetrag", "Endbetrag", "Rechnungsbetrag", "Gesamtsumme"])
def test_german_compound_total_labels(label):
    reading = read("Muster GmbH", "Nettobetrag 166,09", "MwSt 19% 31,56", f"{label} 197,65", "Bar 200,00")
    assert reading.fields.total == "197.65"


@pytest.mark.parametrize(
    "line",
    [
        "Total TTC 24,90",  # French
        "Te betalen 24,90",  # Dutch
        "Total a pagar 24,90",  # Spanish
        "Totale complessivo 24,90",  # Italian
        "Jumlah Besar RM 24.90",  # Malay
        "Amount due 24.90",  # English
    ],
)
def test_total_labels_in_several_languages(line):
    assert read("SHOP", "Item 20,00", "Tax 4,90", line, "Cash 50,00").fields.total == "24.90"


def test_labels_in_a_table_heading_with_the_amounts_on_the_row_below():
    reading = read("Muster GmbH", "Rechnung", "Anzahl Einzelpreis Betrag", "3 10,00 30,00", "Danke")
    assert (reading.fields.total, reading.notes["total_from"]) == ("30.00", "table_heading")


def test_a_net_tax_gross_heading_over_its_row_gives_the_gross():
    reading = read("Muster GmbH", "Rechnung", "Netto MwSt Brutto", "166,09 31,56 197,65", "Danke")
    assert reading.fields.total == "197.65"  # read under "Brutto", and as net + tax = gross


def test_an_ocr_misreading_totl_is_a_total():
    assert read("SHOP", "Item 3.00", "TOTL 3.00").fields.total == "3.00"


def test_a_surcharge_sum_is_not_the_total():
    reading = read(
        "Stadtwerke Muster GmbH", "Rechnung", "Gesamtbetrag der Zuschläge 5,80", "Nettobetrag 166,09",
        "Umsatzsteuer 19% 31,56", "Rechnungsbetrag 197,65",
    )  # fmt: skip
    assert reading.fields.total == "197.65"


def test_a_garbled_total_line_falls_back_to_subtotal_plus_tax_not_the_subtotal():
    reading = read("SHOP", "Item 10.00", "Subtotal 10.00", "Tax 0.80", "T#%&l 10.80", "Visa 10.80")
    assert reading.fields.total == "10.80"
    assert reading.notes["total_from"] == "subtotal_plus_tax"


def test_a_hotel_folio_settled_by_card_totals_its_charges_not_the_payment_or_the_zero_balance():
    folio = read(
        "HOTEL BEISPIEL",
        "Rechnung Nr. 4711 Datum 02.03.2024",
        "Bestpreis mit Fruhstuck 1 95,90 95,90",
        "Saldo Leistungen EUR 95,90",
        "02.03.2024 Mastercard ****2961 -95,90",
        "Saldo Zahlungen -95,90",
        "Rechnungsbetrag 0,00",
    )
    assert folio.fields.total == "95.90"


def test_a_settled_folios_negative_total_is_the_amount_charged():
    folio = read("GRAND HOTEL", "Date 11/07/2022", "Room 1,984.35", "x total amount -1,984.35", "BALANCE $0.00")
    assert folio.fields.total == "1984.35"


def test_a_total_row_of_charges_credits_and_a_zero_balance_gives_the_charges():
    assert read("HOTEL", "Date 17.09.2022", "TOTAL 1.446,40 -1.446,40 0,00 EUR").fields.total == "1446.40"


def test_a_refund_without_a_settled_balance_stays_negative():
    assert read("SHOP SDN BHD", "Date 01/02/2019", "TOTAL RM -27.10", "CHANGE 0.00").fields.total == "-27.10"


@pytest.mark.parametrize(
    ("lines", "total"),
    [
        (("Total Factura 1968,00", "Total a cuenta 336,60", "Total a pagar 1631,40"), "1968.00"),  # a prepayment
        (("SUBTOTAL $100.00", "TOTAL $110.00", "PREVIOUS UNPAID BALANCE $500.00", "AMOUNT DUE $610.00"), "110.00"),
    ],
)
def test_an_amount_carried_in_or_out_of_what_is_due_is_not_the_documents_total(lines, total):
    assert read("ACME LLC", "Invoice date: 12/01/2019", *lines).fields.total == total


def test_a_grand_total_after_a_tax_breakdown_is_the_total_not_the_net_total_before_it():
    reading = read(
        "ACME GmbH",
        "Invoice date 2024-09-08",
        "Subtotal 25,597.74",
        "Net Total 24,877.71",
        "Tax Breakdown Sum Rate Tax Amount",
        "19% 24,877.71 42.28",
        "Tax Total 42.28",
        "Grand Total 24,919.99",
    )
    assert reading.fields.total == "24919.99"


def test_a_weak_total_in_a_tax_summary_does_not_beat_the_total_before_it():
    reading = read(
        "KEDAI SDN BHD", "Date 01/02/2019", "TOTAL 10.60", "GST SUMMARY", "SR 6% 10.00 0.60", "Total 10.00 0.60"
    )
    assert reading.fields.total == "10.60"


@pytest.mark.parametrize(
    ("line", "total"),
    [
        ("Kokku 16.10", "16.10"),  # Estonian
        ("ATT BETALA SEK ( 3 ARTIKLAR ) 91.90", "91.90"),  # Swedish
        ("VISO MOKĖTI 16.00", "16.00"),  # Lithuanian
        ("Kwota należności ogółem: 17 115,45PLN", "17115.45"),  # Polish, thousands set apart by a space
        ("Ukupno / Total HRK 3,563.84", "3563.84"),  # Croatian
    ],
)
def test_total_labels_in_nordic_baltic_and_slavic_languages(line, total):
    assert read("SHOP", "Date 24.05.2023", "1 x 13.90 13.90", line, "KM 20 2.69").fields.total == total


def test_a_total_word_naming_a_column_of_a_later_table_is_not_the_total():
    lines = ("Ukupno / Total HRK 3,563.84", "Status Osoba Dana Cijena Ukupno 40.00")
    assert read("HOTEL", "Datum 28.08.2021", *lines).fields.total == "3563.84"


@pytest.mark.parametrize(
    "tax_line", ["Betrag enthält 3,26 MWSt:", "Summe Mehrwertsteuer : 5,05€", "Sumne Hehrvertsteuer : 5,05"]
)
def test_the_tax_a_total_contains_is_not_the_total(tax_line):
    assert read("GASTHAUS", "Datum 17.02.2023", "Summe: 61,00€", "Bar 61,00€", tax_line).fields.total == "61.00"


def test_a_total_printed_against_the_time_before_it_is_read():
    reading = read("SAGE CAFE", "Sub Total: 31.80", "GRATUITY 18 7.38", "06/02 2:44pTOTAL: 39.18")
    assert reading.fields.total == "39.18"


def test_tl_is_a_total_and_cash_is_not():
    assert read("CHRIS'S", "TAX $2.46", "TL $28.31", "CASH $40.00", "CG $11.69").fields.total == "28.31"


def test_an_amount_over_a_blank_tip_and_total_is_the_last_fallback():
    assert read("HEDLEYS", "6/5/17", "AMOUNT $41.45", "TIP", "TOTAL $").fields.total == "41.45"
    with_subtotal = read("CAFE", "6/14/2017", "Amount: $25.34", "Sub-Total: $27.62")
    assert with_subtotal.fields.total == "27.62"


def test_a_total_label_alone_takes_the_amount_a_second_column_pushed_lines_below_it():
    reading = read(
        "INVOICE",
        "Date: August 3, 2019",
        "Subtotal $640,00",
        "Fee $66,00",
        "Total",
        "A/C Name: Lorem Ipsum",
        "Bank Details: Add your bank details $706,00",
    )
    assert (reading.fields.total, reading.notes["total_from"]) == ("706.00", "label_apart")
    beside = read("SHOP", "Total", "Tax 1.00", "TOTAL 12.00")
    assert beside.fields.total == "12.00"  # a label beside its amount counts more


# --- the seller of an invoice -----------------------------------------------------------------


def test_the_seller_of_an_invoice_is_not_its_first_line():
    reading = read(
        "Stylesheet version 2.3",
        "Währung: EUR",
        "Rechnung Nr. 2024-117",
        "Kunde:",
        "Beispiel AG",
        "Musterweg 2",
        "Datum: 12.03.2024",
        "1 Beratung 100,00",
        "Gesamtbetrag 119,00",
        "Nordlicht Software GmbH · Hafenstraße 3 · 20457 Hamburg",
        "Geschäftsführer: Erika Muster · Amtsgericht Hamburg HRB 12345",
    )
    assert reading.fields.merchant == "Nordlicht Software GmbH"


@pytest.mark.parametrize(
    ("seller", "buyer_label", "buyer"),
    [
        ("Dupont Conseil SARL", "Facturé à", "Martin SA"),
        ("Van Dijk Techniek B.V.", "Factuuradres", "De Vries Holding N.V."),
        ("Acme Widgets Inc.", "Bill to", "Globex Ltd"),
        ("Kedai Maju Sdn Bhd", "Pelanggan", "Syarikat Baru Sdn Bhd"),
    ],
)
def test_the_seller_has_a_legal_form_and_the_buyer_block_is_skipped(seller, buyer_label, buyer):
    reading = read("INVOICE", f"{buyer_label}:", buyer, "1 Street 5", seller, "Total 10.00")
    assert reading.fields.merchant == seller


def test_a_receipt_name_is_the_line_above_the_address_without_debris():
    reading = read("PLAC", "ok Dae", "The Place 2 Be", "615 Franklin Ave", "Hartford, CT 06114", "TOTAL $5.00")
    assert reading.fields.merchant == "The Place 2 Be"
    assert read("Sb Golden Panda Buffet", "14428 Ramona Blvd", "TOTAL 5.00").fields.merchant == "Golden Panda Buffet"


@pytest.mark.parametrize(
    "sender",
    [
        "Hotel Seeblick Konstanz - Uferweg 3 - 78462 Konstanz",
        "Harbour View Hotel, 1 Morrison Link, Edinburgh EH3 8DN",
        "Stadtblick Hotel Amsterdam \u00b7 Europaboulevard 23\u00b7 1079 PC Amsterdam",
    ],
)
def test_the_sender_line_above_the_address_window_names_the_seller_not_the_buyer_below_it(sender):
    reading = read(
        "HOTEL LOGO",
        sender,
        "Beispiel Consulting GmbH",
        "Friedrichstrasse 114A",
        "10117 Berlin",
        "Rechnung",
        "Datum: 02.03.2024",
        "Saldo Leistungen EUR 95,90",
    )
    assert reading.fields.merchant == sender.split(" - ")[0].split(",")[0].split(" \u00b7")[0]


def test_the_town_line_of_an_address_is_not_a_sender_line():
    reading = read(
        "SUSHI BAR - PANDAN",
        "KEDAI MAKAN SDN BHD (1132106-H)",
        "NO. 9-G, JALAN PERUBATAN 2,",
        "PANDAN INDAH, 55100 KUALA LUMPUR.",
        "Tax Invoice",
        "Date : 09-04-2018",
        "TOTAL 31.00",
    )
    assert reading.fields.merchant == "KEDAI MAKAN SDN BHD"


def test_a_lower_case_name_with_a_dot_or_dash_is_a_name_not_debris():
    receipt = read("dm-drogerie markt", "Pohlweg 110", "33100 Paderborn", "Datum 18.05.2020", "SUMME EUR 2,70")
    assert receipt.fields.merchant == "dm-drogerie markt"
    invoice = read("bol.com b.v. Dhr. M de Vries", "Papendorpseweg 100, 3528 BJ Utrecht", "Factuur", "Totaal 9,99")
    assert invoice.fields.merchant == "bol.com b.v."


def test_a_seller_and_a_buyers_label_on_one_row_give_the_seller():
    reading = read("Receipt", "Receipt Number 123", "Example, LLC Bill To", "123 Fake Street Customer", "TOTAL $20.12")
    assert reading.fields.merchant == "Example, LLC"


def test_a_street_named_company_street_is_not_the_seller():
    reading = read("Your Company Inc.", "1234 Company St,", "Company Town, ST 12345", "INVOICE", "Total $126.00")
    assert reading.fields.merchant == "Your Company Inc."


def test_the_letterhead_block_names_the_seller_not_a_legal_name_in_the_address_window_below():
    reading = read(
        "Seeblick Hotel Konstanz",
        "Uferstrasse 5b",
        "78467 Konstanz",
        "Beispiel Consulting GmbH",
        "Friedrichstrasse 123",
        "10117 Berlin",
        "Rechnungsnr. 9282-52756 Datum 02.10.18",
        "Gesamtbetrag 120,00",
    )
    assert reading.fields.merchant == "Seeblick Hotel Konstanz"


def test_a_legal_name_in_the_letterhead_block_or_by_the_legal_footer_stays_the_seller():
    letterhead = read("NASI BAR - PANDAN", "KEDAI MAKAN SDN BHD", "NO 9, JALAN AIR PANAS", "Tax Invoice", "TOTAL 31.00")
    assert letterhead.fields.merchant == "KEDAI MAKAN SDN BHD"
    footer = read(
        "Seeblick Hotel",
        "Uferstrasse 5b",
        "Rechnung",
        "Gesamtbetrag 120,00",
        "Geschäftsführer: Erika Muster",
        "Seeblick Betriebs GmbH",
    )
    assert footer.fields.merchant == "Seeblick Betriebs GmbH"


def test_a_web_address_at_the_top_is_not_the_name():
    reading = read("Buchwelt.de", "Die Welt der Bücher", "Buchwelt in Leipzig", "Petersstrasse 12-14", "SUMME 9,99")
    assert reading.fields.merchant == "Buchwelt in Leipzig"


@pytest.mark.parametrize(
    ("top", "name"),
    [
        (("SAGE", "FRENCH CAFE & WINE BAR"), "SAGE FRENCH CAFE & WINE BAR"),
        (("ipanema", "Brazilian Steak House"), "ipanema Brazilian Steak House"),
        (("IKEA", "IKEA FOOD"), "IKEA FOOD"),  # the name is already in the line
    ],
)
def test_a_kind_of_business_under_a_short_name_is_joined_to_it(top, name):
    reading = read(*top, "2023 South Pine Avenue", "Ocala, FL 34471", "Date: 04/13/18", "TOTAL $56.38")
    assert reading.fields.merchant == name


def test_a_store_number_with_a_letter_and_a_farewell_are_not_names():
    kfc = read("KFC", "Restaurant #C160014", "3880 Hempstead Turnpike", "2016-07-08 9:16 PM", "TOTAL 9.99")
    assert kfc.fields.merchant == "KFC"
    buca = read("Again.", "Buca di Beppo", "Store#0511", "Universal City, CA 91608", "TOTAL 9.99")
    assert buca.fields.merchant == "Buca di Beppo"


def test_a_spanish_street_abbreviation_is_an_address():
    reading = read("Contoso", "C. de Dom Juan, 35", "28002 Madrid", "FECHA: 31-10-21", "TOTAL 9,99")
    assert reading.fields.merchant == "Contoso"


@pytest.mark.parametrize(
    ("top", "name"),
    [
        (("SATURN", "SATURN ELECTRO HANDELSGES.MBH", "Kamp 30-32"), "SATURN ELECTRO HANDELSGES.MBH"),  # Austrian
        (("BILLA", "BILLA, SPOL. S R.O., MODLETICE 67", "251 01 RICANY"), "BILLA, SPOL. S R.O."),  # Czech
        (("MANDU", "MANDU CENTRUM S. C.", "ul. Elzbietanska 4/8"), "MANDU CENTRUM S. C."),  # Polish
    ],
)
def test_legal_forms_of_austria_czechia_and_poland(top, name):
    assert read(*top, "Datum 18.07.2023", "SUMA PLN 27,50").fields.merchant == name


def test_a_phone_or_table_number_that_looks_like_a_postcode_does_not_make_the_line_above_a_name():
    cheesecake = read("THE CHEESECAKE FACTORY", "SEATTLE", "0235 TABLE 203 #Party 1", "05/20/24", "Total 40.45")
    assert cheesecake.fields.merchant == "THE CHEESECAKE FACTORY"
    coop = read("Scotmid Drumnadrochit", "1 Carriers Croft", "Tel 01456 459057", "29/08/2019", "TOTAL 3.00")
    assert coop.fields.merchant == "Scotmid Drumnadrochit"


def test_a_name_with_a_store_number_is_a_name_and_a_guest_line_is_not():
    tims = read("Tim Hortons # 102593", "666 Rue Sherbrooke O, Montreal, QC", "1 G Cafe Americano $3.29", "Total $5.48")
    assert tims.fields.merchant == "Tim Hortons # 102593"
    assert read("Country Inn", "Room: 16", "WALTER, JENS Guest", "May 6, 2019", "TOTAL $9.00").fields.merchant == (
        "Country Inn"
    )


def test_a_name_over_three_lines_down_to_its_kind_of_business_is_joined():
    reading = read("NEW DELHI", "INDIAN", "RESTAURANT", "#237E, Sisowath Quay, Phnom Penh", "Total $12.00")
    assert reading.fields.merchant == "NEW DELHI INDIAN RESTAURANT"


def test_a_second_columns_heading_cut_off_beside_the_name_is_dropped():
    reading = read("Server:", "FourthStreetMill Receip", "2124 BONITA AVENUE", "LA VERNE, CA 91750", "Total $9.99")
    assert reading.fields.merchant == "FourthStreetMill"


def test_the_buyer_named_in_a_buyer_block_is_not_the_seller_on_a_later_page_either():
    reading = read(
        "INVOICE",
        "Bill to:",
        "Globex Consulting GmbH",
        "Musterweg 2",
        "1 Beratung 10,00",
        "Total 10.00",
        "Page 2",
        "Globex Consulting GmbH",  # the buyer again, without its label, above the seller's name
        "Nordlicht Software GmbH",
    )
    assert reading.fields.merchant == "Nordlicht Software GmbH"


def test_a_short_legal_form_in_lower_case_is_a_word():
    reading = read("INVOICE", "Total 10.00", "Read about your rights as", "Hesburger AS")
    assert reading.fields.merchant == "Hesburger AS"


def test_a_date_printed_before_a_pages_title_is_not_part_of_the_name():
    reading = read("5/21/2019 Ryanair", "Reservierungsnummer: K21Z8J", "1 x Plus-Tarif 57,15 €", "Gesamt 57,15 €")
    assert reading.fields.merchant == "Ryanair"


def test_a_short_legal_form_in_lower_case_does_not_make_a_receipt_line_a_name():
    reading = read("Fluginformationen", "Tallinn nach Berlin", "Hinflug", "Fluggäste", "Rückflug ug", "Gesamt 57,15 €")
    assert reading.fields.merchant == "Fluginformationen"


@pytest.mark.parametrize(
    ("top", "name"), [(("TESCO", "IRELAND"), "TESCO IRELAND"), (("HAPPY", "ITALY"), "HAPPY ITALY")]
)
def test_a_logos_name_printed_a_word_a_line_is_joined(top, name):
    assert read(*top, "LIPTON 500ML * EUR2.00", "TOTAL EUR3.25", "11/07/22").fields.merchant == name


def test_a_letterhead_name_over_two_lines_in_capitals_is_joined():
    reading = read(
        "EUROSTARS",
        "REY DON JAIME",
        "DE314890942 BEISPIEL CONSULTING GMBH",
        "BEISPIEL CONSULTING GMBH FRIEDRICHSTR,123",
        "10117 BERLIN - Deutschland",
        "Rechnung: JI2O018793 / 16.05.2022",
        "GESTORA HOTELERA, S.L. • C/Princesa, 58 - 08003 Barcelona",
        "Total Factura 2.098,69",
    )
    assert reading.fields.merchant == "EUROSTARS REY DON JAIME"


# --- cross-checks and confidence --------------------------------------------------------------


def test_a_total_that_is_subtotal_plus_tax_is_confident():
    reading = read("ACME LTD", "Date 03/04/2024 10:00", "Subtotal 10.00", "VAT 2.00", "TOTAL 12.00")
    assert reading.notes["check_subtotal_tax"] is True
    assert reading.fields.confidence["total"] >= 0.9


def test_a_failed_cross_check_lowers_the_totals_confidence():
    agreed = read("ACME LTD", "Subtotal 10.00", "VAT 2.00", "TOTAL 12.00").fields.confidence["total"]
    reading = read("ACME LTD", "Subtotal 10.00", "VAT 2.00", "TOTAL 15.00")
    assert reading.notes["check_subtotal_tax"] is False
    assert reading.fields.confidence["total"] < agreed * 0.7


def test_the_item_lines_adding_up_to_the_total_is_a_check():
    reading = read("SHOP", "Bread 2.00", "Milk 1.50", "Eggs 3.00", "TOTAL 6.50")
    assert reading.notes["check_items_sum"] is True


def test_an_amount_due_that_differs_from_the_grand_total_lowers_confidence():
    plain = read("HOTEL", "Grand total 200.00").fields.confidence["total"]
    reading = read("HOTEL", "Grand total 200.00", "Deposit paid 50.00", "Amount due 150.00")
    assert reading.notes["check_due"] is False
    assert reading.fields.confidence["total"] < plain


def test_every_found_core_field_has_a_confidence_between_0_and_1():
    fields = read("ACME SDN BHD", "Date: 25/12/2018", "TOTAL RM 9.00").fields
    assert set(fields.confidence) == {"merchant", "date", "total"}
    assert all(0 < value <= 1 for value in fields.confidence.values())


def test_a_name_whose_kind_of_business_is_printed_on_the_next_line_is_joined():
    reading = read("Crisfield Seafood", "Restaurant", "8012 Georgia Ave.", "Silver Spring, MD 20910", "TOTAL $5.00")
    assert reading.fields.merchant == "Crisfield Seafood Restaurant"


def test_a_name_printed_on_the_row_of_its_address_is_cut_before_the_address():
    reading = read("KOBE JAPANESE STEAK 69838 HIGHWAY 111", "760-324-1717", "Amount: $158.07")
    assert reading.fields.merchant == "KOBE JAPANESE STEAK"


def test_a_german_street_with_a_separate_strasse_is_an_address_not_a_name():
    assert read("LiDL", "Warburger Straße 130", "33100 Paderborn", "SUMME 5,00").fields.merchant == "LiDL"


def test_a_card_slip_heading_is_not_the_merchant():
    assert read("** PURCHASE **", "Panda Express #2614", "Brooklyn, NY", "TOTAL 9.10").fields.merchant == (
        "Panda Express #2614"
    )


def test_a_tax_row_of_net_tax_and_gross_that_add_up_gives_the_gross():
    reading = read(
        "Hotel Muster", "Rechnung 16.05.2022", "16.05.2022 Zimmer 1 162,00 10,00 162,00", "Steuer BETRAG",
        "IVA 10,00% 181,82 18,18 200,00", "Bezahlverfahren", "Karte -200,00 EUR",
    )  # fmt: skip
    assert (reading.fields.total, reading.notes["total_from"]) == ("200.00", "net_tax_gross")


def test_a_labelled_total_beats_the_rows_of_a_tax_table():
    reading = read(
        "BÄCKEREI", "Brot 11,90", "Kaffee 5,35", "SUMME 17,25", "A 19% 10,00 1,90 11,90", "B 7% 5,00 0,35 5,35"
    )
    assert reading.fields.total == "17.25"


def test_a_charges_column_over_a_single_row_of_values_gives_the_total():
    reading = read(
        "Fabrikam", "Invoice For: Northwind", "Invoice Number Invoice Date Due Date Charges VAT ID",
        "1234567 3/1/2020 3/31/2020 $1,234.50 PT",
    )  # fmt: skip
    assert (reading.fields.total, reading.notes["total_from"]) == ("1234.50", "table_heading")


@pytest.mark.parametrize(
    "lines",
    [
        # an item table: the Amount column heads each item's amount
        ("Fabrikam", "Description Qty Price Amount", "Widget 2 5.00 10.00", "Gadget 1 7.50 7.50", "Cash 20.00"),
        # the tax's amount
        ("Fabrikam", "Rate Net VAT Amount", "20% 10.00 2.00", "Thank you"),
    ],
)
def test_an_amount_column_over_item_rows_or_after_a_tax_word_is_not_the_total(lines):
    assert read(*lines).notes["total_from"] != "table_heading"


def test_a_file_of_two_invoices_each_opening_with_the_seller_is_answered_from_the_first():
    invoice = ("GRAND HOTEL MUSTER", "Invoice 1001", "Date of issue: 13/09/22")
    reading = read(
        *invoice, "06/09/22 Room 208,00", "07/09/22 Room 208,00", "TOTAL 416,00 -416,00 0,00 EUR",
        *invoice, "06/09/22 City tax 4,00", "07/09/22 City tax 4,00", "TOTAL 8,00 -8,00 0,00 EUR",
    )  # fmt: skip
    assert reading.fields.total == "416.00"


def test_pages_that_repeat_the_heading_before_the_total_are_one_document():
    page = ("GRAND HOTEL MUSTER", "Invoice 1001")
    reading = read(*page, "Room 208,00", "Carried forward", *page, "City tax 8,00", "TOTAL 216,00")
    assert reading.fields.total == "216.00"


def test_a_folios_unlabelled_stay_dates_stacked_give_the_later():
    reading = read(
        "Country Motel", "Room: 12 Payment: VISA", "DOE, JANE Guest", "MAIN STREET 5 March 2, 2020",
        "SPRINGFIELD March 4, 2020", "Date Trans Room Debit Credit", "ROOM 12 90.00 90.00",
        "VISA 12 180.00 CR 0.00", "Balance due at checkout $ 0.00",
    )  # fmt: skip
    assert reading.fields.date == "2020-03-04"


def test_dated_rows_of_a_folio_are_not_a_stay():
    reading = read(
        "Country Motel", "Room 12", "Guest: Jane Doe", "02.03.2020 Room 90,00", "03.03.2020 Room 90,00",
        "04.03.2020 Room 90,00", "TOTAL 270,00",
    )  # fmt: skip
    assert reading.fields.date == "2020-03-02"  # no label: the first date stands


@pytest.mark.parametrize(
    ("lines", "total"),
    [
        # a misread sum on a German till: the cash paid and the tax row (tax, net, gross) agree
        (("SUMME EUR 5,17", "Bar EUR 5,47", "MwSt netto brutto", "A 7,0% 0,36 5,11 5,47"), "5.47"),
        # a misread rounded total: the card paid what the total including tax says
        (("Total RM Including GST 6% 99.80", "TotalRounded 08.66", "Mastercard -99.80"), "99.80"),
    ],
)
def test_a_single_exact_payment_overrules_a_total_printed_nowhere_else(lines, total):
    assert read("SHOP GMBH", "Item 1,00", *lines).fields.total == total


@pytest.mark.parametrize(
    ("lines", "total"),
    [
        # two payments: the total is their sum
        (("Total 87,00", "19% 4,20 0,80 5,00", "7% 76,64 5,36 82,00", "Mastercard 82,00", "Mastercard 5,00"), "87.00"),
        # a card authorised before the tip: the total is the sum
        (("Total $118.46", "CREDIT CARD AUTH $118.46", "Tip 35.54", "Total 154.00"), "154.00"),
    ],
)
def test_split_payments_and_a_tip_leave_the_labelled_total(lines, total):
    assert read("SHOP", *lines).fields.total == total


def test_amounts_read_a_row_off_their_labels_still_add_up_to_the_total():
    reading = read("CAFE", "SOUP 20.50", "FISH 30.00", "Sub Total: 50.50 5.45", "Tax: 55.95", "03/12 12:31pTOTAL:")
    assert (reading.fields.total, reading.notes["total_from"]) == ("55.95", "subtotal_plus_tax")


def test_a_net_total_beside_its_tax_is_not_the_total_when_their_sum_is_printed():
    reading = read("FOOD CAFE", "1 X MEAL 9,70", "1 X BEER 2,20", "CARDS 11,90", "VAT TOTAL 1,47", "NET TOTAL 10,43")
    assert (reading.fields.total, reading.notes["total_from"]) == ("11.90", "net_plus_tax")


@pytest.mark.parametrize(
    "lines",
    [
        ("Total Sales (Incl GST) 16.56", "GST 6% 0.94", "Gift card value 17.50"),  # the tax is in the total
        ("TOTAL 16.56", "GST 6% 0.94", "Cash 17.50", "Change 0.94"),  # the cash handed over is any amount
    ],
)
def test_a_total_beside_its_tax_is_not_read_as_a_net_where_it_includes_it_or_change_was_given(lines):
    assert read("SHOP SDN BHD", *lines).fields.total == "16.56"


def test_a_number_with_mixed_separators_does_not_vote_on_the_date_order():
    reading = read("CAKE HOUSE SDN BHD", "Invoice No: SP-nu11-18/06/09-1018481", "Date :09/06/2018 18:47", "TOTAL 5.00")
    assert (reading.fields.date, reading.notes["date_order"]) == ("2018-06-09", "dmy")


@pytest.mark.parametrize(
    ("lines", "iso"),
    [
        (("SHOP SDN BHD", "Tax Invoice", "27032018 No CS-20243", "TOTAL 12.00"), "2018-03-27"),
        (("SHOP SDN BHD", "TOTAL RM41.45", "00440010036 25032018 13:11:54 0003"), "2018-03-25"),
        # another date stands: eight digits are then a number
        (("SHOP SDN BHD", "Invoice 20180101", "Date: 05/03/2018", "TOTAL 12.00"), "2018-03-05"),
    ],
)
def test_eight_digits_are_a_date_only_where_no_other_date_is_printed(lines, iso):
    assert read(*lines).fields.date == iso


def test_a_tax_rate_on_the_total_line_is_not_the_total():
    reading = read("SHOP SDN BHD", "Item 12.00", "Total 12.00", "Total Sales Inclusive GST @6.00% 1200", "Cash 50.00")
    assert reading.fields.total == "12.00"


def test_items_that_add_up_to_the_amount_after_a_misread_total_give_that_amount():
    items = ("Hazy Jane 5.85", "Burger 10.50", "Fries 2.50", "Punk IPA 5.60")
    reading = read("BREWPUB", "Table 4 9:41 PM", *items, "Total 4.45", "Balance 24.45", "Thank you")
    assert (reading.fields.total, reading.notes["total_from"]) == ("24.45", "items_sum")


@pytest.mark.parametrize(
    ("lines", "total"),
    [
        (("Burger 10.50", "Fries 2.50", "Total 14.00", "Balance 13.00"), "14.00"),  # two items prove little
        (("Burger 10.50", "Fries 2.50", "Cola 1.00", "Total 15.00", "Balance 14.00", "Card 15.00"), "15.00"),
    ],
)
def test_a_total_stands_against_two_items_or_when_printed_again(lines, total):
    assert read("BREWPUB", *lines).fields.total == total


def test_a_zero_on_the_subtotal_line_does_not_make_the_tax_the_total():
    reading = read("SHOP", "Item 10.00", "Sub Total 0.00 10.00", "Tax 1.00", "TOTAL ###")
    assert reading.fields.total != "1.00"


# --- merchant: logos, slogans, branches, footers -----------------------------------------------------


@pytest.mark.parametrize(
    ("top", "name"),
    [
        (("NordMarkf", "NORD MARKT", "Elektro Vertriebs GmbH Bremen", "Hafenweg 12"), "NORD MARKT"),
        (
            ("foom Gartenmarkf GmbH", "Hafenweg 12", "Ihr Partner fur Garten", "toom Gartenmarkt GmbH"),
            "toom Gartenmarkt GmbH",
        ),
        (("Kornhaus", "Korn haus", "Hafenweg 12", "28195 Bremen"), "Kornhaus"),
    ],
)
def test_a_name_printed_under_its_logo_is_the_name_even_beside_a_company(top, name):
    assert read(*top, "Brot 2,49 A", "SUMME EUR 2,49", "12.03.2024").fields.merchant == name


def test_the_name_above_an_address_under_a_logo_and_a_slogan():
    slogan = ("tilmanHofe", "GUT EINKAUFEN/GUT LEBEN", "OO", "ALLES", "DABEI?", "QR-Code scannen", "und Meinung sagen")
    lines = (*slogan, "www.hofe.example.de", "Frischmarkt Hofe", "Lindenweg 4", "28195 Bremen", "SUMME EUR 2,49")
    assert read(*lines).fields.merchant == "Frischmarkt Hofe"


@pytest.mark.parametrize(
    ("top", "name"), [(("OÜ Mare Pood",), "OÜ Mare Pood"), (("PT Sinar Jaya Abadi",), "PT Sinar Jaya Abadi")]
)
def test_a_legal_form_printed_before_the_name_stays(top, name):
    assert read(*top, "Reg Nr 11452320", "Pikk tn. 10", "KOKKU 4,50 EUR").fields.merchant == name


def test_a_percent_sign_in_a_brand_is_part_of_it():
    assert read("SUPER UNO%", "CL.MAYOR,19", "TOTAL COMPRA 0,70").fields.merchant == "SUPER UNO%"


def test_a_word_and_a_legal_form_under_a_name_end_it():
    lines = ("DINE-IN", "Frituur Kanaal", "Gent SRL", "Quai des Usines 16 1000 Bruxelles", "TOTAL 2.90")
    assert read(*lines).fields.merchant == "Frituur Kanaal Gent SRL"


@pytest.mark.parametrize(
    "top",
    [
        ("AEON BIG WANGSA MAJU", "AEON BIG (M) SDN BHD"),
        ("SANYU", "SANYU STATIONERY SHOP", "SANYU SUPPLY SDN BHD"),
        ("Burgerhaus Kesklinn", "REG NR: 10312806", "Burgerhaus AS"),
    ],
)
def test_a_store_line_above_the_company_that_runs_it_gives_the_company(top):
    # receipts label the company (SROIE's convention); a rule preferring the store's line was
    # measured and dropped: it fitted one document and broke this convention
    assert read(*top, "NO. 31G, JALAN SETIA", "TOTAL 5.00").fields.merchant == top[-1]


def test_a_logo_read_before_the_name_on_its_row_is_dropped():
    lines = ("INVOICE", "nordhotel RIGA Nordhotel Latvia SIA AS", "Brivibas 3", "Total 770.00 EUR")
    assert read(*lines).fields.merchant == "Nordhotel Latvia SIA AS"
    assert read("TAPA TAPA ANG, SL", "C/ Mayor 3", "TOTAL 10,00").fields.merchant == "TAPA TAPA ANG, SL"


def test_an_invoice_signed_in_its_footer_names_its_seller_not_the_guest_block():
    lines = (
        "grinoma kines",
        "Invoice",
        "Rechnungsadresse",
        "Globex Consulting GmbH",
        "Hauptstrasse 1",
        "10117 Berlin",
        *(f"0{day}/04/19 Apartment 92,56" for day in range(1, 8)),
        "Summe Belastungen 647,92",
        "Kanalhaus Apartments Hamburg",
        "Ludwig-Erhard-Str. 7, D-20459 Hamburg, Deutschland",
        "Tel: +49 (0)40-300618-0 Email: hamburg@kanalhaus.example",
    )
    assert read(*lines).fields.merchant == "Kanalhaus Apartments Hamburg"


def test_a_bank_beside_the_iban_is_not_the_seller():
    rooms = [f"0{day}/09/22 ARRANGEMENT 208,00" for day in range(1, 8)]
    bank = ("Account Name: MARINA BAY HOTELS", "IBAN: GR1601101250000000012300695", "2. ALPHA BANK SA")
    lines = ("MARINA BAY HOTEL", "INVOICE", "Date of issue: 13/09/22", *rooms, "TOTAL 1.456,00 EUR", *bank)
    assert read(*lines).fields.merchant == "MARINA BAY HOTEL"


def test_a_hotels_stars_and_slogan_are_not_its_name():
    lines = (
        *(["Reserva: 1234", "FACTURA 883/19024895 21/09/19"] + [f"1{day}/09/19 Habitación 168,30" for day in range(5)]),
        "Total Factura 841,50",
        "Only Us Hotel Prado ****- Your stay, our way",
        "Paseo del Prado 13, 28014 Madrid - prado@onlyus.example",
    )
    assert read(*lines).fields.merchant == "Only Us Hotel Prado"


@pytest.mark.parametrize(
    ("top", "name"),
    [
        (("APOTHEKE", "AM", "MARKTPLATZ", "Frau Apothekerin Lange"), "APOTHEKE AM MARKTPLATZ"),
        (("LINDEN", "APOTHEKE", "BREMEN"), "LINDEN APOTHEKE"),
    ],
)
def test_a_logo_read_a_word_a_line_joins_a_short_word_but_not_the_town(top, name):
    assert read(*top, "Kiewer Str. 5", "04209 Leipzig", "SUMME EUR 9,49").fields.merchant == name


def test_a_one_word_brand_then_the_stores_full_name_unless_a_company_is_named():
    assert read("CREPE", "depuis 1889", "Crepe Gare Centrale", "Quai des Usines 16", "TOTAL 4.20").fields.merchant == (
        "Crepe Gare Centrale"
    )
    company = ("Chili's", "Chili's Grill & Bar KLCC", "T.A.S Leisure Sdn Bhd (256864-P)", "Tel:03-2164 1400")
    assert read(*company, "TOTAL 25.00").fields.merchant == "T.A.S Leisure Sdn Bhd"


@pytest.mark.parametrize(
    "name", ["TK MAJU KITCHEN SDN BHD", "FY HARIMAU ENTERPRISE", "B & BEST KOPITIAM", "88 MINI MART S/B"]
)
def test_initials_or_a_number_before_a_name_in_capitals_are_part_of_it(name):
    assert read(name, "NO. 42, JALAN PBS 14/11", "43300 SERI KEMBANGAN", "TOTAL 5.00").fields.merchant == name


def test_a_companys_name_with_its_registration_on_the_row_is_its_name():
    lines = ("Kenari Realties Sdn Bhd (Co. No:20154-T)", "(GST Registration No : 000850247680)", "TOTAL 10.60")
    assert read(*lines).fields.merchant == "Kenari Realties Sdn Bhd"
    assert read("A04034", "HASHA KIOSK", "Company No: JH0632980-Y", "TOTAL 5.00").fields.merchant == "HASHA KIOSK"


def test_co_and_a_countrys_mark_and_a_legal_form_alone_end_the_name_above():
    lines = ("PELANGI BOOK", "CO. (M) SDN BHD", "(Co. No. 113825-W)", "No 8, Jalan 7/118B", "TOTAL 5.00")
    assert read(*lines).fields.merchant == "PELANGI BOOK CO. (M) SDN BHD"


def test_a_name_ending_two_words_and_a_legal_form_later_joins_only_a_name_printed_alike():
    lines = ("BAR RISTORANTE", "STABILIMENTO BALNEARE DEL PORTO", "SAN ROCCO S.R.L.", "VIA S. ROCCO - ISCHIA (NA)")
    assert read(*lines, "TOTALE 12,00").fields.merchant == "STABILIMENTO BALNEARE DEL PORTO SAN ROCCO S.R.L."
    slogan = ("Respekt, wer's selber macht.", "baum Gartenmarkt GmbH", "Gießerstr.37", "04229 Leipzig")
    assert read(*slogan, "SUMME EUR 9.49").fields.merchant == "baum Gartenmarkt GmbH"


@pytest.mark.parametrize(
    ("rows", "total"),
    [
        # item rows with their tax: each its own gross, none the total
        (("SR 10.00 0.60 10.60", "SR 20.00 1.20 21.20", "T0T@L ###", "Cash 50.00", "Change 18.20"), "31.80"),
        # a tax table with its sum row
        (("A 19% 10,00 1,90 11,90", "B 7% 5,00 0,35 5,35", "10,00 5,00 1,90 0,35 15,00 2,25 17,25"), "17.25"),
    ],
)
def test_rows_of_net_tax_and_gross_give_the_total_only_as_a_sum_row(rows, total):
    assert read("SHOP SDN BHD", "Tax Invoice", *rows).fields.total == total


def test_a_name_with_digits_is_not_a_store_number_and_a_total_including_tax_is_not_a_company():
    lines = ("HOTEL", "K47", "FACTURA Invoice/Facture 0694/21042229", "Room/Chambre 702", "Total EUR 798.03")
    assert read(*lines, "Total inc. VAT/TVA 798.03 EUR").fields.merchant == "HOTEL K47"
    assert read("KFC", "Restaurant #C160014", "3880 Hempstead Turnpike", "TOTAL 9.99").fields.merchant == "KFC"


# --- what the review of the third pass found -------------------------------------------------------


def test_a_french_ou_is_not_an_estonian_legal_form():
    lines = ("SUR PLACE OU A EMPORTER", "McDonald's Paris Opera", "12 Bd des Capucines", "TOTAL 9,90")
    assert read(*lines).fields.merchant == "McDonald's Paris Opera"


@pytest.mark.parametrize(
    ("name", "expected"),
    [("I SANYU STATIONERY SHOP", "SANYU STATIONERY SHOP"), ("SUSHI KING SUSHI BAR", "SUSHI KING SUSHI BAR")],
)
def test_a_stray_capital_is_debris_and_a_name_may_repeat_its_first_word(name, expected):
    assert read(name, "NO. 31G, JALAN SETIA", "TOTAL 5.00").fields.merchant == expected


def test_a_seller_whose_name_starts_with_total_is_a_seller():
    assert read("INVOICE", "TOTAL FRANCE SA", "12 rue de la Paix", "Total 5.00").fields.merchant == "TOTAL FRANCE SA"


def test_a_multi_page_invoice_with_its_letterhead_and_a_page_total_on_each_page_totals_the_last_page():
    page_1 = ("ACME Services Ltd", "Invoice 1001", "Item one 600.00", "Item two 634.56", "Page total 1,234.56")
    page_2 = ("ACME Services Ltd", "Invoice 1001 page 2", "Item three 366.91", "TOTAL 1,601.47")
    assert read(*page_1, *page_2).fields.total == "1601.47"


def test_fifty_pages_each_with_the_letterhead_and_a_page_sum_give_the_last_total():
    page = ["ACME Services Ltd", "Invoice 1001", *(f"Item {i} {i}.50" for i in range(45)), "Seitensumme 99.00"]
    assert read(*(page * 50), "TOTAL 1,601.47").fields.total == "1601.47"  # page sums are not the total


def test_a_journeys_departure_does_not_date_a_travel_invoice():
    lines = (
        "Ryanair DAC",
        "Invoice",
        "Date: 21/05/2019",
        "Flight FR123",
        "Departure 14/06/2019 10:30",
        "Total 57.15 EUR",
    )
    assert read(*lines).fields.date == "2019-05-21"
