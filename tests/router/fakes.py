"""Test doubles for engine tests: a backend that follows a script, a clock that sleeps instantly."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable
from typing import Any

from PIL import Image

from backends.documents.document import Document
from backends.protocol import Extraction
from backends.schema import ReceiptFields
from router.core.breaker import Breaker
from router.core.engine import Engine
from router.core.runners import InlineRunner
from router.core.tiers import Tier
from router.policy.model import policy_from_dict

GOOD = {"merchant": "ACME", "date": "2024-03-01", "total": "9.50"}


class FakeClock:
    def __init__(self, start: float = 100.0):
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Script:
    """What a scripted tier does on each call: a dict answers, an exception is raised, a callable
    is called (e.g. to advance the clock) and its return value used. The last step repeats."""

    def __init__(self, steps: Iterable[Any]):
        self.steps = list(steps)
        self.calls = 0
        self.loads = 0
        self._lock = threading.Lock()

    def next_step(self) -> Any:
        with self._lock:
            step = self.steps[min(self.calls, len(self.steps) - 1)]
            self.calls += 1
        return step


class ScriptedBackend:
    kind = "faulty"
    uses_gpu = False

    def __init__(self, script: Script, load_error: Exception | None = None):
        self.script = script
        self.load_error = load_error

    def load(self) -> None:
        self.script.loads += 1
        if self.load_error:
            raise self.load_error

    def extract(self, document: Document) -> Extraction:
        step = self.script.next_step()
        while callable(step) and not isinstance(step, type):
            step = step()
        if isinstance(step, BaseException):
            raise step
        return Extraction(ReceiptFields(**step), {"calls": self.script.calls})

    def close(self) -> None:
        return None


def tier_dict(name: str, **overrides: Any) -> dict[str, Any]:
    return {"name": name, "backend": {"kind": "faulty"}, "isolation": "inline", **overrides}


def make_engine(
    scripts: dict[str, Script],
    *,
    tiers: list[dict[str, Any]] | None = None,
    clock: FakeClock | None = None,
    load_errors: dict[str, Exception] | None = None,
    **policy: Any,
) -> tuple[Engine, FakeClock]:
    clock = clock or FakeClock()
    tiers = tiers or [tier_dict(name) for name in scripts]
    parsed = policy_from_dict({"name": "test", **policy, "tiers": tiers})
    built = []
    for tier_policy in parsed.tiers:
        script = scripts[tier_policy.name]
        error = (load_errors or {}).get(tier_policy.name)
        runner = InlineRunner(tier_policy.backend, factory=lambda _o, s=script, e=error: ScriptedBackend(s, e))
        built.append(Tier(tier_policy, runner, Breaker(tier_policy.breaker, clock=clock), clock=clock))
    return Engine(parsed, built, clock=clock, sleep=clock.sleep), clock


_ids = itertools.count()


def document(sha: str | None = None) -> Document:
    page = Image.new("RGB", (8, 8), "white")
    return Document(sha or f"sha-{next(_ids)}", (page,), "image/png", "test.png", 64)


def run(engine: Engine, doc: Document | None = None):
    return engine.run(doc or document(), request_id=f"req-{next(_ids)}")


def advance(clock: FakeClock, seconds: float, then: Any) -> Callable[[], Any]:
    def step() -> Any:
        clock.now += seconds
        return then

    return step
