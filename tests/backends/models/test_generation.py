"""The seed bug (transformers #34304) reproduced on the CPU, and avoided by the CUDA-safe plan.

The tiny Mllama has the real model's layout: ``<|image|>`` is the last token, its id equals the
lm_head size, and the input embedding has 8 spare rows. The parameters that crash depend on the
installed transformers version (``kinds.unsafe_parameters``); each is tried raw.
"""

from __future__ import annotations

import re
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

import pytest

from backends import kinds
from backends.errors import IndexOutOfVocabulary
from backends.models import prompts
from backends.models.llama_vision import LlamaVisionBackend
from backends.options import GenerationOptions
from router.failures.errors import ErrorClass, ErrorInfo, PolicyError
from router.failures.signatures import classify
from router.policy.model import policy_from_dict
from tests.backends.conftest import model_options
from tests.backends.receipts import receipt_image
from tests.lazy import lazy_module

torch = lazy_module("torch")
transformers = lazy_module("transformers")
generation = lazy_module("backends.models.generation")

INSTALLED = installed_version("transformers")
RAW_VALUES: dict[str, Any] = {
    "repetition_penalty": 1.3,
    "no_repeat_ngram_size": 2,
    "encoder_repetition_penalty": 1.3,
    "encoder_no_repeat_ngram_size": 2,
}


@pytest.fixture(scope="module")
def mllama(mllama_random: Path) -> LlamaVisionBackend:
    backend = LlamaVisionBackend(model_options("llama_vision", mllama_random))
    backend.load()  # the production loading path
    return backend


@pytest.fixture(scope="module")
def mllama_inputs(mllama: LlamaVisionBackend) -> Any:
    prompt = mllama.processor.apply_chat_template(prompts.vision_messages(), add_generation_prompt=True)
    return mllama.processor(images=receipt_image(), text=prompt, add_special_tokens=False, return_tensors="pt")


def test_tiny_mllama_has_the_real_layout_image_token_id_equals_lm_head_rows(mllama, mllama_inputs):
    embedding_rows, lm_head_rows = generation.model_vocab_sizes(mllama.model)
    assert mllama.model.config.image_token_index == lm_head_rows
    assert embedding_rows == lm_head_rows + 8
    assert int(mllama_inputs["input_ids"].max()) == lm_head_rows  # the prompt holds the image token


@pytest.mark.parametrize(
    ("version", "unsafe"),
    [
        ("4.45.2", kinds.ALWAYS_UNSAFE + kinds.UNSAFE_BEFORE_CLAMP),
        ("5.17.0", kinds.ALWAYS_UNSAFE + kinds.UNSAFE_BEFORE_CLAMP),
        ("5.18.0", kinds.ALWAYS_UNSAFE),
        ("5.24.0", kinds.ALWAYS_UNSAFE),
    ],
)
def test_which_parameters_crash_depends_on_the_transformers_version(version, unsafe):
    assert kinds.unsafe_parameters(version) == unsafe


@pytest.mark.parametrize("name", kinds.unsafe_parameters(INSTALLED))
def test_seed_bug_raw_parameter_raises_the_out_of_range_error_on_cpu(mllama, mllama_inputs, name):
    """Raw, each crash-prone parameter makes a logits processor index the logits at the image id."""
    lm_head_rows = generation.model_vocab_sizes(mllama.model)[1]
    with torch.inference_mode(), pytest.raises((RuntimeError, IndexError)) as caught:
        mllama.model.generate(**mllama_inputs, max_new_tokens=3, do_sample=False, **{name: RAW_VALUES[name]})
    assert re.search(
        rf"index {lm_head_rows} is out of bounds for dimension \d with size {lm_head_rows}", str(caught.value)
    )
    assert classify(ErrorInfo.from_exception(caught.value)).error_class is ErrorClass.BAD_INDEX


