"""Worker lifecycle with real processes: handshake, lazy start and preload, unavailable start-ups,
idle unload, busy workers, and shutdown without orphans."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading

import psutil
import pytest
from structlog.testing import capture_logs

from router.core.runners import TierState
from router.drill.observe import is_multiprocessing_helper
from router.failures.errors import ErrorClass
from router.workers import WorkerPool
from tests.router.failures.test_signatures import HUB_MISSING
from tests.router.fakes import document
from tests.router.workerkit import (
    PRIMARY,
    events,
    fallback_tier,
    make_policy,
    make_router,
    png,
    primary_tier,
    sha,
    wait_ready,
    wait_until,
)

GOOD = png(1)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_a_worker_answers_from_its_own_process_after_the_ready_handshake_and_canary():
    policy = make_policy(primary_tier())
    with capture_logs() as captured:
        pool = WorkerPool(policy.tiers[0])
        try:
            assert pool.state() is TierState.IDLE
            pool.start()
            wait_until(lambda: pool.state() is TierState.READY, what="ready")
            outcome = pool.run(document(), timeout_s=5, request_id="r1")
        finally:
            pool.close()
    assert outcome.extraction.fields.model_dump(exclude_none=True, exclude={"line_items", "confidence"}) == PRIMARY
    assert outcome.worker_pid not in (None, os.getpid()) and outcome.worker_generation == 1
    assert outcome.extraction.meta["pid"] == outcome.worker_pid
    assert pool.state() is TierState.STOPPED and not _alive(outcome.worker_pid)
    (ready,) = events(captured, "worker.ready")
    assert ready["worker_pid"] == outcome.worker_pid
    assert all(ready[k] >= 0 for k in ("spawn_ms", "import_ms", "load_ms", "canary_ms", "duration_ms"))
    assert [e["reason"] for e in events(captured, "worker.stopped")] == ["close"]


def test_a_lazy_tier_starts_on_first_use_while_the_next_tier_answers():
    with capture_logs() as captured, make_router(primary_tier(), fallback_tier()) as router:
        assert router.status()["primary"]["state"] == "idle" and events(captured, "worker.starting") == []
        first = router.extract(GOOD)
        assert first.tier == "fallback"
        assert [(s.tier, s.reason) for s in first.skipped] == [("primary", "starting")]
        wait_ready(router)
        assert router.extract(GOOD).tier == "primary"


def test_preload_starts_workers_with_the_router():
    with make_router(primary_tier(preload=True, workers=2), fallback_tier()) as router:
        wait_ready(router)
        assert router.extract(GOOD).tier == "primary"


def test_a_request_waits_for_a_starting_tier_when_no_other_tier_can_answer():
    with make_router(primary_tier()) as router:
        result = router.extract(GOOD)
    assert result.status == "ok" and result.tier == "primary"
    assert [(s.tier, s.reason) for s in result.skipped] == [("primary", "starting")]


def test_a_busy_worker_is_waited_for_not_skipped():
    slow = png(2)
    with make_router(
        primary_tier({"triggers": {sha(slow): "slow"}, "slow_s": 1.0}, preload=True), fallback_tier()
    ) as router:
        wait_ready(router)
        results = {}
        thread = threading.Thread(target=lambda: results.update(slow=router.extract(slow)))
        thread.start()
        wait_until(lambda: router.status()["primary"]["state"] == "busy", what="busy")
        results["fast"] = router.extract(GOOD)
        thread.join()
    assert results["slow"].tier == results["fast"].tier == "primary"
    assert results["slow"].attempts[0].worker_pid == results["fast"].attempts[0].worker_pid


def test_missing_weights_at_start_up_make_the_tier_unavailable_without_a_restart_loop():
    primary = primary_tier({"fail_load": HUB_MISSING}, preload=True)
    with capture_logs() as captured, make_router(primary, fallback_tier()) as router:
        wait_until(lambda: router.status()["primary"]["state"] == "unavailable", what="unavailable")
        results = [router.extract(png(n)) for n in range(3)]
        assert "couldn't connect" in router.status()["primary"]["unavailable"]
    assert {r.tier for r in results} == {"fallback"}
    assert all([(s.tier, s.reason) for s in r.skipped] == [("primary", "unavailable")] for r in results)
    assert len(events(captured, "worker.starting")) == 1
    (failed,) = events(captured, "worker.start_failed")
    assert (failed["error_class"], failed["signature"], failed["stage"]) == (
        ErrorClass.UNAVAILABLE,
        "missing_weights",
        "start-up",
    )
    assert failed["retry_in_s"] is None and failed["error_type"] == "OSError"


def test_an_idle_worker_is_unloaded_and_started_again_on_demand():
    with (
        capture_logs() as captured,
        make_router(primary_tier(preload=True, idle_unload_s=0.3), fallback_tier()) as router,
    ):
        wait_ready(router)
        first = router.extract(GOOD)
        assert first.tier == "primary"
        wait_until(lambda: router.status()["primary"]["state"] == "idle", what="idle unload")
        wait_until(lambda: not _alive(first.attempts[0].worker_pid), what="the idle worker to exit")
        assert router.extract(GOOD).tier == "fallback"  # restarting; the next tier answers meanwhile
        wait_ready(router)
        again = router.extract(GOOD)
        assert again.tier == "primary" and again.attempts[0].worker_pid != first.attempts[0].worker_pid
    (unloaded,) = events(captured, "worker.idle_unloaded")[:1]
    assert unloaded["worker_pid"] == first.attempts[0].worker_pid
    assert "restart_after_idle" in [e["reason"] for e in events(captured, "worker.starting")]


def descendants() -> set[int]:
    """This process's children and theirs (workers are forked from the fork server), less the
    standard library's helpers, which live until the interpreter exits."""
    return {p.pid for p in psutil.Process().children(recursive=True) if not is_multiprocessing_helper(p)}


