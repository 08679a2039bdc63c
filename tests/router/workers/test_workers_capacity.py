"""Workers that take several requests at once (a tier's ``capacity``) and answer them in one batched
call: each answer reaches its own request, a request's own deadline does not stop its batch, a
failure of the shared call fails the whole batch and retires the process once, and the pool,
``Router.status`` and the policy count capacity, not processes. Real worker processes with the
faulty backend, whose ``extract_batch`` behaves like a model backend's batched generate."""

from __future__ import annotations

import hashlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from structlog.testing import capture_logs

from backends.options import FaultyOptions
from router.failures.errors import AttemptError, ErrorClass, PolicyError
from router.policy.model import policy_from_dict
from router.workers.pool import WorkerPool
from router.workers.process import WorkerFailure, WorkerGone, WorkerProcess
from tests.router.fakes import document as fake_document
from tests.router.workerkit import PRIMARY, events, make_policy, png, primary_tier, wait_until

WINDOW_MS = 400  # wide enough that four requests sent together on a loaded machine share a batch


def _document() -> Any:
    doc = fake_document()
    return fake_document(hashlib.sha256(doc.sha256.encode()).hexdigest())


def _pool(capacity: int = 4, **backend: Any) -> WorkerPool:
    tier = primary_tier(backend, capacity=capacity, batch_window_ms=WINDOW_MS, preload=True, timeout_s=10)
    pool = WorkerPool(make_policy(tier).tiers[0])
    pool.start()
    wait_until(lambda: pool.load() == (capacity, 0), 30, what="the worker ready")
    return pool


def _together(pool: WorkerPool, documents: list[Any], timeouts: list[float] | None = None) -> list[Any]:
    """Run the documents at once (each on its own thread, as the router's requests do); each
    request's RunOutcome or its AttemptError."""
    timeouts = timeouts or [10.0] * len(documents)
    start = threading.Barrier(len(documents))

    def one(index: int) -> Any:
        start.wait()
        try:
            return pool.run(documents[index], timeout_s=timeouts[index], request_id=f"req-{index}")
        except AttemptError as failed:
            return failed

    with ThreadPoolExecutor(len(documents)) as threads:
        return list(threads.map(one, range(len(documents))))


def test_a_worker_answers_requests_sent_together_in_one_batch_each_to_its_own_request():
    worker = WorkerProcess(
        FaultyOptions(cuda="off", fields=PRIMARY), name="batching", generation=1, capacity=4, window_s=0.5
    )
    worker.spawn()
    try:
        worker.wait_ready(30)
        documents = [_document() for _ in range(4)]
        waiting = [worker.submit(f"r{i}", doc) for i, doc in enumerate(documents)]
        answers = [worker.collect(pending, deadline=time.monotonic() + 10, limit_s=10) for pending in waiting]
    finally:
        worker.stop(0.5, graceful=True)
    assert [a["meta"]["document"] for a in answers] == [d.sha256[:16] for d in documents]  # each its own
    assert {a["meta"]["batch_size"] for a in answers} == {4}  # one batched call
    assert len({a["meta"]["call"] for a in answers}) == 1
    assert worker.in_flight == 0


def test_a_device_side_assert_in_a_batch_of_four_fails_all_four_and_recycles_the_worker_once():
    poison = _document()
    pool = _pool(triggers={poison.sha256[:16]: "sticky_cuda"})
    try:
        with capture_logs() as captured:
            outcomes = _together(pool, [poison, _document(), _document(), _document()])
            wait_until(lambda: events(captured, "worker.recycled"), 30, what="the replacement")
            after = pool.run(_document(), timeout_s=10, request_id="after")
    finally:
        pool.close()
    assert all(isinstance(o, AttemptError) for o in outcomes), outcomes
    assert {o.failure.error_class for o in outcomes} == {ErrorClass.STICKY_CUDA}
    assert len({o.worker["pid"] for o in outcomes}) == 1
    assert len({o.worker["shared"] for o in outcomes}) == 1  # one event: the breaker counts it once
    assert len(events(captured, "worker.poisoned")) == 1 and len(events(captured, "worker.recycled")) == 1
    assert after.worker_pid != outcomes[0].worker["pid"]  # a new process, a fresh context
    assert after.extraction.fields.merchant == PRIMARY["merchant"]


def test_a_crash_in_a_batch_fails_every_request_in_it_as_worker_crashed_and_recycles_once():
    poison = _document()
    pool = _pool(triggers={poison.sha256[:16]: "segfault"})
    try:
        with capture_logs() as captured:
            outcomes = _together(pool, [_document(), poison, _document()])
            wait_until(lambda: events(captured, "worker.recycled"), 30, what="the replacement")
    finally:
        pool.close()
    assert {o.failure.error_class for o in outcomes} == {ErrorClass.WORKER_CRASHED}
    assert len(events(captured, "worker.died")) == 1 and len(events(captured, "worker.recycled")) == 1


