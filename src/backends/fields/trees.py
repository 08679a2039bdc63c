"""A boosted tree ensemble read from LightGBM's JSON dump and evaluated with numpy.

Training uses LightGBM; run time needs only its trees: importing LightGBM costs seconds (it pulls in
scikit-learn and scipy where they are installed), reading 3 small JSON files costs milliseconds.
Only numeric splits (``<=``) of binary objectives are read; anything else is refused on load, so a
model the code cannot evaluate exactly never scores a page. ``predict`` equals LightGBM's own
``Booster.predict`` (a test pins it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Tree:
    """One tree as arrays: internal node ``i`` splits on ``feature[i] <= threshold[i]``; a child
    ``>= 0`` is an internal node, ``< 0`` the leaf ``~child``."""

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    leaf: np.ndarray

    def predict(self, X: np.ndarray) -> np.ndarray:
        if not len(self.feature):  # a tree of one leaf
            return np.full(len(X), self.leaf[0])
        node = np.zeros(len(X), dtype=int)
        rows = np.arange(len(X))
        active = np.ones(len(X), dtype=bool)
        while active.any():
            at = node[active]
            go_left = X[rows[active], self.feature[at]] <= self.threshold[at]
            node[active] = np.where(go_left, self.left[at], self.right[at])
            active = node >= 0
        return self.leaf[~node]


@dataclass(frozen=True)
class TreeEnsemble:
    trees: tuple[Tree, ...]
    features: int

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The probability of the positive class for each row (a sigmoid of the trees' sum)."""
        raw = np.zeros(len(X))
        for tree in self.trees:
            raw += tree.predict(X)
        return 1.0 / (1.0 + np.exp(-raw))

    @classmethod
    def from_json(cls, dump: dict[str, Any]) -> TreeEnsemble:
        if not str(dump.get("objective", "")).startswith("binary"):
            raise ValueError(f"expected a binary objective, found {str(dump.get('objective'))[:40]!r}")
        if "sigmoid:1" not in str(dump.get("objective")):
            raise ValueError("expected the sigmoid of a binary objective to be 1")
        return cls(tuple(_tree(info["tree_structure"]) for info in dump["tree_info"]), int(dump["max_feature_idx"]) + 1)


def _tree(root: dict[str, Any]) -> Tree:
    feature: list[int] = []
    threshold: list[float] = []
    left: list[int] = []
    right: list[int] = []
    leaf: list[float] = []

    def visit(node: dict[str, Any]) -> int:
        if "leaf_value" in node:
            leaf.append(float(node["leaf_value"]))
            return ~(len(leaf) - 1)
        if node.get("decision_type") != "<=":
            raise ValueError(f"expected numeric '<=' splits, found {str(node.get('decision_type'))[:10]!r}")
        index = len(feature)
        feature.append(int(node["split_feature"]))
        threshold.append(float(node["threshold"]))
        left.append(0)
        right.append(0)
        left[index] = visit(node["left_child"])
        right[index] = visit(node["right_child"])
        return index

    visit(root)
    return Tree(
        np.array(feature, dtype=int),
        np.array(threshold, dtype=float),
        np.array(left, dtype=int),
        np.array(right, dtype=int),
        np.array(leaf, dtype=float),
    )
