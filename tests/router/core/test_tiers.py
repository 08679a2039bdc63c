"""A tier's quarantine list stays as long as its live entries, however many documents poisoned it."""

from router.failures.errors import ErrorInfo
from router.failures.signatures import classify
from tests.router.fakes import GOOD, Script, document, make_engine, tier_dict

STICKY = classify(ErrorInfo(type="RuntimeError", message="CUDA error: device-side assert triggered"))


def test_expired_quarantine_entries_are_dropped_even_for_documents_that_never_return():
    """Found by the 20,000-request drill: every poisoning document stayed in the list for good."""
    engine, clock = make_engine({"a": Script([GOOD])}, tiers=[tier_dict("a", quarantine_s=60)])
    tier = engine.tiers[0]
    for _ in range(100):
        tier.record(STICKY, document().sha256)
        clock.now += 1
    assert len(tier.health._quarantine) == 60  # the last minute's documents
    poisoned = document()
    tier.record(STICKY, poisoned.sha256)
    assert tier.quarantined(poisoned.sha256)
