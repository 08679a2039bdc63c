"""The engine's decisions, driven by scripted backends: fallback, retry, deadline, breaker,
quality gate, quarantine, and a result that records every attempt."""

from concurrent.futures import ThreadPoolExecutor

from structlog.testing import capture_logs

from backends.errors import BackendUnavailable, InvalidOutput
from router.failures.errors import BadInputError, ErrorClass
from tests.router.fakes import GOOD, FakeClock, Script, advance, document, make_engine, run, tier_dict

STICKY = RuntimeError("CUDA error: device-side assert triggered")
OOM = RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")


def test_first_tier_answers_with_per_field_provenance():
    engine, _ = make_engine({"a": Script([GOOD]), "b": Script([GOOD])})
    result = run(engine)
    assert result.status == "ok" and result.tier == "a"
    assert result.values() == GOOD
    assert {fv.tier for fv in result.fields.values()} == {"a"}
    assert [(a.tier, a.outcome) for a in result.attempts] == [("a", "succeeded")]
    assert result.policy_hash == engine.policy_hash and result.document.sha256


def test_sticky_error_falls_back_and_the_attempt_records_class_and_signature():
    b = Script([GOOD])
    engine, _ = make_engine({"a": Script([STICKY]), "b": b})
    result = run(engine)
    assert result.status == "degraded" and result.tier == "b"
    failed = result.attempts[0]
    assert (failed.tier, failed.outcome, failed.error_class, failed.signature) == (
        "a",
        "failed",
        ErrorClass.STICKY_CUDA,
        "cuda_device_assert",
    )
    assert b.calls == 1


def test_retry_on_listed_class_with_backoff_then_success():
    tiers = [
        tier_dict("a", retry={"attempts": 3, "retry_on": ["cuda_oom"], "backoff": {"initial_s": 0.5, "jitter_s": 0}})
    ]
    engine, clock = make_engine({"a": Script([OOM, OOM, GOOD])}, tiers=tiers)
    result = run(engine)
    assert result.status == "ok"
    assert [a.outcome for a in result.attempts] == ["failed", "failed", "succeeded"]
    assert [a.attempt for a in result.attempts] == [1, 2, 3]
    assert clock.sleeps == [0.5, 1.0]


def test_no_retry_for_classes_not_listed():
    tiers = [tier_dict("a", retry={"attempts": 3, "retry_on": ["cuda_oom"]}), tier_dict("b")]
    a = Script([STICKY, GOOD])
    engine, _ = make_engine({"a": a, "b": Script([GOOD])}, tiers=tiers)
    assert run(engine).tier == "b"
    assert a.calls == 1


def test_retry_never_sleeps_past_the_deadline():
    tiers = [
        tier_dict(
            "a",
            retry={"attempts": 5, "retry_on": ["cuda_oom"], "backoff": {"initial_s": 40, "max_s": 60, "jitter_s": 0}},
        )
    ]
    engine, clock = make_engine({"a": Script([OOM])}, tiers=tiers, deadline_s=30)
    result = run(engine)
    assert result.status == "failed" and result.error.error_class is ErrorClass.CUDA_OOM
    assert len(result.attempts) == 1 and clock.sleeps == []


def test_deadline_spent_by_one_tier_skips_the_rest_and_fails_as_timeout():
    clock = FakeClock()
    engine, _ = make_engine(
        {"a": Script([advance(clock, 31, STICKY)]), "b": Script([GOOD])}, clock=clock, deadline_s=30
    )
    result = run(engine)
    assert result.status == "failed"
    assert [(s.tier, s.reason) for s in result.skipped] == [("b", "deadline")]
    assert result.error.error_class is ErrorClass.STICKY_CUDA


