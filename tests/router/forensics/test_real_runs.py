"""The forensics tools on logs of real runs: worker processes running the faulty backend, with
sticky CUDA errors, a hang, segfaults, invalid output, slow answers and a crash loop."""

from __future__ import annotations

import pytest

from router.forensics.incidents import incident_report
from router.forensics.reader import read_logs
from router.forensics.replay import replay
from router.forensics.trail import trail
from router.observe import events
from router.policy.model import policy_from_dict
from tests.router.forensics.conftest import CHAOS, LOOP
from tests.router.workerkit import sha

pytestmark = pytest.mark.slow


def outcome(result):
    return (result.status, result.tier, result.error.error_class.value if result.error else None)


def attempts_of(result):
    return [f"{a.tier}:{'ok' if a.outcome == 'succeeded' else a.error_class}" for a in result.attempts]


def test_every_event_of_real_runs_matches_the_schema(chaos, crash_loop, misc_run):
    logged = read_logs([run.log for run in (*chaos.values(), *crash_loop.values())] + [misc_run])
    assert not logged.warnings
    problems = sorted({p for event in logged.events for p in events.validate(event)})
    assert problems == []
    seen = {e["event"] for e in logged.events}
    # not in these runs: a preflight failure, a router bug, a deadline that cuts a worker's attempt short,
    # and batch jobs and the service (their events are checked against the schema in
    # tests/router/batch/test_batch_faults.py and tests/router/service/test_service_refusals.py), and a
    # cascade's escalation (tests/router/forensics/test_whatif.py checks its run against the schema)
    batch = {name for name in events.BY_NAME if name.startswith(("batch.", "service."))}
    unseen = {"tier.unavailable", "request.crashed", "worker.drained", "worker.supervision_failed"}
    unseen |= {"route.low_confidence"}
    assert set(events.BY_NAME) - seen - batch == unseen


def test_incidents_of_a_chaos_run(chaos):
    report = incident_report(read_logs([chaos["a"].log]))
    assert report["failures"] == {
        "vision": {"sticky_cuda": 2, "invalid_output": 2, "timeout": 1, "worker_crashed": 1},
        "backup": {"invalid_output": 3},
        "fallback": {"invalid_output": 3},
    }
    assert report["status"] == {"ok": 2, "degraded": 3, "failed": 3}
    assert report["recycles"]["by_tier"] == {"vision": 4}
    assert report["recycles"]["deaths"] == {"vision: hung (timeout)": 1, "vision: signal 11": 1}
    poisoning = {d["sha256"]: d for d in report["poisoning_documents"]}
    assert set(poisoning) == {sha(CHAOS[1]), sha(CHAOS[4]), sha(CHAOS[5])}
    # the first sticky error hit a worker that had served document 0 before: a suspect
    assert poisoning[sha(CHAOS[1])]["suspects"] == [sha(CHAOS[0])]
    assert [r["sha256"] for r in report["degraded"]] == [sha(CHAOS[i]) for i in (1, 2, 3)]
    assert report["slowest"][0]["sha256"] == sha(CHAOS[3])  # the hang, cut at its 2 s timeout
    assert report["unfinished"] == []


def test_incidents_of_a_crash_loop(crash_loop):
    report = incident_report(read_logs([crash_loop["a"].log]))
    assert [(b["event"], b["detail"]["reason"]) for b in report["breakers"]] == [("breaker.open", "crash_loop")]
    assert report["recycles"]["deaths"] == {"vision: signal 11": 3}
    assert report["skips"] == {"vision": {"breaker_open": 2}}
    timeline = [e["event"] for e in report["timeline"]]
    assert timeline.index("breaker.open") > timeline.index("worker.died")


