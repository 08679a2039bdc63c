"""Runners carry out a tier's attempts: in the router's process (inline) or in worker processes.

This is the one boundary where a backend's exceptions become data: whatever a backend raises comes
out of ``run`` as an ``AttemptError`` carrying a ``Failure``, classified once, here. Worker
processes live in ``router.workers``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from backends import registry
from backends.documents.document import Document
from backends.protocol import Backend, Extraction
from router.failures.errors import AttemptError, ErrorClass, ErrorInfo, Failure
from router.failures.signatures import classify


class TierState(StrEnum):
    IDLE = "idle"  # nothing started yet (lazy start)
    LOADING = "loading"  # a worker is starting
    WARMING = "warming"  # a warm_start tier's first start: no document is admitted until it ends
    READY = "ready"  # can take a request now
    BUSY = "busy"  # every worker is serving a request
    RECYCLING = "recycling"  # a poisoned worker is being replaced
    UNAVAILABLE = "unavailable"  # cannot run on this machine (weights, packages, device)
    STOPPED = "stopped"


@dataclass
class RunOutcome:
    """A successful attempt: the backend's answer and which worker gave it."""

    extraction: Extraction
    worker_pid: int | None = None
    worker_generation: int | None = None


class Runner(Protocol):
    """What the engine needs from a tier's executor."""

    def state(self) -> TierState: ...

    def unavailable_reason(self) -> str | None: ...

    def load(self) -> tuple[int, int]:
        """(capacity, in flight): the requests it can work on at once now, and works on."""
        ...

    def start(self) -> None:
        """Begin loading (for ``preload``); returns without waiting."""

    def run(self, document: Document, *, timeout_s: float, request_id: str) -> RunOutcome:
        """One attempt. Raises ``AttemptError`` on any failure, including timeouts."""

    def close(self) -> None: ...


class AttemptTimeout(Exception):
    """An attempt ran past its time limit (raised as data by runners, never by backends)."""


def _timeout(message: str) -> Failure:
    """An attempt timeout, born with its class."""
    return Failure.own(ErrorClass.TIMEOUT, "attempt_timeout", message, type_="router.core.runners.AttemptTimeout")


class InlineRunner:
    """Runs a backend in the calling thread, one request per slot.

    For backends that never touch CUDA (OCR + rules), or for tests. It cannot interrupt a hung
    backend: a request waits at most ``timeout_s`` for a free slot, but a running call finishes.
    """

    def __init__(self, options: Any, *, slots: int = 1, factory: Callable[[Any], Backend] = registry.create):
        self._options = options
        self._factory = factory
        self._slots = threading.BoundedSemaphore(slots)
        self._capacity = slots
        self._in_flight = 0
        self._idle: list[Backend] = []
        self._lock = threading.Lock()
        self._closed = False
        self._unavailable: str | None = None

    def state(self) -> TierState:
        if self._closed:
            return TierState.STOPPED
        return TierState.UNAVAILABLE if self._unavailable else TierState.READY

    def unavailable_reason(self) -> str | None:
        return self._unavailable

    def load(self) -> tuple[int, int]:
        with self._lock:
            return (0 if self._closed else self._capacity), self._in_flight

    def start(self) -> None:
        return None

    def run(self, document: Document, *, timeout_s: float, request_id: str) -> RunOutcome:
        if not self._slots.acquire(timeout=timeout_s):
            raise AttemptError(_timeout(f"no free slot within {timeout_s:.1f}s"))
        with self._lock:
            self._in_flight += 1
        try:
            backend = self._checkout()
            started = time.monotonic()
            try:
                extraction = backend.extract(document)
            except Exception as exc:  # the translation boundary: any backend failure becomes data
                raise AttemptError(classify(ErrorInfo.from_exception(exc))) from exc
            finally:
                self._checkin(backend)
            elapsed = time.monotonic() - started
            if elapsed > timeout_s:
                raise AttemptError(_timeout(f"took {elapsed:.1f}s, limit {timeout_s:.1f}s"))
            return RunOutcome(extraction)
        finally:
            with self._lock:
                self._in_flight -= 1
            self._slots.release()

    def _checkout(self) -> Backend:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        backend = self._factory(self._options)
        try:
            backend.load()
        except Exception as exc:  # start-up failure: classified by the engine, usually unavailable
            raise AttemptError(classify(ErrorInfo.from_exception(exc))) from exc
        return backend

    def _checkin(self, backend: Backend) -> None:
        with self._lock:
            if self._closed:
                backend.close()
            else:
                self._idle.append(backend)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for backend in idle:
            backend.close()


class UnavailableRunner:
    """The runner of a tier that cannot run on this machine (its preflight check failed)."""

    def __init__(self, reason: str):
        self._reason = reason

    def state(self) -> TierState:
        return TierState.UNAVAILABLE

    def unavailable_reason(self) -> str | None:
        return self._reason

    def load(self) -> tuple[int, int]:
        return 0, 0

    def start(self) -> None:
        return None

    def run(self, document: Document, *, timeout_s: float, request_id: str) -> RunOutcome:
        raise AttemptError(Failure.own(ErrorClass.UNAVAILABLE, "backend_unavailable", self._reason))

    def close(self) -> None:
        return None