def test_close_stops_every_worker_and_leaves_no_child_process():
    before = descendants()
    router = make_router(primary_tier(preload=True, workers=2), fallback_tier())
    wait_ready(router)
    wait_until(lambda: len(descendants() - before) >= 2, what="two workers")
    workers = descendants() - before
    router.close()
    assert router.status()["primary"]["state"] == "stopped"
    assert not any(_alive(pid) for pid in workers)
    assert not (descendants() - before)


def test_workers_exit_when_the_router_process_is_killed():
    script = textwrap.dedent(
        """
        import os, signal, sys, time
        from router.observe import logs
        from tests.router.workerkit import make_router, primary_tier, wait_ready
        if __name__ == "__main__":
            logs.configure(stderr=False)
            router = make_router(primary_tier(preload=True))
            wait_ready(router)
            print(router.extract(b"" + open(sys.argv[1], "rb").read()).attempts[0].worker_pid, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"docroute-orphan-{os.getpid()}.py")
    image = path + ".png"
    with open(path, "w") as handle:
        handle.write(script)
    with open(image, "wb") as handle:
        handle.write(GOOD)
    try:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        done = subprocess.run([sys.executable, path, image], capture_output=True, text=True, timeout=60, env=env)
    finally:
        os.unlink(path)
        os.unlink(image)
    worker_pid = int(done.stdout.split()[0])
    wait_until(lambda: not _alive(worker_pid), timeout_s=10, what="the orphaned worker to exit")


@pytest.mark.slow
def test_the_router_process_never_imports_torch_while_its_worker_does():
    script = textwrap.dedent(
        """
        import sys
        from router.observe import logs
        from tests.router.workerkit import make_router, primary_tier, png, wait_ready
        if __name__ == "__main__":
            logs.configure(stderr=False)
            # ready before the request: a worker importing torch on a loaded machine takes longer
            # than the tier's 5 s timeout, which is not what this test is about
            with make_router(primary_tier({"imports": ["torch"]}, preload=True)) as router:
                wait_ready(router, timeout_s=90)
                result = router.extract(png(1))
            assert result.tier == "primary", result
            print("torch" in sys.modules)
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "False"


def test_a_worker_sees_the_parents_environment_as_it_is_when_the_worker_starts(tmp_path, monkeypatch):
    """Workers are forked from the fork server, which keeps the environment it started with: a
    variable set after it started (CUDA_VISIBLE_DEVICES by a Ray actor, say) must still reach a
    worker started later. The probe module is imported by the worker as it loads its backend."""
    with make_router(primary_tier(preload=True)) as first:  # the fork server runs from here on
        wait_ready(first)
    probe, seen = tmp_path / "docroute_env_probe.py", tmp_path / "seen.txt"
    probe.write_text('import os\nwith open(os.environ["DOCROUTE_PROBE_OUT"], "w") as f:\n    f.write("set late")\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("DOCROUTE_PROBE_OUT", str(seen))
    with make_router(primary_tier({"imports": ["docroute_env_probe"]}, preload=True)) as router:
        wait_ready(router)
        assert router.extract(GOOD).tier == "primary"
    assert seen.read_text() == "set late"
