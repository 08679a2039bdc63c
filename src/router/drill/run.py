"""Running a drill: a real router, many requests from a few threads, then an audit.

Every request has its own id (``drill-000042``). An input is *lost* unless it got exactly one
``Result`` carrying its id and exactly one terminal event in the decision log (``request.done``).
Memory is measured after the warm-up (workers started, the same load run on uncounted requests, every
corpus case read once, the recycles it caused finished), after the last request, and after ``close``:
the router's anonymous RSS, apart from libraries paged in and the page buffers it shares with workers
(``observe.Memory``).
Child processes are counted after close.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from array import array
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from router.api.router import Router
from router.core.result import Result
from router.drill.documents import DrillInput, DrillInputs
from router.drill.observe import EventTally, child_pids, children_left, memory
from router.drill.report import DrillReport, percentile
from router.failures.errors import ErrorClass
from router.observe import events, logs
from router.policy.model import Policy


@dataclass(frozen=True)
class DrillSettings:
    requests: int
    concurrency: int = 4
    warmup: int = 200
    bad_input_rate: float = 0.0
    seed: int = 0
    stall_s: float | None = None  # no request finished for this long: give up (default: deadline + 60 s)


def run_drill(
    policy: Policy,
    settings: DrillSettings,
    *,
    log_json: str | os.PathLike[str] | None = None,
    log_stderr: bool = False,
) -> DrillReport:
    """Drill ``policy`` with ``settings``; the router is built, warmed up, loaded and closed here."""
    report = DrillReport(
        policy=policy.name, faults=_faults_of(policy), requests=settings.requests, concurrency=settings.concurrency
    )
    tally = EventTally(settings.requests)
    already_there = frozenset(child_pids())
    with tempfile.TemporaryDirectory(prefix="docroute-drill-") as work:
        inputs = DrillInputs(seed=settings.seed, bad_input_rate=settings.bad_input_rate, corpus_dir=Path(work))
        # a drill owns its process: it holds the allocator settings whose effect it measures, and its
        # events go to its own destinations and the tally only
        router = Router(policy, logger=logs.discard(), log_json=log_json, log_stderr=log_stderr, hold_malloc=True)
        try:
            tally.attach(router.decision_log)
            router.warm_up()
            report.warmup_requests = _warm_up(router, inputs, settings)
            _settle(router)
            tally.reset()
            report.set_memory("start", memory())
            load = _Load(router, inputs, settings)
            load.run(settings.stall_s or policy.deadline_s + 60)
            report.set_memory("end", memory())
        finally:
            router.close()
    left = children_left(before=already_there)
    report.children_left, report.children_left_detail = len(left), left
    report.rss_after_close_mb = memory().anon_mb
    load.fill(report, tally)
    return report


def _faults_of(policy: Policy) -> dict[str, float]:
    for tier in policy.tiers:
        faults = getattr(tier.backend, "faults", None)
        if faults:
            return dict(faults)
    return {}


def _warm_up(router: Router, inputs: DrillInputs, settings: DrillSettings) -> int:
    """Uncounted requests before memory is measured: the same load (so thread arenas, buffers and
    caches reach their working size), then each corpus case once (so every reader is imported)."""
    warm = _Load(router, inputs, replace(settings, requests=settings.warmup), prefix="warmup-", first=settings.requests)
    warm.run(settings.stall_s or router.policy.deadline_s + 60)
    for number, case in enumerate(inputs.cases):
        router.extract(case.path, name=case.name, request_id=f"warmup-corpus-{number}")
    return settings.warmup + len(inputs.cases)


#: Tier states of workers still being started or replaced.
_UNSETTLED = frozenset({"warming", "loading", "recycling"})


def _settle(router: Router) -> None:
    """Wait until the warm-up's recycles are done, so the measured phase starts with every worker
    up and its faults (and their recycles) are its own, not the warm-up's tail."""
    until = time.monotonic() + max(t.policy.start_timeout_s for t in router.tiers)
    while time.monotonic() < until and any(s["state"] in _UNSETTLED for s in router.status().values()):
        time.sleep(0.05)


