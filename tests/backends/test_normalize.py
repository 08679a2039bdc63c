"""Normalising printed dates, amounts, currencies and names: table-driven over real formats."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backends.normalize import (
    detect_currency,
    find_amounts,
    find_dates,
    normalize_amount,
    normalize_date,
    normalize_text_for_match,
    parse_amount,
    parse_date,
)
from backends.testing.synthetic import LOCALES, random_receipt


@pytest.mark.parametrize(
    ("printed", "iso"),
    [
        ("25/12/2018", "2018-12-25"),  # day-first, the SROIE default
        ("19-10-18", "2018-10-19"),
        ("17/1/2018", "2018-01-17"),
        ("01/03/18", "2018-03-01"),
        ("12.03.2018", "2018-03-12"),  # German, Swiss
        ("2018-12-25", "2018-12-25"),  # ISO
        ("2018/03/04 10:22", "2018-03-04"),
        ("12 MAR 2018", "2018-03-12"),
        ("01-NOV-2017", "2017-11-01"),
        ("30 DEC 17", "2017-12-30"),
        ("5 Sept 2023", "2023-09-05"),
        ("Mar 12, 2018", "2018-03-12"),  # US, month name first
        ("March 12th, 2018", "2018-03-12"),
        ("12. März 2024", "2024-03-12"),
        ("3 janvier 2024", "2024-01-03"),
        ("14 ogos 2019", "2019-08-14"),  # Malay
        ("2018年3月12日", "2018-03-12"),
        ("03/25/2018", "2018-03-25"),  # only month-first is possible
        ("20180304", "2018-03-04"),  # compact, year first
        ("25032018", "2018-03-25"),  # compact, day first
        ("Date: 25 /12/2018 8:13:39 PM", "2018-12-25"),  # OCR space beside a separator
        ("ORD #18 -REG #19- 21/03/2018 19:53:23", "2018-03-21"),  # a false start does not hide the date
    ],
)
def test_printed_dates_normalise_to_iso(printed, iso):
    assert normalize_date(printed) == iso


@pytest.mark.parametrize(
    "text",
    ["", "32/13/2018", "99/99/99", "Total 12.50", "1899-01-01", "Tel 03-7731 8169", "12345678", None],
)
def test_text_without_a_plausible_date_gives_none(text):
    assert normalize_date(text) is None


def test_dayfirst_false_reads_ambiguous_dates_month_first():
    assert parse_date("12/03/2018", dayfirst=False) == dt.date(2018, 12, 3)
    assert parse_date("12/03/2018") == dt.date(2018, 3, 12)
    assert parse_date("25/12/2018", dayfirst=False) == dt.date(2018, 12, 25)  # impossible month-first


def test_find_dates_lists_every_date_with_its_position_and_raw_text():
    text = "Expiry 30/09/18  Date: 01/03/18 19:14"
    found = find_dates(text)
    assert [(f.raw, f.date.isoformat()) for f in found] == [("30/09/18", "2018-09-30"), ("01/03/18", "2018-03-01")]
    assert text[found[1].start : found[1].end] == "01/03/18"


@pytest.mark.parametrize(
    ("printed", "decimal"),
    [
        ("RM 1,234.50", "1234.50"),
        ("1.234,50 €", "1234.50"),
        ("12,50", "12.50"),
        ("$9", "9.00"),
        ("-3.00", "-3.00"),
        ("(3.00)", "-3.00"),
        ("1'234.50 CHF", "1234.50"),
        ("9,000", "9000.00"),  # a thousands separator, not a decimal comma
        ("2.0700", "2.0700"),  # unit prices keep four places
        ("RM43.40", "43.40"),
        ("Total: 9.00", "9.00"),
    ],
)
def test_printed_amounts_normalise_to_decimal_strings(printed, decimal):
    assert normalize_amount(printed) == decimal
    assert parse_amount(printed) == Decimal(decimal)


@pytest.mark.parametrize("text", ["", None, "abc", "TOTAL"])
def test_text_without_an_amount_gives_none(text):
    assert normalize_amount(text) is None


def test_find_amounts_takes_two_decimal_amounts_and_skips_dates_times_and_codes():
    text = "25.12.2018 12:30 #4194020100124 4 x 11.32 RM45.28 -0.02 1,234.50 9,90 €"
    assert [a.value for a in find_amounts(text)] == [
        Decimal("11.32"),
        Decimal("45.28"),
        Decimal("-0.02"),
        Decimal("1234.50"),
        Decimal("9.90"),
    ]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Total RM 9.00", "MYR"),
        ("Amount($) 7.10 ... GST REG, Total RM 7.10", "MYR"),  # a specific mark beats a bare $
        ("S$ 4.50", "SGD"),
        ("Summe 9,00 €", "EUR"),
        ("TOTAL 12.00 EUR", "EUR"),
        ("£3.20", "GBP"),
        ("Total CHF 5.00", "CHF"),
        ("USD 5.00", "USD"),
        ("Amount Due $ 5.00", "USD"),
        ("Rp 25.000", "IDR"),
        ("Total 5.00", None),
        ("", None),
    ],
)
def test_currency_marks_map_to_iso_codes(text, code):
    assert detect_currency(text) == code


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Mr. D.I.Y. (M) Sdn Bhd", "MR D.I.Y (M) SDN. BHD"),
        ("BOOK TA .K (TAMAN DAYA) SDN BHD", "BOOK TA -K (TAMAN DAYA) SDN BHD"),
        ("Café de la Gare", "CAFE DE LA GARE"),
        ("  SYL  ROASTED\nDELIGHTS ", "syl roasted delights"),
    ],
)
def test_names_compare_equal_after_normalisation(a, b):
    assert normalize_text_for_match(a) == normalize_text_for_match(b)


def test_name_normalisation_keeps_different_names_different():
    assert normalize_text_for_match("SANYU STATIONERY") != normalize_text_for_match("SANYO STATIONERY")
    assert normalize_text_for_match(None) == ""


@settings(max_examples=200, deadline=None)
@given(
    date=st.dates(min_value=dt.date(1995, 1, 1), max_value=dt.date(dt.date.today().year + 1, 12, 31)),
    locale=st.sampled_from(sorted(LOCALES)),
    data=st.data(),
)
def test_every_date_format_the_renderer_prints_reads_back(date, locale, data):
    date_format = data.draw(st.sampled_from(LOCALES[locale].date_formats))
    printed = date.strftime(date_format)
    assert parse_date(printed, dayfirst=locale != "US") == date


@settings(max_examples=200, deadline=None)
@given(
    value=st.decimals(min_value=Decimal("-99999.99"), max_value=Decimal("999999.99"), places=2),
    locale=st.sampled_from(sorted(LOCALES)),
)
def test_every_amount_the_renderer_prints_reads_back(value, locale):
    spec = random_receipt(random.Random(0), locale=locale)
    printed = spec.money(value, mark=True)
    assert parse_amount(printed) == value
    assert [a.value for a in find_amounts(printed)] == [value]


@pytest.mark.parametrize(
    ("total", "date", "amount"),
    [
        (
            "TOTAL \uff12\uff17\uff0e\uff11\uff10",
            "\uff11\uff14\uff0e\uff10\uff13\uff0e\uff12\uff10\uff12\uff14",
            "27.10",
        ),
        ("TOTAL \u0662\u0667\u066b\u0661\u0660", "\u0661\u0664/\u0660\u0663/\u0662\u0660\u0662\u0664", "27.10"),
        ("TOTAL \u0968\u096d.\u0967\u0966", "\u0967\u096a.\u0966\u0969.\u0968\u0966\u0968\u096a", "27.10"),
        ("TOTAL \u22122\u0667.1\uff10", "14.03.\u0968\u0966\u0968\u096a", "-27.10"),
    ],
    ids=["fullwidth", "arabic-indic", "devanagari", "mixed-scripts"],
)
def test_digits_of_any_script_read_as_the_amount_and_date_a_person_sees(total, date, amount):
    """Fullwidth forms, Arabic-Indic digits with the Arabic decimal separator, Devanagari digits:
    the same 27.10 and 14.03.2024 to a reader (before: 27.00 from the Arabic one, no fullwidth or
    Devanagari date), and positions found in the text are positions in it."""
    assert normalize_amount(total) == amount
    [found] = find_amounts(f"{date}  {total}")
    assert str(found.value) == amount and f"{date}  {total}"[found.start : found.end].endswith(total[-2:])
    assert normalize_date(date) == "2024-03-14"
    assert [d.date.isoformat() for d in find_dates(f"{total} {date}")] == ["2024-03-14"]
