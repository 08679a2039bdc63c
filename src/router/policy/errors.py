"""One pydantic validation error of a policy, said the way a person fixes it: the line in the file,
the field path as written (``tiers[1].retry.attempts``), what was expected, and for a typo the
closest valid key or value ("did you mean `timeout_s`?")."""

from __future__ import annotations

import difflib
import re
import types
import typing
from typing import Any

from pydantic import BaseModel

from backends.kinds import KINDS, spec_for
from router.policy.file import ParsedYaml, dotted


def describe_error(error: Any, parsed: ParsedYaml | None, root: type[BaseModel]) -> str:
    """``line 7: tiers[0].timeout: Extra inputs are not permitted; did you mean `timeout_s`?``"""
    path = user_path(error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    given = error.get("input")
    shown = "" if isinstance(given, dict | list) or given is None else f" (got {_short(given)})"
    path_text = dotted(path) + (" (key)" if error["loc"][-1:] == ("[key]",) else "")
    hint = suggestion(error, root)
    line = parsed.line_of(path) if parsed else None
    where = f"line {line}: " if line is not None else ""
    return f"{where}{path_text}: {message}{shown}{f'; did you mean `{hint}`?' if hint else ''}"


def user_path(loc: tuple[Any, ...]) -> tuple[str | int, ...]:
    """Pydantic's location without what it inserts: the kind tag of the backend union, ``[key]``."""
    path: list[str | int] = []
    for item in loc:
        if item == "[key]" or (item in KINDS and path[-1:] == ["backend"]):
            continue
        path.append(item)
    return tuple(path)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def suggestion(error: Any, root: type[BaseModel]) -> str | None:
    """The closest valid key (unknown field), kind (unknown tag) or value (not one of the allowed)."""
    kind, loc, ctx = error["type"], error["loc"], error.get("ctx") or {}
    if kind == "extra_forbidden":
        model = model_at(loc[:-1], root)
        return _closest(str(loc[-1]), list(model.model_fields) if model else [])
    if kind == "union_tag_invalid":
        return _closest(str(ctx.get("tag", "")), list(KINDS))
    if kind in ("literal_error", "enum"):
        return _closest(str(error.get("input")), re.findall(r"'([^']*)'", str(ctx.get("expected", ""))))
    return None


def _closest(word: str, choices: list[str]) -> str | None:
    found = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return found[0] if found and found[0] != word else None


def model_at(loc: tuple[Any, ...], root: type[BaseModel]) -> type[BaseModel] | None:
    """The pydantic model that validates the mapping at ``loc`` (as pydantic reports it)."""
    annotation: Any = root
    items = list(loc)
    while items:
        annotation, items = _step(annotation, items)
        if annotation is None:
            return None
    annotation, _ = _unwrap(annotation, [])
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _step(annotation: Any, items: list[Any]) -> tuple[Any, list[Any]]:
    annotation, items = _unwrap(annotation, items)
    if not items:
        return annotation, items
    if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
        return None, items
    field = annotation.model_fields.get(items[0])
    return (None, items) if field is None else (field.annotation, items[1:])


def _unwrap(annotation: Any, items: list[Any]) -> tuple[Any, list[Any]]:
    """Through Optional, list[X] (an index), dict[K, V] (a key) and the backend union (a kind tag)."""
    while True:
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if origin is typing.Annotated:
            annotation = args[0]
        elif origin in (typing.Union, types.UnionType):
            options = [a for a in args if a is not type(None)]
            if len(options) == 1:
                annotation = options[0]
            elif items and items[0] in KINDS:
                annotation, items = spec_for(items[0]).options, items[1:]
            else:
                return annotation, items
        elif origin is list and items and isinstance(items[0], int):
            annotation, items = args[0], items[1:]
        elif origin is dict and items:
            annotation, items = args[1], items[1:]
        else:
            return annotation, items
