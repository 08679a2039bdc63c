"""A deterministic world for replay tests: each document's outcome on each tier, call by call, on a
fake clock. Running the engine in it writes a real decision log; running it again under another
policy shows what really happens, to compare with what replay predicted."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from backends.documents.document import Document
from backends.errors import InvalidOutput
from backends.protocol import Extraction
from backends.schema import ReceiptFields
from router.core.breaker import Breaker
from router.core.engine import Engine
from router.core.result import Result
from router.core.runners import AttemptTimeout, RunOutcome, TierState
from router.core.tiers import Tier
from router.failures.errors import AttemptError, ErrorInfo
from router.failures.signatures import classify
from router.observe import logs
from router.policy.model import LoggingPolicy, policy_from_dict
from tests.router.fakes import GOOD, FakeClock

STICKY = "CUDA error: device-side assert triggered"
OOM = "CUDA out of memory. Tried to allocate 2.00 GiB"
#: What a step can be: (kind, seconds). Kinds: ok, partial (no total: the gate rejects it), sticky,
#: oom, garbage.
Step = tuple[str, float]


@dataclass
class World:
    """outcomes[(sha256, tier)] = steps of successive calls for that document (the last repeats)."""

    outcomes: dict[tuple[str, str], list[Step]]
    calls: dict[tuple[str, str], int] = field(default_factory=dict)

    def next_step(self, sha256: str, tier: str) -> Step:
        steps = self.outcomes.get((sha256, tier), [("ok", 0.1)])
        count = self.calls.get((sha256, tier), 0)
        self.calls[(sha256, tier)] = count + 1
        return steps[min(count, len(steps) - 1)]


class WorldRunner:
    """Answers as the world says, on the fake clock; a call past its limit is a timeout (judged
    after it ends, like the inline runner)."""

    def __init__(self, world: World, tier: str, clock: FakeClock):
        self.world, self.tier, self.clock = world, tier, clock

    def state(self) -> TierState:
        return TierState.READY

    def unavailable_reason(self) -> str | None:
        return None

    def start(self) -> None:
        return None

    def close(self) -> None:
        return None

    def run(self, document: Document, *, timeout_s: float, request_id: str) -> RunOutcome:
        kind, seconds = self.world.next_step(document.sha256, self.tier)
        self.clock.now += seconds
        if seconds > timeout_s:
            raise AttemptError(classify(ErrorInfo.from_exception(AttemptTimeout(f"took {seconds}s"))))
        if kind in ("sticky", "oom"):
            raise AttemptError(classify(ErrorInfo.from_exception(RuntimeError(STICKY if kind == "sticky" else OOM))))
        if kind == "garbage":
            raise AttemptError(classify(ErrorInfo.from_exception(InvalidOutput("not JSON"))))
        fields = GOOD if kind == "ok" else {k: v for k, v in GOOD.items() if k != "total"}
        return RunOutcome(Extraction(ReceiptFields(**fields), {}))


_docs = itertools.count()


def documents(n: int) -> list[Document]:
    page = Image.new("RGB", (8, 8), "white")
    return [Document(f"doc{next(_docs):04d}", (page,), "image/png", "world.png", 64) for _ in range(n)]


def run_world(policy: dict[str, Any], world: World, docs: list[Document], log: Path | None) -> list[Result]:
    """Every document through the engine under ``policy``, one after another; events into ``log``."""
    parsed = policy_from_dict(policy)
    clock = FakeClock()
    tiers = [
        Tier(t, WorldRunner(world, t.name, clock), Breaker(t.breaker, clock=clock), clock=clock) for t in parsed.tiers
    ]
    engine = Engine(parsed, tiers, clock=clock, sleep=clock.sleep)
    if log is not None:
        logs.configure(LoggingPolicy(stderr=False), json_path=log)
        logs.get_logger(policy=parsed.name, policy_hash=parsed.digest()).info(
            "router.starting", tiers=[t.name for t in parsed.tiers], policy_spec=parsed.model_dump(mode="json")
        )
    try:
        return [engine.run(doc, request_id=f"{parsed.name}-{i}") for i, doc in enumerate(docs)]
    finally:
        logs.configure(stderr=False)


def tier(name: str, **settings: Any) -> dict[str, Any]:
    return {"name": name, "backend": {"kind": "faulty"}, "isolation": "inline", **settings}
