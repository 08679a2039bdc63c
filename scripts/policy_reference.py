#!/usr/bin/env python3
"""Write the field tables of docs/policy.md from the policy models, and its error-class table from
the traits table (router.failures.traits), so the reference cannot drift.

python scripts/policy_reference.py          # rewrite docs/policy.md
python scripts/policy_reference.py --check  # exit 1 if docs/policy.md is out of date
"""

from __future__ import annotations

import sys
import typing
from pathlib import Path

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from backends import kinds, options  # noqa: E402
from router.failures import traits  # noqa: E402
from router.policy import model as policy  # noqa: E402

DOC = ROOT / "docs" / "policy.md"
BEGIN, END = "<!-- BEGIN GENERATED: scripts/policy_reference.py -->", "<!-- END GENERATED -->"
BEGIN_TRAITS = "<!-- BEGIN GENERATED: scripts/policy_reference.py (error classes) -->"

SECTIONS: list[tuple[str, type[BaseModel]]] = [
    ("Policy (top level)", policy.Policy),
    ("tiers[]", policy.TierPolicy),
    ("tiers[].retry", policy.RetryPolicy),
    ("tiers[].retry.backoff", policy.Backoff),
    ("tiers[].breaker", policy.BreakerPolicy),
    ("tiers[].breaker.content", policy.ContentBreakerPolicy),
    ("quality_gate (and tiers[].quality_gate)", policy.QualityGate),
    ("limits", policy.InputLimits),
    ("logging", policy.LoggingPolicy),
    *[(f"backend: kind {spec.kind}", spec.options) for spec in kinds.SPECS],
    ("backend.ocr", options.OcrOptions),
    ("backend.generation", options.GenerationOptions),
]


def type_name(annotation: typing.Any) -> str:
    if typing.get_origin(annotation) is typing.Union and all(isinstance(a, type) for a in typing.get_args(annotation)):
        return " \\| ".join(a.__name__ for a in typing.get_args(annotation))
    text = (
        str(annotation).replace("typing.", "").replace("router.failures.errors.", "").replace("backends.options.", "")
    )
    text = (
        text.replace("router.policy.model.", "").replace("NoneType", "null").replace("<class '", "").replace("'>", "")
    )
    return text.replace("|", "\\|")


def default_of(field: typing.Any) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
        if isinstance(value, BaseModel):
            return "(see below)"
        return f"`{_plain(value)}`"
    if field.default is PydanticUndefined:
        return "**required**"
    return f"`{_plain(field.default)}`"


def _plain(value: typing.Any) -> typing.Any:
    if isinstance(value, list):
        return [getattr(v, "value", v) for v in value]
    if isinstance(value, dict):
        return {k: getattr(v, "value", v) for k, v in value.items()}
    return getattr(value, "value", value)


def table(model: type[BaseModel]) -> str:
    rows = ["| field | type | default | meaning |", "| --- | --- | --- | --- |"]
    for name, field in model.model_fields.items():
        description = (field.description or "").replace("|", "\\|")
        rows.append(f"| `{name}` | {type_name(field.annotation)} | {default_of(field)} | {description} |")
    return "\n".join(rows)


def generated() -> str:
    parts = [BEGIN]
    notes = {spec.options: spec.describe() for spec in kinds.SPECS}
    for title, model in SECTIONS:
        summary = (model.__doc__ or "").strip().splitlines()[0]
        if model in notes:
            summary += f"\n\n{notes[model]}"
        parts += [f"\n### {title}\n", summary, "", table(model)]
    parts.append(END)
    return "\n".join(parts)


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def traits_table() -> str:
    rows = [
        BEGIN_TRAITS,
        "| class | fault | poisons the process | quarantines the document | counts toward the breaker "
        "| content breaker | retried | falls back | HTTP | meaning |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for error_class, t in traits.TRAITS.items():
        flags = (t.poisons_process, t.quarantines, t.counts_toward_breaker, t.content, t.retry, t.fall_back)
        cells = " | ".join(_yes(flag) for flag in flags)
        rows.append(f"| `{error_class.value}` | {t.fault} | {cells} | {t.http_status} | {t.meaning} |")
    rows.append(END)
    return "\n".join(rows)


def _replace(text: str, begin: str, block: str) -> str:
    head, _, rest = text.partition(begin)
    _, _, tail = rest.partition(END)
    return head + block + tail


def main() -> int:
    text = DOC.read_text()
    new = _replace(_replace(text, BEGIN_TRAITS, traits_table()), BEGIN, generated())
    if "--check" in sys.argv:
        if new != text:
            print("docs/policy.md is out of date: run python scripts/policy_reference.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
