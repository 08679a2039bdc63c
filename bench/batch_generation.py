"""Pages per second of the model tiers at batch sizes 1, 2, 4 and 8, and what the grammar costs.

    PYTHONPATH=src:. python bench/batch_generation.py [--pages 8] [--max-new-tokens 96] [--device cpu]

The tiny random-weight models of the tests (tests/backends/tiny_models.py; no real weights can be
had here) answer ``--pages`` receipt pages (different shapes, so different tile counts) through
``extract_batch``, constrained to the answer schema, in batches of each size. Random weights run
every answer to ``--max-new-tokens`` unless the grammar closes it earlier, so every batch size
generates about the same number of tokens. The grammar's cost is the time spent inside
``SchemaConstraint`` (mask, apply, advance), per generated token and as a share of the batch's
generation time. ``--device cuda`` runs the same on a GPU.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

SIZES = (1, 2, 4, 8)


def _grammar_timer() -> list[float]:
    """Wrap ``SchemaConstraint.__call__`` so that its time is summed (the bench's own process only)."""
    from backends.models.constrain import SchemaConstraint

    spent = [0.0]
    call = SchemaConstraint.__call__

    def timed(self: Any, input_ids: Any, scores: Any) -> Any:
        started = time.perf_counter()
        result = call(self, input_ids, scores)
        spent[0] += time.perf_counter() - started
        return result

    SchemaConstraint.__call__ = timed  # type: ignore[method-assign]
    return spent


def _backends(root: Path, device: str, max_new_tokens: int) -> dict[str, Any]:
    from tests.backends import tiny_models
    from tests.backends.conftest import OCR_TEXT, model_options
    from tests.backends.models.test_ocr_llm import Page

    from backends import registry

    generation = {"max_new_tokens": max_new_tokens}
    common = {"device": device, "constrained": True, "generation": generation}
    paths = {
        "internvl3": tiny_models.build_internvl(root / "internvl"),
        "llama_vision": tiny_models.build_mllama(root / "mllama"),
        "ocr_llm": tiny_models.build_llama_text(root / "llama"),
    }
    built = {}
    for kind, path in paths.items():
        extra = {"max_tiles": 4} if kind == "internvl3" else {}
        backend = registry.create(model_options(kind, path, **common, **extra))
        if kind == "ocr_llm":
            backend._ocr = lambda doc, options: Page(OCR_TEXT)  # the model's cost, not Tesseract's
        backend.load()
        built[kind] = backend
    return built


def _documents(count: int) -> list[Any]:
    from tests.backends.tiny_models import receipt_image

    from backends.documents.document import Document

    shapes = [(200, 300), (300, 90), (120, 120), (90, 400)]
    return [
        Document(f"{i:064x}", (receipt_image(shapes[i % len(shapes)]),), "image/png", f"bench-{i}", 1)
        for i in range(count)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=8, help="pages answered at each batch size")
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    args = parser.parse_args()

    from common import table

    spent = _grammar_timer()
    documents = _documents(args.pages)
    rows = []
    with tempfile.TemporaryDirectory() as root:
        for kind, backend in _backends(Path(root), args.device, args.max_new_tokens).items():
            backend.extract_batch(documents[:1])  # warm-up: first visits of the grammar's states
            base = None
            for size in SIZES:
                spent[0] = 0.0
                started = time.perf_counter()
                tokens = 0
                for at in range(0, len(documents), size):
                    for outcome in backend.extract_batch(documents[at : at + size]):
                        if isinstance(outcome, Exception):
                            raise outcome
                        tokens += outcome.meta["new_tokens"]
                elapsed = time.perf_counter() - started
                rate = len(documents) / elapsed
                base = base or rate
                rows.append(
                    [kind, size, round(rate, 2), round(rate / base, 2), tokens, 1e3 * spent[0] / tokens,
                     f"{100 * spent[0] / elapsed:.1f}%"]
                )  # fmt: skip
    table(
        f"Batched, constrained generation: tiny models on {args.device} ({args.pages} pages per size, "
        f"max_new_tokens={args.max_new_tokens})",
        ["tier", "batch", "pages/s", "x batch 1", "tokens", "grammar ms/token", "grammar share"],
        rows,
    )


if __name__ == "__main__":
    main()
