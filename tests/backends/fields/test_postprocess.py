"""Post-processing on the kinds of raw text models really produce: loops, prose around JSON,
Markdown fences, truncated JSON, odd keys, and dates and amounts printed every which way."""

from __future__ import annotations

import pytest

from backends.errors import InvalidOutput
from backends.fields.postprocess import parse_answer
from backends.fields.postprocess.jsonout import extract_json
from backends.fields.postprocess.repetition import collapse_lines, collapse_runs, collapse_words


def fields(text: str) -> dict:
    return parse_answer(text)[0].model_dump(exclude_none=True, exclude_defaults=True)


# --- repetition -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("TOTAL TOTAL TOTAL TOTAL", "TOTAL"),
        ("Thank you Thank you thank you Thank you", "Thank you"),
        ("SDN BHD SDN BHD SDN BHD SDN", "SDN BHD"),  # the last copy was cut off
        ("SDN BHD SDN BHD SDN BHD SD", "SDN BHD"),  # ... in the middle of a word
        ("Bora Bora", "Bora Bora"),  # twice is not a loop
        ("1 x Coke 1 x Coke", "1 x Coke 1 x Coke"),
        ("no   repetition\there", "no repetition here"),
        ("A B C D E F G H A B C D E F G H A B C D E F G H", "A B C D E F G H"),
    ],
)
def test_collapse_words_and_phrases(text, expected):
    assert collapse_words(text)[0] == expected


def test_collapse_lines_keeps_one_copy_of_a_looping_block():
    block = '    {"description": "NASI LEMAK", "amount": "3.50"},\n    {"description": "TEH O", "amount": "1.20"},'
    text = '{"merchant": "KEDAI", "line_items": [\n' + "\n".join([block] * 6) + '\n    {"description": "NA'
    cleaned, removed = collapse_lines(text)
    assert cleaned.count("NASI LEMAK") == 1 and cleaned.count("TEH O") == 1
    assert removed == 10 + 1  # five extra copies of two lines, and the cut-off copy


def test_collapse_runs_counts_what_it_removed():
    assert collapse_runs([1, 2, 2, 2, 2, 3]) == ([1, 2, 3], 3)
    assert collapse_runs([1, 1, 2, 2]) == ([1, 1, 2, 2], 0)


# --- JSON extraction --------------------------------------------------------------------------


def test_prose_and_fences_around_the_json():
    text = (
        "Sure! Here is the information extracted from the receipt:\n\n```json\n"
        '{"merchant": "ACME", "date": "2024-03-01", "total": "9.50"}\n```\n\n'
        "Let me know if you need anything else {or more}."
    )
    found = extract_json(text)
    assert found.value == {"merchant": "ACME", "date": "2024-03-01", "total": "9.50"}
    assert not found.repaired and found.prose_chars > 50


def test_a_brace_in_the_prose_does_not_hide_the_answer():
    text = 'I read the receipt {as requested}. {"merchant": "ACME", "total": "1.00"}'
    assert extract_json(text, prefer=lambda obj: "merchant" in obj).value["merchant"] == "ACME"


def test_truncated_json_is_repaired_and_a_value_cut_mid_string_dropped():
    text = '{"merchant": "ACME", "date": "01/03/2024", "total": "12.5'
    assert fields(text) == {"merchant": "ACME", "date": "2024-03-01", "date_raw": "01/03/2024"}
    assert parse_answer(text)[1]["json_repaired"] is True


def test_single_quotes_and_trailing_commas_are_repaired():
    assert fields("{'merchant': 'ACME', 'total': 7,}") == {"merchant": "ACME", "total": "7.00", "total_raw": "7"}


def test_no_json_at_all_is_invalid_output_without_the_text():
    with pytest.raises(InvalidOutput, match=r"no JSON object in the model output \(32 characters\)") as caught:
        parse_answer("The receipt says SECRET SHOP 42.")
    assert "SECRET" not in str(caught.value)


def test_json_without_receipt_fields_is_invalid_output():
    with pytest.raises(InvalidOutput, match="none of the receipt fields"):
        parse_answer('{"answer": "I cannot read this image", "confidence": "low"}')


