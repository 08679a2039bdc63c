"""Batched, schema-constrained generation on the three tiny model tiers.

- Batched answers equal one-at-a-time answers under greedy decoding (left padding; InternVL pages
  and Mllama pages cut into different numbers of tiles in one batch).
- With random weights and the constraint on, every answer parses and fits the answer schema;
  without it, random weights give garbage.
- The mask is sized to the lm_head: Mllama's image token lies outside it, and the seed bug stays
  avoided with the constraint and the batch (the vocabulary-safe repetition penalty still applies).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from backends.documents.document import Document
from backends.errors import BackendUnavailable, InvalidOutput
from backends.fields.postprocess import parse_answer
from backends.models.internvl import InternVLBackend
from backends.models.llama_vision import LlamaVisionBackend
from backends.models.ocr_llm import OcrLlmBackend
from backends.models.tokenconf import TOKENS
from backends.options import OcrLlmOptions
from tests.backends.conftest import OCR_TEXT, model_options
from tests.backends.models.test_ocr_llm import Page
from tests.backends.receipts import receipt_image
from tests.lazy import lazy_module

torch = lazy_module("torch")
generation = lazy_module("backends.models.generation")
constrain = lazy_module("backends.models.constrain")

#: Pages of different shapes: the processors cut them into different numbers of tiles.
PAGES = [receipt_image((200, 300)), receipt_image((300, 90)), receipt_image((120, 120)), receipt_image((90, 400))]
OCR_TEXTS = [OCR_TEXT, "SHOP\nTOTAL 3.00", OCR_TEXT + "\nTEA 1.50\nKOPI 2.00", "X MART 01/02/2024 TOTAL 9.90"]
BUDGET = {"max_new_tokens": 96}
ON = {"constrained": True, "generation": BUDGET}


class _Item(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    description: str | None
    quantity: str | None
    amount: str | None


class _Answer(BaseModel):
    """The answer schema as a strict pydantic model: every key present, every value a string or null."""

    model_config = ConfigDict(extra="forbid", strict=True)
    merchant: str | None
    date: str | None
    total: str | None
    currency: str | None
    address: str | None
    line_items: list[_Item]


def _fits_schema(text: str) -> bool:
    try:
        _Answer.model_validate_json(text)
        parse_answer(text)
    except (ValueError, InvalidOutput):
        return False
    return True


def _documents(count: int) -> list[Document]:
    return [
        Document(
            sha256=f"{i:064x}", pages=(PAGES[i % len(PAGES)],), media_type="image/png", source="t.png", size_bytes=1
        )
        for i in range(count)
    ]


def _ocr_by_document(doc: Document, options: Any) -> Page:
    return Page(OCR_TEXTS[int(doc.sha256, 16) % len(OCR_TEXTS)])


def _loaded(backend: Any) -> Any:
    backend.load()
    return backend


@pytest.fixture(scope="module")
def internvl(internvl_random: Path) -> InternVLBackend:
    return _loaded(InternVLBackend(model_options("internvl3", internvl_random, max_tiles=4, **ON)))


@pytest.fixture(scope="module")
def mllama(mllama_random: Path) -> LlamaVisionBackend:
    # crash-prone parameters on purpose: the plan replaces them, in a batch too
    crashy = BUDGET | {"encoder_repetition_penalty": 1.3, "encoder_no_repeat_ngram_size": 3}
    options = model_options("llama_vision", mllama_random, constrained=True, generation=crashy)
    return _loaded(LlamaVisionBackend(options))


@pytest.fixture(scope="module")
def text_llama(llama_random: Path) -> OcrLlmBackend:
    return _loaded(OcrLlmBackend(model_options("ocr_llm", llama_random, **ON), ocr=_ocr_by_document))


def _page_answers(backend: Any) -> tuple[list[Any], list[Any]]:
    batched = backend._answer_pages(PAGES)
    single = [backend._answer_pages([page])[0] for page in PAGES]
    return batched, single


def test_options_constrain_by_default_where_supported_and_refuse_it_where_not():
    from pydantic import ValidationError

    assert model_options("ocr_llm", Path("/m"), constrained=True).constrains
    assert not model_options("internvl3", Path("/m"), trust_remote_code=True).constrains  # chat() takes no processor
    beams = {"num_beams": 2, "max_new_tokens": 96}
    default = model_options("ocr_llm", Path("/m"), generation=beams)
    assert not default.constrains  # the default steps aside
    assert type(default).model_validate(default.model_dump()) == default  # and survives a round trip
    assert OcrLlmOptions(model="/m").constrains  # on by default where it works
    with pytest.raises(ValidationError, match="beam search"):
        model_options("ocr_llm", Path("/m"), generation=beams, constrained=True)  # an explicit true is refused


def assert_same_answers(batched, single):
    """The same texts and counts; the token probabilities of a padded batch equal a lone row's up to
    float rounding (the padding changes the order of the sums)."""
    strip = lambda answers: [(text, {k: v for k, v in meta.items() if k != TOKENS}) for text, meta in answers]  # noqa: E731
    assert strip(batched) == strip(single)
    for (_, one), (_, other) in zip(batched, single, strict=True):
        assert [end for end, _ in one[TOKENS]] == [end for end, _ in other[TOKENS]]
        assert [p for _, p in one[TOKENS]] == pytest.approx([p for _, p in other[TOKENS]], abs=1e-3)


def test_internvl_batched_answers_equal_one_at_a_time_with_different_tile_counts(internvl):
    batched, single = _page_answers(internvl)
    assert len({meta["tiles"] for _, meta in batched}) > 1  # one batch, pages of different tile counts
    assert_same_answers(batched, single)


def test_mllama_batched_answers_equal_one_at_a_time_with_different_tile_counts(mllama):
    inputs = mllama.processor(
        images=[[p] for p in PAGES], text=["<|image|>x"] * len(PAGES), padding=True, return_tensors="pt"
    )
    assert len(set(inputs["aspect_ratio_ids"].flatten().tolist())) > 1  # different tile grids in one batch
    batched, single = _page_answers(mllama)
    assert_same_answers(batched, single)


def test_text_model_batched_answers_equal_one_at_a_time(text_llama):
    documents = _documents(len(OCR_TEXTS))
    batched = text_llama._answers(documents)
    single = [text_llama._answers([doc])[0] for doc in documents]
    assert len({meta["prompt_tokens"] for _, meta in batched}) > 1  # prompts of different lengths: left padding
    assert_same_answers(batched, single)


def test_text_model_batched_extractions_equal_one_at_a_time_unconstrained(llama_taught):
    """The free-text path batches the same way (taught model: real answers, not garbage)."""
    backend = _loaded(OcrLlmBackend(model_options("ocr_llm", llama_taught), ocr=_ocr_by_document))
    documents = _documents(3)
    batched = backend.extract_batch(documents)
    single = [backend.extract(doc) for doc in documents]
    assert [b.fields for b in batched] == [s.fields for s in single]  # type: ignore[union-attr]
    assert batched[0].fields.total == "12.50"  # type: ignore[union-attr]


@pytest.mark.parametrize("tier", ["internvl", "mllama", "text_llama"])
def test_random_weights_constrained_every_answer_parses_and_validates_unconstrained_not(tier, request):
    backend = request.getfixturevalue(tier)
    documents = _documents(8)
    constrained = _raw_answers(backend, documents)
    assert all(meta.get("constrained") for _, meta in constrained)
    assert all(meta["new_tokens"] <= BUDGET["max_new_tokens"] for _, meta in constrained)
    free = type(backend)(backend.options.model_copy(update={"constrained": False}))
    free.model, free.device, free.vocab = backend.model, backend.device, backend.vocab
    free.plan = generation.GenerationPlan(**{**backend.plan.__dict__, "grammar": None})
    for attribute in ("processor", "tokenizer", "_ocr"):
        if hasattr(backend, attribute):
            setattr(free, attribute, getattr(backend, attribute))
    unconstrained = _raw_answers(free, documents)
    share = sum(_fits_schema(text) for text, _ in unconstrained) / len(unconstrained)
    assert sum(_fits_schema(text) for text, _ in constrained) == len(constrained)  # 100%
    assert share < 1  # the same weights, free: garbage
    results = backend.extract_batch(documents)
    assert not [r for r in results if isinstance(r, Exception)]


def _raw_answers(backend: Any, documents: list[Document]) -> list[tuple[str, dict[str, Any]]]:
    if isinstance(backend, OcrLlmBackend):
        return backend._answers(documents)  # type: ignore[return-value]
    return backend._answer_pages([doc.pages[0] for doc in documents])


def test_the_mask_has_one_column_per_lm_head_row_and_leaves_mllamas_image_token_out(mllama):
    grammar = mllama.plan.grammar
    embedding_rows, lm_head_rows = mllama.vocab
    image_id = mllama.model.config.image_token_index
    assert grammar.rows == lm_head_rows == image_id < embedding_rows
    assert grammar.allowed(grammar.initial, 1000).shape == (lm_head_rows,)
    # a prompt holding the image id does not make the processor index the scores with it
    constraint = constrain.SchemaConstraint(grammar, 96)
    prompt = torch.tensor([[1, image_id, 5], [image_id, image_id, 2]])
    scores = constraint(prompt, torch.zeros(2, lm_head_rows))  # type: ignore[arg-type]
    assert scores.shape == (2, lm_head_rows) and bool(torch.isfinite(scores).any(dim=1).all())


def test_seed_bug_stays_avoided_with_the_constraint_in_a_batch(mllama):
    """The crash-prone parameters are replaced (vocabulary-safe penalty kept) and the batch of four,
    whose prompts all hold the image id, generates; the constraint runs after the penalty."""
    assert set(mllama.plan.replaced) == {"encoder_repetition_penalty", "encoder_no_repeat_ngram_size"}
    prompt = torch.tensor([[1, mllama.vocab[1], 5]])
    assert all(isinstance(p, generation.VocabSafe) for p in mllama.plan.processors(prompt))
    assert "encoder_repetition_penalty" not in mllama.plan.indexing
    answers = mllama._answer_pages(PAGES)
    assert all(_fits_schema(text) for text, _ in answers)
    assert all("encoder_repetition_penalty" in meta["generation_replaced"] for _, meta in answers)
    assert all(meta["constrained"] for _, meta in answers)


def test_every_answer_finishes_inside_a_tight_budget(llama_random, text_llama):
    """With just enough tokens for the shortest answer, every answer still closes inside them."""
    tight = text_llama.plan.grammar.remaining[text_llama.plan.grammar.initial] + 1
    backend = _loaded(
        OcrLlmBackend(
            model_options("ocr_llm", llama_random, constrained=True, generation={"max_new_tokens": tight}),
            ocr=_ocr_by_document,
        )
    )
    answers = backend._answers(_documents(4))
    assert all(_fits_schema(text) and meta["new_tokens"] <= tight for text, meta in answers)  # type: ignore[misc]


def test_a_budget_too_small_for_any_answer_is_refused_at_load_with_the_fix(llama_random):
    backend = OcrLlmBackend(model_options("ocr_llm", llama_random, constrained=True, generation={"max_new_tokens": 20}))
    with pytest.raises(BackendUnavailable, match=r"max_new_tokens=20 .* constrained: false"):
        backend.load()


def test_answer_schema_asks_for_the_prompts_fields_in_its_order_as_strings():
    schema = constrain.answer_schema()
    assert list(schema["properties"]) == ["merchant", "date", "total", "currency", "address", "line_items"]
    assert schema["properties"]["date"] == schema["properties"]["total"] == {"type": ["string", "null"]}
    assert json.loads(json.dumps(schema)) == schema


def test_a_grammar_needs_an_end_of_sequence_id_inside_the_lm_head(mllama):
    from backends.models.constrain import token_bytes

    vocab = token_bytes(mllama.processor.tokenizer, mllama.vocab[1])
    with pytest.raises(ValueError, match="end-of-sequence"):
        constrain.AnswerGrammar(vocab, mllama.vocab[1], [mllama.vocab[1]])


GPU_CHILD = """
import json, sys
from backends.documents.document import Document
from backends.models.llama_vision import LlamaVisionBackend
from tests.backends.conftest import model_options
from tests.backends.tiny_models import receipt_image
mode, path = sys.argv[1], sys.argv[2]
generation = {"max_new_tokens": 96, "encoder_repetition_penalty": 1.3}
options = model_options("llama_vision", path, device="cuda", constrained=True, generation=generation)
backend = LlamaVisionBackend(options)
backend.load()
if mode == "raw":  # undo the plan's protection: the batch's prompts hold the image id
    backend.plan.kwargs["encoder_repetition_penalty"] = 1.3
    backend.plan.indexing = []
