"""From a model's JSON object to validated ``ReceiptFields``.

Models name fields their own way (``store_name``, ``grand_total``, ``items``) and print values as
the document does (``31/01/2024``, ``RM 1,234.50``). Keys are matched through ``ALIASES``; dates,
amounts and currencies go through ``backends.normalize``; text values lose looping words; a value
that cannot be read is dropped (and counted), so the quality gate decides whether enough is left.
An object without a single receipt field, or one that fails the schema, is ``InvalidOutput``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from backends.errors import InvalidOutput
from backends.fields.postprocess.repetition import collapse_runs, collapse_words
from backends.normalize import detect_currency, normalize_amount, normalize_date
from backends.schema import ReceiptFields

ALIASES: dict[str, tuple[str, ...]] = {
    name: tuple(words.split())
    for name, words in {
        "merchant": "merchant merchant_name company company_name store store_name shop shop_name vendor "
        "vendor_name seller business business_name retailer restaurant name",
        "date": "date receipt_date invoice_date transaction_date purchase_date bill_date date_time datetime "
        "issue_date document_date",
        "total": "total total_amount grand_total amount_due total_due total_price total_paid total_payable "
        "net_total balance_due amount total_rounded",
        "currency": "currency currency_code",
        "address": "address merchant_address store_address company_address shop_address location",
        "line_items": "line_items items products lines purchases item_list",
    }.items()
}
ITEM_ALIASES: dict[str, tuple[str, ...]] = {
    "description": ("description", "name", "item", "item_name", "product", "desc", "text"),
    "quantity": ("quantity", "qty", "count", "units"),
    "amount": ("amount", "total", "line_total", "price", "value", "cost", "subtotal"),
}
#: What models write for "not on the document".
EMPTY = frozenset({"", "null", "none", "n/a", "na", "nil", "unknown", "not found", "not available", "-", "--"})


@dataclass
class Built:
    """Fields built from a model's object, with counts for the answer's metadata."""

    fields: ReceiptFields
    dropped: list[str] = field(default_factory=list)
    repetitions_removed: int = 0


def key_of(name: str) -> str:
    """A key as compared with the aliases: lower case, runs of other characters as one underscore."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def lookup(obj: dict[str, Any], aliases: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    """Values of ``obj`` under their canonical names; the first alias present wins."""
    by_key = {key_of(str(k)): v for k, v in obj.items()}
    found: dict[str, Any] = {}
    for name, names in aliases.items():
        for alias in names:
            if alias in by_key:
                found[name] = by_key[alias]
                break
    return found


def has_receipt_fields(obj: dict[str, Any]) -> bool:
    return bool(lookup(unwrap(obj), ALIASES))


def unwrap(obj: dict[str, Any]) -> dict[str, Any]:
    """``{"receipt": {...}}`` -> ``{...}``: one nesting level some models add."""
    while len(obj) == 1 and not lookup(obj, ALIASES):
        (inner,) = obj.values()
        if not isinstance(inner, dict):
            break
        obj = inner
    return obj


def build_fields(obj: dict[str, Any]) -> Built:
    """Validated fields from a model's JSON object, or ``InvalidOutput``."""
    values = lookup(unwrap(obj), ALIASES)
    if not values:
        raise InvalidOutput(f"the model's JSON object holds none of the receipt fields ({len(obj)} other keys)")
    built = Built(ReceiptFields())
    data: dict[str, Any] = {}
    for name in ("merchant", "address"):
        data[name] = _clean_text(values.get(name), built)
    data |= _date(values.get("date"), built)
    data |= _total(values.get("total"), built)
    data["currency"] = _currency(values.get("currency"), data.get("total_raw"), built)
    data["line_items"] = _items(values.get("line_items"), built)
    try:
        built.fields = ReceiptFields.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InvalidOutput(f"the model's answer fails the result schema: {problems}") from None
    return built


def as_text(value: Any) -> str | None:
    """A value as one line of text; None for empty markers, containers of nothing, and booleans."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, dict):
        value = [v for v in value.values() if not isinstance(v, dict | list)]
    if isinstance(value, list):
        parts = [t for t in (as_text(v) for v in value) if t]
        return ", ".join(parts) or None
    text = " ".join(str(value).split())
    return None if text.casefold() in EMPTY else text


def _clean_text(value: Any, built: Built) -> str | None:
    text = as_text(value)
    if text is None:
        return None
    text, removed = collapse_words(text)
    built.repetitions_removed += removed
    return text


def _date(value: Any, built: Built) -> dict[str, str | None]:
    raw = as_text(value)
    iso = normalize_date(raw)
    if raw and iso is None:
        built.dropped.append("date")
    return {"date": iso, "date_raw": raw}


def _total(value: Any, built: Built) -> dict[str, str | None]:
    raw = as_text(value)
    amount = _amount(raw)
    if raw and amount is None:
        built.dropped.append("total")
    return {"total": amount, "total_raw": raw}


def _amount(raw: str | None) -> str | None:
    """A decimal string the schema accepts, or None (dropped rather than failing the whole answer)."""
    amount = normalize_amount(raw)
    if amount is None or not re.fullmatch(r"-?\d+(\.\d{1,4})?", amount):
        return None
    return amount


def _currency(value: Any, total_raw: str | None, built: Built) -> str | None:
    raw = as_text(value)
    if raw and re.fullmatch(r"[A-Za-z]{3}", raw):
        return raw.upper()
    code = detect_currency(raw) or detect_currency(total_raw)
    if raw and code is None:
        built.dropped.append("currency")
    return code


def _items(value: Any, built: Built) -> list[dict[str, str | None]]:
    if not isinstance(value, list):
        return []
    items: list[dict[str, str | None]] = []
    for entry in value:
        item = _item(entry)
        if item is None:
            built.dropped.append("line_items[]")
        else:
            items.append(item)
    unique, removed = collapse_runs(items, key=lambda item: tuple(sorted(item.items())))
    built.repetitions_removed += removed
    return unique


def _item(entry: Any) -> dict[str, str | None] | None:
    if not isinstance(entry, dict):
        return None
    values = lookup(entry, ITEM_ALIASES)
    description = as_text(values.get("description"))
    item = {
        "description": collapse_words(description)[0] if description else None,
        "quantity": _amount(as_text(values.get("quantity"))),
        "amount": _amount(as_text(values.get("amount"))),
    }
    return item if any(item.values()) else None
