"""The learned field scorer: candidates, the feature table, calibration, training, the shipped model,
and bad pages (no text, 10,000 lines, a 1 MB line). Pages are built from OCR lines the tests write, or
read by the real OCR tier from receipts the tests render; nothing reads the labelled sets."""

from __future__ import annotations

import hashlib
import random
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from backends.fields.calibration import Calibration, expected_calibration_error
from backends.fields.candidates import GENERATORS, date_candidates, merchant_candidates, total_candidates
from backends.fields.features import FEATURES, PageFlags, feature_matrix, feature_names
from backends.fields.layout import MAX_LINES, PageTable
from backends.fields.rules import read_receipt
from backends.fields.scorer import MODEL_DIR, FieldScorer, ScorerModelError, field_scorer
from backends.fields.training import build_rows, cross_validate, fit_field, grouped_folds
from backends.fields.verify import answer_features
from backends.ocr.result import OcrLine
from backends.testing.synthetic import _rows, random_receipt


def page(*texts: str, height: int = 20) -> PageTable:
    """A page of one line per text, top to bottom, the first line twice as tall (a shop's name)."""
    lines = [OcrLine(t, 95.0, 40, 30 + 40 * i, 300, height * (2 if i == 0 else 1)) for i, t in enumerate(texts)]
    return PageTable.from_lines(lines)


RECEIPT = page(
    "KEDAI BUKU CAHAYA SDN BHD",
    "NO 12, JALAN MERANTI 3",
    "TEL 03-7781 2233",
    "DATE: 14/03/2024 10:21",
    "PENCIL 2B 2 x 1.50 3.00",
    "NOTEBOOK A5 24.10",
    "SUBTOTAL 27.10",
    "TOTAL RM 27.10",
    "CASH 50.00",
    "CHANGE 22.90",
)


def test_candidates_hold_every_plausible_value_and_where_it_stands():
    merchants = {c.value for c in merchant_candidates(RECEIPT)}
    assert "KEDAI BUKU CAHAYA SDN BHD" in merchants
    dates = date_candidates(RECEIPT)
    assert {c.value for c in dates} == {"2024-03-14"} and {c.line for c in dates} == {3}
    totals = total_candidates(RECEIPT)
    assert {"27.10", "50.00", "22.90", "3.00", "1.50"} <= {c.value for c in totals}
    assert {c.line for c in totals if c.value == "27.10"} == {6, 7}  # the subtotal and the total


def test_an_ambiguous_date_is_offered_in_each_reading():
    readings = {(c.value, c.reading) for c in date_candidates(page("03/04/2024"))}
    assert ("2024-04-03", "dayfirst") in readings and ("2024-03-04", "monthfirst") in readings


def test_a_page_without_text_has_no_candidates():
    empty = PageTable.from_lines([])
    assert all(not generate(empty) for generate in GENERATORS.values())
    assert all(feature_matrix(f, PageFlags(empty), []).shape == (0, len(FEATURES[f])) for f in FEATURES)


def test_the_feature_table_names_each_column_once_and_explains_it():
    for field, features in FEATURES.items():
        names = feature_names(field)
        assert len(names) == len(set(names)), field
        assert all(f.meaning for f in features)
        cands = GENERATORS[field](RECEIPT)
        X = feature_matrix(field, PageFlags(RECEIPT), cands)
        assert X.shape == (len(cands), len(names)) and np.isfinite(X).all()


def test_features_read_the_labels_and_arithmetic_of_the_page():
    cands = total_candidates(RECEIPT)
    X = feature_matrix("total", PageFlags(RECEIPT), cands)
    column = dict(zip(feature_names("total"), X.T, strict=True))
    on_total_line = [i for i, c in enumerate(cands) if c.line == 7]
    on_change_line = [i for i, c in enumerate(cands) if c.line == 9]
    assert column["total_word"][on_total_line].min() > 0 and column["change"][on_change_line].min() == 1
    assert column["largest"][[i for i, c in enumerate(cands) if c.value == "50.00"]].min() == 1
    total = next(i for i, c in enumerate(cands) if c.line == 7)
    assert column["amount_repeats"][total] == 1  # 27.10 is also the subtotal
    merchant = feature_matrix("merchant", PageFlags(RECEIPT), merchant_candidates(RECEIPT))
    heights = dict(zip(feature_names("merchant"), merchant.T, strict=True))["height_rank"]
    assert heights[0] == 0 and heights[1:].min() >= 1  # the name's line is the tallest