def test_the_trail_of_a_crashed_request_follows_it_into_its_worker(crash_loop):
    logged = read_logs([crash_loop["a"].log]).events
    story = trail(logged, "loop-a-2")
    names = [step.event["event"] for step in story.steps]
    assert names[0] == "request.received" and "request.done" in names
    died = next(s.event for s in story.steps if s.event["event"] == "worker.died")
    assert died["request_id"] == "loop-a-2" and died["exitcode"] == -11
    recycled = next(s.event for s in story.steps if s.event["event"] == "worker.recycled")
    assert recycled["old_pid"] == died["worker_pid"] != recycled["new_pid"]
    assert names.index("worker.died") < names.index("breaker.open") < names.index("worker.recycled")
    failed = next(s.event for s in story.steps if s.event["event"] == "attempt.failed")
    assert failed["worker_pid"] == died["worker_pid"] != failed["pid"]  # across processes


def test_replay_predicts_what_the_new_policy_really_does(chaos):
    """Replay A's log under B (shorter timeout, no fallback on invalid output, relaxed fallback
    gate); B run for real on the same documents with the same faults agrees on every request
    replay could decide."""
    report = replay(read_logs([chaos["a"].log]).events, policy_from_dict(chaos["b"].policy))
    actual = chaos["b"].results
    decided = [(p, r) for p, r in zip(report.predictions, actual, strict=True) if p.predicted is not None]
    wrong = [
        (p, r) for p, r in decided if (p.predicted.status, p.predicted.tier, p.predicted.error_class) != outcome(r)
    ]
    confirmed = len(decided) - len(wrong)
    print(f"\nreplay chaos: {len(decided)}/{len(actual)} decided, {confirmed} confirmed, {report.counts()}")
    assert wrong == []
    for p, r in decided:
        assert [s for s in p.predicted.path if ":skip(" not in s] == attempts_of(r), p.request_id
    changes = {p.request_id: p.change for p in report.predictions}
    assert changes["chaos-a-2"] == "newly_failed"  # vision's garbage no longer falls back
    assert changes["chaos-a-4"] == changes["chaos-a-5"] == "newly_saved"  # the fallback's answer passes now
    assert changes["chaos-a-3"] == "same"  # the hang: a timeout either way, sooner
    assert changes["chaos-a-7"] == "unknown"  # slow now times out: backup never tried for it in A
    assert "backup attempt 1" in report.predictions[7].unknown
    assert len(decided) >= 6
    hang = report.predictions[3]
    assert hang.predicted.duration_ms < hang.recorded.duration_ms - 1000


def test_replay_of_a_crash_loop_under_a_tighter_breaker(crash_loop):
    """max_recycles 2 -> 1: the breaker opens one crash earlier; document 2 skips the vision tier
    and is answered faster. Confirmed by running the tighter policy."""
    report = replay(read_logs([crash_loop["a"].log]).events, policy_from_dict(crash_loop["b"].policy))
    actual = crash_loop["b"].results
    assert all(p.predicted is not None for p in report.predictions), [p.unknown for p in report.predictions]
    assert [(p.predicted.status, p.predicted.tier, p.predicted.error_class) for p in report.predictions] == [
        outcome(r) for r in actual
    ]
    assert report.predictions[2].predicted.path == ["vision:skip(breaker_open)", "fallback:ok"]
    assert [s.reason for s in actual[2].skipped] == ["breaker_open"]
    assert [(t["state"], t["reason"]) for t in report.breaker_transitions] == [("open", "crash_loop")]
    assert len(LOOP) == len(actual)


def test_replaying_a_log_under_its_own_policy_changes_nothing(chaos, misc_run):
    """The identity: retries with their recorded waits, a breaker that opens, probes and closes, a
    tier found unavailable at start-up, a request that waits for an unloaded worker."""
    for log in (chaos["a"].log, misc_run):
        logged = read_logs([log]).events
        spec = next(e for e in logged if e["event"] == "router.starting")["policy_spec"]
        report = replay(logged, policy_from_dict(spec))
        assert report.counts()["same"] == len(report.predictions), [p.unknown for p in report.predictions]
        assert all(p.predicted.path == p.recorded.path for p in report.predictions)