def test_a_document_that_fails_alone_in_a_batch_fails_only_its_own_request():
    bad = _document()
    pool = _pool(triggers={bad.sha256[:16]: "garbage"})
    try:
        with capture_logs() as captured:
            good, garbage, also_good = _together(pool, [_document(), bad, _document()])
    finally:
        pool.close()
    assert isinstance(garbage, AttemptError) and garbage.failure.error_class is ErrorClass.INVALID_OUTPUT
    assert good.extraction.meta["batch_size"] == also_good.extraction.meta["batch_size"] == 3
    assert good.worker_pid == also_good.worker_pid == garbage.worker["pid"]
    assert events(captured, "worker.recycled") == []


def test_a_request_whose_deadline_passes_times_out_without_stopping_the_others_batch():
    pool = _pool(faults={"slow": 1.0}, slow_s=1.5)
    try:
        with capture_logs() as captured:
            short, long_a, long_b = _together(pool, [_document()] * 3, timeouts=[0.5, 10, 10])
            wait_until(lambda: events(captured, "worker.drained"), 10, what="the short request's drain")
            assert pool.load() == (4, 0)  # its place in the worker is given back after the batch
    finally:
        pool.close()
    assert isinstance(short, AttemptError) and short.failure.error_class is ErrorClass.TIMEOUT
    assert short.worker["shared"] is None  # its own timeout: the worker is not retired, each counts
    assert long_a.extraction.meta["batch_size"] == long_b.extraction.meta["batch_size"] == 3
    assert long_a.worker_pid == long_b.worker_pid == short.worker["pid"]
    assert events(captured, "worker.recycled") == [] and events(captured, "worker.poisoned") == []


def test_the_router_counts_capacity_not_processes():
    policy = make_policy(primary_tier(capacity=4, workers=2, preload=True))
    from router import Router

    with Router(policy) as router:
        wait_until(lambda: router.status()["primary"]["capacity"] == 8, 30, what="both workers ready")
        assert router.parallelism() == 8
        assert router.status()["primary"]["in_flight"] == 0
        result = router.extract(png(1), name="one.png")
    assert result.status == "ok"


@pytest.mark.parametrize(
    ("tier", "expected"),
    [
        ({"backend": {"kind": "ocr_rules"}}, "ocr_rules backends answer one document per call"),
        ({"backend": {"kind": "faulty"}, "isolation": "inline"}, "needs isolation: process"),
    ],
)
def test_a_policy_refuses_capacity_where_no_worker_batches(tier, expected):
    with pytest.raises(PolicyError) as refused:
        policy_from_dict({"tiers": [{"name": "t", "capacity": 4, **tier}]})
    assert expected in str(refused.value) and "capacity" in str(refused.value)


def test_a_failure_shared_by_a_batch_counts_once_toward_the_breaker_and_quarantines_each_document():
    from router.core.breaker import Breaker
    from router.core.health import Health
    from router.policy.model import BreakerPolicy

    health = Health(Breaker(BreakerPolicy(failure_threshold=2)), quarantine_s=60)
    for document in ("a", "b", "c", "d"):
        health.record(ErrorClass.STICKY_CUDA, document, shared="worker:123:1")
    assert health.breaker.state.value == "closed"  # four requests, one device-side assert
    assert all(health.quarantined(d) for d in "abcd")
    health.record(ErrorClass.STICKY_CUDA, "e", shared="worker:456:2")
    assert health.breaker.state.value == "open"  # a second event


def test_a_retired_worker_takes_no_new_request_and_the_pool_gives_it_to_another_unblamed():
    from router.failures.errors import Failure
    from router.workers.process import WorkerGone

    worker = WorkerProcess(FaultyOptions(cuda="off", fields=PRIMARY), name="retired", generation=1)
    worker.spawn()
    try:
        worker.wait_ready(30)
        worker.fail_pending(Failure.own(ErrorClass.STICKY_CUDA, "cuda_device_assert", "retired"))
        with pytest.raises(WorkerGone):
            worker.submit("late", _document())  # never sent: it cannot be failed as this worker's
        assert worker.in_flight == 0
    finally:
        worker.stop(0.5, graceful=True)


def _kill(pid: int) -> None:
    import os
    import signal

    os.kill(pid, signal.SIGKILL)


