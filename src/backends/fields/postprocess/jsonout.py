"""The JSON object in a model's answer: found among prose and code fences, repaired if truncated.

Models wrap JSON in prose ("Here is the extracted data: ..."), in Markdown fences, or stop in the
middle of it when ``max_new_tokens`` runs out. The first top-level ``{...}`` that parses as a
JSON object wins, preferring one that ``prefer`` accepts (one holding receipt fields, say, over a
brace in the prose); an object cut off at the end is completed by ``json_repair``. Errors say
what was wrong and how long the text was, never what it said.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import json_repair

from backends.errors import InvalidOutput

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?")
MAX_CANDIDATES = 20


@dataclass(frozen=True)
class FoundJson:
    """A JSON object from model text, and how it was obtained."""

    value: dict[str, Any]
    repaired: bool
    prose_chars: int  # characters around the object (prose, fences), a sign of a chatty model


def extract_json(text: str, prefer: Callable[[dict[str, Any]], bool] | None = None) -> FoundJson:
    """The JSON object in ``text``; ``InvalidOutput`` if there is none."""
    body = _FENCE.sub("", text)
    found = [c for c in _candidates(body) if c.value]
    if not found:
        raise InvalidOutput(f"no JSON object in the model output ({len(text)} characters)")
    preferred = [c for c in found if prefer is None or prefer(c.value)]
    return (preferred or found)[0]


def _candidates(body: str) -> list[FoundJson]:
    """Each top-level ``{...}`` in ``body`` parsed as an object; the last one may be unterminated."""
    results: list[FoundJson] = []
    start = body.find("{")
    while start != -1 and len(results) < MAX_CANDIDATES:
        end = matching_brace(body, start)
        chunk = body[start:] if end is None else body[start:end]
        value, repaired = _parse(chunk, complete=end is not None)
        if isinstance(value, dict):
            results.append(FoundJson(value, repaired, len(body.strip()) - len(chunk.strip())))
        if end is None:
            break
        start = body.find("{", end)
    return results


def _parse(chunk: str, *, complete: bool) -> tuple[Any, bool]:
    if complete:
        try:
            return json.loads(chunk), False
        except (json.JSONDecodeError, RecursionError):
            pass
    else:
        chunk = chunk[: _scan(chunk, 0)[1]]  # a string cut off mid-value is dropped, not guessed at
    try:
        return json_repair.loads(chunk), True
    except (ValueError, RecursionError):  # beyond repair, e.g. nested deeper than its parser goes
        return None, False


def matching_brace(text: str, start: int) -> int | None:
    """Index just past the brace closing the one at ``start``, or None if the text ends first."""
    return _scan(text, start)[0]


def _scan(text: str, start: int) -> tuple[int | None, int]:
    """(index past the closing brace or None, where an unterminated string began or len(text))."""
    depth = 0
    in_string = escaped = False
    string_start = len(text)
    for index in range(start, len(text)):
        char = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string, string_start = True, index
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index + 1, len(text)
    return None, string_start if in_string else len(text)
