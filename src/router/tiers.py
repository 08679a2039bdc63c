"""A tier at run time: its policy, its runner, its breaker and its quarantine list."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from backends import registry
from backends.document import Document
from router.breaker import Breaker
from router.errors import Classification, ErrorClass
from router.policy import TierPolicy
from router.runners import Runner, TierState

#: Failures that, caused by a document, make that document skip the tier for a while.
QUARANTINE_CLASSES = frozenset({ErrorClass.STICKY_CUDA, ErrorClass.WORKER_CRASHED})
#: Failures that say nothing about the tier's health: they do not count against its breaker.
NOT_THE_TIERS_FAULT = frozenset({ErrorClass.BAD_INPUT, ErrorClass.UNAVAILABLE})
#: Runner states in which a request would have to wait for a process to start.
WARMING = {TierState.IDLE: "starting", TierState.LOADING: "starting", TierState.RECYCLING: "recycling"}


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
        self._unavailable = unavailable
        self._clock = clock
        self._quarantine: dict[str, float] = {}
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.policy.name

    @property
    def kind(self) -> str:
        return self.policy.backend.kind

    def unavailable_reason(self) -> str | None:
        return self._unavailable or self.runner.unavailable_reason()

    def declines(self, document: Document) -> str | None:
        """Why this tier's backend does not read this kind of document (``not_applicable``), or None."""
        decline = getattr(registry.backend_class(self.kind), "declines", None)
        return decline(self.policy.backend, document) if decline else None

    def mark_unavailable(self, reason: str) -> None:
        self._unavailable = reason

    def quarantined(self, sha256: str) -> bool:
        with self._lock:
            expiry = self._quarantine.get(sha256)
            if expiry is not None and expiry <= self._clock():
                del self._quarantine[sha256]
                return False
            return expiry is not None

    def warming(self) -> str | None:
        """'starting' or 'recycling' if a request would wait for a process, else None."""
        return WARMING.get(self.runner.state())

    def record_failure(self, verdict: Classification, document: Document) -> None:
        if verdict.error_class is ErrorClass.UNAVAILABLE:
            self.mark_unavailable(verdict.info.message.splitlines()[0][:300])
        if verdict.error_class in QUARANTINE_CLASSES and self.policy.quarantine_s > 0:
            now = self._clock()
            with self._lock:
                # expired entries go now: a document that never comes back would stay forever
                for sha in [sha for sha, expiry in self._quarantine.items() if expiry <= now]:
                    del self._quarantine[sha]
                self._quarantine[document.sha256] = now + self.policy.quarantine_s
        if verdict.error_class not in NOT_THE_TIERS_FAULT:
            self.breaker.record_failure()

    def record_success(self) -> None:
        self.breaker.record_success()
