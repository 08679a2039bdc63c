"""A drill's findings: what was answered, what failed and why, what was lost, what was left behind."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from router.drill.observe import Memory


@dataclass
class DrillReport:
    policy: str
    faults: dict[str, float]
    requests: int
    concurrency: int
    answered: int = 0
    ok: int = 0
    degraded: int = 0
    failed: int = 0
    failed_by_class: dict[str, int] = field(default_factory=dict)
    answered_by_tier: dict[str, int] = field(default_factory=dict)
    attempt_failures: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    lost: int = 0
    lost_ids: list[str] = field(default_factory=list)
    misrouted_bad_inputs: int = 0  # a bad input not refused as bad_input, or a good one that was
    bad_inputs: int = 0
    raised: int = 0  # extract() raised instead of returning a Result (a router bug)
    recycles: int = 0
    recycles_by_tier: dict[str, int] = field(default_factory=dict)
    worker_start_failures: int = 0
    breaker_transitions: dict[str, dict[str, int]] = field(default_factory=dict)
    children_left: int = 0
    children_left_detail: list[str] = field(default_factory=list)
    rss_start_mb: float = 0.0  # the router process's anonymous RSS (heap, maps, stacks): what a leak grows
    rss_end_mb: float = 0.0
    rss_after_close_mb: float = 0.0
    rss_growth_pct: float = 0.0
    rss_total_start_mb: float = 0.0  # all of it: with libraries paged in and page buffers shared with workers
    rss_total_end_mb: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    duration_s: float = 0.0
    requests_per_s: float = 0.0
    warmup_requests: int = 0
    stalled: bool = False

    def set_memory(self, when: str, memory: Memory) -> None:
        """Record memory at the ``start`` (after warm-up) or the ``end`` (after the last request)."""
        setattr(self, f"rss_{when}_mb", memory.anon_mb)
        setattr(self, f"rss_total_{when}_mb", memory.total_mb)
        if self.rss_start_mb:
            self.rss_growth_pct = round(100 * (self.rss_end_mb - self.rss_start_mb) / self.rss_start_mb, 2)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def passed(self) -> bool:
        """No input lost or misrouted, nothing raised, no child process left behind."""
        return not (self.lost or self.raised or self.misrouted_bad_inputs or self.children_left or self.stalled)

    def lines(self) -> list[str]:
        """The report for a person."""
        faults = ", ".join(f"{mode} {rate:.1%}" for mode, rate in self.faults.items()) or "none"
        opened = sum(t.get("open", 0) for t in self.breaker_transitions.values())
        return [
            f"drill: {self.requests} requests, {self.concurrency} at a time, policy {self.policy}",
            f"  faults per model call: {faults}",
            f"  answered   {self.answered} (ok {self.ok}, degraded {self.degraded}); "
            f"by tier: {_pairs(self.answered_by_tier)}",
            f"  failed     {self.failed}{' by class: ' + _pairs(self.failed_by_class) if self.failed else ''}",
            f"  lost       {self.lost}{' ' + ', '.join(self.lost_ids[:5]) if self.lost else ''}",
            f"  bad inputs {self.bad_inputs} sent, {self.misrouted_bad_inputs} misclassified",
            f"  attempts failed by class: {_pairs(self.attempt_failures) or 'none'}",
            f"  recycles   {self.recycles} ({_pairs(self.recycles_by_tier) or 'none'}); "
            f"failed worker starts {self.worker_start_failures}",
            f"  breakers   opened {opened} times: {_breakers(self.breaker_transitions) or 'never'}",
            f"  latency    p50 {self.p50_ms:.0f} ms, p95 {self.p95_ms:.0f} ms, p99 {self.p99_ms:.0f} ms, "
            f"max {self.max_ms:.0f} ms; {self.requests_per_s:.1f} requests/s over {self.duration_s:.1f} s",
            f"  memory     RSS {self.rss_start_mb:.1f} MiB after warm-up, {self.rss_end_mb:.1f} MiB after the last "
            f"request ({self.rss_growth_pct:+.1f}%), {self.rss_after_close_mb:.1f} MiB after close (anonymous; "
            f"in all {self.rss_total_start_mb:.1f} and {self.rss_total_end_mb:.1f} MiB)",
            f"  children   {self.children_left} left after close",
            f"  verdict    {'PASS' if self.passed else 'FAIL'}",
        ]


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by the nearest-rank method; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return round(ordered[rank - 1], 2)


def _pairs(counts: dict[str, int]) -> str:
    return ", ".join(f"{key} {value}" for key, value in sorted(counts.items(), key=lambda kv: -kv[1]))


def _breakers(transitions: dict[str, dict[str, int]]) -> str:
    return "; ".join(f"{tier}: {_pairs(states)}" for tier, states in transitions.items() if states)
