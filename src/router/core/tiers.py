"""A tier at run time: its policy, its runner and its health (breaker, quarantines, availability).

``Tier`` is what the decision core (``router.core.decide``) asks about a tier in the live router.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from backends import registry
from backends.documents.document import Document
from router.core.breaker import Breaker
from router.core.health import Health
from router.core.runners import Runner, TierState
from router.failures.errors import Failure
from router.policy.model import TierPolicy

#: Runner states in which a request would have to wait for a process to start.
WARMING = {
    TierState.IDLE: "starting",
    TierState.LOADING: "starting",
    TierState.WARMING: "starting",
    TierState.RECYCLING: "recycling",
}


class Tier:
    def __init__(
        self,
        policy: TierPolicy,
        runner: Runner,
        breaker: Breaker,
        *,
        unavailable: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.policy = policy
        self.runner = runner
        self.breaker = breaker
        self.health = Health(breaker, policy.quarantine_s, clock=clock)
        self.health.unavailable = unavailable

    @property
    def name(self) -> str:
        return self.policy.name

    @property
    def kind(self) -> str:
        return self.policy.backend.kind

    # -- what the decision core asks ----------------------------------------------------------

    def unavailable_reason(self) -> str | None:
        return self.health.unavailable or self.runner.unavailable_reason()

    def quarantined(self, sha256: str | None) -> bool:
        return self.health.quarantined(sha256)

    def declines(self, document: Document) -> str | None:
        """Why this tier's backend does not read this kind of document (``not_applicable``), or None."""
        reason: str | None = registry.declines(self.policy.backend, document)
        return reason

    def warming(self) -> str | None:
        """'starting' or 'recycling' if a request would wait for a process, else None."""
        return WARMING.get(self.runner.state())

    def start(self) -> None:
        self.runner.start()

    def admits(self) -> bool:
        return self.breaker.allow()

    def refusal(self) -> str | None:
        return self.breaker.refusal()

    # -- what an attempt does to it -----------------------------------------------------------

    def record(
        self, failure: Failure | None, sha256: str | None, *, probe: bool = False, shared: str | None = None
    ) -> None:
        """An attempt's outcome (``None``: it answered); the traits table says what it does."""
        if failure is None:
            self.health.record(None, sha256, probe=probe)
        else:
            self.health.record(failure.error_class, sha256, probe=probe, message=failure.info.message, shared=shared)
