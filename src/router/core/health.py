"""A tier's health between requests: its breaker, the documents it keeps away, whether it can run.

What an outcome does to the tier is decided here, by the error class's traits, for the live router
(``router.core.tiers``) and for replay (``router.forensics.simstate``) alike: a fault of the tier counts
toward its breaker; a document the tier read and could not answer only feeds the opt-in content
breaker; a class that quarantines keeps the document away for the tier's ``quarantine_s``.

Several requests can fail from one event: a batched call that failed for the whole batch, a worker
retired with requests in it. Their failures share an id (``shared``) and count toward the breaker
once; each document is still quarantined (a batch's documents cannot be told apart).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from router.core.breaker import Breaker
from router.failures.errors import ErrorClass, traits


class Health:
    def __init__(self, breaker: Breaker, quarantine_s: float, *, clock: Callable[[], float] = time.monotonic):
        self.breaker = breaker
        self.quarantine_s = quarantine_s
        self.unavailable: str | None = None
        self._clock = clock
        self._quarantine: dict[str, float] = {}
        self._lock = threading.Lock()
        self._counted: deque[str] = deque(maxlen=256)  # shared failures already counted

    def seen(self, shared: str | None) -> bool:
        """Whether a failure of this shared event was counted already."""
        with self._lock:
            return shared is not None and shared in self._counted

    def first_of(self, shared: str | None) -> bool:
        """Whether this failure is the first seen of its shared event (or is not shared at all)."""
        if shared is None:
            return True
        with self._lock:
            if shared in self._counted:
                return False
            self._counted.append(shared)
            return True

    def record(
        self,
        error_class: ErrorClass | None,
        document: str | None,
        *,
        probe: bool = False,
        message: str = "",
        shared: str | None = None,
    ) -> None:
        """The effect of one attempt's outcome (``None``: it answered) on the tier's health."""
        if error_class is None:
            self.breaker.record_success(probe=probe)
            if document:
                self.breaker.record_content(document, False, probe=probe)
            return
        meaning = traits(error_class)
        if meaning.fault == "neither":  # the tier cannot run on this machine: no use trying again
            self.unavailable = message.splitlines()[0][:300] if message.strip() else "unavailable"
        if meaning.quarantines and document and self.quarantine_s > 0:
            self._quarantine_document(document)
        if meaning.counts_toward_breaker:
            if self.first_of(shared):
                self.breaker.record_failure()
        elif meaning.content and document:
            self.breaker.record_content(document, True, probe=probe)

    def quarantine_ends(self, document: str | None) -> float | None:
        """When the document's quarantine on this tier ends (clock time), if it has one."""
        with self._lock:
            return self._quarantine.get(document or "")

    def quarantined(self, document: str | None) -> bool:
        with self._lock:
            expiry = self._quarantine.get(document or "")
            if expiry is not None and expiry <= self._clock():
                del self._quarantine[document or ""]
                return False
            return expiry is not None

    def _quarantine_document(self, document: str) -> None:
        now = self._clock()
        with self._lock:
            # expired entries go now: a document that never comes back would stay forever
            for sha in [sha for sha, expiry in self._quarantine.items() if expiry <= now]:
                del self._quarantine[sha]
            self._quarantine[document] = now + self.quarantine_s
