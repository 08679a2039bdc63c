"""Every trait of every error class comes from the one table: each reader is walked over the classes."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.schema import ReceiptFields
from router.core import quality
from router.core.breaker import Breaker
from router.core.health import Health
from router.failures import errors, traits
from router.failures.errors import PROCESS_POISONING, AttemptError, ErrorClass, ErrorInfo, Failure
from router.failures.signatures import SIGNATURES, classify
from router.forensics.lint import possible_classes
from router.policy.model import BreakerPolicy, QualityGate, RetryPolicy, TierPolicy, policy_from_dict
from tests.router.fakes import FakeClock

ROOT = Path(__file__).resolve().parents[3]
CLASSES = list(ErrorClass)


def test_every_class_has_traits_and_the_table_is_read_only():
    assert set(traits.TRAITS) == set(ErrorClass)
    with pytest.raises(TypeError):
        traits.TRAITS[ErrorClass.UNKNOWN] = traits.TRAITS[ErrorClass.TIMEOUT]  # type: ignore[index]
    with pytest.raises(AttributeError):
        traits.TRAITS[ErrorClass.TIMEOUT].retry = True  # type: ignore[misc]


def test_the_meanings_the_issue_asks_for():
    """Tier faults count toward the breaker; what a tier read and could not answer does not."""
    t = traits.traits
    assert {c for c in CLASSES if t(c).counts_toward_breaker} == {
        ErrorClass.STICKY_CUDA,
        ErrorClass.CUDA_OOM,
        ErrorClass.BAD_INDEX,
        ErrorClass.TIMEOUT,
        ErrorClass.WORKER_CRASHED,
        ErrorClass.UNKNOWN,
    }
    assert t("invalid_output").fault == "document" and t("invalid_output").content
    assert t("bad_input").fault == "document" and not t("bad_input").fall_back
    assert t("unavailable").fault == "neither"
    assert traits.http_status("bad_input") == traits.http_status("invalid_output") == 422
    assert traits.http_status("unavailable") == traits.http_status("timeout") == 503
    assert traits.http_status("worker_crashed") == 503


@pytest.mark.parametrize("error_class", CLASSES)
def test_policy_defaults_and_derived_sets_read_the_table(error_class):
    meaning = traits.traits(error_class)
    assert (error_class in RetryPolicy().retry_on) is meaning.retry
    tier = TierPolicy.model_validate({"name": "a", "backend": {"kind": "faulty"}})
    assert (error_class in tier.fallback_on) is meaning.fall_back
    assert (error_class in PROCESS_POISONING) is meaning.poisons_process
    assert Failure.own(error_class, "test", "x").traits is meaning
    assert errors.traits is traits.traits and errors.http_status is traits.http_status


@pytest.mark.parametrize("error_class", CLASSES)
def test_health_does_what_the_table_says(error_class):
    """One failure of the class, on a breaker that opens on the first fault."""
    meaning = traits.traits(error_class)
    clock = FakeClock()
    settings = BreakerPolicy(failure_threshold=1, content={"failure_rate": 1.0, "window": 1, "min_calls": 1})
    health = Health(Breaker(settings, clock=clock), 60.0, clock=clock)
    health.record(error_class, "sha-1", message="weights not found")
    counted = health.breaker.state == "open"
    assert counted is (meaning.counts_toward_breaker or meaning.content)
    assert health.quarantined("sha-1") is meaning.quarantines
    assert (health.unavailable is not None) is (meaning.fault == "neither")


@pytest.mark.parametrize("error_class", CLASSES)
def test_without_a_content_breaker_only_tier_faults_open_it(error_class):
    clock = FakeClock()
    health = Health(Breaker(BreakerPolicy(failure_threshold=1), clock=clock), 0.0, clock=clock)
    for n in range(5):
        health.record(error_class, f"sha-{n}")
    assert (health.breaker.state == "open") is traits.traits(error_class).counts_toward_breaker


def test_lint_reads_the_faulty_backends_modes_from_the_table():
    for error_class, meaning in traits.TRAITS.items():
        for mode in meaning.faulty_modes:
            policy = policy_from_dict(
                {"name": "t", "tiers": [{"name": "f", "backend": {"kind": "faulty", "faults": {mode: 1.0}}}]}
            )
            assert error_class in possible_classes(policy.tiers[0])
            assert traits.class_of_fault_mode(mode) is error_class


def test_the_policy_reference_lists_every_trait_of_every_class():
    text = (ROOT / "docs" / "policy.md").read_text()
    section = text[text.index("## Error classes") :]
    for error_class, meaning in traits.TRAITS.items():
        row = next(line for line in section.splitlines() if line.startswith(f"| `{error_class.value}` |"))
        assert f"| {meaning.fault} |" in row and f"| {meaning.http_status} |" in row
    # that the rendered table is current is tests/test_docs.py's check


def test_the_routers_own_failures_are_born_with_their_class_and_foreign_ones_classified_once():
    rejected = quality.check(ReceiptFields(merchant="ACME"), QualityGate())
    assert rejected is not None and (rejected.error_class, rejected.signature) == ("invalid_output", "quality_gate")
    assert "quality_gate" not in {s.name for s in SIGNATURES}  # no name to match: born with its class
    own = AttemptError(Failure.own(ErrorClass.TIMEOUT, "attempt_timeout", "took 9.0s, limit 5.0s"))
    assert own.failure.error_class is ErrorClass.TIMEOUT
    foreign = AttemptError(classify(ErrorInfo("RuntimeError", "CUDA error: device-side assert triggered")))
    assert (foreign.failure.error_class, foreign.failure.signature) == ("sticky_cuda", "cuda_device_assert")
