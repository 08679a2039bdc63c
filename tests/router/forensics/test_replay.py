"""Replay re-decides recorded requests under another policy and says what it cannot know.

Each test records a real decision log from the engine in a deterministic world, replays it under a
second policy, then runs the second policy for real in the same world and compares.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backends.options import MAX_SECONDS
from router.forensics.reader import read_logs
from router.forensics.replay import percentile, replay
from router.policy.model import policy_from_dict
from tests.router.forensics.world import World, documents, run_world, tier

NEVER = {"cooldown_s": MAX_SECONDS, "failure_threshold": 1000}


def record_and_replay(tmp_path, world, docs, policy_a, policy_b):
    log = tmp_path / "a.jsonl"
    recorded = run_world(policy_a, world, docs, log)
    report = replay(read_logs([log]).events, policy_from_dict(policy_b))
    world.calls.clear()
    actual = run_world(policy_b, world, docs, None)
    return recorded, report, actual


def outcome(result):
    return (result.status, result.tier, result.error.error_class.value if result.error else None)


def predicted(p):
    return (p.predicted.status, p.predicted.tier, p.predicted.error_class)


def policy(name, tiers, **top):
    return {"name": name, "deadline_s": 100, **top, "tiers": tiers}


def test_a_narrower_fallback_list_fails_requests_and_the_prediction_holds(tmp_path):
    docs = documents(3)
    world = World({(docs[0].sha256, "a"): [("garbage", 0.2)], (docs[1].sha256, "a"): [("sticky", 0.3)]})
    a = policy("a", [tier("a"), tier("b")])
    b = policy("b", [tier("a", fallback_on=["sticky_cuda"]), tier("b")])
    _, report, actual = record_and_replay(tmp_path, world, docs, a, b)
    changes = [p.change for p in report.predictions]
    assert changes == ["newly_failed", "same", "same"]
    assert [predicted(p) for p in report.predictions] == [outcome(r) for r in actual]
    assert report.predictions[0].predicted.path == ["a:invalid_output"]


def test_an_answer_slower_than_the_new_timeout_becomes_a_timeout(tmp_path):
    docs = documents(2)
    world = World({(docs[0].sha256, "a"): [("ok", 5.0)], (docs[0].sha256, "b"): [("ok", 0.1)]})
    a = policy("a", [tier("a", timeout_s=10), tier("b")])
    b = policy("b", [tier("a", timeout_s=2), tier("b")])
    _, report, actual = record_and_replay(tmp_path, world, docs, a, b)
    first = report.predictions[0]
    # b was never tried for this document in the recording: replay says so instead of guessing
    assert first.change == "unknown"
    assert "needs the outcome of b attempt 1" in first.unknown
    assert report.predictions[1].change == "same" and predicted(report.predictions[1]) == outcome(actual[1])


def test_a_timeout_under_a_longer_limit_is_unknown_and_under_a_shorter_one_still_a_timeout(tmp_path):
    docs = documents(1)
    world = World({(docs[0].sha256, "a"): [("ok", 8.0)]})
    a = policy("a", [tier("a", timeout_s=5, fallback_on=[])])
    longer = replay(_recorded(tmp_path, world, docs, a), policy_from_dict(policy("b", [tier("a", timeout_s=20)])))
    assert longer.predictions[0].change == "unknown" and "never recorded" in longer.predictions[0].unknown
    shorter = replay(_recorded(tmp_path, world, docs, a), policy_from_dict(policy("c", [tier("a", timeout_s=3)])))
    assert predicted(shorter.predictions[0]) == ("failed", None, "timeout")


def _recorded(tmp_path, world, docs, policy_a):
    world.calls.clear()
    log = tmp_path / "once.jsonl"
    log.unlink(missing_ok=True)
    run_world(policy_a, world, docs, log)
    return read_logs([log]).events


def test_a_relaxed_quality_gate_saves_requests_from_recorded_answers(tmp_path):
    docs = documents(2)
    world = World({(d.sha256, t): [("partial", 0.2)] for d in docs for t in ("a", "b")})
    a = policy("a", [tier("a"), tier("b")])
    b = policy("b", [tier("a"), tier("b")], quality_gate={"required": ["merchant", "date"]})
    recorded, report, actual = record_and_replay(tmp_path, world, docs, a, b)
    assert [r.status for r in recorded] == ["failed", "failed"]
    assert [p.change for p in report.predictions] == ["newly_saved", "newly_saved"]
    assert [predicted(p) for p in report.predictions] == [outcome(r) for r in actual] == [("ok", "a", None)] * 2


def test_an_answer_a_tiers_laxer_gate_accepts_is_predicted_degraded_naming_what_it_lacks(tmp_path):
    """One decision core: the status of an answer without a field the policy requires is decided
    there, for the router and for replay alike."""
    docs = documents(2)
    world = World({(d.sha256, t): [("partial", 0.2)] for d in docs for t in ("a", "b")})
    a = policy("a", [tier("a"), tier("b")])
    b = policy("b", [tier("a", quality_gate={"required": ["merchant"]}), tier("b")])
    recorded, report, actual = record_and_replay(tmp_path, world, docs, a, b)
    assert [r.status for r in recorded] == ["failed", "failed"]
    # the first tier answered, yet not 'ok': the answer lacks the total the policy requires
    assert [(r.status, r.tier, r.missing) for r in actual] == [("degraded", "a", ["total"])] * 2
    assert [predicted(p) for p in report.predictions] == [outcome(r) for r in actual]


def test_a_lower_breaker_threshold_skips_the_tier_once_open(tmp_path):
    docs = documents(5)
    world = World({(d.sha256, "a"): [("sticky", 0.5)] for d in docs})
    a = policy("a", [tier("a", breaker=NEVER), tier("b")])
    b = policy("b", [tier("a", breaker={**NEVER, "failure_threshold": 2}), tier("b")])
    _, report, actual = record_and_replay(tmp_path, world, docs, a, b)
    assert [p.predicted.path for p in report.predictions][2] == ["a:skip(breaker_open)", "b:ok"]
    assert [predicted(p) for p in report.predictions] == [outcome(r) for r in actual]
    assert [t["state"] for t in report.breaker_transitions] == ["open"]
    latency = report.latency()
    assert latency["projected"]["p50"] < latency["recorded"]["p50"]


def test_retries_beyond_the_recorded_ones_are_unknown(tmp_path):
    docs = documents(1)
    world = World({(docs[0].sha256, "a"): [("oom", 0.1), ("ok", 0.1)]})
    a = policy("a", [tier("a", retry={"attempts": 1}), tier("b")])
    b = policy("b", [tier("a", retry={"attempts": 2, "retry_on": ["cuda_oom"]}), tier("b")])
    _, report, _ = record_and_replay(tmp_path, world, docs, a, b)
    assert "needs the outcome of a attempt 2" in report.predictions[0].unknown


def test_percentile_by_nearest_rank():
    assert percentile([], 50) is None
    assert percentile([5, 1, 3], 50) == 3
    assert percentile(list(range(1, 101)), 95) == 95


# -- the property: wherever replay predicts, reality agrees ------------------------------------

KINDS = st.sampled_from(["ok", "ok", "partial", "sticky", "oom", "garbage"])
SECONDS = st.sampled_from([0.1, 1.0, 6.0, 25.0])
CLASSES = ["sticky_cuda", "cuda_oom", "invalid_output", "timeout"]


@st.composite
def tier_settings(draw, name):
    return tier(
        name,
        timeout_s=draw(st.sampled_from([3, 10, 40])),
        retry={
            "attempts": draw(st.integers(1, 3)),
            "retry_on": draw(st.lists(st.sampled_from(CLASSES), unique=True, max_size=2)),
            "backoff": {"initial_s": 0.5, "jitter_s": 0},
        },
        fallback_on=draw(st.lists(st.sampled_from(CLASSES), unique=True, min_size=2, max_size=4)),
        breaker={**NEVER, "failure_threshold": draw(st.sampled_from([1, 2, 1000]))},
        quarantine_s=draw(st.sampled_from([0, MAX_SECONDS])),
    )


@st.composite
def policies(draw, name):
    names = draw(st.permutations(["a", "b", "c"]))[: draw(st.integers(2, 3))]
    gate = draw(st.sampled_from([["merchant", "date", "total"], ["merchant", "date"]]))
    return {
        "name": name,
        "deadline_s": draw(st.sampled_from([12, 45, 200])),
        "quality_gate": {"required": gate},
        "tiers": [draw(tier_settings(n)) for n in names],
    }


@st.composite
def variations(draw, policy_a):
    """Policy b: policy a with one to three of its settings changed, or an unrelated policy."""
    if draw(st.integers(0, 4)) == 0:
        return draw(policies("b"))
    b = {**policy_a, "name": "b", "tiers": [dict(t) for t in policy_a["tiers"]]}
    for _ in range(draw(st.integers(1, 3))):
        index = draw(st.integers(0, len(b["tiers"]) - 1))
        change = draw(st.sampled_from(["tier", "deadline", "gate", "swap", "drop"]))
        if change == "tier":
            b["tiers"][index] = draw(tier_settings(b["tiers"][index]["name"]))
        elif change == "deadline":
            b["deadline_s"] = draw(st.sampled_from([12, 45, 200]))
        elif change == "gate":
            b["quality_gate"] = {"required": draw(st.sampled_from([["merchant", "date", "total"], ["merchant"]]))}
        elif change == "swap" and index > 0:
            b["tiers"][index - 1], b["tiers"][index] = b["tiers"][index], b["tiers"][index - 1]
        elif change == "drop" and len(b["tiers"]) > 1:
            del b["tiers"][index]
    return b


def run_pair(tmp_path, steps, policy_a, policy_b):
    docs = documents(6)
    pairs = [(d.sha256, t) for d in docs for t in ("a", "b", "c")]
    world = World(dict(zip(pairs, steps, strict=True)))
    (tmp_path / "a.jsonl").unlink(missing_ok=True)
    _, report, actual = record_and_replay(tmp_path, world, docs, policy_a, policy_b)
    return report, actual


WORLDS = st.lists(st.lists(st.tuples(KINDS, SECONDS), min_size=1, max_size=3), min_size=18, max_size=18)


@settings(
    max_examples=int(os.environ.get("REPLAY_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(steps=WORLDS, policy_a=policies("a"), data=st.data())
def test_wherever_replay_predicts_the_new_policy_agrees(tmp_path, steps, policy_a, data):
    """Random worlds and policy pairs: every prediction (status, tier, class, path, latency) matches
    what running the new policy really does; the rest are reported unknown."""
    report, actual = run_pair(tmp_path, steps, policy_a, data.draw(variations(policy_a)))
    for prediction, result in zip(report.predictions, actual, strict=True):
        if prediction.predicted is None:
            assert prediction.unknown
            continue
        assert predicted(prediction) == outcome(result), prediction
        steps_taken = [f"{a.tier}:{'ok' if a.outcome == 'succeeded' else a.error_class}" for a in result.attempts]
        assert [s for s in prediction.predicted.path if ":skip(" not in s] == steps_taken
        assert abs(prediction.predicted.duration_ms - result.duration_ms) < 1.0


def test_the_last_tier_is_the_probe_of_its_open_breaker_in_replay_as_in_the_router(tmp_path):
    """One decision core: the recorded run never opened the breaker; under a lower threshold it opens,
    and the only tier still reads every document (as the probe); its success closes it again."""
    docs = documents(4)
    world = World({(d.sha256, "a"): [("sticky", 0.2)] for d in docs[:2]})
    a = policy("a", [tier("a", breaker=NEVER, quarantine_s=0)])
    b = policy("b", [tier("a", breaker={**NEVER, "failure_threshold": 1}, quarantine_s=0)])
    _, report, actual = record_and_replay(tmp_path, world, docs, a, b)
    assert [p.change for p in report.predictions] == ["same"] * 4
    assert [predicted(p) for p in report.predictions] == [outcome(r) for r in actual]
    assert [p.predicted.path for p in report.predictions] == [["a:sticky_cuda"], ["a:sticky_cuda"], ["a:ok"], ["a:ok"]]
    assert [t["state"] for t in report.breaker_transitions] == ["open", "closed"]
    assert all(r.skipped == [] for r in actual)


def test_documents_a_tier_cannot_answer_do_not_open_its_breaker_in_replay(tmp_path):
    docs = documents(5)
    world = World({(d.sha256, "a"): [("partial", 0.1)] for d in docs[:3]})
    a = policy("a", [tier("a", breaker=NEVER), tier("b")])
    b = policy("b", [tier("a", breaker={**NEVER, "failure_threshold": 1}), tier("b")])
    _, report, actual = record_and_replay(tmp_path, world, docs, a, b)
    assert [p.change for p in report.predictions] == ["same"] * 5
    assert [predicted(p) for p in report.predictions] == [outcome(r) for r in actual]
    assert report.breaker_transitions == []


def test_a_request_admitted_while_a_concurrent_failure_was_in_flight_is_replayed_as_recorded(tmp_path):
    """Concurrent requests: the breaker opened on a failure that ended after a later request had
    been let through. Replayed one after another in arrival order the failure comes first; the
    recorded verdict stands while the tier's history matches the recording."""
    docs = documents(2)
    world = World({(docs[0].sha256, "a"): [("ok", 0.1)], (docs[1].sha256, "a"): [("sticky", 1.0)]})
    spec = policy("a", [tier("a", breaker={"cooldown_s": MAX_SECONDS, "failure_threshold": 1}), tier("b")])
    log = tmp_path / "a.jsonl"
    run_world(spec, world, docs, log)
    events = read_logs([log]).events
    failing = next(e["ts"] for e in events if e.get("request_id") == "a-1" and e["event"] == "request.received")
    arrived = (datetime.fromisoformat(failing) + timedelta(seconds=0.5)).isoformat()
    for event in events:  # a-0 arrives half a second after a-1, while a-1's attempt on a runs
        if event.get("request_id") == "a-0" and event["event"] == "request.received":
            event["ts"] = arrived
    report = replay(events, policy_from_dict(spec))
    assert [p.request_id for p in report.predictions] == ["a-1", "a-0"]
    assert [p.change for p in report.predictions] == ["same", "same"], [p.unknown for p in report.predictions]
    assert report.predictions[1].predicted.path == ["a:ok"]


