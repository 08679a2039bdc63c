"""Health that tells a broken tier from a hard document: what opens a breaker, and what never may
refuse a document unread. Driven through the engine with scripted backends."""

from __future__ import annotations

from router.core import decide
from tests.router.fakes import GOOD, Script, document, make_engine, run, tier_dict

STICKY = RuntimeError("CUDA error: device-side assert triggered")
NO_TOTAL = {"merchant": "ACME", "date": "2024-03-01"}  # read, but the gate wants a total
CONTENT = {"failure_rate": 0.5, "window": 4, "min_calls": 4}


def test_documents_a_tier_cannot_answer_never_open_its_breaker_nor_refuse_later_ones():
    """The 346-receipt situation with scripted answers: one tier, many unanswerable documents in a row."""
    rules = Script([NO_TOTAL] * 12 + [GOOD])
    engine, _ = make_engine({"rules": rules}, tiers=[tier_dict("rules", breaker={"failure_threshold": 2})])
    results = [run(engine) for _ in range(13)]
    assert [r.status for r in results] == ["failed"] * 12 + ["ok"]
    assert all(r.error.error_class == "invalid_output" for r in results[:12])
    assert all(r.skipped == [] and len(r.attempts) == 1 for r in results)
    assert engine.tiers[0].breaker.state == "closed"


def test_the_last_tier_that_could_answer_is_tried_as_the_probe_although_its_breaker_is_open():
    rules = Script([STICKY, STICKY, STICKY, GOOD])
    tiers = [tier_dict("rules", breaker={"failure_threshold": 2, "cooldown_s": 600})]
    engine, _ = make_engine({"rules": rules}, tiers=tiers)
    run(engine), run(engine)
    assert engine.tiers[0].breaker.state == "open"
    failed = run(engine)  # still read: the probe fails, the breaker stays open
    assert failed.skipped == [] and failed.attempts[0].error_class == "sticky_cuda"
    assert engine.tiers[0].breaker.state == "open"
    probed = run(engine)
    assert probed.status == "ok" and probed.skipped == []
    assert engine.tiers[0].breaker.state == "closed"
    assert rules.calls == 4


def test_an_open_breaker_still_skips_a_tier_while_a_later_one_can_answer():
    a, b = Script([STICKY]), Script([GOOD])
    tiers = [tier_dict("a", breaker={"failure_threshold": 1, "cooldown_s": 600}), tier_dict("b")]
    engine, _ = make_engine({"a": a, "b": b}, tiers=tiers)
    run(engine)
    result = run(engine)
    assert [(s.tier, s.reason) for s in result.skipped] == [("a", "breaker_open")]
    assert result.tier == "b" and a.calls == 1


def test_a_later_tier_quarantined_for_this_document_makes_the_open_one_its_probe():
    a, b = Script([STICKY, STICKY, GOOD]), Script([STICKY, GOOD])
    tiers = [
        tier_dict("a", quarantine_s=0, breaker={"failure_threshold": 1, "cooldown_s": 600}),
        tier_dict("b", quarantine_s=600, breaker={"failure_threshold": 5}),
    ]
    engine, _ = make_engine({"a": a, "b": b}, tiers=tiers)
    poison = document("poison")
    first = run(engine, poison)  # a fails (its breaker opens), b is poisoned by it
    assert first.status == "failed"
    again = run(engine, document("poison"))  # b keeps it away: a is the last that could answer
    assert [(s.tier, s.reason) for s in again.skipped] == [("b", "quarantined")]
    assert again.attempts[0].tier == "a"


def test_the_opt_in_content_breaker_opens_on_a_rate_over_distinct_documents():
    garbage, b = Script([NO_TOTAL]), Script([GOOD])
    tiers = [tier_dict("a", breaker={"content": CONTENT}), tier_dict("b")]
    engine, _ = make_engine({"a": garbage, "b": b}, tiers=tiers)
    same = document("same")
    for _ in range(5):  # one document read five times is one document
        run(engine, same)
    assert engine.tiers[0].breaker.state == "closed"
    for _ in range(3):
        run(engine)
    assert engine.tiers[0].breaker.state == "open"
    skipped = run(engine)
    assert [(s.tier, s.reason) for s in skipped.skipped] == [("a", "breaker_open")]
    assert skipped.tier == "b"


def test_without_the_content_breaker_a_garbage_tier_is_tried_every_time():
    garbage, b = Script([NO_TOTAL]), Script([GOOD])
    engine, _ = make_engine({"a": garbage, "b": b}, tiers=[tier_dict("a"), tier_dict("b")])
    results = [run(engine) for _ in range(10)]
    assert garbage.calls == 10 and all(r.tier == "b" for r in results)


def test_status_says_the_last_runnable_tier_admits_requests_although_its_breaker_is_open():
    a, b = Script([STICKY]), Script([STICKY])
    tiers = [tier_dict(n, breaker={"failure_threshold": 1, "cooldown_s": 600}) for n in ("a", "b")]
    engine, _ = make_engine({"a": a, "b": b}, tiers=tiers)
    run(engine)
    assert [t.breaker.state for t in engine.tiers] == ["open", "open"]
    assert [decide.can_answer(engine.tiers, i) for i in range(2)] == [False, True]