# --- keys, values, normalisation ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "iso"),
    [
        ("25/12/2018", "2018-12-25"),
        ("25-12-18", "2018-12-25"),
        ("2018-12-25", "2018-12-25"),
        ("2018.12.25", "2018-12-25"),
        ("12/25/2018", "2018-12-25"),  # month-first only where day-first is impossible
        ("25 Dec 2018", "2018-12-25"),
        ("December 25, 2018", "2018-12-25"),
        ("25-DEC-2018 14:02", "2018-12-25"),
        ("Date: 25/12/2018 Time: 10:31", "2018-12-25"),
    ],
)
def test_dates_in_many_formats(raw, iso):
    result = parse_answer(f'{{"merchant": "A", "date": "{raw}"}}')[0]
    assert (result.date, result.date_raw) == (iso, " ".join(raw.split()))


@pytest.mark.parametrize(
    ("raw", "total", "currency"),
    [
        ('"RM 1,234.50"', "1234.50", "MYR"),
        ('"1.234,50 €"', "1234.50", "EUR"),
        ('"$9"', "9.00", "USD"),
        ('"12,50"', "12.50", None),
        ("12.5", "12.50", None),
        ('"S$ 4.90"', "4.90", "SGD"),
        ('"TOTAL: 88.00"', "88.00", None),
    ],
)
def test_amounts_in_many_formats(raw, total, currency):
    result = parse_answer(f'{{"merchant": "A", "total": {raw}}}')[0]
    assert (result.total, result.currency) == (total, currency)


def test_model_specific_keys_nesting_and_empty_markers():
    text = (
        '{"receipt": {"Store Name": "KEDAI MAJU", "Invoice Date": "01/02/2019", "Grand Total": "RM 5.00", '
        '"Address": ["NO 1, JALAN 2", "47000 SELANGOR"], "currency": "N/A", "items": ['
        '{"item": "TEH", "qty": 2, "price": "2.50"}, {"item": null, "price": "n/a"}]}}'
    )
    result, meta = parse_answer(text)
    assert result.merchant == "KEDAI MAJU" and result.date == "2019-02-01" and result.total == "5.00"
    assert result.address == "NO 1, JALAN 2, 47000 SELANGOR"
    assert result.currency == "MYR"  # from the total, since the model wrote N/A
    assert [i.model_dump() for i in result.line_items] == [{"description": "TEH", "quantity": "2.00", "amount": "2.50"}]
    assert meta["values_dropped"] == ["line_items[]"]


def test_unreadable_values_are_dropped_and_counted_not_fatal():
    result, meta = parse_answer('{"merchant": "ACME", "date": "yesterday", "total": "lots", "currency": "Ringgit"}')
    assert result.merchant == "ACME" and result.date is None and result.total is None and result.currency is None
    assert result.date_raw == "yesterday"
    assert sorted(meta["values_dropped"]) == ["currency", "date", "total"]


def test_a_looping_model_answer_end_to_end():
    """What a 1B model at temperature 0 really does: a repeated merchant, a line-item loop, no end."""
    text = (
        "```json\n{\n"
        '  "merchant": "' + "UNIHAKKA INTERNATIONAL SDN BHD " * 3 + '",\n'
        '  "date": "19 Jun 2018",\n'
        '  "total": "RM8.20",\n'
        '  "line_items": [\n' + '    {"description": "WHITE RICE", "amount": "1.10"},\n' * 12 + '    {"descri'
    )
    result, meta = parse_answer(text)
    assert result.merchant == "UNIHAKKA INTERNATIONAL SDN BHD"
    assert (result.date, result.total, result.currency) == ("2018-06-19", "8.20", "MYR")
    assert len(result.line_items) == 1
    assert meta["json_repaired"] and meta["repetitions_removed"] >= 11 + 8


def test_metadata_never_holds_document_text():
    _, meta = parse_answer('Here: {"merchant": "SECRET SHOP", "total": "1.00", "date": "garbage date"}')
    assert "SECRET" not in repr(meta) and "garbage" not in repr(meta)
