"""Helpers for the ``ray`` tests: documents, policies and what the output folder holds."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from router.policy.model import Policy, policy_from_dict
from router.scale.output import read_parts


def slow_policy(slow_s: float = 0.05, *, triggers: dict[str, str] | None = None, workers: int = 4) -> Policy:
    """One inline faulty tier: every document takes ``slow_s`` (runs last long enough to be hit
    mid-way); ``triggers`` fault chosen documents (``exit`` kills the router process itself)."""
    backend = {"kind": "faulty", "cuda": "off", "faults": {"slow": 1.0}, "slow_s": slow_s, "triggers": triggers or {}}
    return policy_from_dict(
        {
            "name": "ray-slow",
            "tiers": [{"name": "inline", "backend": backend, "isolation": "inline", "workers": workers}],
        }
    )


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def lines_per_input(out_dir: Path) -> Counter[str]:
    return Counter(os.path.realpath(record["input"]) for record in read_parts(out_dir))


def exactly_one_line_each(out_dir: Path, inputs: list[Path]) -> bool:
    return lines_per_input(out_dir) == Counter(os.path.realpath(p) for p in inputs)


def actors(out_dir: Path) -> list[dict[str, Any]]:
    """The router actors that started on this output (each leaves a note)."""
    return [json.loads(note.read_text()) for note in sorted((out_dir / "_actors").glob("*.json"))]


def when(condition: Callable[[], bool], action: Callable[[], None], timeout_s: float = 120) -> threading.Thread:
    """Run ``action`` once ``condition`` holds, in a thread (the run goes on in the test's own thread)."""

    def watch() -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if condition():
                action()
                return
            time.sleep(0.05)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def parts(out_dir: Path) -> int:
    return len(list(out_dir.glob("part-*.jsonl")))
