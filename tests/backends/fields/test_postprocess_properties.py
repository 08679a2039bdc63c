"""Property-based tests (hypothesis): whatever text a model writes, post-processing gives valid
``ReceiptFields`` or raises ``InvalidOutput``; never another exception, never document text in the
error or the metadata."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from backends.errors import InvalidOutput
from backends.fields.postprocess import parse_answer
from backends.fields.postprocess.fields import ALIASES, ITEM_ALIASES
from backends.schema import ReceiptFields

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SECRET = "QZXSECRET"  # put in every text value: must never come back in an error or the metadata

ARABIC_DATE = "\u0662\u0660\u0662\u0664-\u0660\u0661-\u0663\u0661"  # 2024-01-31 in Arabic-Indic digits
ARABIC_AMOUNT = "\u0661\u0662\u0663\u066b\u0664\u0665"  # 123.45
WEIRD_DATES = [
    "31/31/2024", "2024-02-30", "00/00/0000", "29.02.2023", "12/13/14", "1e400", "Infinity", "NaN", "-1",
    "2024-01-31T25:61:00", "99999-01-01", ARABIC_DATE, "Jan 32, 2024", "0", "", "  ", "31 Febuary 2024",
]  # fmt: skip
WEIRD_AMOUNTS = [
    "1e400", "-0", "NaN", "Infinity", "1,234,567.891", "RM 12.50", "€12,50", "12.50.30", "½", ARABIC_AMOUNT,
    "9" * 400, "0.00001", "--5", "(12.50)", "12,5", "$", "1 234,56 €", "TOTAL", "12.50 12.50 12.50",
]  # fmt: skip

KEYS = st.sampled_from([name for names in ALIASES.values() for name in names] + ["receipt", "data", "notes"])
ITEM_KEYS = st.sampled_from([name for names in ITEM_ALIASES.values() for name in names])
TEXTS = st.one_of(st.text(max_size=20), st.sampled_from(WEIRD_DATES + WEIRD_AMOUNTS)).map(lambda t: t + SECRET)
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXTS,
    st.sampled_from(WEIRD_DATES + WEIRD_AMOUNTS),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=10,
)
ITEMS = st.lists(st.dictionaries(ITEM_KEYS, JSON_SCALARS, max_size=3) | JSON_SCALARS, max_size=6)
RECEIPTS = st.dictionaries(KEYS, st.one_of(JSON_VALUES, ITEMS), max_size=8)


@st.composite
def model_texts(draw: st.DrawFn) -> str:
    """What models write: JSON in prose, in fences, cut off, looping, nested, or broken."""
    obj: Any = draw(RECEIPTS)
    if draw(st.booleans()):
        obj = {draw(st.sampled_from(["receipt", "result", "data"])): obj}
    body = json.dumps(obj, ensure_ascii=draw(st.booleans()), indent=draw(st.sampled_from([None, 2])))
    shape = draw(st.sampled_from(["plain", "prose", "fenced", "cut", "looping", "single quotes", "two objects"]))
    if shape == "prose":
        body = f"Here is the extracted data {{as asked}}:\n{body}\nLet me know if you need more."
    elif shape == "fenced":
        body = f"```json\n{body}\n```"
    elif shape == "cut":
        body = body[: draw(st.integers(0, len(body)))]
    elif shape == "looping":
        line = draw(st.sampled_from(body.splitlines() or [""]))
        body = body + ("\n" + line) * draw(st.integers(3, 40))
    elif shape == "single quotes":
        body = body.replace('"', "'")
    elif shape == "two objects":
        body = '{"note": "ignore me"}\n' + body
    return body


def assert_valid_or_invalid_output(text: str) -> None:
    try:
        fields, meta = parse_answer(text)
    except InvalidOutput as error:
        assert SECRET not in str(error), "the error repeats document text"
        return
    assert isinstance(fields, ReceiptFields)
    assert ReceiptFields.model_validate(fields.model_dump()) == fields
    assert SECRET not in json.dumps(meta), "the metadata repeats document text"


@SETTINGS
@given(st.text(max_size=400))
@example("{" * 5000)
@example('{"total": ' + "[" * 3000)
@example('{"merchant": "A", "total": "1e400", "date": "9999-99-99"}')
@example("```json\n```")
@example('{"items": [{"qty": "NaN", "price": "Infinity"}]}')
@example('{"total": 100000000000000000000000000}')  # more digits than decimal's default precision
def test_any_text_is_valid_fields_or_invalid_output(text: str):
    assert_valid_or_invalid_output(text)


@SETTINGS
@given(model_texts())
def test_any_model_answer_is_valid_fields_or_invalid_output(text: str):
    assert_valid_or_invalid_output(text)