@pytest.mark.parametrize("lines", [10_000, 1])
def test_a_huge_page_is_read_in_bounded_time(lines):
    text = "TOTAL 12.50 " * (1 if lines > 1 else 80_000)  # 10,000 lines, or one line of about 1 MB
    table = PageTable.from_lines([OcrLine(text, 90.0, 0, 10 * i, 500, 10) for i in range(lines)])
    assert len(table) <= MAX_LINES and max(map(len, table.texts)) <= 400
    started = time.perf_counter()
    for field, generate in GENERATORS.items():
        feature_matrix(field, PageFlags(table), generate(table))
    assert time.perf_counter() - started < 30


def test_calibration_recovers_known_probabilities():
    """Scores whose right-rate is score squared: the calibrated value says so on held-out draws."""
    rng = random.Random(7)
    draw = [(s, rng.random() < s * s) for s in (rng.random() for _ in range(6000))]
    fitted = Calibration.fit([s for s, _ in draw[:4000]], [r for _, r in draw[:4000]])
    held = draw[4000:]
    assert expected_calibration_error([fitted(s) for s, _ in held], [r for _, r in held]) < 0.05
    assert fitted(0.5) == pytest.approx(0.25, abs=0.08)
    assert Calibration.from_json(fitted.to_json()) == fitted


def test_expected_calibration_error_is_the_gap_between_confidence_and_accuracy():
    assert expected_calibration_error([0.9] * 10, [True] * 9 + [False]) == pytest.approx(0.0)
    assert expected_calibration_error([0.9] * 10, [False] * 10) == pytest.approx(0.9)


def _tiny_set(n: int, seed: int) -> tuple[list[PageTable], list[str], list[str]]:
    """Receipts whose total is the amount on the TOTAL line, among decoys, from varied shops."""
    rng = random.Random(seed)
    tables, labels, groups = [], [], []
    for i in range(n):
        amounts = [f"{rng.randint(1, 500)}.{rng.randint(0, 99):02d}" for _ in range(4)]
        texts = [
            f"SHOP {i % 7}",
            f"ITEM A {amounts[0]}",
            f"ITEM B {amounts[1]}",
            f"TOTAL {amounts[2]}",
            f"CASH {amounts[3]}",
        ]
        rng.shuffle(texts[1:3])
        tables.append(page(*texts))
        labels.append(amounts[2])
        groups.append(f"shop{i % 7}")
    return tables, labels, groups


def test_training_on_a_tiny_set_learns_the_total_and_is_deterministic():
    tables, labels, groups = _tiny_set(120, seed=3)
    rows = build_rows("total", tables, labels, lambda value, label: value == label)
    folds = grouped_folds(groups, 4)
    assert all(not (set(a) & set(b)) for a in folds for b in folds if a is not b)
    picks, _ = cross_validate(rows, folds, seed=0)
    assert sum(p.right for p in picks) / len(picks) > 0.9
    assert fit_field(rows, seed=0, rounds=20).model_to_string() == fit_field(rows, seed=0, rounds=20).model_to_string()


