"""Calibration: from a scorer's raw score to the probability that the value is right.

Isotonic regression (monotone, no shape assumed) fitted on out-of-fold scores, stored as its
breakpoints in JSON and applied by linear interpolation between them, so that nothing but numbers
is loaded. Fitting needs scikit-learn (training only); applying needs numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Calibration:
    """A monotone map from raw score to probability: ``x`` increasing breakpoints, ``y`` their values."""

    x: tuple[float, ...]
    y: tuple[float, ...]

    @classmethod
    def fit(cls, scores: Sequence[float], right: Sequence[bool]) -> Calibration:
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        iso.fit(np.asarray(scores, dtype=float), np.asarray(right, dtype=float))
        return cls(tuple(float(v) for v in iso.X_thresholds_), tuple(float(v) for v in iso.y_thresholds_))

    def __call__(self, score: float) -> float:
        if not self.x:
            return 0.0
        return float(np.interp(score, self.x, self.y))

    def to_json(self) -> dict[str, Any]:
        return {"method": "isotonic", "x": list(self.x), "y": list(self.y)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Calibration:
        x, y = data["x"], data["y"]
        if data.get("method") != "isotonic" or len(x) != len(y) or any(b < a for a, b in pairwise(x)):
            raise ValueError("expected an isotonic calibration: increasing 'x' and as many 'y'")
        if any(not 0.0 <= v <= 1.0 for v in y):
            raise ValueError("calibrated probabilities must lie in [0, 1]")
        return cls(tuple(map(float, x)), tuple(map(float, y)))


def expected_calibration_error(confidence: Sequence[float], right: Sequence[bool], bins: int = 10) -> float:
    """The answers' weighted mean gap between confidence and accuracy over ``bins`` equal bins."""
    conf, ok = np.asarray(confidence, dtype=float), np.asarray(right, dtype=float)
    if not len(conf):
        return 0.0
    index = np.minimum((conf * bins).astype(int), bins - 1)
    gap = 0.0
    for b in range(bins):
        on = index == b
        if on.any():
            gap += on.sum() * abs(conf[on].mean() - ok[on].mean())
    return float(gap / len(conf))