@pytest.mark.parametrize("name", kinds.unsafe_parameters(INSTALLED))
def test_preflight_check_turns_the_raw_parameter_into_index_out_of_vocabulary(mllama, mllama_inputs, name):
    raw = generation.plan_generation(
        GenerationOptions(**{name: RAW_VALUES[name]}), unsafe=(), transformers_version=INSTALLED
    )
    embedding_rows, lm_head_rows = generation.model_vocab_sizes(mllama.model)
    with pytest.raises(
        IndexOutOfVocabulary, match=f"{name} would index the logits at prompt id {lm_head_rows}"
    ) as caught:
        generation.check_token_ids(
            mllama_inputs["input_ids"], embedding_rows=embedding_rows, lm_head_rows=lm_head_rows, indexing=raw.indexing
        )
    assert classify(ErrorInfo.from_exception(caught.value)).error_class is ErrorClass.BAD_INDEX


def test_preflight_check_rejects_an_input_id_outside_the_embedding(mllama, mllama_inputs):
    embedding_rows, lm_head_rows = generation.model_vocab_sizes(mllama.model)
    ids = mllama_inputs["input_ids"].clone()
    ids[0, 0] = embedding_rows
    with pytest.raises(IndexOutOfVocabulary, match=f"input id {embedding_rows} lies outside the input embedding"):
        generation.check_token_ids(ids, embedding_rows=embedding_rows, lm_head_rows=lm_head_rows, indexing=())


def test_safe_plan_replaces_every_unsafe_parameter_and_generates(mllama, mllama_inputs):
    options = GenerationOptions(max_new_tokens=8, **RAW_VALUES)
    plan = generation.plan_generation(
        options, unsafe=kinds.unsafe_parameters(INSTALLED), transformers_version=INSTALLED
    )
    assert plan.replaced == list(kinds.unsafe_parameters(INSTALLED))
    assert plan.indexing == []
    assert all(plan.kwargs[name] == generation.NEUTRAL[name] for name in plan.replaced)
    assert plan.safe == {name: RAW_VALUES[name] for name in plan.replaced}  # each keeps its value
    if "repetition_penalty" not in plan.replaced:  # transformers >= 5.18: the native one is safe and stays
        assert plan.kwargs["repetition_penalty"] == 1.3
    output = generation.generate(mllama.model, dict(mllama_inputs), plan)
    assert output.shape[1] == mllama_inputs["input_ids"].shape[1] + 8


def _scores(mllama, mllama_inputs, n, **parameters):
    plan = generation.plan_generation(
        GenerationOptions(max_new_tokens=n, **parameters),
        unsafe=kinds.unsafe_parameters("5.17.0"),  # every one of the four is applied vocabulary-safely
        transformers_version=INSTALLED,
    )
    with torch.inference_mode():
        return mllama.model.generate(
            **mllama_inputs,
            **plan.kwargs,
            logits_processor=plan.processors(mllama_inputs["input_ids"]),
            return_dict_in_generate=True,
            output_scores=True,
            output_logits=True,
        )


def test_a_replaced_repetition_penalty_still_breaks_the_loop(mllama, mllama_inputs):
    """Applied vocabulary-safely, the penalty runs inside generate and the untaught model's loop is gone."""
    n = 30
    plain, penalised = (_scores(mllama, mllama_inputs, n, repetition_penalty=p) for p in (None, 1.5))
    assert torch.equal(plain.scores[0], plain.logits[0])
    assert len(set(plain.sequences[0, -n:].tolist())) < n  # greedy random weights fall into a loop
    assert len(set(penalised.sequences[0, -n:].tolist())) == n  # the penalty breaks it


def test_a_replaced_encoder_penalty_still_means_what_it_says_reward_the_prompt(mllama, mllama_inputs):
    """encoder_repetition_penalty > 1 rewards prompt tokens (transformers' "hallucination penalty"):
    the processed scores differ from the raw logits at exactly the prompt ids inside the vocabulary,
    and each moved the way the parameter asks (positive scores up, negative ones towards zero)."""
    result = _scores(mllama, mllama_inputs, 1, encoder_repetition_penalty=1.5)
    lm_head_rows = generation.model_vocab_sizes(mllama.model)[1]
    prompt_ids = {i for i in mllama_inputs["input_ids"][0].tolist() if i < lm_head_rows}
    raw, processed = result.logits[0][0], result.scores[0][0]
    changed = (processed != raw).nonzero().flatten().tolist()
    assert set(changed) == prompt_ids
    assert torch.allclose(processed[changed], torch.where(raw[changed] > 0, raw[changed] * 1.5, raw[changed] / 1.5))