def test_the_shipped_model_gives_probabilities_to_answers():
    scorer = field_scorer()
    confidences = scorer.confidences(
        RECEIPT,
        {"merchant": ("KEDAI BUKU CAHAYA SDN BHD", 0.8), "date": ("2024-03-14", 0.85), "total": ("27.10", 0.95)},
    )
    assert set(confidences) == {"merchant", "date", "total"}
    assert all(0.0 <= c <= 1.0 for c in confidences.values())
    wrong = scorer.confidences(RECEIPT, {"total": ("22.90", 0.2)})["total"]
    assert wrong < confidences["total"]  # the change is a worse answer than the labelled total


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_a_missing_or_corrupt_model_file_is_an_error_naming_it(tmp_path: Path, damage: str):
    folder = tmp_path / "model"
    shutil.copytree(MODEL_DIR, folder)
    target = folder / "total.ranker.json"
    if damage == "missing":
        target.unlink()
    else:
        target.write_text('{"objective": "regression", "tree_info": []}')
    with pytest.raises(ScorerModelError, match=r"total\.ranker\.json"):
        FieldScorer(folder)


def test_the_trees_predict_as_lightgbm_does():
    lightgbm = pytest.importorskip("lightgbm")
    from backends.fields.trees import TreeEnsemble

    tables, labels, _ = _tiny_set(60, seed=5)
    rows = build_rows("total", tables, labels, lambda value, label: value == label)
    booster = fit_field(rows, seed=0, rounds=15)
    assert isinstance(booster, lightgbm.Booster)
    trees = TreeEnsemble.from_json(booster.dump_model())
    assert np.allclose(trees.predict(rows.X), booster.predict(rows.X), atol=1e-9)


def printed_page(seed: int) -> tuple[PageTable, dict[str, tuple[str, float]]]:
    """A rendered receipt's rows as the renderer lays them out (a bold name, centred and
    right-aligned columns), each row one OCR line, and the rules' answers to it."""
    spec = random_receipt(random.Random(seed))
    size, width, lines = spec.style.size, spec.style.width, []
    for number, (left, right, bold) in enumerate(_rows(spec)):
        text = f"{left} {right}" if right else left
        chars = int(0.6 * size * len(text))
        x = max(size, (width - chars) // 2) if right is None else size
        top, height = size + int(size * 1.45) * number, int(size * (1.3 if bold else 1.0))
        lines.append(OcrLine(text, 90.0 - number % 7, x, top, chars, height))
    fields = read_receipt([line.text for line in lines]).fields
    answers = {
        n: (v, fields.confidence.get(n, 0.0)) for n in ("merchant", "date", "total") if (v := getattr(fields, n))
    }
    return PageTable.from_lines(lines), answers


def scorer_steps(table: PageTable, answers: dict[str, tuple[str, float]]) -> dict[str, tuple]:
    """Each number the scorer computes for a page: per field the candidates' features, the ranker's
    scores, the verifier's row and the verifier's output."""
    scorer, flags, out = field_scorer(), PageFlags(table), {}
    for field, (value, own) in answers.items():
        model = scorer.models[field]
        cands = GENERATORS[field](table)
        X = feature_matrix(field, flags, cands)
        scores = model.ranker.predict(X) if len(cands) else np.zeros(0)
        row = answer_features(field, X, scores, [c.value for c in cands], value, own)
        out[field] = (X, scores, np.array(row), float(model.verifier.predict(np.array([row]))[0]))
    return out


#: The sha256 of every number ``scorer_steps`` gives on ``printed_page(0..23)``, as the per-tree,
#: per-candidate code of commit d57bb68 computed them with the shipped model. Faster code must give
#: the same bits; a retrained model changes it (re-record it then, with the old code's numbers).
PINNED_STEPS = "80b20960ac35bd31202e4fe6676153b1be8601a11ff6e17701ad93aea5d2d40f"


def test_the_scorer_computes_the_very_numbers_it_computed_before_it_was_made_fast():
    digest = hashlib.sha256()
    for seed in range(24):
        steps = scorer_steps(*printed_page(seed))
        for field in sorted(steps):
            X, scores, row, raw = steps[field]
            for part in (X, scores, row, np.array([raw])):
                digest.update(np.ascontiguousarray(part, dtype=float).tobytes())
    assert digest.hexdigest() == PINNED_STEPS
