"""Routing on doubt: accept thresholds, low_confidence escalation, per-field merge, needs_review, costs.

Real routers over the fault-injecting backend (inline tiers) answering with set confidences."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image
from structlog.testing import capture_logs

from router import Router
from router.core.merge import AGREEMENT_CAP, Answer, combine, merge
from router.failures.errors import PolicyError
from router.policy.model import parse_policy, policy_from_dict

ANSWER = {"merchant": "FAULTY MART", "date": "2024-01-31", "total": "12.50"}


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "white").save(buffer, "PNG")
    return buffer.getvalue()


def tier(name: str, confidence: dict[str, float], fields: dict[str, str] | None = None, **extra: Any) -> dict:
    backend = {"kind": "faulty", "fields": fields or ANSWER, "confidence": confidence}
    return {"name": name, "backend": backend, "isolation": "inline", **extra}


def run(policy: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
    with capture_logs() as logs, Router(policy_from_dict(policy)) as router:
        result = router.extract(png())
    return result, logs


SURE = {"merchant": 0.95, "date": 0.95, "total": 0.95}
UNSURE_TOTAL = {"merchant": 0.95, "date": 0.95, "total": 0.4}


def test_an_answer_that_reaches_every_threshold_is_accepted_at_the_first_tier():
    result, logs = run({"accept": {"total": 0.9}, "tiers": [tier("cheap", SURE), tier("dear", SURE, cost=5)]})
    assert (result.status, result.tier, result.cost) == ("ok", "cheap", 0.0)
    assert not [e for e in logs if e["event"] == "route.low_confidence"]


def test_a_doubtful_field_escalates_as_low_confidence_with_names_and_confidences_never_values():
    result, logs = run(
        {"accept": {"total": 0.9}, "tiers": [tier("cheap", UNSURE_TOTAL, cost=1), tier("dear", SURE, cost=5)]}
    )
    assert (result.status, result.tier) == ("ok", "dear")  # escalation by design is no degradation
    assert result.cost == 6
    (event,) = [e for e in logs if e["event"] == "route.low_confidence"]
    assert event["from_tier"] == "cheap" and event["to_tier"] == "dear"
    assert event["doubtful"] == {"total": 0.4} and event["thresholds"] == {"total": 0.9}
    assert "12.50" not in repr([e for e in logs if "request_id" in e])
    done = next(e for e in logs if e["event"] == "request.done")
    assert done["cost"] == 6 and done["review"] == []


def test_agreeing_tiers_raise_the_confidence_by_noisy_or_and_provenance_names_both():
    other = {**ANSWER, "total": "12.5"}  # the same amount once normalised
    result, _ = run(
        {
            "accept": {"total": 0.9},
            "tiers": [tier("a", {**SURE, "total": 0.7}), tier("b", {**SURE, "total": 0.8}, other)],
        }
    )
    total = result.fields["total"]
    assert result.status == "ok" and total.tier == "b" and total.agreed_with == ["a"]
    assert total.confidence == pytest.approx(1 - 0.3 * 0.2)


def test_no_tier_sure_is_needs_review_with_the_best_value_per_field_and_the_doubtful_fields_named():
    result, logs = run(
        {
            "accept": {"total": 0.9, "date": 0.9},
            "tiers": [
                tier("a", {"merchant": 0.9, "date": 0.3, "total": 0.6}, {**ANSWER, "total": "99.00"}),
                tier("b", {"merchant": 0.5, "date": 0.8, "total": 0.5}, {**ANSWER, "date": "2024-02-01"}),
            ],
        }
    )
    assert result.status == "needs_review" and result.ok and result.tier is None
    assert result.values() == {"merchant": "FAULTY MART", "date": "2024-02-01", "total": "99.00"}
    assert result.review == {"date": 0.8, "total": 0.6}
    assert result.fields["merchant"].tier == "a" and result.fields["merchant"].agreed_with == ["b"]
    assert result.fields["total"].tier == "a" and result.fields["date"].tier == "b"
    escalations = [(e["from_tier"], e["to_tier"]) for e in logs if e["event"] == "route.low_confidence"]
    assert escalations == [("a", "b"), ("b", None)]


def test_a_field_without_confidence_counts_as_zero_and_never_crashes_the_merge():
    result, _ = run({"accept": {"total": 0.5}, "tiers": [tier("a", {}), tier("b", {})]})
    assert result.status == "needs_review" and result.review == {"total": 0.0}
    assert result.fields["total"].tier == "a" and result.fields["total"].agreed_with == ["b"]
    assert result.fields["total"].confidence == 0.0


def test_a_tiers_threshold_overrides_the_policys_for_that_tier_only():
    policy = {
        "accept": {"total": 0.9},
        "tiers": [tier("a", UNSURE_TOTAL, accept={"total": 0.3}), tier("b", SURE)],
    }
    result, _ = run(policy)
    assert result.tier == "a"
    assert policy_from_dict(policy).thresholds("b") == {"total": 0.9}


def test_a_failure_after_a_doubtful_answer_keeps_that_answer_for_review():
    failing = tier("b", SURE)
    failing["backend"]["faults"] = {"garbage": 1.0}
    result, _ = run({"accept": {"total": 0.9}, "tiers": [tier("a", UNSURE_TOTAL), failing]})
    assert result.status == "needs_review" and result.values()["total"] == "12.50"
    assert [a.outcome for a in result.attempts] == ["succeeded", "failed"]


def test_an_escalated_answer_is_a_success_for_the_tiers_health():
    with Router(policy_from_dict({"accept": {"total": 0.9}, "tiers": [tier("a", UNSURE_TOTAL), tier("b", SURE)]})) as r:
        for _ in range(8):
            r.extract(png())
        status = r.status()
    assert status["a"]["breaker"] == "closed"


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("{total: 1.5}", "line 1: accept.total: Input should be less than or equal to 1"),
        ("{total: -0.1}", "line 1: accept.total: Input should be greater than or equal to 0"),
        ("{total: .nan}", "line 1: accept.total: Input should be a finite number"),
        ("{vat: 0.5}", "line 1: accept.vat (key): Input should be 'merchant'"),
    ],
)
def test_a_bad_threshold_is_a_policy_error_with_its_line(accept, expected):
    with pytest.raises(PolicyError) as caught:
        parse_policy(f"accept: {accept}\ntiers:\n  - name: a\n    backend: {{kind: ocr_rules}}\n")
    assert expected in str(caught.value)


def test_noisy_or_is_capped_and_never_below_the_best_single_confidence():
    assert combine([0.99, 0.99]) == AGREEMENT_CAP
    assert combine([0.995, 0.2]) == 0.995
    assert combine([None, None]) == 0.0
    picks = merge([Answer("a", {"total": 0.6}), Answer("b", {"total": 0.7}, {"total": frozenset({"a"})})])
    assert picks["total"].tier == "b" and picks["total"].confidence == pytest.approx(0.88)


def test_a_tier_skipped_by_a_document_trait_is_logged_with_the_trait_and_costs_nothing():
    policy = {
        "accept": {"total": 0.9},
        "tiers": [tier("scans-only", SURE, skip_when=["scan"], cost=1), tier("any", SURE, cost=3)],
    }
    result, logs = run(policy)  # a PNG: a scan
    assert (result.status, result.tier, result.cost) == ("ok", "any", 3)
    (skip,) = [e for e in logs if e["event"] == "tier.skipped"]
    assert skip["reason"] == "not_applicable" and skip["detail"] == "skip_when: scan"


def test_a_photo_is_a_colour_image_in_a_camera_format_and_a_pdf_of_images_is_a_scan(tmp_path):
    from backends.doctraits import traits
    from backends.testing.synthetic_pdf import text_pdf
    from router.api.inputs import load_document
    from router.policy.model import InputLimits
    from tests.router.surfaces_kit import pdf

    def jpeg(image: Image.Image) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG")
        return buffer.getvalue()

    # a receipt on a wooden table: the paper grey, a third of the frame brown
    table = Image.new("RGB", (600, 800), (150, 100, 60))
    table.paste(Image.new("RGB", (400, 800), (235, 235, 230)), (100, 0))
    assert traits(load_document(jpeg(table), InputLimits())) == {"photo"}
    # the same paper from a scanner that writes JPEG (grey on white), and a scan as PNG
    assert traits(load_document(jpeg(Image.new("RGB", (600, 800), (240, 240, 240))), InputLimits())) == {"scan"}
    assert traits(load_document(png(), InputLimits())) == {"scan"}
    assert traits(load_document(pdf(tmp_path / "scan.pdf"), InputLimits())) == {"scan"}
    rows = ["Eisenwaren Huber GmbH", "Rechnung RE-2024-0815 vom 14.03.2024", "Gesamtbetrag 56,58 EUR"]
    born = text_pdf([rows])
    assert traits(load_document(born, InputLimits())) == {"born_digital"}
    assert traits(load_document(text_pdf([rows], attachments={"factur-x.xml": b"<x/>"}), InputLimits())) == {
        "born_digital",
        "e_invoice",
    }


@pytest.mark.parametrize(
    "first",
    [
        {**ANSWER, "date_raw": "31/01/2024"},
        {"merchant": "FAULTY MART", "total": "12.50", "date_raw": "00010101"},  # an e-invoice's placeholder
    ],
    ids=["other-date", "no-date"],
)
def test_a_merged_date_brings_its_own_printed_text_never_another_tiers(first):
    """date_raw is what the picked date was read from: a cheaper tier's text beside a dearer tier's
    date would tell a reviewer the wrong thing."""
    dear = {**ANSWER, "date": "2024-02-01", "date_raw": "01.02.2024"}
    result, _ = run(
        {
            "accept": {"date": 0.9},
            "tiers": [tier("cheap", {**SURE, "date": 0.4}, first), tier("dear", SURE, dear)],
        }
    )
    assert result.fields["date"].value == "2024-02-01"
    assert (result.fields["date_raw"].value, result.fields["date_raw"].tier) == ("01.02.2024", "dear")


def test_a_merged_date_without_printed_text_carries_none_from_another_tier():
    result, _ = run(
        {
            "accept": {"date": 0.9},
            "tiers": [tier("cheap", {**SURE, "date": 0.4}, {**ANSWER, "date_raw": "31/01/2024"}), tier("dear", SURE)],
        }
    )
    assert result.fields["date"].tier == "dear" and "date_raw" not in result.fields
