"""Prometheus metrics, in a registry of the app's own (never the process-wide default).

Counted as requests finish: HTTP requests by endpoint and code; documents by status and answering
tier; failures by error class; fallbacks by the tier left and the error class that caused it;
attempts and their latency by tier; request latency by answering tier. Read from the router at
each scrape: each tier's state and breaker state (one-hot gauges), its worker recycles, readiness.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from router.core.result import Result
from router.core.runners import TierState
from router.service.readiness import readiness

#: Seconds; receipts take from ~0.1 s (rules on clean text) to a minute (a cold model).
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300)
BREAKER_STATES = ("closed", "half_open", "open")
TIER_STATES = tuple(state.value for state in TierState)
ENDPOINTS = ("/v1/extract", "/healthz", "/readyz", "/metrics")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self, status: Callable[[], dict[str, Any] | None]):
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "docroute_http_requests", "HTTP requests by endpoint and code.", ["endpoint", "code"], registry=r
        )
        self.documents = Counter(
            "docroute_documents", "Documents by status and answering tier.", ["status", "tier"], registry=r
        )
        self.failures = Counter(
            "docroute_document_failures", "Failed documents by error class.", ["error_class"], registry=r
        )
        self.fallbacks = Counter(
            "docroute_fallbacks",
            "Fallbacks away from a tier, by error class.",
            ["from_tier", "error_class"],
            registry=r,
        )
        self.escalations = Counter(
            "docroute_escalations",
            "Answers passed on for low confidence, by tier and doubtful field.",
            ["tier", "field"],
            registry=r,
        )
        self.reviews = Counter(
            "docroute_reviews",
            "Documents that need review, by doubtful field and the tier its best value came from.",
            ["tier", "field"],
            registry=r,
        )
        self.cost = Counter("docroute_cost", "What the documents' attempts cost, by unit.", ["unit"], registry=r)
        self.attempts = Counter("docroute_attempts", "Tier attempts by outcome.", ["tier", "outcome"], registry=r)
        self.attempt_seconds = Histogram(
            "docroute_attempt_duration_seconds", "One tier attempt.", ["tier"], buckets=LATENCY_BUCKETS, registry=r
        )
        self.request_seconds = Histogram(
            "docroute_request_duration_seconds",
            "A whole request, by the tier that answered ('none' if none did).",
            ["tier"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "docroute_requests_in_flight", "Extraction requests accepted and not yet answered.", registry=r
        )
        self.queued = Gauge(
            "docroute_requests_queued", "Accepted requests waiting for a free slot (max_parallel).", registry=r
        )
        r.register(_TierCollector(status))

    def observe(self, result: Result) -> None:
        """Count one finished document."""
        tier = result.tier or "none"
        self.documents.labels(result.status, tier).inc()
        if result.error is not None:
            self.failures.labels(result.error.error_class.value).inc()
        for attempt in result.attempts:
            self.attempts.labels(attempt.tier, attempt.outcome).inc()
            self.attempt_seconds.labels(attempt.tier).observe(attempt.duration_ms / 1000)
        for from_tier, error_class in fallbacks(result):
            self.fallbacks.labels(from_tier, error_class).inc()
        for escalation in result.escalations:
            for name in escalation.doubtful:
                self.escalations.labels(escalation.tier, name).inc()
        for name in result.review:
            source = result.fields.get(name)
            self.reviews.labels(source.tier if source else "none", name).inc()
        self.cost.labels(result.cost_unit).inc(result.cost)
        self.request_seconds.labels(tier).observe(result.duration_ms / 1000)

    def count_request(self, path: str, code: int) -> None:
        self.requests.labels(path if path in ENDPOINTS else "other", str(code)).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


def fallbacks(result: Result) -> list[tuple[str, str]]:
    """(tier, error class) for each tier whose failure sent the request on to a later tier.

    A tier that failed and was followed by an answer, or by another tier's attempt, fell back; the
    last tier tried in a failed request did not (nothing came after it).
    """
    last_by_tier: dict[str, Any] = {}
    for attempt in result.attempts:
        last_by_tier[attempt.tier] = attempt
    tried = list(last_by_tier)
    if result.status == "failed" and tried:
        tried = tried[:-1]
    return [
        (tier, str(last_by_tier[tier].error_class.value))
        for tier in tried
        if tier != result.tier and last_by_tier[tier].error_class is not None
    ]


class _TierCollector(Collector):
    """Tier states, breaker states and recycles, read from the router at scrape time."""

    def __init__(self, status: Callable[[], dict[str, Any] | None]):
        self._status = status

    def collect(self) -> Iterator[Any]:
        status = self._status()
        if status is None:
            return
        states = GaugeMetricFamily("docroute_tier_state", "1 for the tier's current state.", labels=["tier", "state"])
        breakers = GaugeMetricFamily("docroute_breaker_state", "1 for the breaker's state.", labels=["tier", "state"])
        recycles = CounterMetricFamily("docroute_worker_recycles", "Worker processes replaced.", labels=["tier"])
        capacity = GaugeMetricFamily(
            "docroute_tier_capacity",
            "Requests the tier's started workers (times their capacity) or inline slots can hold at once.",
            labels=["tier"],
        )
        in_flight = GaugeMetricFamily(
            "docroute_tier_in_flight", "Requests the tier's workers hold now.", labels=["tier"]
        )
        for tier, info in status.items():
            current = str(info.get("state"))
            for state in dict.fromkeys([*TIER_STATES, current]):
                states.add_metric([tier, state], 1 if state == current else 0)
            for state in BREAKER_STATES:
                breakers.add_metric([tier, state], 1 if info.get("breaker") == state else 0)
            if "recycles" in info:
                recycles.add_metric([tier], float(info["recycles"]))
            if "capacity" in info:
                capacity.add_metric([tier], float(info["capacity"]))
                in_flight.add_metric([tier], float(info["in_flight"]))
        ready = GaugeMetricFamily("docroute_ready", "1 when at least one tier can answer.")
        ready.add_metric([], 1 if readiness(status)[0] else 0)
        yield from (states, breakers, recycles, capacity, in_flight, ready)
