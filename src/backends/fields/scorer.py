"""The learned field scorer at run time: a calibrated confidence for each answer of the OCR tier.

For merchant, date and total, the page's candidates (``candidates``) are scored by the field's ranker,
the tier's answer is described to the field's verifier (``verify``), and the verifier's output is
mapped through the field's isotonic calibration: the confidence is the probability, measured by
grouped cross-validation on labelled documents, that the answer is right (``docs/results/fields.md``).
No answer, no confidence. The models are LightGBM's trees dumped to JSON (``trees``) and calibrations
in JSON, beside this module
(``model/``, written by ``scripts/train_fields.py``), read once per process on first use: a missing
or corrupt file is ``ScorerModelError`` naming it, never a silent fallback.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from backends.errors import BackendUnavailable
from backends.fields.calibration import Calibration
from backends.fields.candidates import GENERATORS
from backends.fields.features import PageFlags, feature_matrix, feature_names
from backends.fields.layout import PageTable
from backends.fields.trees import TreeEnsemble
from backends.fields.verify import EXTRA, answer_features

MODEL_DIR = Path(__file__).parent / "model"
SCORED_FIELDS = ("merchant", "date", "total")


class ScorerModelError(BackendUnavailable):
    """The field scorer's model files are missing or unreadable: the install is broken (no retry helps)."""


@dataclass(frozen=True)
class FieldModel:
    ranker: TreeEnsemble
    verifier: TreeEnsemble
    calibration: Calibration

    def confidence(self, field: str, table: PageTable, flags: PageFlags, answer: str, own: float) -> float:
        cands = GENERATORS[field](table)
        X = feature_matrix(field, flags, cands)
        scores = self.ranker.predict(X) if len(cands) else np.zeros(0)
        row = answer_features(field, X, scores, [c.value for c in cands], answer, own)
        raw = float(self.verifier.predict(np.array([row], dtype=float))[0])
        return round(self.calibration(raw), 4)


class FieldScorer:
    """The models of every scored field, loaded together from ``folder``."""

    def __init__(self, folder: Path = MODEL_DIR):
        self.folder = folder
        self.manifest = _read_json(folder / "manifest.json")
        self.models = {field: _load_field(folder, field) for field in SCORED_FIELDS}

    @property
    def version(self) -> str:
        return str(self.manifest.get("data_sha256", "?"))[:12]

    def confidences(self, table: PageTable, answers: dict[str, tuple[str, float]]) -> dict[str, float]:
        """The calibrated confidence of each answered field: ``answers`` maps a field to its value and
        the rules' own confidence."""
        flags = PageFlags(table)
        return {
            field: self.models[field].confidence(field, table, flags, value, own)
            for field, (value, own) in answers.items()
            if field in self.models
        }


_lock = threading.Lock()
_loaded: dict[Path, FieldScorer] = {}


def field_scorer(folder: Path = MODEL_DIR) -> FieldScorer:
    """This process's scorer for ``folder``, loaded on first use."""
    with _lock:
        if folder not in _loaded:
            _loaded[folder] = FieldScorer(folder)
        return _loaded[folder]


def _load_field(folder: Path, field: str) -> FieldModel:
    return FieldModel(
        ranker=_trees(folder / f"{field}.ranker.json", len(feature_names(field))),
        verifier=_trees(folder / f"{field}.verifier.json", len(feature_names(field)) + len(EXTRA)),
        calibration=_calibration(folder / f"{field}.calibration.json"),
    )


def _trees(path: Path, features: int) -> TreeEnsemble:
    try:
        trees = TreeEnsemble.from_json(_read_json(path))
    except (KeyError, TypeError, ValueError) as exc:
        raise ScorerModelError(f"field scorer model {path}: not a model this code reads ({_first_line(exc)})") from exc
    if trees.features != features:
        raise ScorerModelError(
            f"field scorer model {path}: expects {trees.features} features, the code computes {features}"
            " (retrain with scripts/train_fields.py)"
        )
    return trees


def _calibration(path: Path) -> Calibration:
    try:
        return Calibration.from_json(_read_json(path))
    except (KeyError, TypeError, ValueError) as exc:
        raise ScorerModelError(f"field scorer calibration {path}: {_first_line(exc)}") from exc


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ScorerModelError(f"field scorer file {path}: cannot be read ({_first_line(exc)})") from exc
    if not isinstance(data, dict):
        raise ScorerModelError(f"field scorer file {path}: expected a JSON object")
    return data


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
