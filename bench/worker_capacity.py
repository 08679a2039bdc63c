"""Pages per second through a real worker process at capacity 1, 2, 4 and 8.

    PYTHONPATH=src:. python bench/worker_capacity.py [--pages 16] [--kind llama_vision] [--device cpu]

One tier of a tiny random-weight model of the tests (tests/backends/tiny_models.py; no real
weights can be had here), in one worker process, constrained to the answer schema, with as many
requests sent at once as the worker's capacity. What it measures beyond ``batch_generation.py``
(the backend's ``extract_batch`` alone) is what the router and the worker add: the collection
window, the shared-memory slices, replies routed back to their requests. ``batch`` is the mean
batch size the answers report. ``--device cuda`` runs the same on a GPU.
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

CAPACITIES = (1, 2, 4, 8)


def _model(root: Path, kind: str) -> Path:
    from tests.backends import tiny_models

    build = {"llama_vision": tiny_models.build_mllama, "internvl3": tiny_models.build_internvl}[kind]
    return build(root / kind)


def _pngs(count: int) -> list[bytes]:
    from tests.backends.tiny_models import receipt_image

    shapes = [(200, 300), (300, 90), (120, 120), (90, 400)]
    pngs = []
    for i in range(count):
        image = receipt_image(shapes[i % len(shapes)])
        image.putpixel((0, 0), (i % 256, i // 256, 0))  # each page its own document
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        pngs.append(buffer.getvalue())
    return pngs


def _policy(kind: str, model: Path, device: str, capacity: int, max_new_tokens: int) -> Any:
    from router.policy.model import policy_from_dict

    backend = {"kind": kind, "model": str(model), "device": device, "constrained": True}
    backend["generation"] = {"max_new_tokens": max_new_tokens}
    if device == "cpu":
        backend["dtype"] = "float32"
    tier = {
        "name": "model",
        "backend": backend,
        "capacity": capacity,
        "batch_window_ms": 20,
        "preload": True,
        "timeout_s": 600,
        "start_timeout_s": 600,
    }
    # random weights leave fields out: every parsed answer is accepted, so each page is one generation
    gate = {"required": []}
    return policy_from_dict({"name": f"capacity-{capacity}", "deadline_s": 1200, "quality_gate": gate, "tiers": [tier]})


def _run(policy: Any, pngs: list[bytes], capacity: int) -> tuple[float, float, float, int]:
    from router import Router
    from router.observe import logs

    with Router(policy, logger=logs.discard()) as router:
        router.warm_up(timeout_s=600)
        router.extract(pngs[0])  # warm-up: first visits of the grammar's states
        started = time.perf_counter()
        with ThreadPoolExecutor(capacity) as threads:
            results = list(threads.map(router.extract, pngs))
        elapsed = time.perf_counter() - started
    answered = [r for r in results if r.ok]
    batches = [r.meta.get("batch_size", 1) for r in answered]
    latency = statistics.median(r.duration_ms for r in results)
    tokens = sum(r.meta.get("new_tokens", 0) for r in answered)
    return len(pngs) / elapsed, statistics.mean(batches) if batches else 0.0, latency, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=16, help="pages sent at each capacity")
    parser.add_argument("--kind", choices=["llama_vision", "internvl3"], default="llama_vision")
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    args = parser.parse_args()

    from common import table

    pngs = _pngs(args.pages)
    rows = []
    with tempfile.TemporaryDirectory() as root:
        model = _model(Path(root), args.kind)
        base = None
        for capacity in CAPACITIES:
            policy = _policy(args.kind, model, args.device, capacity, args.max_new_tokens)
            rate, batch, latency, tokens = _run(policy, pngs, capacity)
            base = base or rate
            rows.append([capacity, round(rate, 2), round(rate / base, 2), round(batch, 2), tokens, round(latency)])
    table(
        f"One {args.kind} worker on {args.device} at each capacity ({args.pages} pages, "
        f"max_new_tokens={args.max_new_tokens}, constrained)",
        ["capacity", "pages/s", "x capacity 1", "batch (mean)", "tokens", "p50 ms"],
        rows,
    )


if __name__ == "__main__":
    main()
