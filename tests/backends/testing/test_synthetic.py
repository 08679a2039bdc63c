"""The synthetic receipt renderer: deterministic, varied, and its truth adds up."""

from __future__ import annotations

import random
from dataclasses import replace
from decimal import Decimal

import pytest

from backends.normalize import normalize_date
from backends.testing import synthetic
from backends.testing.synthetic import LOCALES, random_receipt, render_receipt


def test_the_same_seed_gives_the_same_receipt_and_the_same_pixels():
    first, second = random_receipt(random.Random(3)), random_receipt(random.Random(3))
    assert first == second
    assert render_receipt(first).tobytes() == render_receipt(second).tobytes()
    assert random_receipt(random.Random(4)) != first


def test_random_receipts_vary_in_country_format_and_look():
    specs = [random_receipt(random.Random(seed)) for seed in range(60)]
    assert {s.locale.code for s in specs} == set(LOCALES)
    assert len({s.date_format for s in specs}) >= 8
    assert len({s.style.font for s in specs}) >= 3
    assert any(s.style.rotation for s in specs) and any(s.style.blur for s in specs)
    assert any(s.cash is None for s in specs) and any(s.cash is not None for s in specs)


@pytest.mark.parametrize("seed", range(40))
def test_the_truth_adds_up(seed):
    spec = random_receipt(random.Random(seed))
    truth = spec.truth()
    assert spec.subtotal == sum(item.amount for item in spec.items)
    expected_gross = spec.subtotal if spec.locale.tax_included else spec.subtotal + spec.tax
    assert spec.gross == expected_gross
    assert abs(spec.total - spec.gross) <= (spec.locale.cash_rounding or 0) / 2
    assert spec.cash is None or spec.cash >= spec.total
    assert truth["total"] == f"{spec.total:.2f}"
    dayfirst = spec.locale.code != "US"
    assert normalize_date(truth["date_raw"], dayfirst=dayfirst) == truth["date"]


def test_cash_rounding_applies_to_cash_payments_only():
    spec = random_receipt(random.Random(1), locale="MY")
    odd = replace(spec, items=(synthetic.Item("Tea", 1, Decimal("2.12")),), cash=Decimal("5.00"))
    assert (odd.gross, odd.total) == (Decimal("2.12"), Decimal("2.10"))
    assert replace(odd, cash=None).total == Decimal("2.12")


@pytest.mark.parametrize(
    ("code", "amount", "printed"),
    [
        ("US", "1234.5", "$ 1,234.50"),
        ("DE", "1234.5", "1.234,50 EUR"),
        ("FR", "-0.02", "-0,02 €"),
        ("MY", "9", "RM 9.00"),
    ],
)
def test_amounts_print_the_way_each_country_prints_them(code, amount, printed):
    spec = random_receipt(random.Random(0), locale=code)
    assert spec.money(Decimal(amount), mark=True) == printed


def test_rendering_falls_back_to_pillows_font_without_dejavu(monkeypatch, tmp_path):
    monkeypatch.setattr(synthetic, "FONT_DIR", tmp_path)
    synthetic._font.cache_clear()
    try:
        image = render_receipt(random_receipt(random.Random(2), degrade=False))
    finally:
        synthetic._font.cache_clear()
    assert image.mode == "RGB" and image.width > 0 and image.getextrema()[0][0] < 128  # something dark was drawn
