"""An evaluation dataset: a folder with ``labels.jsonl`` (one labelled document per line).

Each line holds ``id``, ``image`` (a path relative to the folder) and the expected fields, named as
docroute names them or as SROIE does (``company`` for ``merchant``), and optionally ``kind`` (the
report scores each kind apart). Other keys are ignored.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

#: Label names that differ from docroute's field names.
ALIASES = {"company": "merchant"}
SCORED_FIELDS = ("merchant", "date", "total", "address")
#: Problems of a labels file listed at once; past this, a count.
MAX_PROBLEMS = 20


class DatasetError(ValueError):
    """The dataset folder or its labels cannot be used; the message says where and why."""


@dataclass(frozen=True)
class Label:
    id: str
    image: Path
    fields: dict[str, str]
    kind: str | None = None  # the document's kind (receipt-photo, invoice-pdf, ...), when labelled


def load_labels(folder: Path, *, limit: int | None = None) -> list[Label]:
    """The labelled documents of ``folder``; every problem of the labels file at once (a line that
    is not an object, a field of the wrong type, an id given twice, an image missing or outside the
    folder) as one ``DatasetError``: a document that cannot be read must not count as a failure."""
    path = folder / "labels.jsonl"
    if not path.is_file():
        raise DatasetError(f"{folder}: no labels.jsonl (expected one JSON object per line)")
    labels: list[Label] = []
    problems: list[str] = []
    seen: dict[str, str] = {}
    with path.open(encoding="utf-8") as file:
        for number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                label = _parse(line, where, folder)
            except DatasetError as exc:
                problems.append(str(exc))
                continue
            if label.id in seen:
                problems.append(
                    f"{where}: id {label.id!r} is already used at {seen[label.id]} (give each line its 'id')"
                )
            seen.setdefault(label.id, where)
            labels.append(label)
            if limit is not None and len(labels) >= limit:
                break
    if problems:
        shown = problems[:MAX_PROBLEMS] + (
            [f"... and {len(problems) - MAX_PROBLEMS} more"] if len(problems) > MAX_PROBLEMS else []
        )
        raise DatasetError("\n".join(shown))
    if not labels:
        raise DatasetError(f"{path}: no labelled documents")
    return labels


def _parse(line: str, where: str, folder: Path) -> Label:
    try:
        data = json.loads(line)
    except ValueError as exc:
        raise DatasetError(f"{where}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("image"), str):
        raise DatasetError(f"{where}: expected an object with 'image' (a path relative to the dataset folder)")
    fields = {}
    for key, value in data.items():
        name = ALIASES.get(key, key)
        if name not in SCORED_FIELDS or value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise DatasetError(f"{where}: {key}: expected a string (or a number), got {type(value).__name__}")
        if isinstance(value, float) and not math.isfinite(value):
            raise DatasetError(f"{where}: {key}: expected a string (or a number), got {value}")
        if str(value).strip():
            fields[name] = str(value)
    kind = data.get("kind")
    if kind is not None and not isinstance(kind, str):
        raise DatasetError(f"{where}: kind: expected a string such as 'receipt-photo', got {type(kind).__name__}")
    image = folder / data["image"]
    if Path(data["image"]).is_absolute() or ".." in Path(os.path.normpath(data["image"])).parts:
        raise DatasetError(f"{where}: image {data['image']!r} is outside the dataset folder")  # a link is fine
    if not image.is_file():
        raise DatasetError(f"{where}: image {data['image']!r} not found in {folder}")
    given = data.get("id")
    return Label(str(given) if given not in (None, "") else Path(data["image"]).stem, image, fields, kind)
