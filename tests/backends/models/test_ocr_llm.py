"""OCR + text-only Llama 3.2: OCR text -> chat-templated prompt -> generate -> decode -> post-process."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from backends import registry
from backends.errors import InvalidOutput
from backends.models import prompts
from backends.models.ocr_llm import OcrLlmBackend
from router.failures.errors import ErrorClass, ErrorInfo
from router.failures.signatures import classify
from tests.backends.conftest import OCR_TEXT, document, model_options, tiny_model
from tests.backends.receipts import ANSWER_FIELDS, printed_receipt


@dataclass
class Page:
    """What ``backends.ocr.engine.ocr_document`` returns, for tests that give the OCR text directly."""

    text: str
    mean_confidence: float = 91.0
    words: int = 0
    chars: int = 0


def given_text(text: str):
    calls = []

    def ocr(doc, options):
        calls.append((doc.sha256, options.psm))
        return Page(text)

    ocr.calls = calls  # type: ignore[attr-defined]
    return ocr


def test_taught_model_answers_validated_fields_from_ocr_text(llama_taught):
    ocr = given_text(OCR_TEXT)
    backend = OcrLlmBackend(model_options("ocr_llm", llama_taught), ocr=ocr)
    extraction = backend.extract(document())
    assert extraction.fields.model_dump(
        exclude_none=True, exclude={"line_items", "date_raw", "total_raw", "confidence"}
    ) == (ANSWER_FIELDS)
    assert ocr.calls == [("0" * 64, 6)]  # the tier's OCR options reach the OCR
    assert extraction.meta["ocr_chars"] == len(OCR_TEXT) and extraction.meta["ocr_confidence"] == 91.0
    assert "TINY" not in json.dumps(extraction.meta)


def test_prompt_is_the_chat_template_around_fenced_ocr_text(llama_random):
    backend = OcrLlmBackend(model_options("ocr_llm", llama_random))
    backend.load()
    text = backend.tokenizer.apply_chat_template(
        prompts.ocr_messages(OCR_TEXT), add_generation_prompt=True, tokenize=False
    )
    assert text.startswith("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n")
    assert f"===\n{OCR_TEXT}\n===" in text and "JSON" in text
    assert text.endswith("<|start_header_id|>assistant<|end_header_id|>\n\n")


def test_untaught_model_garbage_is_invalid_output(llama_random):
    backend = OcrLlmBackend(model_options("ocr_llm", llama_random), ocr=given_text(OCR_TEXT))
    with pytest.raises(InvalidOutput) as caught:
        backend.extract(document())
    assert classify(ErrorInfo.from_exception(caught.value)).error_class is ErrorClass.INVALID_OUTPUT


def test_long_ocr_text_is_cut_before_prompting(llama_random):
    backend = OcrLlmBackend(model_options("ocr_llm", llama_random, max_ocr_chars=100), ocr=given_text("X " * 500))
    backend.load()
    [(_, meta)] = backend._answers([document()])
    assert (meta["ocr_chars"], meta["ocr_chars_used"]) == (1000, 100)


def test_too_little_ocr_text_fails_before_the_model_runs(llama_random):
    def unreadable(doc, options):
        raise InvalidOutput("OCR found 3 characters, fewer than min_chars 40")

    backend = OcrLlmBackend(model_options("ocr_llm", llama_random), ocr=unreadable)
    with pytest.raises(InvalidOutput, match="min_chars"):
        backend.extract(document())


def test_registry_creates_the_backend_with_the_shared_ocr_code(llama_random):
    backend = registry.create(model_options("ocr_llm", llama_random))
    assert isinstance(backend, OcrLlmBackend) and backend._ocr is None  # backends.ocr.engine.ocr_document on first use


@pytest.fixture(scope="module")
def llama_taught_on_real_ocr(request: pytest.FixtureRequest) -> Path:
    """A tiny Llama taught to answer the prompt built from Tesseract's reading of printed_receipt()."""
    ocr = pytest.importorskip("backends.ocr.engine", reason="the OCR module has not landed on this branch")
    from backends.options import OcrOptions

    text = ocr.ocr_document(document(printed_receipt()), OcrOptions()).text
    return tiny_model(request.config, "build_llama_text", teach_on=text)


def test_full_path_from_image_through_tesseract(llama_taught_on_real_ocr):
    """image -> Tesseract (the OCR + rules tier's code) -> chat prompt -> generate -> decode -> fields."""
    backend = registry.create(model_options("ocr_llm", llama_taught_on_real_ocr))
    extraction = backend.extract(document(printed_receipt()))
    assert extraction.fields.model_dump(
        exclude_none=True, exclude={"line_items", "date_raw", "total_raw", "confidence"}
    ) == (ANSWER_FIELDS)
    assert extraction.meta["ocr_chars"] > 40 and extraction.meta["ocr_confidence"] > 50


def test_each_field_of_a_model_answer_carries_the_least_probability_of_the_tokens_spelling_it(llama_taught):
    """Real generation (a tiny Llama taught the answer): a confidence per field from its value's
    tokens, and the token record never left in the metadata the log gets."""
    backend = OcrLlmBackend(model_options("ocr_llm", llama_taught), ocr=given_text(OCR_TEXT))
    extraction = backend.extract(document())
    confidence = extraction.fields.confidence
    assert {"merchant", "date", "total"} <= set(confidence)
    assert all(0 < value <= 1 for value in confidence.values())
    assert not any(key.startswith("_token") for key in extraction.meta)
