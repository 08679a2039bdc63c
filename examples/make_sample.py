"""Regenerate examples/receipt.png, the sample receipt the README extracts.

    PYTHONPATH=src python examples/make_sample.py

The receipt is drawn by ``backends.testing.synthetic`` from the spec below, so its truth is known:
merchant KEDAI BUKU CAHAYA SDN BHD, date 2024-03-14 (printed 14/03/2024), total 27.10 MYR
(27.12 rounded to the nearest 5 sen for a cash payment).
"""

from __future__ import annotations

import datetime as dt
import sys
from decimal import Decimal
from pathlib import Path

from backends.testing.synthetic import LOCALES, Item, ReceiptSpec, Style, render_receipt

SAMPLE = ReceiptSpec(
    locale=LOCALES["MY"],
    merchant="KEDAI BUKU CAHAYA SDN BHD",
    address=("NO 12, JALAN MERANTI 3,", "TAMAN SRI BAYU,", "47300 PETALING JAYA, SELANGOR"),
    date=dt.date(2024, 3, 14),
    date_format="%d/%m/%Y",
    time="14:32",
    items=(
        Item("Notebook A5", 2, Decimal("7.90")),
        Item("Ball Pen Blue", 3, Decimal("1.54")),
        Item("Coffee", 1, Decimal("6.70")),
    ),
    cash=Decimal("50.00"),
    labels={"title": "TAX INVOICE", "total": "Total Incl. SST", "tax": "SST", "date": "Date:", "thanks": "THANK YOU"},
    receipt_no="CS0012345",
    style=Style(font="mono", size=22, width=620, blur=0.3, rotation=0.4, speckle=0.0004, ink=30),
)


def main(out: Path = Path(__file__).with_name("receipt.png")) -> None:
    render_receipt(SAMPLE).convert("L").save(out, optimize=True)
    print(f"wrote {out}: {SAMPLE.truth()}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("receipt.png"))
