"""An evaluation dataset: a folder with ``labels.jsonl`` (one labelled document per line).

Each line holds ``id``, ``image`` (a path relative to the folder) and the expected fields, named as
docroute names them or as SROIE does (``company`` for ``merchant``), and optionally ``kind`` (the
report scores each kind apart). Other keys are ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

#: Label names that differ from docroute's field names.
ALIASES = {"company": "merchant"}
SCORED_FIELDS = ("merchant", "date", "total", "address")


class DatasetError(ValueError):
    """The dataset folder or its labels cannot be used; the message says where and why."""


@dataclass(frozen=True)
class Label:
    id: str
    image: Path
    fields: dict[str, str]
    kind: str | None = None  # the document's kind (receipt-photo, invoice-pdf, ...), when labelled


def load_labels(folder: Path, *, limit: int | None = None) -> list[Label]:
    path = folder / "labels.jsonl"
    if not path.is_file():
        raise DatasetError(f"{folder}: no labels.jsonl (expected one JSON object per line)")
    labels: list[Label] = []
    with path.open(encoding="utf-8") as file:
        for number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            labels.append(_parse(line, f"{path}:{number}", folder))
            if limit is not None and len(labels) >= limit:
                break
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
        if name in SCORED_FIELDS and isinstance(value, str | int | float) and str(value).strip():
            fields[name] = str(value)
    kind = data.get("kind") if isinstance(data.get("kind"), str) else None
    return Label(str(data.get("id") or Path(data["image"]).stem), folder / data["image"], fields, kind)
