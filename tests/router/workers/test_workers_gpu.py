"""On a CUDA machine: a real device-side assert (an out-of-range gather on the GPU) poisons the
worker's CUDA context for good, and only a new process recovers. Self-contained: the faulty
backend with ``cuda: on`` needs torch with CUDA, no model weights."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from backends.options import FaultyOptions
from router.api.inputs import load_document
from router.failures.errors import ErrorClass
from router.failures.signatures import classify
from router.policy.model import InputLimits
from router.workers.process import WorkerFailure, WorkerProcess
from tests.router.workerkit import FALLBACK, events, fallback_tier, make_router, png, primary_tier, sha, wait_ready

pytestmark = pytest.mark.gpu

GOOD = png(1)
POISON = png(2)
GPU_TIER = {"preload": True, "start_timeout_s": 180, "timeout_s": 60, "stop_grace_s": 5}


def test_a_real_device_side_assert_is_answered_by_the_next_tier_and_a_new_process_serves_again():
    primary = primary_tier({"cuda": "on", "triggers": {sha(POISON): "sticky_cuda"}}, **GPU_TIER)
    with capture_logs() as captured, make_router(primary, fallback_tier(), deadline_s=120) as router:
        wait_ready(router, timeout_s=180)
        first = router.extract(GOOD)
        assert first.tier == "primary", first
        hit = router.extract(POISON)
        assert hit.tier == "fallback" and hit.values() == FALLBACK
        failed = hit.attempts[0]
        assert failed.error_class is ErrorClass.STICKY_CUDA
        assert "device-side assert triggered" in failed.message  # the real text, from a real kernel assert
        wait_ready(router, timeout_s=180)
        again = router.extract(png(3))
        assert again.tier == "primary" and again.attempts[0].worker_pid != first.attempts[0].worker_pid
    (recycled,) = events(captured, "worker.recycled")
    assert recycled["old_pid"] == first.attempts[0].worker_pid


def test_after_a_real_device_side_assert_even_innocent_calls_fail_in_that_process():
    worker = WorkerProcess(
        FaultyOptions(cuda="on", triggers={sha(POISON): "sticky_cuda"}), name="gpu-test", generation=1
    )
    worker.spawn()
    try:
        worker.wait_ready(180)
        poison, innocent = (load_document(data, InputLimits()) for data in (POISON, GOOD))
        assert worker.request("before", innocent, 60)["fields"]["merchant"]
        for request_id, doc in (("poison", poison), ("innocent", innocent)):
            with pytest.raises(WorkerFailure) as failed:
                worker.request(request_id, doc, 60)
            assert classify(failed.value.info).error_class is ErrorClass.STICKY_CUDA
            assert "device-side assert triggered" in failed.value.info.message
            assert "backends.testing.faulty" not in failed.value.info.type  # raised by torch, not simulated
    finally:
        worker.stop(5, graceful=False)


def test_a_real_device_side_assert_in_a_batch_of_4_fails_all_4_over_to_the_next_tier_with_one_recycle():
    from concurrent.futures import ThreadPoolExecutor

    primary = primary_tier(
        {"cuda": "on", "triggers": {sha(POISON): "sticky_cuda"}}, capacity=4, batch_window_ms=1000, **GPU_TIER
    )
    batch = [POISON, png(4), png(5), png(6)]
    with capture_logs() as captured, make_router(primary, fallback_tier(), deadline_s=120) as router:
        wait_ready(router, timeout_s=180)
        with ThreadPoolExecutor(4) as threads:
            results = list(threads.map(router.extract, batch))
        wait_ready(router, timeout_s=180)
        again = router.extract(png(7))
    assert [r.tier for r in results] == ["fallback"] * 4  # nothing lost: all four answered
    failed = [r.attempts[0] for r in results]
    assert {a.error_class for a in failed} == {ErrorClass.STICKY_CUDA}
    assert all("device-side assert triggered" in (a.message or "") for a in failed)
    assert len({a.worker_pid for a in failed}) == 1
    (recycled,) = events(captured, "worker.recycled")  # one recycle for the whole batch
    assert again.tier == "primary" and again.attempts[0].worker_pid == recycled["new_pid"]