def test_each_attempt_gets_the_smaller_of_its_timeout_and_what_is_left_of_the_deadline():
    clock = FakeClock()
    seen = []

    class Spy(Script):
        pass

    engine, _ = make_engine(
        {"a": Script([advance(clock, 25, STICKY)]), "b": Script([GOOD])},
        tiers=[tier_dict("a", timeout_s=100), tier_dict("b", timeout_s=100)],
        clock=clock,
        deadline_s=30,
    )
    with capture_logs() as events:
        run(engine)
    seen = [e["timeout_s"] for e in events if e["event"] == "attempt.started"]
    assert seen == [30.0, 5.0]


def test_quality_gate_rejects_an_answer_without_required_fields_and_falls_back():
    engine, _ = make_engine({"a": Script([{"merchant": "ACME"}]), "b": Script([GOOD])})
    result = run(engine)
    assert result.tier == "b" and result.status == "degraded"
    rejected = result.attempts[0]
    assert (rejected.outcome, rejected.error_class, rejected.signature) == (
        "rejected",
        ErrorClass.INVALID_OUTPUT,
        "quality_gate",
    )
    assert "date, total" in rejected.message


def test_when_every_answer_fails_the_gate_the_fullest_one_comes_back_as_partial_not_as_fields():
    engine, _ = make_engine(
        {"a": Script([{"merchant": "ACME"}]), "b": Script([{"merchant": "ACME SDN BHD", "total": "9.90"}])}
    )
    result = run(engine)
    assert result.status == "failed" and result.error.error_class is ErrorClass.INVALID_OUTPUT
    assert result.fields == {} and not result.ok
    assert {name: (fv.value, fv.tier) for name, fv in result.partial.items()} == {
        "merchant": ("ACME SDN BHD", "b"),
        "total": ("9.90", "b"),
    }


def test_on_a_tie_the_partial_answer_is_the_earlier_tiers_and_an_answer_clears_it():
    engine, _ = make_engine({"a": Script([{"total": "1.00"}]), "b": Script([{"total": "2.00"}])})
    assert run(engine).partial["total"].tier == "a"
    engine, _ = make_engine({"a": Script([{"total": "1.00"}]), "b": Script([GOOD])})
    answered = run(engine)
    assert answered.status == "degraded" and answered.partial == {}


def test_a_tier_can_override_the_quality_gate():
    tiers = [tier_dict("a", quality_gate={"required": ["merchant"]})]
    engine, _ = make_engine({"a": Script([{"merchant": "ACME"}])}, tiers=tiers)
    assert run(engine).tier == "a"


def test_an_answer_a_laxer_tier_gate_accepts_is_degraded_and_names_what_it_lacks():
    tiers = [tier_dict("a"), tier_dict("b", quality_gate={"required": ["total"]})]
    engine, _ = make_engine(
        {"a": Script([{"merchant": "ACME"}]), "b": Script([{"merchant": "ACME", "total": "9.90"}])}, tiers=tiers
    )
    with capture_logs() as events:
        result = run(engine)
    assert (result.status, result.tier, result.missing) == ("degraded", "b", ["date"])
    assert set(result.fields) == {"merchant", "total"} and result.partial == {}
    assert [e["status"] for e in events if e["event"] == "request.done"] == ["degraded"]


def test_a_full_answer_from_the_first_tier_is_ok_and_lacks_nothing():
    tiers = [tier_dict("a", quality_gate={"required": ["total"]})]
    engine, _ = make_engine({"a": Script([GOOD])}, tiers=tiers)
    result = run(engine)
    assert (result.status, result.missing) == ("ok", [])


def test_class_outside_fallback_on_ends_the_request():
    tiers = [tier_dict("a", fallback_on=["cuda_oom"]), tier_dict("b")]
    b = Script([GOOD])
    engine, _ = make_engine({"a": Script([InvalidOutput("no JSON")]), "b": b}, tiers=tiers)
    result = run(engine)
    assert result.status == "failed" and result.error.error_class is ErrorClass.INVALID_OUTPUT
    assert b.calls == 0


