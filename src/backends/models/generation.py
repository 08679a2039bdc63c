"""Generation parameters made safe before use, and the token-id preflight check.

The seed bug (transformers issue #34304): logits processors that index ``scores`` with prompt ids
crash when a prompt id lies outside the lm_head. Mllama's image token id equals the lm_head size
(128256), so on CUDA ``repetition_penalty`` becomes a device-side assert that poisons the process.
Which parameters crash on which transformers version, and which kinds are exposed, is stated once
in ``backends.kinds``.

``plan_generation`` switches the crash-prone ones off in ``generate``'s arguments, wherever they
come from (the policy or the checkpoint's own ``generation_config.json``), and applies each through
its own transformers processor wrapped in ``VocabSafe``, which pads the scores to cover every id it
may index: each parameter still means what it says (``encoder_repetition_penalty`` > 1 rewards
prompt tokens, ``repetition_penalty`` penalises repeats), and nothing is read outside the logits.
``check_token_ids`` is the last
line of defence: an id outside the embedding, or an id that a remaining processor will index
outside the lm_head, raises ``IndexOutOfVocabulary`` before any kernel runs.

``generate_texts`` runs one left-padded batch (one row per page or document) with the same plan,
check and processors for every row (the encoder processors see each row's own prompt: its padding
is given an id past the lm_head, which ``VocabSafe`` drops); with the plan's ``grammar``
(``constrain``) a ``backends.models.constrain.SchemaConstraint`` goes after them, so generation stays
inside the answer schema and repetition control still applies.

Imported only inside a backend's ``load``/``extract`` (it imports torch and transformers).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from transformers import (
    EncoderNoRepeatNGramLogitsProcessor,
    EncoderRepetitionPenaltyLogitsProcessor,
    LogitsProcessor,
    NoRepeatNGramLogitsProcessor,
    RepetitionPenaltyLogitsProcessor,
)

from backends.errors import BackendUnavailable, IndexOutOfVocabulary
from backends.kinds import NEUTRAL, unsafe_parameters
from backends.models.tokenconf import TOKENS
from backends.options import GenerationOptions

#: The transformers processor behind each parameter; the encoder ones also take the prompt's ids.
_PROCESSORS: dict[str, Callable[[Any, Any], LogitsProcessor]] = {
    "repetition_penalty": lambda value, prompt: RepetitionPenaltyLogitsProcessor(float(value)),
    "no_repeat_ngram_size": lambda value, prompt: NoRepeatNGramLogitsProcessor(int(value)),
    "encoder_repetition_penalty": lambda value, prompt: EncoderRepetitionPenaltyLogitsProcessor(float(value), prompt),
    "encoder_no_repeat_ngram_size": lambda value, prompt: EncoderNoRepeatNGramLogitsProcessor(int(value), prompt),
}


class VocabSafe(LogitsProcessor):
    """A transformers logits processor run on scores padded to cover every id it may index.

    The processor does exactly what its parameter asks (penalise repeats, reward prompt tokens,
    forbid n-grams), but an id past the lm_head (Mllama's image token) lands in the padding, which
    is dropped afterwards, instead of outside the tensor.
    """

    def __init__(self, inner: LogitsProcessor):
        self.inner = inner

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        vocab = scores.shape[-1]
        width = max(vocab, int(input_ids.max()) + 1 if input_ids.numel() else 0)
        if width == vocab:
            return self.inner(input_ids, scores)
        padding = scores.new_full((scores.shape[0], width - vocab), torch.finfo(scores.dtype).min)
        return self.inner(input_ids, torch.cat([scores, padding], dim=-1))[..., :vocab]


@dataclass
class GenerationPlan:
    """What ``generate`` is called with, and what was changed on the way."""

    kwargs: dict[str, Any]
    #: Parameters switched off in ``kwargs`` and applied through ``VocabSafe`` instead, with their values.
    safe: dict[str, Any] = field(default_factory=dict)
    #: Active parameters whose processors index logits with prompt ids unchecked (should be empty).
    indexing: list[str] = field(default_factory=list)
    #: The answer grammar (``backends.models.constrain.AnswerGrammar``) when generation is constrained.
    grammar: Any = None

    @property
    def replaced(self) -> list[str]:
        return list(self.safe)

    def processors(self, prompt_ids: Any) -> list[LogitsProcessor]:
        """The vocabulary-safe processors for one generation from ``prompt_ids``."""
        return [VocabSafe(_PROCESSORS[name](value, prompt_ids)) for name, value in self.safe.items()]

    def meta(self) -> dict[str, Any]:
        return {"generation_replaced": self.replaced} if self.safe else {}


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
    """Apply each parameter in ``unsafe`` vocabulary-safely (``VocabSafe``); pass the rest through.

    ``unsafe`` is what the kind's spec says (``BackendSpec.unsafe_generation``): the version's
    ``unsafe_parameters`` for a model whose prompts hold ids outside its lm_head (Mllama), and
    empty for one whose prompt ids all lie inside it.
    """
    kwargs = requested(options, checkpoint_defaults)
    safe = {name: kwargs[name] for name in NEUTRAL if name in unsafe and _active(name, kwargs.get(name))}
    plan = GenerationPlan(kwargs=kwargs | {name: NEUTRAL[name] for name in safe}, safe=safe)
    really_unsafe = unsafe_parameters(transformers_version)
    plan.indexing = [n for n in really_unsafe if _active(n, plan.kwargs.get(n))]
    return plan


def _active(name: str, value: Any) -> bool:
    return value is not None and value != NEUTRAL[name]


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
    from backends.models.constrain import AnswerGrammar, token_bytes

    rows = model_vocab_sizes(model)[1]  # sized to its lm_head, ending on its eos ids
    eos = model.generation_config.eos_token_id
    eos_ids = [eos] if isinstance(eos, int) else list(eos or [tokenizer.eos_token_id])
    grammar = AnswerGrammar(token_bytes(tokenizer, rows), rows, eos_ids, device)
    needed = grammar.remaining[grammar.initial] + 1
    budget = int(plan.kwargs["max_new_tokens"])
    if budget < needed:
        raise BackendUnavailable(
            f"generation.max_new_tokens={budget} cannot hold a complete constrained answer (at least "
            f"{needed} tokens): raise max_new_tokens or set constrained: false for this tier"
        )
    return replace(plan, grammar=grammar)


class ChosenProbabilities(LogitsProcessor):
    """Records, at each step, each row's most probable token and its probability under the scores
    every earlier processor left (``backends.models.tokenconf``). Changes nothing."""

    def __init__(self) -> None:
        self.steps: list[tuple[torch.Tensor, torch.Tensor]] = []

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        top = torch.softmax(scores.float(), dim=-1).max(dim=-1)
        self.steps.append((top.values.cpu(), top.indices.cpu()))
        return scores

    def row(self, row: int, chosen: list[int]) -> list[float | None]:
        """Per chosen token of ``row``, its recorded probability; None where another token was chosen."""
        return [
            float(values[row]) if int(indices[row]) == token else None
            for (values, indices), token in zip(self.steps, chosen, strict=False)
        ]


def generate(
    model: Any, inputs: dict[str, Any], plan: GenerationPlan, record: ChosenProbabilities | None = None
) -> Any:
    """``model.generate`` under ``inference_mode`` with the plan's parameters and processors.

    With a grammar, a fresh ``SchemaConstraint`` (it tracks each row's state) goes last, after the
    repetition penalty: what it forbids stays forbidden (sampling warpers run after it). ``record``
    goes after everything, to see the scores the token is chosen from.
    """
    from transformers import LogitsProcessorList

    processors = plan.processors(_unpadded_prompts(model, inputs))
    if plan.grammar is not None:
        from backends.models.constrain import SchemaConstraint

        processors.append(SchemaConstraint(plan.grammar, int(plan.kwargs["max_new_tokens"])))
    if record is not None:
        processors.append(record)
    with torch.inference_mode():
        return model.generate(**inputs, **plan.kwargs, logits_processor=LogitsProcessorList(processors))


def _unpadded_prompts(model: Any, inputs: dict[str, Any]) -> Any:
    """The batch's prompt ids with each row's left padding set to an id past the lm_head: the
    encoder processors then see only the row's own prompt, as when it runs alone."""
    mask = inputs.get("attention_mask")
    if mask is None:
        return inputs["input_ids"]
    return inputs["input_ids"].masked_fill(mask == 0, model_vocab_sizes(model)[1])


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
    record = ChosenProbabilities()
    output = generate(model, inputs, plan, record)
    width = int(inputs["input_ids"].shape[1])
    mask = inputs.get("attention_mask")
    prompt_tokens = [width] * output.shape[0] if mask is None else [int(n) for n in mask.sum(dim=1)]
    stops = _stop_ids(model)
    flags = {"constrained": True} if plan.grammar is not None else {}
    results = []
    for row, prompt in enumerate(prompt_tokens):
        new_tokens = output[row, width:]
        length = _generated_length(new_tokens.tolist(), stops)
        chosen = new_tokens[:length].tolist()
        text = decoder.decode(chosen, skip_special_tokens=True)
        meta = {"prompt_tokens": prompt, "new_tokens": length, **flags}
        results.append((text, {**meta, TOKENS: _token_ends(decoder, chosen, record.row(row, chosen))}))
    return results


def _token_ends(decoder: Any, chosen: list[int], probabilities: list[float | None]) -> list[tuple[int, float | None]]:
    """Per new token, where it ends in the decoded text, with its probability (``backends.models.tokenconf``)."""
    return [
        (len(decoder.decode(chosen[: at + 1], skip_special_tokens=True)), probability)
        for at, probability in enumerate(probabilities)
    ]


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
