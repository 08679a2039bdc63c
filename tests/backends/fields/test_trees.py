"""The trees evaluated at once equal LightGBM's decisions: a slow walk of the JSON dump, one row and
one tree at a time (LightGBM's ``NumericalDecision``, written out here), gives the same bits on the
shipped models, on pages' features and on values LightGBM treats specially (NaN, zero, a threshold)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from backends.fields.scorer import MODEL_DIR, SCORED_FIELDS
from backends.fields.trees import ZERO_THRESHOLD, TreeEnsemble
from tests.backends.fields.test_scorer import RECEIPT, printed_page

FEATURES_OF = {"ranker": lambda X, row: X, "verifier": lambda X, row: row}


def reference(dump: dict, X: np.ndarray) -> np.ndarray:
    """LightGBM's prediction, row by row and tree by tree, from the dump as written."""

    def leaf(node: dict, x: np.ndarray) -> float:
        while "leaf_value" not in node:
            value, missing = float(x[node["split_feature"]]), node["missing_type"]
            if math.isnan(value) and missing != "NaN":
                value = 0.0
            if (missing == "Zero" and -ZERO_THRESHOLD <= value <= ZERO_THRESHOLD) or (
                missing == "NaN" and math.isnan(value)
            ):
                left = node["default_left"]
            else:
                left = value <= node["threshold"]
            node = node["left_child" if left else "right_child"]
        return float(node["leaf_value"])

    out = []
    for x in X:
        raw = 0.0
        for info in dump["tree_info"]:
            raw += leaf(info["tree_structure"], x)
        out.append(raw)
    return 1.0 / (1.0 + np.exp(-np.array(out)))  # numpy's exp, as the code's (math.exp may differ by an ulp)


def shipped(field: str, part: str) -> dict:
    return json.loads((MODEL_DIR / f"{field}.{part}.json").read_text())


def rows_of(field: str, part: str) -> np.ndarray:
    """Features the model sees on a few pages, and the same with NaN, zeros and split thresholds."""
    from tests.backends.fields.test_scorer import scorer_steps

    found = []
    for table, answers in [printed_page(seed) for seed in range(4)] + [(RECEIPT, {})]:
        answers = answers or {"merchant": ("KEDAI BUKU", 0.5), "date": ("2024-03-14", 0.5), "total": ("27.10", 0.5)}
        X, _, row, _ = scorer_steps(table, answers)[field]
        found.append(X if part == "ranker" else row[None, :])
    X = np.vstack(found)
    rng = np.random.default_rng(0)
    thresholds = [n["threshold"] for n in _splits(shipped(field, part))]
    special = X[rng.integers(0, len(X), 60)].copy()
    for row in special:
        at = rng.integers(0, X.shape[1], 4)
        row[at] = rng.choice([np.nan, 0.0, -0.0, 1e-36, *rng.choice(thresholds, 4)], 4)
    return np.vstack([X, special])


def _splits(dump: dict) -> list[dict]:
    out, stack = [], [info["tree_structure"] for info in dump["tree_info"]]
    while stack:
        node = stack.pop()
        if "leaf_value" not in node:
            out.append(node)
            stack += [node["left_child"], node["right_child"]]
    return out


@pytest.mark.parametrize("part", ["ranker", "verifier"])
@pytest.mark.parametrize("field", SCORED_FIELDS)
def test_the_shipped_trees_give_the_bits_of_a_walk_of_each_tree(field, part):
    dump = shipped(field, part)
    X = rows_of(field, part)
    assert np.array_equal(TreeEnsemble.from_json(dump).predict(X), reference(dump, X))


def _stump(missing: str, default_left: bool) -> dict:
    split = {"split_feature": 0, "threshold": 0.5, "decision_type": "<=", "missing_type": missing}
    split |= {"default_left": default_left, "left_child": {"leaf_value": -1.0}, "right_child": {"leaf_value": 2.0}}
    one_leaf = {"leaf_value": 0.25}
    trees = [{"tree_structure": split}, {"tree_structure": one_leaf}]
    return {"objective": "binary sigmoid:1", "max_feature_idx": 0, "tree_info": trees}


@pytest.mark.parametrize("missing", ["None", "Zero", "NaN"])
@pytest.mark.parametrize("default_left", [True, False])
def test_missing_values_and_zeros_go_where_lightgbm_sends_them(missing, default_left):
    dump = _stump(missing, default_left)
    X = np.array([[np.nan], [0.0], [-0.0], [1e-36], [0.5], [0.5000001], [-3.0], [np.inf]])
    assert np.array_equal(TreeEnsemble.from_json(dump).predict(X), reference(dump, X))


def test_no_rows_and_no_trees_are_answered():
    dump = _stump("None", True)
    assert TreeEnsemble.from_json(dump).predict(np.zeros((0, 1))).shape == (0,)
    empty = TreeEnsemble.from_json({**dump, "tree_info": []})
    assert np.array_equal(empty.predict(np.zeros((3, 1))), np.full(3, 0.5))


def test_a_categorical_split_is_refused_on_load():
    dump = _stump("None", True)
    dump["tree_info"][0]["tree_structure"]["decision_type"] = "=="
    with pytest.raises(ValueError, match="numeric"):
        TreeEnsemble.from_json(dump)


def test_trees_trained_on_missing_values_predict_as_lightgbm_does():
    lightgbm = pytest.importorskip("lightgbm")
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 4))
    y = (np.nan_to_num(X[:, 0]) + X[:, 1] > 0).astype(float)
    X[rng.random(X.shape) < 0.2] = np.nan
    X[rng.random(X.shape) < 0.1] = 0.0
    for zero_as_missing in (False, True):
        params = {"objective": "binary", "verbose": -1, "num_leaves": 8, "zero_as_missing": zero_as_missing}
        booster = lightgbm.train(params, lightgbm.Dataset(X, label=y), num_boost_round=20)
        dump = booster.dump_model()
        assert {n["missing_type"] for n in _splits(dump)} >= ({"Zero"} if zero_as_missing else {"NaN"})
        ours = TreeEnsemble.from_json(dump).predict(X)
        assert np.array_equal(ours, reference(dump, X))
        assert np.allclose(ours, booster.predict(X), rtol=0, atol=1e-12)