def test_an_attempt_past_a_refusing_breaker_is_not_taken_for_the_breakers_verdict(tmp_path):
    """The last tier is tried although its breaker is open (no later tier could read the document);
    the log says so (``probe``), and under a policy with a tier after it replay does not take that
    attempt for the breaker letting the request through."""
    docs = documents(2)
    world = World({(docs[0].sha256, "a"): [("sticky", 0.1)], (docs[1].sha256, "a"): [("ok", 0.1)]})
    breaker = {"cooldown_s": MAX_SECONDS, "failure_threshold": 1}
    a = policy("a", [tier("a", breaker=breaker)])
    b = policy("b", [tier("a", breaker=breaker), tier("c")])
    log = tmp_path / "a.jsonl"
    run_world(a, world, docs, log)
    events = read_logs([log]).events
    started = [e.get("probe") for e in events if e["event"] == "attempt.started"]
    assert started == [False, True]
    report = replay(events, policy_from_dict(b))
    world.calls.clear()
    actual = run_world(b, world, docs, None)
    assert [s.reason for s in actual[1].skipped] == ["breaker_open"]
    second = report.predictions[1]
    assert second.change == "unknown" and "tier c" in second.unknown  # it would skip a for c: not in the log


def test_a_verdict_set_by_a_later_arrival_that_failed_sooner_is_not_taken_from_the_recording(tmp_path):
    """a-1 arrived first; a-0 arrived later but failed on tier a while a-1 was still on x, and the
    breaker refused a-1. Under a policy where a-0 never reaches a, that refusal is not a-1's
    verdict any more: replay must not repeat it (found in review)."""
    docs = documents(2)
    world = World(
        {
            (docs[0].sha256, "x"): [("partial", 0.1)],  # a-0: rejected by the recorded gate, accepted by the new
            (docs[0].sha256, "a"): [("sticky", 0.1)],  # ... then fails a: the breaker opens (threshold 1)
            (docs[1].sha256, "x"): [("garbage", 0.1)],  # a-1: x fails under both policies
        }
    )
    breaker = {"cooldown_s": MAX_SECONDS, "failure_threshold": 1}
    recorded_policy = policy("a", [tier("x"), tier("a", breaker=breaker), tier("b")])
    new_policy = policy(
        "n", [tier("x", quality_gate={"required": ["merchant"]}), tier("a", breaker=breaker), tier("b")]
    )
    log = tmp_path / "a.jsonl"
    run_world(recorded_policy, world, docs, log)
    events = read_logs([log]).events
    first = next(e["ts"] for e in events if e.get("request_id") == "a-1" and e["event"] == "request.received")
    for event in events:  # a-0 arrives half a second after a-1
        if event.get("request_id") == "a-0" and event["event"] == "request.received":
            event["ts"] = (datetime.fromisoformat(first) + timedelta(seconds=0.5)).isoformat()
    report = replay(events, policy_from_dict(new_policy))
    world.calls.clear()
    actual = run_world(new_policy, world, [docs[1], docs[0]], None)  # in arrival order
    assert [p.request_id for p in report.predictions] == ["a-1", "a-0"]
    for prediction, result in zip(report.predictions, actual, strict=True):
        assert prediction.predicted is None or predicted(prediction) == outcome(result), prediction
    assert report.predictions[0].change == "unknown"  # it would try a: never recorded for it
