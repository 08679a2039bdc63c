"""What a batch did: counts by status, tier and error class, latency percentiles, throughput."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) with linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class Summary:
    total: int = 0
    already_done: int = 0
    retried: int = 0  # inputs whose earlier line failed for a passing reason, read again
    abandoned: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    by_tier: Counter[str] = field(default_factory=Counter)
    by_error: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    elapsed_s: float = 0.0
    interrupted_by: str | None = None
    output_error: str | None = None  # the output could not be written (a full disk): the batch stopped

    @property
    def processed(self) -> int:
        return sum(self.by_status.values())

    @property
    def failed(self) -> int:
        return self.by_status["failed"]

    def add(self, record: dict[str, Any]) -> None:
        status = record["status"]
        self.by_status[status] += 1
        self.by_tier[record.get("tier") or "none"] += 1
        if status == "failed" and record.get("error"):
            self.by_error[record["error"]["error_class"]] += 1
        self.latencies_ms.append(float(record["duration_ms"]))

    def to_dict(self) -> dict[str, Any]:
        rate = self.processed / self.elapsed_s if self.elapsed_s > 0 else None
        return {
            "inputs": self.total,
            "processed": self.processed,
            "already_done": self.already_done,
            "retried": self.retried,
            "abandoned": self.abandoned,
            "interrupted_by": self.interrupted_by,
            "output_error": self.output_error,
            "by_status": dict(self.by_status),
            "by_tier": dict(self.by_tier),
            "by_error_class": dict(self.by_error),
            "latency_ms": {f"p{q}": _round(percentile(self.latencies_ms, q)) for q in (50, 95)},
            "elapsed_s": round(self.elapsed_s, 3),
            "docs_per_s": _round(rate),
        }

    def lines(self) -> list[str]:
        """The summary for a person."""
        data = self.to_dict()
        latency = data["latency_ms"]
        rate = data["docs_per_s"]
        lines = [
            f"inputs {self.total}: processed {self.processed}, already in the output {self.already_done}"
            + (f", retried {self.retried}" if self.retried else "")
            + (f", abandoned {self.abandoned} (rerun to finish)" if self.abandoned else ""),
            "status   " + _counts(self.by_status),
            "tier     " + _counts(self.by_tier),
        ]
        if self.by_error:
            lines.append("errors   " + _counts(self.by_error))
        lines.append(
            f"latency  p50 {_ms(latency['p50'])}  p95 {_ms(latency['p95'])}   "
            f"{self.elapsed_s:.1f} s, {rate if rate is not None else '-'} docs/s"
        )
        if self.interrupted_by:
            lines.append(f"interrupted by {self.interrupted_by}: rerun the same command to finish")
        if self.output_error:
            lines.append(f"stopped: {self.output_error}; rerun the same command to finish once it can be written")
        return lines


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{name} {count}" for name, count in counter.most_common()) or "-"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
