"""The result schema: every amount an ASCII decimal string and every date ISO 8601's YYYY-MM-DD,
whatever form a backend gave them in."""

from __future__ import annotations

import pytest

from backends.schema import ReceiptFields


@pytest.mark.parametrize("given", ["\u0665\u0666.58", "\uff15\uff16.58", "\u096b\u096c.58"])
def test_an_amount_in_another_scripts_digits_is_stored_as_an_ascii_decimal(given):
    """Python's \\d matches every script's digits: "٥٦.58" passed as a decimal string, as given."""
    assert ReceiptFields(total=given).total == "56.58"


@pytest.mark.parametrize("given", ["20240314", "2024-W11-4", "\uff12\uff10\uff12\uff14-03-14"])
def test_a_date_python_reads_in_another_iso_form_is_stored_as_yyyy_mm_dd(given):
    """date.fromisoformat accepts the basic and the week forms: they were stored as given."""
    assert ReceiptFields(date=given).date == "2024-03-14"
