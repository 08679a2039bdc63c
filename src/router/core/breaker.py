"""A circuit breaker per tier: consecutive failures or a crash loop take the tier out for a while.

closed --(failure_threshold consecutive faults, or more than max_recycles recycles within
recycle_window_s)--> open --(cooldown_s)--> half_open: one probe request is let through;
its success closes the breaker, its failure opens it again.

Only faults of the tier are recorded as failures (``router.core.health`` reads the traits table). With the
opt-in content breaker, the content outcome of each distinct document the tier read is kept in a
count-based sliding window; a failure rate at or over ``content.failure_rate`` (with at least
``content.min_calls`` documents in the window) opens the breaker too.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from enum import StrEnum

from router.policy.model import BreakerPolicy, ContentBreakerPolicy


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


#: Called as on_change(new_state, reason, probe_at) on every transition.
TransitionHook = Callable[[BreakerState, str, float | None], None]


class Breaker:
    def __init__(
        self,
        settings: BreakerPolicy,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_change: TransitionHook | None = None,
    ):
        self._settings = settings
        self._clock = clock
        self._on_change = on_change or (lambda *_: None)
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._recycles: deque[float] = deque()
        self._opened_at = 0.0
        self._probe_started: float | None = None
        self._opened_for = ""
        self._content: OrderedDict[str, bool] = OrderedDict()  # document -> read without a usable answer

    @property
    def state(self) -> BreakerState:
        return self._state

    @property
    def probe_at(self) -> float | None:
        """When the next half-open probe may run (clock time), while open."""
        return self._opened_at + self._settings.cooldown_s if self._state is BreakerState.OPEN else None

    def allow(self) -> bool:
        """Whether a request may use the tier now. In half-open, lets exactly one probe through."""
        with self._lock:
            now = self._clock()
            if self._state is BreakerState.OPEN and now >= self._opened_at + self._settings.cooldown_s:
                self._transition(BreakerState.HALF_OPEN, "cooldown_elapsed")
            if self._state is BreakerState.CLOSED:
                return True
            if self._state is BreakerState.HALF_OPEN:
                stale = self._probe_started is not None and now - self._probe_started > self._settings.cooldown_s
                if self._probe_started is None or stale:
                    self._probe_started = now
                    return True
            return False

    def refusal(self) -> str | None:
        """Why a request would be refused now (``probe in 3.0s``, ``probe in flight``), or None.
        Reads only: never hands out the half-open probe."""
        with self._lock:
            now = self._clock()
            if self._state is BreakerState.OPEN:
                wait = self._opened_at + self._settings.cooldown_s - now
                return f"probe in {wait:.1f}s" if wait > 0 else None
            if self._state is BreakerState.HALF_OPEN and self._probe_started is not None:
                stale = now - self._probe_started > self._settings.cooldown_s
                return None if stale else "probe in flight"
            return None

    def record_success(self, *, probe: bool = False) -> None:
        """A success closes a half-open breaker. An open one stays open, unless the success is of a
        probe let through while open (the last tier that could answer a document): otherwise it came
        from a request let through before the breaker opened, and says nothing against a crash loop."""
        with self._lock:
            self._failures = 0
            if self._state is BreakerState.HALF_OPEN or (probe and self._state is BreakerState.OPEN):
                self._transition(BreakerState.CLOSED, "probe_succeeded")

    def record_content(self, document: str, failed: bool, *, probe: bool = False) -> None:
        """The content outcome of a document the tier read: ``failed`` when its answer was unusable.

        A probe that read the document answers the probe's question (the tier runs) unless the
        breaker was opened by the content breaker and the answer was unusable again."""
        with self._lock:
            probing = self._state is BreakerState.HALF_OPEN or (probe and self._state is BreakerState.OPEN)
            if probing and failed and self._opened_for == "content_failure_rate":
                self._open("probe_failed")
                self._opened_for = "content_failure_rate"  # the next probe is judged by content again
                return
            if probing:
                self._transition(BreakerState.CLOSED, "probe_succeeded")
            if self._settings.content is not None:
                self._judge_content(document, failed, self._settings.content)

    def _judge_content(self, document: str, failed: bool, settings: ContentBreakerPolicy) -> None:
        self._content.pop(document, None)  # a document read again counts once, as its latest outcome
        self._content[document] = failed
        while len(self._content) > settings.window:
            self._content.popitem(last=False)
        calls = len(self._content)
        if failed and calls >= settings.min_calls and sum(self._content.values()) / calls >= settings.failure_rate:
            self._content.clear()
            if self._state is BreakerState.CLOSED:
                self._open("content_failure_rate")

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._state is BreakerState.HALF_OPEN:
                self._open("probe_failed")
            elif self._state is BreakerState.CLOSED and self._failures >= self._settings.failure_threshold:
                self._open("consecutive_failures")

    def record_recycle(self) -> None:
        """A worker of the tier was recycled; too many within the window is a crash loop."""
        with self._lock:
            now = self._clock()
            self._recycles.append(now)
            while self._recycles and now - self._recycles[0] > self._settings.recycle_window_s:
                self._recycles.popleft()
            if len(self._recycles) > self._settings.max_recycles and self._state is not BreakerState.OPEN:
                self._recycles.clear()
                self._open("crash_loop")

    def _open(self, reason: str) -> None:
        self._opened_at = self._clock()
        self._opened_for = reason
        self._transition(BreakerState.OPEN, reason)

    def _transition(self, state: BreakerState, reason: str) -> None:
        self._state = state
        self._probe_started = None
        self._on_change(state, reason, self.probe_at)
