"""Recovery with real worker processes: a poisoned, hung or crashed worker is replaced off the
request's path, the request is answered by the next tier, and the tier serves again."""

from __future__ import annotations

import time

import psutil
import pytest
from structlog.testing import capture_logs

from router.failures.errors import ErrorClass
from tests.router.workerkit import (
    FALLBACK,
    PRIMARY,
    events,
    fallback_tier,
    make_router,
    png,
    primary_tier,
    sha,
    wait_ready,
    wait_until,
)

GOOD = png(1)
POISON = png(2)


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_sticky_error_is_answered_by_the_next_tier_then_a_new_primary_worker_serves_again():
    with capture_logs() as captured:
        router = make_router(primary_tier({"triggers": {sha(POISON): "sticky_cuda"}}, preload=True), fallback_tier())
        with router:
            wait_ready(router)
            first = router.extract(GOOD)
            assert first.tier == "primary" and first.values() == PRIMARY
            old_pid = first.attempts[0].worker_pid

            hit = router.extract(POISON, request_id="poison-1")
            assert (hit.status, hit.tier, hit.values()) == ("degraded", "fallback", FALLBACK)
            failed = hit.attempts[0]
            assert (failed.tier, failed.error_class, failed.signature) == (
                "primary",
                ErrorClass.STICKY_CUDA,
                "cuda_device_assert",
            )
            assert failed.worker_pid == old_pid and failed.worker_generation == 1

            wait_ready(router)
            again = router.extract(png(3))
            assert again.tier == "primary" and again.status == "ok"
            assert again.attempts[0].worker_pid != old_pid
            assert again.attempts[0].worker_generation == 2
    assert _gone(old_pid)
    (recycled,) = events(captured, "worker.recycled")
    assert recycled["old_pid"] == old_pid and recycled["new_pid"] == again.attempts[0].worker_pid
    assert recycled["reason"] == "sticky_cuda" and recycled["generation"] == 2
    for timing in ("duration_ms", "stop_ms", "spawn_ms", "import_ms", "load_ms", "canary_ms"):
        assert recycled[timing] >= 0, timing
    (poisoned,) = events(captured, "worker.poisoned")
    assert poisoned["request_id"] == "poison-1" and poisoned["recent_requests"][-1] == "poison-1"


def test_a_document_that_poisoned_a_tier_skips_it_later_and_does_not_recycle_it_again():
    with (
        capture_logs() as captured,
        make_router(primary_tier({"triggers": {sha(POISON): "sticky_cuda"}}, preload=True), fallback_tier()) as router,
    ):
        wait_ready(router)
        assert router.extract(POISON).tier == "fallback"
        wait_ready(router)
        again = router.extract(POISON)
        assert again.tier == "fallback" and again.attempts[0].tier == "fallback"
        assert [(s.tier, s.reason) for s in again.skipped] == [("primary", "quarantined")]
        assert router.extract(GOOD).tier == "primary"
    assert len(events(captured, "worker.recycling")) == 1
    skipped = [e for e in events(captured, "tier.skipped") if e["reason"] == "quarantined"]
    assert len(skipped) == 1


def test_a_hung_backend_is_killed_at_its_timeout_and_the_request_falls_back_within_its_deadline():
    hang = png(4)
    with (
        capture_logs() as captured,
        make_router(
            primary_tier({"triggers": {sha(hang): "hang"}}, preload=True, timeout_s=1.0), fallback_tier(), deadline_s=5
        ) as router,
    ):
        wait_ready(router)
        started = time.monotonic()
        result = router.extract(hang)
        elapsed = time.monotonic() - started
        assert result.tier == "fallback" and result.attempts[0].error_class is ErrorClass.TIMEOUT
        assert 1.0 <= elapsed < 5.0
        hung_pid = result.attempts[0].worker_pid
        wait_until(lambda: _gone(hung_pid), what="the hung worker to be killed")
        wait_ready(router)
        assert router.extract(GOOD).tier == "primary"
    (timeout,) = events(captured, "worker.timeout")
    assert timeout["worker_pid"] == hung_pid and timeout["request_id"] == result.request_id


@pytest.mark.parametrize(
    ("mode", "exitcode", "text"),
    [("segfault", -11, "killed by signal SIGSEGV"), ("exit", 3, "exited with code 3")],
)
def test_a_dying_backend_is_classified_worker_crashed_with_its_signal_or_exit_code(mode, exitcode, text):
    bad = png(5)
    with (
        capture_logs() as captured,
        make_router(primary_tier({"triggers": {sha(bad): mode}}, preload=True), fallback_tier()) as router,
    ):
        wait_ready(router)
        result = router.extract(bad)
        failed = result.attempts[0]
        assert result.tier == "fallback"
        assert (failed.error_class, failed.signature) == (ErrorClass.WORKER_CRASHED, "worker_signal")
        assert text in failed.message
        wait_ready(router)
        assert router.extract(GOOD).tier == "primary"
    (died,) = events(captured, "worker.died")
    assert died["exitcode"] == exitcode and died["worker_pid"] == failed.worker_pid


