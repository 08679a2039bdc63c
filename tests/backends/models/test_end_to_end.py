"""End to end: tiny models in real worker processes answer garbage, the router rejects it (the
model's text is not JSON: invalid_output; valid JSON without the required fields: the quality gate)
and falls back to OCR + rules, which answers from real Tesseract. The decision trail proves it."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from router import Router
from router.failures.errors import ErrorClass
from router.policy.model import policy_from_dict
from tests.backends.conftest import tiny_model
from tests.backends.receipts import PARTIAL_ANSWER, printed_receipt

pytestmark = pytest.mark.slow


def _receipt_png() -> bytes:
    buffer = io.BytesIO()
    printed_receipt().save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def internvl_partial(request: pytest.FixtureRequest) -> Path:
    """InternVL taught to answer the printed receipt with valid JSON that lacks date and total."""
    return tiny_model(
        request.config, "build_internvl", teach_answer=True, answer=PARTIAL_ANSWER, image=printed_receipt()
    )


def _model_tier(name: str, backend: dict[str, Any]) -> dict[str, Any]:
    options = {"device": "cpu", "dtype": "float32", **backend}
    return {
        "name": name,
        "backend": options,
        "isolation": "process",
        "preload": True,
        "timeout_s": 120,
        "start_timeout_s": 240,
        "retry": {"attempts": 1},
    }


def test_garbage_from_tiny_models_in_workers_falls_back_to_ocr_rules(mllama_random, internvl_partial):
    pytest.importorskip("backends.fields.ocr_rules", reason="the OCR + rules backend has not landed on this branch")
    policy = policy_from_dict(
        {
            "name": "tiny-models-e2e",
            "deadline_s": 600,
            "quality_gate": {"required": ["merchant", "date", "total"]},
            "tiers": [
                _model_tier(
                    "llama-vision",
                    {
                        "kind": "llama_vision",
                        "model": str(mllama_random),
                        # crash-prone on every transformers version: the worker must replace it, not crash
                        "generation": {"max_new_tokens": 24, "encoder_repetition_penalty": 1.3},
                        "constrained": False,  # free text, so that garbage can reach the post-processing
                    },
                ),
                _model_tier(
                    "internvl3",
                    {
                        "kind": "internvl3",
                        "model": str(internvl_partial),
                        "max_tiles": 4,
                        "generation": {"max_new_tokens": 40},
                        "constrained": False,
                    },
                ),
                {"name": "ocr-rules", "backend": {"kind": "ocr_rules"}},
            ],
        }
    )
    with capture_logs() as captured, Router(policy) as router:
        assert router.warm_up(timeout_s=300) == {"llama-vision": "ready", "internvl3": "ready", "ocr-rules": "ready"}
        result = router.extract(_receipt_png(), name="receipt.png", request_id="e2e-1")

    assert (result.status, result.tier) == ("degraded", "ocr-rules")
    assert {k: result.values()[k] for k in ("date", "total")} == {"date": "2024-01-31", "total": "12.50"}

    vision, internvl, rules = result.attempts
    assert (vision.tier, vision.outcome, vision.error_class, vision.signature) == (
        "llama-vision",
        "failed",
        ErrorClass.INVALID_OUTPUT,
        "invalid_output",
    )
    assert (internvl.tier, internvl.outcome, internvl.error_class, internvl.signature) == (
        "internvl3",
        "rejected",
        ErrorClass.INVALID_OUTPUT,
        "quality_gate",
    )
    assert "missing required fields: date, total" in (internvl.message or "")
    assert (rules.tier, rules.outcome) == ("ocr-rules", "succeeded")
    model_pids = {vision.worker_pid, internvl.worker_pid}
    assert None not in model_pids and os.getpid() not in model_pids and len(model_pids) == 2

    trail = [
        (e["event"], e.get("tier") or e.get("from_tier"), e.get("signature"))
        for e in captured
        if e.get("request_id") == "e2e-1" and e["event"].startswith(("attempt.", "route.", "request.done"))
    ]
    assert trail == [
        ("attempt.started", "llama-vision", None),
        ("attempt.failed", "llama-vision", "invalid_output"),
        ("route.fallback", "llama-vision", "invalid_output"),
        ("attempt.started", "internvl3", None),
        ("attempt.rejected", "internvl3", "quality_gate"),
        ("route.fallback", "internvl3", "quality_gate"),
        ("attempt.started", "ocr-rules", None),
        ("attempt.succeeded", "ocr-rules", None),
        ("request.done", "ocr-rules", None),
    ]
    done = next(e for e in captured if e["event"] == "request.done" and e.get("request_id") == "e2e-1")
    assert done["status"] == "degraded"


def test_a_tiny_model_worker_at_capacity_4_answers_four_pages_in_one_batch_as_it_answers_each_alone(mllama_taught):
    """Real Mllama in a real worker at capacity 4: four different pages sent at once are answered in
        one batched generate, each request gets its own answer, and each answer is the one the backend
        gives that page alone (greedy decoding, constrained to the answer schema). The model is taught the
    receipt's answer, so the answers compared hold values."""
    from concurrent.futures import ThreadPoolExecutor

    from backends import registry
    from router.api.inputs import load_document
    from tests.backends.conftest import model_options
    from tests.backends.tiny_models import receipt_image

    generation = {"max_new_tokens": 96}
    backend = {"kind": "llama_vision", "model": str(mllama_taught), "constrained": True, "generation": generation}
    tier = {**_model_tier("llama-vision", backend), "capacity": 4, "batch_window_ms": 1000}
    policy = policy_from_dict(
        {"name": "capacity-e2e", "deadline_s": 600, "quality_gate": {"required": []}, "tiers": [tier]}
    )
    pngs = []
    for size in ((200, 300), (300, 90), (120, 120), (90, 400)):  # different tile grids in one batch
        buffer = io.BytesIO()
        receipt_image(size).save(buffer, "PNG")
        pngs.append(buffer.getvalue())

    with Router(policy) as router:
        assert router.warm_up(timeout_s=300) == {"llama-vision": "ready"}
        assert router.status()["llama-vision"]["capacity"] == 4
        with ThreadPoolExecutor(4) as threads:
            results = list(threads.map(lambda data: router.extract(data, name="page.png"), pngs))

    alone = registry.create(model_options("llama_vision", mllama_taught, constrained=True, generation=generation))
    alone.load()
    try:
        for data, result in zip(pngs, results, strict=True):
            try:
                expected = alone.extract(load_document(data, policy.limits, name="page.png")).fields.values()
            except Exception as exc:  # random weights may give a value that fails validation: so must the batch
                assert result.status == "failed" and result.error is not None, (exc, result)
                assert result.error.error_class == ErrorClass.INVALID_OUTPUT
                continue
            assert result.ok and result.values() == {k: v for k, v in expected.items() if v}
            assert result.meta["batch_size"] == 4  # answered in one batched call
    finally:
        alone.close()
    assert len({r.attempts[0].worker_pid for r in results}) == 1  # one worker, one copy of the weights
    assert any(r.ok and r.values() for r in results)  # the taught model answers: the comparison has teeth
