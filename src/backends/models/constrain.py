"""Generation constrained to the answer schema: a model tier's answer is always one complete JSON object.

The grammar engine is outlines-core (chosen by measurement, ``bench/grammar_engines.py``): the JSON
Schema of the answer becomes a regular expression, then a token-level automaton over the model's
vocabulary. Because the automaton's states and transitions are explicit, the number of tokens
still needed to finish the object from any state is known, and ``SchemaConstraint`` keeps every
answer short enough to finish inside ``max_new_tokens``: a looping model is steered to close its
strings and brackets instead of being cut off mid-object.

- The answer schema (``answer_schema``) names the fields of ``backends.schema`` in the prompt's
  order, every value a string or null (dates and amounts as printed: the post-processing
  normalises them), line items as objects of three such values.
- The mask has one column per row of the model's lm_head, not per tokenizer entry: Mllama's
  ``<|image|>`` id lies outside its lm_head (the seed bug's cause), so it is left out of the
  vocabulary the automaton knows, and lm_head rows without a token are never allowed.
- The processor never gathers ``scores`` at prompt ids: it only masks columns of ids it knows to be
  inside the scores, so it is safe next to the vocabulary-safe repetition penalty on CUDA.

Imported only inside a backend's ``load``/``extract`` (it imports torch and transformers).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable
from typing import Any

import torch
from transformers import LogitsProcessor

from backends.models import prompts
from backends.schema import FIELD_NAMES, LineItem

#: Whitespace allowed between JSON tokens: at most one space, as the prompt's own shape shows.
WHITESPACE = r"[ ]?"
#: How many tokens a move into a state that cannot finish "leaves" (more than any budget).
UNREACHABLE = 1 << 30


def answer_schema() -> dict[str, Any]:
    """The JSON Schema of an answer: every field required, each a string or null."""
    text = {"type": ["string", "null"]}
    item = {
        "type": "object",
        "properties": {name: text for name in LineItem.model_fields},
        "required": list(LineItem.model_fields),
        "additionalProperties": False,
    }
    # The fields the prompt asks for, in its order (fields only some backends fill, such as an
    # e-invoice's invoice_number, are not asked of a model).
    fields = sorted((name for name in FIELD_NAMES if f'"{name}"' in prompts.SHAPE), key=prompts.SHAPE.index)
    properties = {name: {"type": "array", "items": item} if name == "line_items" else text for name in fields}
    return {"type": "object", "properties": properties, "required": fields, "additionalProperties": False}


def token_bytes(tokenizer: Any, rows: int) -> dict[bytes, list[int]]:
    """The bytes each token id below ``rows`` stands for, for a byte-level BPE (Llama 3, Qwen2).

    Special tokens are left out (the end-of-sequence ids are added by ``AnswerGrammar``), and so is
    every id at or beyond ``rows``, the lm_head size.
    """
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    decode = {char: byte for byte, char in bytes_to_unicode().items()}
    special = set(tokenizer.all_special_ids) | {
        i for i, t in tokenizer.added_tokens_decoder.items() if getattr(t, "special", False)
    }
    vocab: dict[bytes, list[int]] = {}
    for piece, token_id in tokenizer.get_vocab().items():
        if token_id >= rows or token_id in special or any(char not in decode for char in piece):
            continue
        vocab.setdefault(bytes(decode[char] for char in piece), []).append(token_id)
    return vocab


class AnswerGrammar:
    """The answer schema compiled for one tokenizer and lm_head size; shared by every generation.

    It knows, for every state, the fewest tokens still needed to finish (counted with single-byte
    tokens, so that the count is always achievable), and caches per visited state the allowed
    tokens, the finish count each leaves, and the allowed-token mask (on the model's device).
    """

    def __init__(self, vocab: dict[bytes, list[int]], rows: int, eos_ids: Iterable[int], device: Any = "cpu"):
        import outlines_core
        from outlines_core.json_schema import build_regex_from_schema

        self.rows = rows
        self.device = device
        self.eos_ids = sorted({int(i) for i in eos_ids if 0 <= int(i) < rows})
        if not self.eos_ids:
            raise ValueError("the model has no end-of-sequence id inside its lm_head")
        self.single_bytes = sorted(ids[0] for piece, ids in vocab.items() if len(piece) == 1)
        if len(self.single_bytes) < 256:
            raise ValueError(f"the tokenizer lacks single-byte tokens ({len(self.single_bytes)} of 256)")
        words = outlines_core.Vocabulary(self.eos_ids[0], vocab)
        for extra in self.eos_ids[1:]:
            words.insert(b"", extra)  # pragma: no cover - one eos id in the models docroute runs
        regex = build_regex_from_schema(json.dumps(answer_schema()), WHITESPACE)
        self.index = outlines_core.Index(regex, words)
        self.initial = self.index.get_initial_state()
        self.remaining = self._fewest_tokens_to_finish()
        self._masks: dict[int, torch.Tensor] = {}
        self._moves_of: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def _fewest_tokens_to_finish(self) -> dict[int, int]:
        """For each state reachable byte by byte, the fewest single-byte tokens to a final state."""
        edges: dict[int, list[int]] = {}
        queue, seen = deque([self.initial]), {self.initial}
        while queue:
            state = queue.popleft()
            edges[state] = [n for t in self.single_bytes if (n := self.index.get_next_state(state, t)) is not None]
            for nxt in edges[state]:
                if nxt not in seen:
                    seen.add(nxt)
                    queue.append(nxt)
        reverse: dict[int, list[int]] = {}
        for state, targets in edges.items():
            for nxt in targets:
                reverse.setdefault(nxt, []).append(state)
        finals = [s for s in edges if self.index.is_final_state(s)]
        distance = dict.fromkeys(finals, 0)
        queue = deque(finals)
        while queue:
            state = queue.popleft()
            for before in reverse.get(state, []):
                if before not in distance:
                    distance[before] = distance[state] + 1
                    queue.append(before)
        return distance

    def allowed(self, state: int, left: int) -> torch.Tensor:
        """The lm_head rows that may come next in ``state`` with ``left`` tokens to go (a bool row).

        Every move whose next state can still finish in ``left - 1`` tokens; while every move can
        (almost always), the state's cached full mask.
        """
        tokens, finish = self._moves(state)
        if int(finish.max()) < left:
            if state not in self._masks:
                self._masks[state] = self._mask_of(tokens)
            return self._masks[state]
        return self._mask_of(tokens[finish < left])

    def _moves(self, state: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The tokens allowed in ``state`` and how many tokens each leaves to finish (cached)."""
        if state not in self._moves_of:
            final = self.index.is_final_state(state)
            tokens = self.index.get_allowed_tokens(state)
            finish = [
                0
                if final and t in self.eos_ids
                else self.remaining.get(self.index.get_next_state(state, t), UNREACHABLE)
                for t in tokens
            ]
            self._moves_of[state] = (torch.tensor(tokens, dtype=torch.long), torch.tensor(finish, dtype=torch.long))
        return self._moves_of[state]

    def _mask_of(self, tokens: torch.Tensor) -> torch.Tensor:
        allowed = torch.zeros(self.rows, dtype=torch.bool)
        allowed[tokens] = True
        return allowed.to(self.device)


class SchemaConstraint(LogitsProcessor):
    """Masks each row's scores to the tokens that keep its answer a prefix of a valid one.

    One instance per ``generate`` call (it tracks each row's state); rows are the batch's pages.
    With ``budget`` (the call's ``max_new_tokens``) every answer finishes inside it. Beam search
    reorders rows behind a processor's back, so it is not supported (options refuse it).
    """

    def __init__(self, grammar: AnswerGrammar, budget: int):
        if grammar.remaining[grammar.initial] >= budget:
            raise ValueError(
                f"max_new_tokens={budget} is too small for a complete answer "
                f"(at least {grammar.remaining[grammar.initial] + 1} tokens)"
            )
        self.grammar = grammar
        self.budget = budget
        self.states: list[int | None] = []
        self.prompt_length = 0

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if not self.states:
            self.states = [self.grammar.initial] * input_ids.shape[0]
            self.prompt_length = input_ids.shape[1]
        else:
            self._advance(input_ids[:, -1].tolist())
        left = self.budget - (input_ids.shape[1] - self.prompt_length)
        allowed = torch.ones_like(scores, dtype=torch.bool)
        for row, state in enumerate(self.states):
            if state is not None:
                allowed[row] = self.grammar.allowed(state, left)
        return scores.masked_fill(~allowed, float("-inf"))  # type: ignore[return-value]

    def _advance(self, tokens: list[int]) -> None:
        for row, (state, token) in enumerate(zip(self.states, tokens, strict=True)):
            if state is None:
                continue
            if token in self.grammar.eos_ids and self.grammar.index.is_final_state(state):
                self.states[row] = None  # finished; generate pads this row from now on
                continue
            nxt = self.grammar.index.get_next_state(state, token)
            if nxt is None:  # only a processor after this one could choose a masked token
                raise RuntimeError(f"token {token} was generated although the answer grammar forbids it")
            self.states[row] = nxt

    def finished(self) -> list[bool]:
        """Which rows ended in a final state (a complete answer)."""
        return [s is None or self.grammar.index.is_final_state(s) for s in self.states]
