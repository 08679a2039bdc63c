"""With real worker processes: a faulty tier still opens its breaker on crashes, hangs and CUDA errors,
and never on documents it read and could not answer."""

from __future__ import annotations

import pytest

from tests.router.workerkit import fallback_tier, make_router, png, primary_tier, sha, wait_ready

pytestmark = pytest.mark.slow

GARBAGE = [png(300 + n) for n in range(6)]
FAULTS = {"sticky_cuda": png(400), "segfault": png(401), "hang": png(402)}


def test_faults_open_a_faulty_tiers_breaker_and_unanswerable_documents_do_not():
    triggers = {sha(doc): "garbage" for doc in GARBAGE} | {sha(doc): mode for mode, doc in FAULTS.items()}
    breaker = {"failure_threshold": 3, "cooldown_s": 600, "max_recycles": 100}
    primary = primary_tier({"triggers": triggers, "hang_s": 30}, preload=True, timeout_s=2, breaker=breaker)
    with make_router(primary, fallback_tier()) as router:
        wait_ready(router)
        for doc in GARBAGE:
            result = router.extract(doc)
            assert result.attempts[0].error_class == "invalid_output" and result.tier == "fallback"
        assert router.status()["primary"]["breaker"] == "closed"
        for mode, doc in FAULTS.items():
            wait_ready(router)
            failed = router.extract(doc).attempts[0]
            assert (failed.tier, failed.error_class) == (
                "primary",
                {"sticky_cuda": "sticky_cuda", "segfault": "worker_crashed", "hang": "timeout"}[mode],
            )
        assert router.status()["primary"]["breaker"] == "open"
        wait_ready(router)
        skipped = router.extract(png(500))
    assert [(s.tier, s.reason) for s in skipped.skipped] == [("primary", "breaker_open")]
    assert skipped.tier == "fallback"
