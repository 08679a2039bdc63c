"""Generation parameters made safe before use, and the token-id preflight check.

The seed bug (transformers issue #34304): logits processors that index ``scores`` with prompt ids
crash when a prompt id lies outside the lm_head. Mllama's image token id equals the lm_head size
(128256), so on CUDA ``repetition_penalty`` becomes a device-side assert that poisons the process.
Which parameters crash depends on the transformers version::

    encoder_repetition_penalty, encoder_no_repeat_ngram_size   every version
    repetition_penalty, no_repeat_ngram_size                   before 5.18 (later ones clamp ids)

``plan_generation`` switches the crash-prone ones off, wherever they come from (the policy or the
checkpoint's own ``generation_config.json``), and adds one ``VocabSafeRepetitionPenalty`` that
skips ids outside the score range, so repetition control keeps working. Its strength is the
replaced ``repetition_penalty``, else the replaced ``encoder_repetition_penalty``, else
``DEFAULT_PENALTY`` when only an n-gram size asked for repetition control; none is added when a
``repetition_penalty`` that is safe on this version stays in force. ``check_token_ids`` is the last
line of defence: an id outside the embedding, or an id that a remaining processor will index
outside the lm_head, raises ``IndexOutOfVocabulary`` before any kernel runs.

``generate_texts`` runs one left-padded batch (one row per page or document) with the same plan,
check and processors for every row; with the plan's ``grammar`` (``constrain``) a
``backends.constrain.SchemaConstraint`` goes after the repetition penalty, so generation stays
inside the answer schema and the penalty still applies.

Imported only inside a backend's ``load``/``extract`` (it imports torch and transformers).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from packaging.version import Version
from transformers import LogitsProcessor

from backends.errors import BackendUnavailable, IndexOutOfVocabulary
from backends.options import GenerationOptions

CLAMPED_SINCE = Version("5.18")
ALWAYS_UNSAFE = ("encoder_repetition_penalty", "encoder_no_repeat_ngram_size")
UNSAFE_BEFORE_CLAMP = ("repetition_penalty", "no_repeat_ngram_size")
#: Values that switch each parameter off (``None`` would let the checkpoint's default back in).
NEUTRAL: dict[str, float | int] = {
    "repetition_penalty": 1.0,
    "no_repeat_ngram_size": 0,
    "encoder_repetition_penalty": 1.0,
    "encoder_no_repeat_ngram_size": 0,
}
DEFAULT_PENALTY = 1.1


def unsafe_parameters(transformers_version: str) -> tuple[str, ...]:
    """The parameters that index logits with prompt ids unchecked in this transformers version."""
    if Version(transformers_version).release < CLAMPED_SINCE.release:
        return ALWAYS_UNSAFE + UNSAFE_BEFORE_CLAMP
    return ALWAYS_UNSAFE


class VocabSafeRepetitionPenalty(LogitsProcessor):
    """CTRL's repetition penalty over prompt and generated ids, ignoring ids outside the scores.

    Same arithmetic as transformers' ``RepetitionPenaltyLogitsProcessor`` (divide positive scores,
    multiply negative ones, at most once per id), but ids ``>= scores.shape[-1]`` (Mllama's image
    token) or ``< 0`` are skipped instead of indexed.
    """

    def __init__(self, penalty: float):
        if not penalty > 0:
            raise ValueError(f"penalty must be > 0, got {penalty}")
        self.penalty = float(penalty)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        vocab = scores.shape[-1]
        inside = (input_ids >= 0) & (input_ids < vocab)
        seen = torch.zeros_like(scores)
        seen.scatter_add_(1, torch.where(inside, input_ids, 0), inside.to(scores.dtype))
        penalized = torch.where(scores < 0, scores * self.penalty, scores / self.penalty)
        return torch.where(seen > 0, penalized, scores)  # type: ignore[return-value]


@dataclass
class GenerationPlan:
    """What ``generate`` is called with, and what was changed on the way."""

    kwargs: dict[str, Any]
    processors: list[Any] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    #: Active parameters whose processors index logits with prompt ids unchecked (should be empty).
    indexing: list[str] = field(default_factory=list)
    #: The answer grammar (``backends.constrain.AnswerGrammar``) when generation is constrained.
    grammar: Any = None

    def meta(self) -> dict[str, Any]:
        return {"generation_replaced": self.replaced} if self.replaced else {}


def requested(options: GenerationOptions, checkpoint_defaults: Any = None) -> dict[str, Any]:
    """The generation parameters in force: the policy's, else the checkpoint's for the risky ones."""
    kwargs = options.model_dump(exclude_none=True)
    for name in NEUTRAL:
        if name not in kwargs and checkpoint_defaults is not None:
            value = getattr(checkpoint_defaults, name, None)
            if value is not None and value != NEUTRAL[name]:
                kwargs[name] = value
    return kwargs


def plan_generation(
    options: GenerationOptions,
    *,
    unsafe: Collection[str],
    transformers_version: str,
    checkpoint_defaults: Any = None,
) -> GenerationPlan:
    """Replace each parameter in ``unsafe`` by a vocabulary-safe penalty; pass the rest through.

    ``unsafe`` is ``unsafe_parameters(version)`` for a model whose prompts hold ids outside its
    lm_head (Mllama), and empty for one whose prompt ids all lie inside it.
    """
    kwargs = requested(options, checkpoint_defaults)
    replaced = [name for name in NEUTRAL if name in unsafe and _active(name, kwargs.get(name))]
    plan = GenerationPlan(kwargs=kwargs | {name: NEUTRAL[name] for name in replaced}, replaced=replaced)
    if replaced and not _active("repetition_penalty", plan.kwargs.get("repetition_penalty")):
        # (a repetition_penalty that is safe on this version already controls repetition)
        plan.processors.append(VocabSafeRepetitionPenalty(_replacement_strength(kwargs, replaced)))
    really_unsafe = unsafe_parameters(transformers_version)
    plan.indexing = [n for n in really_unsafe if _active(n, plan.kwargs.get(n))]
    return plan


def _active(name: str, value: Any) -> bool:
    return value is not None and value != NEUTRAL[name]


def _replacement_strength(kwargs: dict[str, Any], replaced: list[str]) -> float:
    for name in ("repetition_penalty", "encoder_repetition_penalty"):
        if name in replaced:
            return float(kwargs[name])
    return DEFAULT_PENALTY


def check_token_ids(input_ids: Any, *, embedding_rows: int, lm_head_rows: int, indexing: Collection[str]) -> None:
    """Raise ``IndexOutOfVocabulary`` if generating with these ids would index out of range.

    Every input id must lie inside the input embedding; if a logits processor in ``indexing`` will
    gather scores at prompt ids, every prompt id must also lie inside the lm_head.
    """
    if input_ids.numel() == 0:
        return
    low, high = int(input_ids.min()), int(input_ids.max())
    if low < 0 or high >= embedding_rows:
        bad = low if low < 0 else high
        raise IndexOutOfVocabulary(f"input id {bad} lies outside the input embedding ({embedding_rows} rows)")
    if indexing and high >= lm_head_rows:
        raise IndexOutOfVocabulary(
            f"{', '.join(indexing)} would index the logits at prompt id {high}, outside the lm_head "
            f"({lm_head_rows} rows): a device-side assert on CUDA. Let the backend replace it with the "
            "vocabulary-safe repetition penalty"
        )


def model_vocab_sizes(model: Any) -> tuple[int, int]:
    """(rows of the input embedding, rows of the lm_head) of a transformers model."""
    embedding = model.get_input_embeddings()
    head = model.get_output_embeddings()
    head_rows = getattr(head, "out_features", None) or head.weight.shape[0]
    return int(embedding.num_embeddings), int(head_rows)


def constrain(plan: GenerationPlan, tokenizer: Any, model: Any, device: Any) -> GenerationPlan:
    """The plan with the answer grammar for this model (its lm_head size, its eos ids) added.

    ``BackendUnavailable`` when ``max_new_tokens`` cannot hold a complete answer: the policy must
    give more tokens or switch ``constrained`` off.
    """
    from backends.constrain import AnswerGrammar

    grammar = AnswerGrammar.for_model(tokenizer, model, device)
    needed = grammar.remaining[grammar.initial] + 1
    budget = int(plan.kwargs["max_new_tokens"])
    if budget < needed:
        raise BackendUnavailable(
            f"generation.max_new_tokens={budget} cannot hold a complete constrained answer (at least "
            f"{needed} tokens): raise max_new_tokens or set constrained: false for this tier"
        )
    return replace(plan, grammar=grammar)


def generate(model: Any, inputs: dict[str, Any], plan: GenerationPlan) -> Any:
    """``model.generate`` under ``inference_mode`` with the plan's parameters and processors.

    With a grammar, a fresh ``SchemaConstraint`` (it tracks each row's state) goes last, after the
    repetition penalty: what it forbids stays forbidden (sampling warpers run after it).
    """
    from transformers import LogitsProcessorList

    processors = list(plan.processors)
    if plan.grammar is not None:
        from backends.constrain import SchemaConstraint

        processors.append(SchemaConstraint(plan.grammar, int(plan.kwargs["max_new_tokens"])))
    with torch.inference_mode():
        return model.generate(**inputs, **plan.kwargs, logits_processor=LogitsProcessorList(processors))


def generate_texts(
    model: Any, inputs: dict[str, Any], plan: GenerationPlan, vocab: tuple[int, int], decoder: Any
) -> list[tuple[str, dict[str, Any]]]:
    """Check the prompts' ids against the model's vocabulary, generate, decode each row's new tokens.

    ``inputs`` is one batch, left-padded (every row's new tokens start at the same column). Returns
    each row's text and token counts. Every model backend goes through here, so the preflight id
    check that turns a would-be device-side assert into ``IndexOutOfVocabulary`` is never skipped.
    """
    embedding_rows, lm_head_rows = vocab
    check_token_ids(
        inputs["input_ids"], embedding_rows=embedding_rows, lm_head_rows=lm_head_rows, indexing=plan.indexing
    )
    output = generate(model, inputs, plan)
    width = int(inputs["input_ids"].shape[1])
    mask = inputs.get("attention_mask")
    prompt_tokens = [width] * output.shape[0] if mask is None else [int(n) for n in mask.sum(dim=1)]
    stops = _stop_ids(model)
    flags = {"constrained": True} if plan.grammar is not None else {}
    results = []
    for row, prompt in enumerate(prompt_tokens):
        new_tokens = output[row, width:]
        length = _generated_length(new_tokens.tolist(), stops)
        text = decoder.decode(new_tokens[:length], skip_special_tokens=True)
        results.append((text, {"prompt_tokens": prompt, "new_tokens": length, **flags}))
    return results


def generate_text(
    model: Any, inputs: dict[str, Any], plan: GenerationPlan, vocab: tuple[int, int], decoder: Any
) -> tuple[str, dict[str, Any]]:
    """``generate_texts`` for a batch of one."""
    return generate_texts(model, inputs, plan, vocab, decoder)[0]


def _stop_ids(model: Any) -> set[int]:
    eos = model.generation_config.eos_token_id
    return {eos} if isinstance(eos, int) else set(eos or ())


def _generated_length(tokens: list[int], stops: set[int]) -> int:
    """Tokens up to and including the first end-of-sequence id (a batch pads finished rows after it)."""
    return next((at + 1 for at, token in enumerate(tokens) if token in stops), len(tokens))