def test_bad_input_from_a_backend_fails_the_request_instead_of_falling_back():
    b = Script([GOOD])
    engine, _ = make_engine({"a": Script([BadInputError("x.png", "unreadable")]), "b": b})
    result = run(engine)
    assert result.status == "failed" and result.error.error_class is ErrorClass.BAD_INPUT
    assert b.calls == 0


def test_unavailable_at_load_marks_the_tier_and_later_requests_skip_it_without_reloading():
    a = Script([GOOD])
    engine, _ = make_engine(
        {"a": a, "b": Script([GOOD])}, load_errors={"a": BackendUnavailable("weights not found at /m")}
    )
    first, second = run(engine), run(engine)
    assert first.attempts[0].error_class is ErrorClass.UNAVAILABLE
    assert [(s.tier, s.reason) for s in second.skipped] == [("a", "unavailable")]
    assert "weights not found" in second.skipped[0].detail
    assert a.loads == 1
    # a tier that is merely unavailable here does not make the answer 'degraded'
    assert second.status == "ok"


def test_breaker_opens_skips_the_tier_then_a_half_open_probe_restores_it():
    tiers = [tier_dict("a", breaker={"failure_threshold": 2, "cooldown_s": 60}), tier_dict("b")]
    a = Script([STICKY, STICKY, GOOD])
    engine, clock = make_engine({"a": a, "b": Script([GOOD])}, tiers=tiers)
    run(engine), run(engine)
    with capture_logs() as events:
        skipped = run(engine)
    assert [(s.tier, s.reason) for s in skipped.skipped] == [("a", "breaker_open")]
    assert "probe in 60.0s" in skipped.skipped[0].detail
    assert a.calls == 2
    assert any(e["event"] == "tier.skipped" and e["reason"] == "breaker_open" for e in events)
    clock.now += 61
    probed = run(engine)
    assert probed.tier == "a" and probed.status == "ok"
    assert engine.tiers[0].breaker.state == "closed"


def test_document_that_poisoned_a_tier_is_quarantined_from_it_but_others_are_not():
    a = Script([STICKY, GOOD])
    engine, clock = make_engine({"a": a, "b": Script([GOOD])}, tiers=[tier_dict("a", quarantine_s=600), tier_dict("b")])
    poison = document("poison")
    run(engine, poison)
    again = run(engine, document("poison"))
    assert [(s.tier, s.reason) for s in again.skipped] == [("a", "quarantined")]
    assert run(engine, document("innocent")).tier == "a"
    clock.now += 601
    assert run(engine, document("poison")).tier == "a"


def test_every_tier_failing_gives_a_failed_result_with_every_attempt():
    engine, _ = make_engine({"a": Script([STICKY]), "b": Script([InvalidOutput("garbage")])})
    result = run(engine)
    assert result.status == "failed" and result.fields == {}
    assert [a.error_class for a in result.attempts] == [ErrorClass.STICKY_CUDA, ErrorClass.INVALID_OUTPUT]
    assert result.error.error_class is ErrorClass.INVALID_OUTPUT


def test_decisions_are_logged_as_named_events_with_the_request_id():
    engine, _ = make_engine({"a": Script([STICKY]), "b": Script([GOOD])})
    with capture_logs() as events:
        result = run(engine)
    names = [e["event"] for e in events]
    assert names == [
        "request.received",
        "attempt.started",
        "error.classified",
        "attempt.failed",
        "route.fallback",
        "attempt.started",
        "attempt.succeeded",
        "request.done",
    ]
    assert {e["request_id"] for e in events} == {result.request_id}
    fallback = events[names.index("route.fallback")]
    assert (fallback["from_tier"], fallback["to_tier"], fallback["error_class"]) == ("a", "b", "sticky_cuda")


def test_concurrent_requests_each_get_exactly_one_result():
    engine, _ = make_engine({"a": Script([STICKY, GOOD, OOM, GOOD]), "b": Script([GOOD])})
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: run(engine), range(40)))
    assert len({r.request_id for r in results}) == 40
    assert all(r.status in ("ok", "degraded") for r in results)
