"""warm_start with real processes: no document is admitted until the tier's workers are up, its
deadline begins after that, the tier reads 'warming' meanwhile, and a failed start ends the wait."""

from __future__ import annotations

import time

import pytest
from structlog.testing import capture_logs

from router.service.readiness import readiness, warming
from tests.router.failures.test_signatures import HUB_MISSING
from tests.router.workerkit import events, fallback_tier, make_router, png, primary_tier, wait_until

pytestmark = pytest.mark.slow

#: Longer than the deadline: a start charged to the first document would fail it.
STARTUP_S = 1.0
DEADLINE_S = 0.8


def _slow_start(**tier: object) -> dict[str, object]:
    return primary_tier({"startup_s": STARTUP_S}, workers=2, timeout_s=0.6, **tier)


def test_a_warm_start_tier_admits_the_first_document_once_every_worker_is_up_and_off_its_deadline():
    began = time.monotonic()
    with make_router(_slow_start(warm_start=True), fallback_tier(), deadline_s=DEADLINE_S) as router:
        status = router.status()
        assert status["primary"]["state"] == "warming" and router.warming()
        assert readiness(status)[0] is False and warming(status)  # the inline fallback could answer: still not ready
        result = router.extract(png(1))
        waited = time.monotonic() - began
        status = router.status()
    assert (result.status, result.tier) == ("ok", "primary"), result
    assert waited >= STARTUP_S and result.duration_ms < DEADLINE_S * 1000  # the start was not the request's
    assert status["primary"]["state"] == "ready" and status["primary"]["capacity"] == 2  # both workers, not one
    assert readiness(status)[0] is True and not warming(status)


def test_preload_alone_lets_a_later_tier_answer_while_the_workers_load():
    with make_router(_slow_start(preload=True), fallback_tier(), deadline_s=DEADLINE_S) as router:
        assert router.status()["primary"]["state"] == "loading" and not router.warming()
        result = router.extract(png(1))
    assert result.tier == "fallback" and [(s.tier, s.reason) for s in result.skipped] == [("primary", "starting")]


def test_a_first_start_that_fails_ends_the_warm_up_at_once():
    primary = primary_tier({"fail_load": HUB_MISSING}, warm_start=True, start_timeout_s=30)
    with capture_logs() as captured, make_router(primary, fallback_tier()) as router:
        began = time.monotonic()
        result = router.extract(png(1))
        waited = time.monotonic() - began
    assert result.tier == "fallback" and [(s.tier, s.reason) for s in result.skipped] == [("primary", "unavailable")]
    assert waited < 10  # the failed start, not start_timeout_s
    assert len(events(captured, "worker.start_failed")) == 1


def test_a_start_that_keeps_failing_is_retried_in_the_background_without_holding_documents_back():
    primary = primary_tier({"fail_load": "RuntimeError: the backend could not load"}, warm_start=True)
    with capture_logs() as captured, make_router(primary, fallback_tier()) as router:
        wait_until(lambda: events(captured, "worker.start_failed"), what="a failed start")
        assert router.status()["primary"]["state"] == "loading" and not router.warming()
        result = router.extract(png(1))
    assert result.tier == "fallback"