def test_vocab_safe_processor_matches_transformers_inside_the_vocabulary():
    torch.manual_seed(1)
    scores = torch.randn(2, 50)
    ids = torch.randint(0, 50, (2, 12))
    expected = transformers.RepetitionPenaltyLogitsProcessor(1.4)(ids, scores.clone())
    safe = generation.VocabSafe(transformers.RepetitionPenaltyLogitsProcessor(1.4))
    assert torch.allclose(safe(ids, scores.clone()), expected)


def test_vocab_safe_processor_indexes_ids_past_the_scores_in_padding():
    scores = torch.tensor([[2.0, -2.0, 1.0, 4.0]])
    ids = torch.tensor([[0, 1, 4, 4, 99]])  # 4 and 99 lie past the 4 columns
    out = generation.VocabSafe(transformers.RepetitionPenaltyLogitsProcessor(2.0))(ids, scores.clone())
    assert out.tolist() == [[1.0, -4.0, 1.0, 4.0]]
    banned = generation.VocabSafe(transformers.NoRepeatNGramLogitsProcessor(2))(
        torch.tensor([[99, 2, 99]]), scores.clone()
    )
    assert banned[0, 2] == float("-inf") and banned.shape == scores.shape  # 99, 2 was seen: 2 is banned


def test_checkpoint_defaults_that_crash_are_replaced_too():
    """A checkpoint's generation_config.json may set repetition_penalty itself."""
    defaults = transformers.GenerationConfig(repetition_penalty=1.2)
    plan = generation.plan_generation(
        GenerationOptions(),
        unsafe=kinds.unsafe_parameters("5.17.0"),
        transformers_version="5.17.0",
        checkpoint_defaults=defaults,
    )
    assert plan.replaced == ["repetition_penalty"]
    assert plan.kwargs["repetition_penalty"] == 1.0
    assert plan.safe == {"repetition_penalty": 1.2}


def test_each_replaced_parameter_runs_its_own_processor_with_its_own_value():
    plan = generation.plan_generation(
        GenerationOptions(encoder_repetition_penalty=1.4, encoder_no_repeat_ngram_size=3, repetition_penalty=1.2),
        unsafe=kinds.ALWAYS_UNSAFE,
        transformers_version="5.24.0",
    )
    prompt = torch.tensor([[1, 2, 3, 4]])
    inner = [p.inner for p in plan.processors(prompt)]
    assert [type(p).__name__ for p in inner] == [
        "EncoderRepetitionPenaltyLogitsProcessor",
        "EncoderNoRepeatNGramLogitsProcessor",
    ]
    assert inner[0].penalty == pytest.approx(1 / 1.4)  # transformers inverts it: > 1 rewards the prompt
    assert plan.kwargs["repetition_penalty"] == 1.2  # safe on 5.24: stays native, not doubled


def test_safe_parameters_pass_through_unchanged():
    plan = generation.plan_generation(
        GenerationOptions(repetition_penalty=1.1, no_repeat_ngram_size=4),
        unsafe=kinds.unsafe_parameters("5.24.0"),
        transformers_version="5.24.0",
    )
    assert (plan.replaced, plan.safe, plan.indexing) == ([], {}, [])
    assert plan.kwargs["repetition_penalty"] == 1.1 and plan.kwargs["no_repeat_ngram_size"] == 4


def test_early_stopping_with_greedy_search_is_a_policy_error_naming_the_field():
    policy = {
        "tiers": [
            {
                "name": "llama-vision",
                "backend": {"kind": "llama_vision", "model": "/models/x", "generation": {"early_stopping": True}},
            }
        ]
    }
    with pytest.raises(PolicyError) as caught:
        policy_from_dict(policy)
    assert "tiers[0].backend.generation" in str(caught.value)
    assert "early_stopping only applies to beam search" in str(caught.value)
