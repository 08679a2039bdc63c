"""The supervisor watches: an idle worker that dies is replaced before a request meets it, and no
document is blamed for it; a spawn the OS refuses, or any unexpected failure of a supervising thread,
is logged and retried with backoff until the tier answers again. Real worker processes throughout."""

from __future__ import annotations

import errno
import os
import signal
from typing import Any

from structlog.testing import capture_logs

from router.core.runners import TierState
from router.workers.canary import canary_document
from router.workers.pool import WorkerPool, spawn_worker
from tests.router.workerkit import PRIMARY, events, make_policy, make_router, png, primary_tier, sha, wait_until

DOC = png(41)


def _served(router: Any) -> int:
    result = router.extract(DOC)
    assert (result.status, result.tier) == ("ok", "primary"), result
    pid: int = result.attempts[0].worker_pid
    return pid


def test_a_worker_killed_while_idle_is_replaced_before_a_request_meets_it_and_nobody_is_blamed():
    with capture_logs() as captured, make_router(primary_tier(preload=True, timeout_s=20)) as router:
        wait_until(lambda: router.status()["primary"]["state"] == "ready", what="primary ready")
        old = _served(router)
        os.kill(old, signal.SIGKILL)
        (death,) = wait_until(lambda: events(captured, "worker.died"), what="the watcher to see the death")
        wait_until(lambda: events(captured, "worker.recycled"), what="the replacement")
        new = _served(router)  # the same document: not quarantined, not failed
    assert new != old
    assert death["worker_pid"] == old and death["request_id"] is None
    assert (death["exitcode"], death["signal"], death["error_class"]) == (-9, "SIGKILL", "worker_crashed")
    (recycled,) = events(captured, "worker.recycled")
    assert (recycled["old_pid"], recycled["new_pid"], recycled["reason"]) == (old, new, "worker_crashed")
    assert events(captured, "attempt.failed") == [] and events(captured, "tier.skipped") == []
    assert not router.tiers[0].quarantined(sha(DOC))


class RefusingSpawn:
    """A spawn function that the OS refuses ``times`` times (EMFILE), then spawns for real."""

    def __init__(self, times: int):
        self.times = times
        self.calls = 0

    def __call__(self, options: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls <= self.times:
            raise OSError(errno.EMFILE, "Too many open files")
        return spawn_worker(options, **kwargs)


def _pool(spawn: Any, **hooks: Any) -> WorkerPool:
    tier = make_policy(primary_tier(breaker={"cooldown_s": 4})).tiers[0]
    return WorkerPool(tier, spawn=spawn, **hooks)


def test_a_spawn_the_os_refuses_is_retried_with_backoff_and_the_tier_answers_once_spawning_works():
    spawn = RefusingSpawn(times=3)
    with capture_logs() as captured:
        pool = _pool(spawn)
        try:
            pool.start()
            wait_until(lambda: events(captured, "worker.start_failed"), what="a refused spawn")
            assert pool.state() is TierState.LOADING  # not stuck: a retry is coming
            wait_until(lambda: pool.state() is TierState.READY, 30, what="the pool ready")
            outcome = pool.run(canary_document(), timeout_s=10, request_id="after-emfile")
        finally:
            pool.close()
    assert outcome.extraction.fields.model_dump(include=set(PRIMARY)) == PRIMARY
    failed = events(captured, "worker.start_failed")
    assert [(e["stage"], e["error_type"], e["worker_pid"]) for e in failed] == [("spawn", "OSError", None)] * 3
    assert [e["retry_in_s"] for e in failed] == [0.5, 1.0, 2.0]
    assert spawn.calls == 4 and len(events(captured, "worker.ready")) == 1


def test_an_unexpected_exception_in_a_supervising_thread_marks_the_slot_failed_and_is_retried():
    raised: list[str] = []

    def on_recycle() -> None:  # called by the start-up thread after a failed start; fails once
        if not raised:
            raised.append("boom")
            raise RuntimeError("a bug in a callback")

    with capture_logs() as captured:
        pool = _pool(RefusingSpawn(times=1), on_recycle=on_recycle)
        try:
            pool.start()
            wait_until(lambda: events(captured, "worker.supervision_failed"), what="the failure logged")
            wait_until(lambda: pool.state() is TierState.READY, 30, what="the pool ready again")
            assert pool.run(canary_document(), timeout_s=10, request_id="after-bug").extraction.fields.total
        finally:
            pool.close()
    (failure,) = events(captured, "worker.supervision_failed")
    assert (failure["task"], failure["slot"], failure["error_type"]) == ("start", 0, "RuntimeError")
    assert failure["retry_in_s"] == 0.5 and failure["log_level"] == "error"