def test_the_recent_request_ids_of_a_dead_worker_are_logged_for_forensics():
    bad = png(6)
    with (
        capture_logs() as captured,
        make_router(primary_tier({"triggers": {sha(bad): "exit"}}, preload=True), fallback_tier()) as router,
    ):
        wait_ready(router)
        for number in range(3):
            assert router.extract(png(10 + number), request_id=f"before-{number}").tier == "primary"
        router.extract(bad, request_id="last")
    (died,) = events(captured, "worker.died")
    assert died["recent_requests"][-4:] == ["before-0", "before-1", "before-2", "last"]


@pytest.mark.parametrize(
    ("mode", "error_class"), [("garbage", ErrorClass.INVALID_OUTPUT), ("cuda_oom", ErrorClass.CUDA_OOM)]
)
def test_failures_that_leave_the_process_healthy_do_not_recycle_it(mode, error_class):
    bad = png(7)
    with (
        capture_logs() as captured,
        make_router(primary_tier({"triggers": {sha(bad): mode}}, preload=True), fallback_tier()) as router,
    ):
        wait_ready(router)
        result = router.extract(bad)
        assert result.tier == "fallback" and result.attempts[0].error_class is error_class
        assert router.status()["primary"]["state"] == "ready"
        after = router.extract(GOOD)
        assert after.tier == "primary" and after.attempts[0].worker_pid == result.attempts[0].worker_pid
    assert events(captured, "worker.recycling") == []


def test_a_crash_loop_opens_the_breaker_later_requests_skip_the_tier_and_the_half_open_probe_restores_it():
    poisons = [png(20 + n) for n in range(3)]
    breaker = {"max_recycles": 2, "recycle_window_s": 60, "cooldown_s": 1.0, "failure_threshold": 100}
    primary = primary_tier({"triggers": {sha(p): "sticky_cuda" for p in poisons}}, preload=True, breaker=breaker)
    with capture_logs() as captured, make_router(primary, fallback_tier()) as router:
        for poison in poisons:
            wait_ready(router)
            assert router.extract(poison).tier == "fallback"
        assert router.status()["primary"]["breaker"] == "open"
        wait_ready(router)
        skipped = router.extract(GOOD)
        assert skipped.tier == "fallback"
        assert [(s.tier, s.reason) for s in skipped.skipped] == [("primary", "breaker_open")]
        (opened,) = [e for e in events(captured, "breaker.open")]
        assert opened["reason"] == "crash_loop" and opened["probe_in_s"] == pytest.approx(1.0, abs=0.2)
        time.sleep(1.05)
        probe = router.extract(png(30))
        assert probe.tier == "primary" and probe.status == "ok"
        assert router.status()["primary"]["breaker"] == "closed"
    assert [e["event"] for e in captured if e["event"].startswith("breaker.")] == [
        "breaker.open",
        "breaker.half_open",
        "breaker.closed",
    ]


def test_failed_canaries_count_as_recycles_back_off_and_open_the_breaker_without_any_request():
    breaker = {"max_recycles": 1, "recycle_window_s": 60, "cooldown_s": 30, "failure_threshold": 100}
    primary = primary_tier({"faults": {"sticky_cuda": 1.0}}, preload=True, breaker=breaker)
    with capture_logs() as captured, make_router(primary, fallback_tier()) as router:
        wait_until(lambda: router.status()["primary"]["breaker"] == "open", what="the breaker to open")
        result = router.extract(GOOD)
        assert result.tier == "fallback"
    failed = events(captured, "worker.start_failed")
    assert len(failed) >= 2
    assert {e["stage"] for e in failed} == {"canary"} and {e["error_class"] for e in failed} == {"sticky_cuda"}
    assert [e["retry_in_s"] for e in failed[:2]] == [0.5, 1.0]
    assert events(captured, "worker.ready") == []


def test_a_timeout_set_by_the_request_deadline_does_not_kill_a_healthy_slow_worker():
    slow = png(8)
    primary = primary_tier({"triggers": {sha(slow): "slow"}, "slow_s": 1.0}, preload=True, timeout_s=5)
    with capture_logs() as captured, make_router(primary, deadline_s=0.5) as router:
        wait_ready(router)
        cut = router.extract(slow)
        assert cut.status == "failed" and cut.attempts[0].error_class is ErrorClass.TIMEOUT
        pid = cut.attempts[0].worker_pid
        wait_until(lambda: events(captured, "worker.drained"), what="the slow answer to be drained")
        assert router.status()["primary"]["state"] == "ready"
        after = router.extract(GOOD)
        assert after.tier == "primary" and after.attempts[0].worker_pid == pid
    assert events(captured, "worker.recycling") == [] and events(captured, "worker.timeout") == []
