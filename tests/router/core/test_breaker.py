"""The breaker opens on consecutive failures or a crash loop, probes once after its cooldown."""

from router.core.breaker import Breaker, BreakerState
from router.policy.model import BreakerPolicy


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def make(**settings):
    clock, events = Clock(), []
    breaker = Breaker(BreakerPolicy(**settings), clock=clock, on_change=lambda s, r, p: events.append((s, r)))
    return breaker, clock, events


def test_opens_after_threshold_consecutive_failures_and_a_success_resets_the_count():
    breaker, _, events = make(failure_threshold=3)
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.allow()
    breaker.record_failure()
    assert not breaker.allow()
    assert events == [(BreakerState.OPEN, "consecutive_failures")]


def test_half_open_lets_one_probe_through_and_its_success_closes():
    breaker, clock, events = make(failure_threshold=1, cooldown_s=10)
    breaker.record_failure()
    clock.now += 9.9
    assert not breaker.allow()
    clock.now += 0.2
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # nobody else while it runs
    breaker.record_success()
    assert breaker.allow() and breaker.state is BreakerState.CLOSED
    assert [e[0] for e in events] == [BreakerState.OPEN, BreakerState.HALF_OPEN, BreakerState.CLOSED]


def test_failed_probe_opens_again_for_a_full_cooldown():
    breaker, clock, events = make(failure_threshold=1, cooldown_s=10)
    breaker.record_failure()
    clock.now += 10
    assert breaker.allow()
    breaker.record_failure()
    assert events[-1] == (BreakerState.OPEN, "probe_failed")
    clock.now += 5
    assert not breaker.allow()
    assert breaker.probe_at == clock.now + 5


def test_crash_loop_opens_after_more_than_max_recycles_within_the_window():
    breaker, clock, events = make(max_recycles=2, recycle_window_s=60)
    breaker.record_recycle()
    clock.now += 61  # the first falls out of the window
    breaker.record_recycle()
    breaker.record_recycle()
    assert breaker.state is BreakerState.CLOSED
    breaker.record_recycle()
    assert events == [(BreakerState.OPEN, "crash_loop")]


def test_a_success_admitted_before_the_breaker_opened_does_not_close_it():
    """Found by the chaos drill: with concurrent requests, a request let through while the breaker
    was closed can succeed after a crash loop opened it; that must not end the cooldown."""
    breaker, clock, events = make(max_recycles=1, cooldown_s=10)
    assert breaker.allow()  # a request is let through, still running...
    breaker.record_recycle()
    breaker.record_recycle()  # ...while another worker's crash loop opens the breaker
    breaker.record_success()  # the first request's success arrives late
    assert breaker.state is BreakerState.OPEN and not breaker.allow()
    clock.now += 10
    assert breaker.allow()  # the probe, after the full cooldown
    breaker.record_success()
    assert [e[0] for e in events] == [BreakerState.OPEN, BreakerState.HALF_OPEN, BreakerState.CLOSED]