shapes = [(200, 300), (300, 90), (120, 120), (90, 400)]
docs = [Document(f"{i:064x}", (receipt_image(s),), "image/png", "t.png", 1) for i, s in enumerate(shapes)]
try:
    results = backend.extract_batch(docs)
except Exception as exc:
    print("BATCH RAISED", type(exc).__module__ + "." + type(exc).__name__)
    sys.exit(0)
print(json.dumps([type(r).__name__ for r in results]))
"""


def _gpu_child(*args: str) -> Any:
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[3]
    return subprocess.run(
        [sys.executable, "-c", GPU_CHILD, *args], cwd=root, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.mark.gpu
def test_a_device_side_assert_in_a_batch_of_four_fails_the_whole_batch(mllama_random):
    """On CUDA, the raw crash-prone parameter asserts inside the batched call: extract_batch raises
    (every request of the batch fails as sticky_cuda), it does not hand out per-page answers."""
    from router.failures.errors import ErrorClass, ErrorInfo
    from router.failures.signatures import classify

    out = _gpu_child("raw", str(mllama_random))
    assert "BATCH RAISED" in out.stdout, out.stdout + out.stderr[-2000:]
    info = ErrorInfo(type=out.stdout.split()[-1], message=out.stderr[-4000:])
    assert classify(info).error_class is ErrorClass.STICKY_CUDA


@pytest.mark.gpu
def test_a_constrained_batch_of_four_on_cuda_answers_every_page(mllama_random):
    out = _gpu_child("safe", str(mllama_random))
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == ["Extraction"] * 4
