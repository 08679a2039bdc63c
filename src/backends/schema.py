"""The result schema every backend returns, validated with pydantic.

Dates are ISO 8601 (``YYYY-MM-DD``) with the printed text kept in ``date_raw``; amounts are
decimal strings (``"12.50"``) with the printed text in ``total_raw``; currency is an ISO 4217 code.
``confidence`` gives, for the fields a backend can judge, how far to trust each value (0-1): a
pipeline sends doubtful ones to review. Backends that cannot judge leave it empty.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from backends.normalize import MAX_AMOUNT_DIGITS, fold_digits

FieldName = Literal["merchant", "date", "total", "address", "currency", "line_items", "invoice_number", "amount_due"]
FIELD_NAMES: tuple[str, ...] = (
    "merchant",
    "date",
    "total",
    "address",
    "currency",
    "line_items",
    "invoice_number",
    "amount_due",
)
#: The fields every document should give; a reading without one of them is worth another look.
CORE_FIELDS = frozenset({"merchant", "date", "total"})
#: Fields whose printed text travels with them.
RAW_OF = {"date": "date_raw", "total": "total_raw"}

#: A decimal amount: at most ``MAX_AMOUNT_DIGITS`` digits before the point and 4 after.
_AMOUNT = re.compile(rf"^-?\d{{1,{MAX_AMOUNT_DIGITS}}}(\.\d{{1,4}})?$", re.ASCII)
#: Longest text a field holds (a merchant's name, an address, an item): no document prints more.
MAX_TEXT_CHARS = 1000
#: Years a document's date may fall in: outside them it is a misreading or a made-up value.
DATE_YEARS = (1900, 2100)

# Validators' messages never echo the value: they reach logs (``attempt.failed.message``), and a
# field may hold document text.


def _iso_date(value: str | None) -> str | None:
    """The date as YYYY-MM-DD: fromisoformat also reads 20240314 and 2024-W11-4, which
    would otherwise be stored as given; digits of other scripts are read as ASCII."""
    if value is None:
        return None
    try:
        date = dt.date.fromisoformat(fold_digits(value))
    except ValueError:  # its message quotes the value
        raise ValueError(f"expected an ISO date such as '2024-03-14', got {len(value)} characters") from None
    if not DATE_YEARS[0] <= date.year <= DATE_YEARS[1]:
        raise ValueError(f"expected a date between {DATE_YEARS[0]} and {DATE_YEARS[1]}, got the year {date.year}")
    return date.isoformat()


def _decimal_string(value: str | None) -> str | None:
    """The amount with ASCII digits: \\d matches every script's, so "٥٦.58" passed as given."""
    if value is None:
        return None
    value = fold_digits(value)
    if not _AMOUNT.match(value):
        raise ValueError(
            f"expected a decimal amount such as '12.50' (at most {MAX_AMOUNT_DIGITS} digits before the point), "
            f"got {len(value)} characters"
        )
    try:
        Decimal(value)
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only valid decimals
        raise ValueError("not a decimal amount") from exc
    return value


def _currency(value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"[A-Z]{3}", value):
        raise ValueError("expected an ISO 4217 currency code such as 'MYR' or 'EUR'")
    return value


def _nonblank(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(value.split())
    if len(value) > MAX_TEXT_CHARS:
        raise ValueError(f"expected at most {MAX_TEXT_CHARS} characters, got {len(value)}")
    return value or None


IsoDate = Annotated[str | None, AfterValidator(_iso_date)]
Amount = Annotated[str | None, AfterValidator(_decimal_string)]
Currency = Annotated[str | None, AfterValidator(_currency)]
Text = Annotated[str | None, AfterValidator(_nonblank)]


class LineItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    description: Text = Field(None, description="Item text as printed.")
    quantity: Amount = Field(None, description="Quantity as a decimal string.")
    amount: Amount = Field(None, description="Line total as a decimal string.")


class ReceiptFields(BaseModel):
    """The structured fields of one business document."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    merchant: Text = Field(None, description="Merchant or store name.")
    date: IsoDate = Field(None, description="Document date, ISO 8601 (YYYY-MM-DD).")
    date_raw: Text = Field(None, description="The date as printed.")
    total: Amount = Field(None, description="Amount due, as a decimal string.")
    total_raw: Text = Field(None, description="The total as printed.")
    currency: Currency = Field(None, description="ISO 4217 code, when printed or implied.")
    address: Text = Field(None, description="Merchant address.")
    line_items: list[LineItem] = Field(default_factory=list, description="Purchased items.")
    invoice_number: Text = Field(None, description="The invoice's number, where the document states it.")
    amount_due: Amount = Field(
        None, description="What is left to pay (an invoice's amount due, below the total after a prepayment)."
    )
    confidence: dict[FieldName, Annotated[float, Field(ge=0, le=1)]] = Field(
        default_factory=dict,
        description="How far to trust each field's value, 0-1, where the backend can judge: lowered where "
        "the document contradicts it (a total that is not subtotal plus tax). Not a field itself.",
    )

    def present(self) -> set[str]:
        """Names of the fields that hold a value."""
        return {name for name in FIELD_NAMES if getattr(self, name) not in (None, [], "")}

    def filled_from(self, other: ReceiptFields) -> tuple[ReceiptFields, list[str]]:
        """These fields with the ones they lack taken from ``other`` (with their printed text), and
        the names taken."""
        taken = sorted(other.present() - self.present())
        update: dict[str, object] = {name: getattr(other, name) for name in taken}
        update |= {RAW_OF[name]: getattr(other, RAW_OF[name]) for name in taken if name in RAW_OF}
        taken_confidence = {name: other.confidence[name] for name in taken if name in other.confidence}
        if taken_confidence:
            update["confidence"] = {**self.confidence, **taken_confidence}
        return self.model_copy(update=update), taken

    def values(self) -> dict[str, object]:
        """The fields and their printed text, without ``confidence`` (None and empty left out)."""
        return self.model_dump(exclude_none=True, exclude={"confidence"})
