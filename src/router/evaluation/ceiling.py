"""The ceiling: whether the text a tier read contains the labelled answer at all.

No rule can return what the OCR did not read, so beside each field's accuracy the report gives the
share of documents whose text holds the answer, compared as the scoring compares answers:
- merchant, address: the label's normalised words appear, in order, in the normalised text;
- date: some date in the text, read day first or month first, is the labelled date;
- total: some amount in the text (with or without decimals) is the labelled amount.

The text comes from the backends only when the evaluation asks for it (``TextKeeper`` calls
``Router.extract(..., keep_text=True)``: the tiers fill ``Extraction.text``, the router carries it in
``Result.text``); the evaluation alone writes it, under its own output folder, one file per document,
never to a log.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from pathlib import Path
from typing import Any

from backends.normalize import find_amounts, find_dates, find_whole_amounts, normalize_amount, normalize_date


def answer_in_text(name: str, label: str, text: str) -> bool:
    """Whether ``text`` contains the labelled value of field ``name``, normalised."""
    if name == "date":
        wanted = normalize_date(label)
        return wanted is not None and wanted in _dates(text)
    if name == "total":
        wanted = normalize_amount(label)
        return wanted is not None and Decimal(wanted) in _amounts(text)
    key = normalise_text(label)
    return bool(key) and f" {key} " in f" {normalise_text(text)} "


def normalise_text(text: str) -> str:
    """Upper case, NFKC, every run of other than letters and digits one space: how names compare."""
    text = unicodedata.normalize("NFKC", text).upper()
    return " ".join(re.sub(r"[^0-9A-Z]+", " ", text).split())


def _dates(text: str) -> set[str]:
    found = set()
    for line in text.splitlines():
        for dayfirst in (True, False):
            found |= {match.date.isoformat() for match in find_dates(line, dayfirst=dayfirst)}
        found |= {iso for token in re.findall(r"\b\d{8}\b", line) if (iso := normalize_date(token))}
    return found


def _amounts(text: str) -> set[Decimal]:
    matches = find_amounts(text) + find_whole_amounts(text)
    grouped = {Decimal(re.sub(r"[ .]", "", m[:-3]) + "." + m[-2:]) for m in _SPACE_GROUPED.findall(text)}
    return {match.value for match in matches} | {abs(match.value) for match in matches} | grouped


#: Thousands set apart by spaces ("17 115,45"), as Polish, French and Czech documents print them.
_SPACE_GROUPED = re.compile(r"(?<![\d.,])\d{1,3}(?: \d{3})+[.,]\d\d(?!\d)")


class TextKeeper:
    """A router for a batch that asks for the text the tiers read and writes it to ``folder``, one
    ``<sha256>.txt`` per document (what ``read_texts`` reads back); anything else goes to ``router``."""

    def __init__(self, router: Any, folder: Path):
        self.router = router
        self.folder = folder

    def extract(self, source: Any, *, name: str | None = None, request_id: str | None = None) -> Any:
        result = self.router.extract(source, name=name, request_id=request_id, keep_text=True)
        sha256 = result.document.sha256
        if result.text is not None and sha256 and re.fullmatch(r"[0-9a-f]{64}", sha256):
            (self.folder / f"{sha256}.txt").write_text(result.text + "\n", encoding="utf-8")
        return result

    def __getattr__(self, name: str) -> Any:  # policy, policy_hash, log, warm_up: the router's own
        return getattr(self.router, name)


def read_texts(folder: Path | None) -> dict[str, str]:
    """The texts a backend kept for an evaluation, by document sha256 ({} when none were kept)."""
    if folder is None or not folder.is_dir():
        return {}
    return {path.stem: path.read_text(encoding="utf-8", errors="replace") for path in folder.glob("*.txt")}
