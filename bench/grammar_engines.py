"""xgrammar, llguidance and outlines-core on docroute's answer schema: compile time and mask time.

    PYTHONPATH=src:. python bench/grammar_engines.py [--vocab 128256] [--repeat 3]

Each engine compiles ``backends.models.constrain.answer_schema()`` for two vocabularies: the tiny test
Llama's (a few hundred tokens) and a synthetic byte-level one of ``--vocab`` entries (Llama 3's
size; no real tokenizer can be downloaded here). Then it walks a realistic answer token by token
and times, per token, what a logits processor does: compute the allowed-token mask, apply it to
a float32 logits row the width of the lm_head, and advance. outlines-core is timed through
docroute's own ``AnswerGrammar`` (cold: first visit of each state; warm: cached), which also
computes how many tokens each move leaves to finish the answer. The engines that are not
installed are skipped.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ANSWER = (
    '{"merchant": "TINY MART SDN BHD", "date": "31/01/2024", "total": "RM 12.50", "currency": "MYR", '
    '"address": "12 JALAN BESAR, 50000 KUALA LUMPUR", "line_items": [{"description": "TEA", "quantity": "1", '
    '"amount": "12.50"}, {"description": "KOPI O", "quantity": "2", "amount": "3.00"}]}'
)


def synthetic_vocab(size: int, seed: int = 0) -> list[bytes]:
    """256 single bytes, JSON punctuation, then random word pieces (some with a leading space)."""
    rng = random.Random(seed)
    pieces: list[bytes] = [bytes([b]) for b in range(256)]
    pieces += [p.encode() for p in ('{"', '":', '": "', '", "', '"}', '"]', ": ", ", ", "null", ' "', "}]}")]
    seen = set(pieces)
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    while len(pieces) < size - 1:
        piece = (" " if rng.random() < 0.4 else "") + "".join(rng.choices(letters, k=rng.randint(2, 8)))
        if piece.encode() not in seen:
            seen.add(piece.encode())
            pieces.append(piece.encode())
    return pieces  # the eos id is len(pieces)


def tiny_vocab() -> list[bytes]:
    from tests.backends.tiny_models import build_llama_text
    from transformers import AutoTokenizer

    from backends.models.constrain import token_bytes

    tokenizer = AutoTokenizer.from_pretrained(build_llama_text(Path(tempfile.mkdtemp())))
    by_id = {ids[0]: piece for piece, ids in token_bytes(tokenizer, len(tokenizer)).items()}
    return [by_id.get(i, b"\x00") for i in range(max(by_id) + 1)]


def tokenize(text: bytes, pieces: list[bytes]) -> list[int]:
    """Greedy longest match: some valid token sequence for the answer."""
    ids = {p: i for i, p in enumerate(pieces)}
    out, at = [], 0
    while at < len(text):
        length = next(n for n in range(min(12, len(text) - at), 0, -1) if text[at : at + n] in ids)
        out.append(ids[text[at : at + length]])
        at += length
    return out


def run_xgrammar(pieces: list[bytes], eos: int, tokens: list[int]) -> tuple[float, list[float]]:
    import torch
    import xgrammar

    from backends.models.constrain import answer_schema

    started = time.perf_counter()
    info = xgrammar.TokenizerInfo([*pieces, b""], xgrammar.VocabType.RAW, vocab_size=eos + 1, stop_token_ids=[eos])
    compiled = xgrammar.GrammarCompiler(info, cache_enabled=False).compile_json_schema(
        answer_schema(), any_whitespace=False, separators=(", ", ": ")
    )
    compile_s = time.perf_counter() - started
    matcher = xgrammar.GrammarMatcher(compiled)
    bitmask = xgrammar.allocate_token_bitmask(1, info.vocab_size)
    return compile_s, _walk(
        [*tokens, eos],
        eos + 1,
        lambda logits: (
            matcher.fill_next_token_bitmask(bitmask),
            xgrammar.apply_token_bitmask_inplace(logits, bitmask),
        ),
        matcher.accept_token,
        torch,
    )


def run_llguidance(pieces: list[bytes], eos: int, tokens: list[int]) -> tuple[float, list[float]]:
    import llguidance
    import llguidance.torch as llt
    import torch

    from backends.models.constrain import answer_schema

    class Raw:
        eos_token_id, bos_token_id, special_token_ids = eos, None, [eos]

        def __init__(self) -> None:
            self.tokens = [*pieces, b"<eos>"]

        def __call__(self, text: bytes) -> list[int]:
            return tokenize(text, pieces)

    started = time.perf_counter()
    tokenizer = llguidance.LLTokenizer(llguidance.TokenizerWrapper(Raw()))
    grammar = llguidance.LLMatcher.grammar_from_json_schema(
        answer_schema(), defaults={"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}
    )
    matcher = llguidance.LLMatcher(tokenizer, grammar)
    compile_s = time.perf_counter() - started
    if matcher.is_error():
        raise RuntimeError(matcher.get_error())
    bitmask = llt.allocate_token_bitmask(1, tokenizer.vocab_size)
    return compile_s, _walk(
        [*tokens, eos],
        eos + 1,
        lambda logits: (
            llt.fill_next_token_bitmask(matcher, bitmask, 0),
            llt.apply_token_bitmask_inplace(logits, bitmask),
        ),
        matcher.consume_token,
        torch,
    )


def run_outlines(pieces: list[bytes], eos: int, tokens: list[int], warm: bool) -> tuple[float, list[float]]:
    import torch

    from backends.models.constrain import AnswerGrammar

    started = time.perf_counter()
    vocab: dict[bytes, list[int]] = {}
    for token_id, piece in enumerate(pieces):
        vocab.setdefault(piece, []).append(token_id)
    grammar = AnswerGrammar(vocab, eos + 1, [eos])
    compile_s = time.perf_counter() - started
    walk = [*tokens, eos]
    times: list[float] = []
    for _ in range(2 if warm else 1):  # warm: the second walk, with every state's moves cached
        times = _walk_outlines(grammar, walk, eos, torch)
    return compile_s, times


def _walk_outlines(grammar: Any, walk: list[int], eos: int, torch: Any) -> list[float]:
    state = [grammar.initial]
    left = 10**6  # a budget that never binds (the common case)

    def mask(logits: Any) -> None:
        logits.masked_fill_(~grammar.allowed(state[0], left), float("-inf"))

    def advance(token: int) -> None:
        if token != eos:
            state[0] = grammar.index.get_next_state(state[0], token)

    return _walk(walk, eos + 1, mask, advance, torch)


def _walk(
    tokens: list[int], rows: int, mask: Callable[[Any], Any], advance: Callable[[int], Any], torch: Any
) -> list[float]:
    logits = torch.zeros(1, rows)
    times = []
    for token in tokens:
        started = time.perf_counter()
        mask(logits)
        if logits[0, token] == float("-inf"):
            raise RuntimeError(f"the engine forbade token {token} of a valid answer")
        advance(token)
        times.append((time.perf_counter() - started) * 1e6)
        logits.zero_()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab", type=int, default=128256, help="size of the synthetic vocabulary")
    parser.add_argument("--repeat", type=int, default=3, help="compile+walk runs per engine (best kept)")
    args = parser.parse_args()

    from common import table

    vocabularies = {"tiny Llama": tiny_vocab(), f"synthetic {args.vocab}": synthetic_vocab(args.vocab)}
    engines: dict[str, Callable[[list[bytes], int, list[int]], tuple[float, list[float]]]] = {
        "xgrammar": run_xgrammar,
        "llguidance": run_llguidance,
        "outlines-core (cold)": lambda p, e, t: run_outlines(p, e, t, warm=False),
        "outlines-core (warm)": lambda p, e, t: run_outlines(p, e, t, warm=True),
    }
    rows = []
    for vocab_name, pieces in vocabularies.items():
        tokens = tokenize(ANSWER.encode(), pieces)
        for engine, run in engines.items():
            try:
                results = [run(pieces, len(pieces), tokens) for _ in range(args.repeat)]
            except ImportError as exc:
                rows.append([vocab_name, engine, f"not installed ({exc.name})", "", "", ""])
                continue
            compile_s = min(r[0] for r in results)
            per_token = [statistics.median(r[1]) for r in results]
            worst = [max(r[1]) for r in results]
            rows.append([vocab_name, engine, compile_s, len(tokens) + 1, min(per_token), min(worst)])
    table(
        "Answer-schema grammar: compile time and per-token mask cost (mask + apply + advance, CPU)",
        ["vocabulary", "engine", "compile s", "tokens", "median us/token", "max us/token"],
        rows,
    )
    table(
        "What else decides",
        ["engine", "batch API", "transformers", "mask sized to lm_head", "finish inside max_new_tokens"],
        [
            ["xgrammar", "BatchGrammarMatcher (threads)", "contrib.hf LogitsProcessor", "vocab_size=", "no"],
            ["llguidance", "fill_next_token_bitmask_par", "none (tokenizer adapter)", "n_vocab=", "no"],
            ["outlines-core", "one Guide/state per row", "none (outlines package)", "ids we give it", "yes (DFA)"],
        ],
    )


if __name__ == "__main__":
    main()
