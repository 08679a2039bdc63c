"""A circuit breaker per tier: consecutive failures or a crash loop take the tier out for a while.

closed --(failure_threshold consecutive failures, or more than max_recycles recycles within
recycle_window_s)--> open --(cooldown_s)--> half_open: one probe request is let through;
its success closes the breaker, its failure opens it again.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from enum import StrEnum

from router.policy import BreakerPolicy


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

    def record_success(self) -> None:
        """A success closes a half-open breaker; an open one stays open: that success came from a
        request let through before the breaker opened, and says nothing against a crash loop."""
        with self._lock:
            self._failures = 0
            if self._state is BreakerState.HALF_OPEN:
                self._transition(BreakerState.CLOSED, "probe_succeeded")

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
        self._transition(BreakerState.OPEN, reason)

    def _transition(self, state: BreakerState, reason: str) -> None:
        self._state = state
        self._probe_started = None
        self._on_change(state, reason, self.probe_at)
