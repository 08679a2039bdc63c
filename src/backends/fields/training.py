"""Training the field scorers: candidates labelled by whether they are the right value, one model per field.

``build_rows`` turns read pages and their labels into candidate rows (features, label, document);
``fit_field`` trains a LightGBM classifier on rows, and ``cross_validate`` gives every document an
out-of-fold pick and score, folds grouped (by source and merchant, so that no merchant is in a
training fold and its test fold at once). The pick's calibration is fitted on those out-of-fold
scores, with documents that have no right candidate counted as wrong picks. Deterministic: the same
rows and seed give the same models, byte for byte. Only the training command and tests import this.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from backends.fields.calibration import Calibration
from backends.fields.candidates import GENERATORS, Candidate
from backends.fields.features import PageFlags, feature_matrix, feature_names
from backends.fields.layout import PageTable
from backends.fields.verify import answer_features

#: LightGBM settings: small, regularised trees (a few hundred documents per field), one thread and
#: deterministic so that the same data gives the same file.
PARAMS = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 10,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "num_threads": 1,
    "deterministic": True,
    "force_row_wise": True,
    "verbose": -1,
}
ROUNDS = 80

Matcher = Callable[[str, str], bool]


@dataclass
class FieldRows:
    """One field's candidate rows across documents."""

    field: str
    X: np.ndarray
    y: np.ndarray
    doc: np.ndarray  # index of the document each row belongs to
    values: list[str]
    documents: int


@dataclass
class Pick:
    """A document's chosen value and its raw and calibrated scores (None: no candidate)."""

    value: str | None
    score: float
    right: bool


def build_rows(field: str, tables: Sequence[PageTable], labels: Sequence[str | None], matches: Matcher) -> FieldRows:
    """Candidate rows of ``field`` for every document; a candidate's label says whether it matches."""
    blocks, ys, docs, values = [], [], [], []
    for index, (table, label) in enumerate(zip(tables, labels, strict=True)):
        cands = GENERATORS[field](table)
        if not cands:
            continue
        blocks.append(feature_matrix(field, PageFlags(table), cands))
        ys += [label is not None and matches(c.value, label) for c in cands]
        docs += [index] * len(cands)
        values += [c.value for c in cands]
    width = len(feature_names(field))
    return FieldRows(
        field,
        np.vstack(blocks) if blocks else np.zeros((0, width)),
        np.array(ys, dtype=float),
        np.array(docs, dtype=int),
        values,
        len(tables),
    )


def fit_field(rows: FieldRows, *, seed: int = 0, rounds: int = ROUNDS):  # -> lightgbm.Booster
    import lightgbm

    data = lightgbm.Dataset(rows.X, label=rows.y, feature_name=feature_names(rows.field), free_raw_data=False)
    return lightgbm.train({**PARAMS, "seed": seed}, data, num_boost_round=rounds)


def picks_of(rows: FieldRows, scores: np.ndarray, documents: Sequence[int]) -> list[Pick]:
    """Each document's best-scored candidate (None where it has none)."""
    out = []
    for index in documents:
        on = np.flatnonzero(rows.doc == index)
        if not len(on):
            out.append(Pick(None, 0.0, False))
            continue
        best = on[int(np.argmax(scores[on]))]
        out.append(Pick(rows.values[best], float(scores[best]), bool(rows.y[best])))
    return out


def cross_validate(rows: FieldRows, folds: Sequence[Sequence[int]], *, seed: int = 0) -> tuple[list[Pick], np.ndarray]:
    """Out-of-fold picks in document order, and every row's out-of-fold score: each fold's documents
    scored by a model trained on the other folds."""
    picks: dict[int, Pick] = {}
    oof = np.zeros(len(rows.doc))
    for test in folds:
        test_set = set(test)
        train = np.array([d not in test_set for d in rows.doc])
        model = fit_field(FieldRows(rows.field, rows.X[train], rows.y[train], rows.doc[train], [], 0), seed=seed)
        scores = np.zeros(len(rows.doc))
        if (~train).any():
            scores[~train] = model.predict(rows.X[~train])
            oof[~train] = scores[~train]
        picks.update(zip(test, picks_of(rows, scores, test), strict=True))
    return [picks[i] for i in range(rows.documents)], oof


def grouped_folds(groups: Sequence[str], k: int = 5) -> list[list[int]]:
    """``k`` folds of document indices, no group in two folds, sizes balanced (largest groups first)."""
    members: dict[str, list[int]] = {}
    for index, group in enumerate(groups):
        members.setdefault(group, []).append(index)
    folds: list[list[int]] = [[] for _ in range(k)]
    for group in sorted(members, key=lambda g: (-len(members[g]), g)):
        min(folds, key=len).extend(members[group])
    return [sorted(f) for f in folds]


def calibrate(picks: Sequence[Pick]) -> Calibration:
    """The calibration of pick scores: a document without a pick or with a wrong one is a miss."""
    return Calibration.fit([p.score for p in picks], [p.right for p in picks])


def candidates_of(field: str, table: PageTable) -> list[Candidate]:
    return GENERATORS[field](table)


def verifier_rows(
    rows: FieldRows,
    scores: np.ndarray,
    answers: Sequence[tuple[str | None, float]],
    labels: Sequence[str | None],
    matches: Matcher,
) -> tuple[np.ndarray, np.ndarray]:
    """One row per document for the verifier of the tier's answer (its value and the rules' own
    confidence): ``answer_features`` over the document's candidates and their scores."""
    X, y = [], []
    for index, (answer, own) in enumerate(answers):
        on = np.flatnonzero(rows.doc == index)
        X.append(answer_features(rows.field, rows.X[on], scores[on], [rows.values[j] for j in on], answer, own))
        label = labels[index]
        y.append(float(answer is not None and label is not None and matches(answer, label)))
    return np.array(X, dtype=float).reshape(len(answers), -1), np.array(y)


def fit_verifier(X: np.ndarray, y: np.ndarray, *, seed: int = 0, rounds: int = 50):  # -> lightgbm.Booster
    """A classifier of whether a tier's answer is right, from its candidate's features and scores."""
    import lightgbm

    data = lightgbm.Dataset(X, label=y, free_raw_data=False)
    return lightgbm.train({**PARAMS, "seed": seed, "min_data_in_leaf": 15}, data, num_boost_round=rounds)