class _Load:
    """``concurrency`` threads take request numbers in turn until all are sent."""

    def __init__(
        self, router: Router, inputs: DrillInputs, settings: DrillSettings, *, prefix: str = "drill-", first: int = 0
    ):
        self.router = router
        self.prefix = prefix  # request ids are the prefix and the request's number
        self.first = first  # request n sends input first + n (warm-up inputs differ from the drill's)
        self.inputs = inputs
        self.settings = settings
        n = settings.requests
        self.results = bytearray(n)  # Results per request carrying its id
        self.latency_ms = array("d", [float("nan")]) * n
        self.statuses: Counter[str] = Counter()
        self.failed_by_class: Counter[str] = Counter()
        self.by_tier: Counter[str] = Counter()
        self.attempt_failures: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()
        self.misrouted = self.bad_inputs = self.raised = 0
        self.finished = 0
        self.duration_s = 0.0
        self.stalled = False
        self._next = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def run(self, stall_s: float) -> None:
        threads = [
            threading.Thread(target=self._serve, name=f"drill-client-{i}", daemon=True)
            for i in range(self.settings.concurrency)
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        seen, progress_at = -1, time.monotonic()
        while any(t.is_alive() for t in threads):
            time.sleep(0.2)
            if self.finished != seen:
                seen, progress_at = self.finished, time.monotonic()
            elif time.monotonic() - progress_at > stall_s:
                self.stalled = True
                self._stop.set()
                break
        self.duration_s = time.perf_counter() - started

    def _serve(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                index, self._next = self._next, self._next + 1
            if index >= self.settings.requests:
                return
            self._one(index, self.inputs(self.first + index))

    def _one(self, index: int, item: DrillInput) -> None:
        request_id = f"{self.prefix}{index:06d}"
        started = time.perf_counter()
        try:
            result = self.router.extract(item.source, name=item.name, request_id=request_id)
        except Exception:  # a router bug: the input got no Result
            with self._lock:
                self.raised += 1
                self.finished += 1
            return
        elapsed_ms = (time.perf_counter() - started) * 1000
        with self._lock:
            self.finished += 1
            if result.request_id == request_id and self.results[index] < 255:
                self.results[index] += 1
            self.latency_ms[index] = elapsed_ms
            self._count(result, item)

    def _count(self, result: Result, item: DrillInput) -> None:
        self.statuses[result.status] += 1
        if result.tier:
            self.by_tier[result.tier] += 1
        if result.error is not None:
            self.failed_by_class[result.error.error_class.value] += 1
        for attempt in result.attempts:
            if attempt.error_class is not None:
                self.attempt_failures[attempt.error_class.value] += 1
        for skipped in result.skipped:
            self.skipped[skipped.reason] += 1
        refused = result.error is not None and result.error.error_class is ErrorClass.BAD_INPUT
        self.bad_inputs += item.expect_bad_input
        self.misrouted += refused != item.expect_bad_input

    def fill(self, report: DrillReport, tally: EventTally) -> None:
        report.ok, report.degraded, report.failed = (self.statuses[s] for s in ("ok", "degraded", "failed"))
        report.answered = report.ok + report.degraded
        report.failed_by_class = dict(self.failed_by_class)
        report.answered_by_tier = dict(self.by_tier)
        report.attempt_failures = dict(self.attempt_failures)
        report.skipped = dict(self.skipped)
        lost = [i for i in range(self.settings.requests) if self.results[i] != 1 or tally.done[i] != 1]
        report.lost, report.lost_ids = len(lost), [f"drill-{i:06d}" for i in lost[:20]]
        report.raised, report.misrouted_bad_inputs, report.bad_inputs = self.raised, self.misrouted, self.bad_inputs
        report.stalled = self.stalled
        report.recycles = tally.count(events.WORKER_RECYCLING.name)
        report.recycles_by_tier = tally.per_tier(events.WORKER_RECYCLING.name)
        report.worker_start_failures = tally.count(events.WORKER_START_FAILED.name)
        report.breaker_transitions = {
            tier: {state: tally.per_tier(f"breaker.{state}").get(tier, 0) for state in ("open", "half_open", "closed")}
            for tier in (t.name for t in self.router.tiers)
        }
        latencies = [v for v in self.latency_ms if v == v]  # finished requests only (NaN != NaN)
        report.p50_ms, report.p95_ms = percentile(latencies, 0.5), percentile(latencies, 0.95)
        report.p99_ms, report.max_ms = percentile(latencies, 0.99), round(max(latencies, default=0.0), 2)
        report.duration_s = round(self.duration_s, 2)
        report.requests_per_s = round(self.finished / self.duration_s, 2) if self.duration_s else 0.0
