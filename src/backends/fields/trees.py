"""A boosted tree ensemble read from LightGBM's JSON dump and evaluated with numpy.

Training uses LightGBM; run time needs only its trees: importing LightGBM costs seconds (it pulls in
scikit-learn and scipy where they are installed), reading 3 small JSON files costs milliseconds.
Only numeric splits (``<=``) of binary objectives are read; anything else is refused on load, so a
model the code cannot evaluate exactly never scores a page. ``predict`` equals LightGBM's own
``Booster.predict`` (a test pins it), missing values included: as LightGBM's ``NumericalDecision``,
a split of missing type ``None`` reads NaN as 0, one of type ``Zero`` sends 0 (and NaN) to its default
child, one of type ``NaN`` sends NaN there.

All trees are evaluated at once: on load each tree's nodes are laid out in one padded table (a leaf
is a node that leads to itself), and a page's rows walk every tree together, one level per step,
``depth`` steps in all; the leaves' values are then summed tree by tree, in the trees' order, as
LightGBM does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: LightGBM's ``kZeroThreshold`` (a float32 1e-35): a value this close to 0 is zero for ``Zero`` splits.
ZERO_THRESHOLD = float(np.float32(1e-35))
_MISSING = {"None": 0, "Zero": 1, "NaN": 2}


@dataclass(frozen=True)
class TreeEnsemble:
    """The trees as one table of ``nodes`` rows per tree, flattened: node ``t * nodes + i`` of tree
    ``t`` goes to ``left`` where ``X[:, feature] <= threshold``, else to ``right``; a leaf leads to
    itself and holds ``value``. ``missing`` is each split's missing type (0 None, 1 Zero, 2 NaN) and
    ``default_left`` where its missing values go."""

    features: int
    depth: int
    nodes: int
    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    missing: np.ndarray
    default_left: np.ndarray
    _plain: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_plain", not self.missing.any())

    @property
    def count(self) -> int:
        """How many trees the ensemble holds."""
        return len(self.feature) // max(self.nodes, 1)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The probability of the positive class for each row (a sigmoid of the trees' sum)."""
        X = np.asarray(X, dtype=float)
        rows = len(X)
        if not rows or not self.count:
            return 1.0 / (1.0 + np.exp(-np.zeros(rows)))
        if self._plain:  # every split reads NaN as 0
            X = np.where(np.isnan(X), 0.0, X)
        flat = X.ravel()
        offset = np.arange(rows) * X.shape[1]
        node = np.repeat(np.arange(self.count) * self.nodes, rows).reshape(self.count, rows)
        for _ in range(self.depth):
            x = flat[offset + self.feature[node]]
            go_left = x <= self.threshold[node] if self._plain else self._decide(node, x)
            node = np.where(go_left, self.left[node], self.right[node])
        raw = np.cumsum(self.value[node], axis=0)[-1]  # tree by tree, as a loop of `raw += tree`
        return 1.0 / (1.0 + np.exp(-raw))

    def _decide(self, node: np.ndarray, x: np.ndarray) -> np.ndarray:
        missing = self.missing[node]
        nan = np.isnan(x)
        x = np.where(nan & (missing != _MISSING["NaN"]), 0.0, x)
        to_default = ((missing == _MISSING["Zero"]) & (np.abs(x) <= ZERO_THRESHOLD)) | (
            (missing == _MISSING["NaN"]) & nan
        )
        return np.where(to_default, self.default_left[node], x <= self.threshold[node])

    @classmethod
    def from_json(cls, dump: dict[str, Any]) -> TreeEnsemble:
        if not str(dump.get("objective", "")).startswith("binary"):
            raise ValueError(f"expected a binary objective, found {str(dump.get('objective'))[:40]!r}")
        if "sigmoid:1" not in str(dump.get("objective")):
            raise ValueError("expected the sigmoid of a binary objective to be 1")
        trees = [_tree(info["tree_structure"]) for info in dump["tree_info"]]
        return _packed(trees, int(dump["max_feature_idx"]) + 1)


@dataclass
class _Tree:
    """One tree's nodes in the order visited (leaves among them), and its depth in splits."""

    feature: list[int] = field(default_factory=list)
    threshold: list[float] = field(default_factory=list)
    left: list[int] = field(default_factory=list)
    right: list[int] = field(default_factory=list)
    value: list[float] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)
    default_left: list[bool] = field(default_factory=list)
    depth: int = 0

    def add(self, feature: int, threshold: float, value: float, missing: int, default_left: bool) -> int:
        index = len(self.feature)
        self.feature.append(feature)
        self.threshold.append(threshold)
        self.left.append(index)
        self.right.append(index)
        self.value.append(value)
        self.missing.append(missing)
        self.default_left.append(default_left)
        return index


def _tree(root: dict[str, Any]) -> _Tree:
    tree = _Tree()
    stack: list[tuple[dict[str, Any], int, int, bool]] = [(root, 0, -1, True)]
    while stack:
        node, depth, parent, is_left = stack.pop()
        if "leaf_value" in node:
            index = tree.add(0, np.inf, float(node["leaf_value"]), 0, True)
            tree.depth = max(tree.depth, depth)
        else:
            if node.get("decision_type") != "<=":
                raise ValueError(f"expected numeric '<=' splits, found {str(node.get('decision_type'))[:10]!r}")
            missing = _MISSING.get(str(node.get("missing_type", "None")))
            if missing is None:
                raise ValueError(f"unknown missing type {str(node.get('missing_type'))[:10]!r}")
            index = tree.add(
                int(node["split_feature"]), float(node["threshold"]), 0.0, missing, bool(node["default_left"])
            )
            stack += [(node["right_child"], depth + 1, index, False), (node["left_child"], depth + 1, index, True)]
        if parent >= 0:
            (tree.left if is_left else tree.right)[parent] = index
    return tree


def _packed(trees: list[_Tree], features: int) -> TreeEnsemble:
    nodes = max((len(t.feature) for t in trees), default=0)
    table = {name: np.zeros((len(trees), nodes), dtype=dtype) for name, dtype in _COLUMNS.items()}
    table["threshold"][:] = np.inf
    table["default_left"][:] = True
    for k, tree in enumerate(trees):
        size, base = len(tree.feature), k * nodes
        for name in _COLUMNS:
            table[name][k, :size] = getattr(tree, name)
        table["left"][k, :size] += base
        table["right"][k, :size] += base
        table["left"][k, size:] = table["right"][k, size:] = base  # padding: unreachable
    return TreeEnsemble(
        features=features,
        depth=max((t.depth for t in trees), default=0),
        nodes=nodes,
        **{name: column.ravel() for name, column in table.items()},
    )


_COLUMNS: dict[str, Any] = {
    "feature": np.intp,
    "threshold": float,
    "left": np.intp,
    "right": np.intp,
    "value": float,
    "missing": np.int8,
    "default_left": bool,
}