def test_a_request_still_in_the_pipe_when_its_worker_dies_was_never_its_to_answer():
    slow = _document()
    worker = WorkerProcess(
        FaultyOptions(cuda="off", fields=PRIMARY, triggers={slow.sha256[:16]: "slow"}, slow_s=5.0),
        name="dying",
        generation=1,
        capacity=2,
        window_s=0.0,
    )
    worker.spawn()
    try:
        worker.wait_ready(30)
        busy = worker.submit("busy", slow)
        wait_until(lambda: busy.received, 10, what="the first request read")
        time.sleep(0.2)  # the worker is inside its call, not reading
        queued = worker.submit("queued", _document())
        assert not queued.received
        _kill(worker.pid)
        with pytest.raises(WorkerFailure) as died:
            worker.collect(busy, deadline=time.monotonic() + 10, limit_s=10)
        with pytest.raises(WorkerGone) as unread:
            worker.collect(queued, deadline=time.monotonic() + 10, limit_s=10)
    finally:
        worker.stop(0.5, graceful=False)
    assert died.value.failure.error_class is ErrorClass.WORKER_CRASHED  # it held the request that killed it
    assert unread.value.failure is not None and unread.value.failure.error_class is ErrorClass.WORKER_CRASHED
    assert worker.in_flight == 0


def test_the_pool_gives_a_request_its_dying_worker_never_read_to_the_next_worker_unblamed():
    slow = _document()
    tier = primary_tier(
        {"triggers": {slow.sha256[:16]: "slow"}, "slow_s": 5.0},
        capacity=2,
        batch_window_ms=0,
        preload=True,
        timeout_s=20,
    )
    pool = WorkerPool(make_policy(tier).tiers[0])
    pool.start()
    outcomes: dict[str, Any] = {}

    def run(name: str, document: Any) -> None:
        try:
            outcomes[name] = pool.run(document, timeout_s=20, request_id=name)
        except AttemptError as failed:
            outcomes[name] = failed

    try:
        wait_until(lambda: pool.load() == (2, 0), 30, what="the worker ready")
        first = pool._slots[0].worker
        busy = threading.Thread(target=run, args=("busy", slow))
        busy.start()
        wait_until(lambda: any(p.received for p in list(first._pending.values())), 10, what="the first read")
        time.sleep(0.2)  # inside its slow call, not reading
        queued = threading.Thread(target=run, args=("queued", _document()))
        queued.start()
        wait_until(lambda: first.in_flight == 2, 10, what="the second request sent")
        with capture_logs() as captured:
            _kill(first.pid)
            busy.join(30)
            queued.join(30)
    finally:
        pool.close()
    assert isinstance(outcomes["busy"], AttemptError)
    assert outcomes["busy"].failure.error_class is ErrorClass.WORKER_CRASHED
    answered = outcomes["queued"]
    assert not isinstance(answered, AttemptError), answered  # answered by the replacement, not failed
    assert answered.worker_pid != first.pid and answered.worker_generation > first.generation
    assert len(events(captured, "worker.died")) == 1


def test_a_drained_request_whose_worker_ends_before_reading_it_gives_its_place_back():
    slow = _document()
    tier = primary_tier(
        {"triggers": {slow.sha256[:16]: "slow"}, "slow_s": 5.0}, capacity=2, batch_window_ms=0, preload=True
    )
    pool = WorkerPool(make_policy(tier).tiers[0])
    pool.start()
    try:
        wait_until(lambda: pool.load() == (2, 0), 30, what="the worker ready")
        first = pool._slots[0].worker
        busy = threading.Thread(target=lambda: _quietly(pool, slow, 20, "busy"))
        busy.start()
        wait_until(lambda: any(p.received for p in list(first._pending.values())), 10, what="the first read")
        time.sleep(0.2)
        with capture_logs() as captured:
            short = _quietly(pool, _document(), 0.5, "short")  # gives up while unread: drained
            assert isinstance(short, AttemptError) and short.failure.error_class is ErrorClass.TIMEOUT
            _kill(first.pid)
            busy.join(30)
            wait_until(lambda: pool.load() == (2, 0), 30, what="the replacement ready, no place held")
    finally:
        pool.close()
    assert not events(captured, "worker.supervision_failed")


def _quietly(pool: WorkerPool, document: Any, timeout_s: float, name: str) -> Any:
    try:
        return pool.run(document, timeout_s=timeout_s, request_id=name)
    except AttemptError as failed:
        return failed


def test_a_direct_request_to_a_worker_that_ended_fails_as_its_death_not_as_worker_gone():
    worker = WorkerProcess(FaultyOptions(cuda="off", fields=PRIMARY), name="canary", generation=1)
    worker.spawn()
    try:
        worker.wait_ready(30)
        _kill(worker.pid)
        wait_until(lambda: not worker.accepting(), 10, what="the death seen")
        with pytest.raises(WorkerFailure) as died:  # the canary: no other worker to go to
            worker.request("canary-1", _document(), 5)
    finally:
        worker.stop(0.5, graceful=False)
    assert died.value.failure.error_class is ErrorClass.WORKER_CRASHED
