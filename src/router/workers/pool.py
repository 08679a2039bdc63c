"""A tier's worker processes behind the Runner protocol: the supervisor.

Each of the tier's ``workers`` slots holds at most one process. A request takes a ready slot,
sends the document and waits for the answer within its timeout. A failure that poisons the process
(a sticky CUDA error, a death, a timeout: ``errors.PROCESS_POISONING``) retires it on the spot: the
slot is marked recycling, the request gets its error at once (so the engine moves on to the next
tier), and a background thread stops the old process (terminate, grace, kill) and starts a new one,
which must pass the canary before it takes traffic. Each recycle is reported to ``on_recycle`` (the
tier's breaker counts them to detect a crash loop); failed starts are retried with backoff, except
those classified ``unavailable`` (missing weights...), which mark the tier unavailable for good.

A timeout is proof of a hang only at the tier's own ``timeout_s``. When a request's deadline left
it less time, the request still gets its timeout at once, but the worker is left to finish in the
background ("drained", still busy) and killed only if it passes the tier's timeout too.

States of a slot: idle -> starting -> ready <-> busy -> recycling -> ready ...; any -> stopped.
"""

from __future__ import annotations

import atexit
import itertools
import multiprocessing as mp
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from backends.base import Extraction
from backends.document import Document
from backends.errors import BackendUnavailable
from router.errors import PROCESS_POISONING, AttemptError, ErrorClass, ErrorInfo
from router.logs import get_logger
from router.policy import TierPolicy
from router.runners import AttemptTimeout, RunOutcome, TierState
from router.signatures import classify
from router.workers.canary import canary_document
from router.workers.process import WorkerFailure, WorkerProcess

BACKOFF_FIRST_S = 0.5
_PHASE_STATES = (("ready", TierState.READY), ("busy", TierState.BUSY), ("recycling", TierState.RECYCLING))
_POOLS: weakref.WeakSet[WorkerPool] = weakref.WeakSet()


@dataclass
class _Slot:
    index: int
    phase: str = "idle"  # idle, starting, ready, busy, recycling, stopped
    worker: WorkerProcess | None = None
    last_used: float = 0.0
    failed_starts: int = 0
    unloaded: bool = False


class WorkerPool:
    def __init__(
        self,
        policy: TierPolicy,
        *,
        on_recycle: Callable[[], None] | None = None,
        log: Any = None,
        context: Any = None,
    ):
        self.policy = policy
        self._on_recycle = on_recycle or (lambda: None)
        self._log = log or get_logger(tier=policy.name, backend=policy.backend.kind)
        self._ctx = context or mp.get_context("spawn")
        self._cond = threading.Condition()
        self._slots = [_Slot(i) for i in range(policy.workers)]
        self._generations = itertools.count(1)
        self._live: set[WorkerProcess] = set()
        self._threads: set[threading.Thread] = set()
        self._unavailable: ErrorInfo | None = None
        self._closed = False
        self._stopping = threading.Event()
        _POOLS.add(self)
        if policy.idle_unload_s:
            self._spawn_thread(self._unload_idle, "idle")

    # -- the Runner protocol -------------------------------------------------------------------

    def state(self) -> TierState:
        with self._cond:
            if self._closed:
                return TierState.STOPPED
            if self._unavailable is not None:
                return TierState.UNAVAILABLE
            phases = {slot.phase for slot in self._slots}
        for phase, state in _PHASE_STATES:
            if phase in phases:
                return state
        return TierState.LOADING if "starting" in phases else TierState.IDLE

    def unavailable_reason(self) -> str | None:
        info = self._unavailable
        return None if info is None else info.message.splitlines()[0][:300]

    def start(self) -> None:
        with self._cond:
            self._start_idle()

    def run(self, document: Document, *, timeout_s: float, request_id: str) -> RunOutcome:
        deadline = time.monotonic() + timeout_s
        slot, worker = self._acquire(deadline, timeout_s)
        ref = {"pid": worker.pid, "generation": worker.generation}
        sent = time.monotonic()
        try:
            answer = worker.request(request_id, document, max(0.0, deadline - sent))
        except WorkerFailure as failure:
            if self._cut_short(failure, deadline - sent):
                self._spawn_thread(self._drain, f"drain-{slot.index}", slot, worker, request_id, sent)
            else:
                self._after_failure(slot, worker, failure.info, request_id)
            raise AttemptError(failure.info, worker=ref) from None
        self._release(slot)
        try:
            extraction = Extraction.from_dict(answer)
        except (ValueError, KeyError, TypeError) as exc:  # pydantic's ValidationError is a ValueError
            raise AttemptError(ErrorInfo.from_exception(exc, pid=worker.pid), worker=ref) from exc
        return RunOutcome(extraction, worker_pid=worker.pid, worker_generation=worker.generation)

    def close(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._stopping.set()
            for slot in self._slots:
                slot.phase = "stopped"
            live = list(self._live)
            threads = list(self._threads)
            self._cond.notify_all()
        for worker in live:
            self._stop(worker, graceful=True, reason="close")
        for thread in threads:
            thread.join(timeout=3 * self.policy.stop_grace_s + 1)

    # -- taking and giving back a worker -------------------------------------------------------

    def _acquire(self, deadline: float, timeout_s: float) -> tuple[_Slot, WorkerProcess]:
        with self._cond:
            while True:
                if self._closed:
                    closed = BackendUnavailable(f"tier {self.policy.name}: the worker pool is closed")
                    raise AttemptError(ErrorInfo.from_exception(closed))
                if self._unavailable is not None:
                    raise AttemptError(self._unavailable)
                for slot in self._slots:
                    if slot.phase == "ready" and slot.worker is not None:
                        slot.phase = "busy"
                        return slot, slot.worker
                self._start_idle()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    waited = AttemptTimeout(f"no worker of tier {self.policy.name} was ready within {timeout_s:.1f}s")
                    raise AttemptError(ErrorInfo.from_exception(waited))
                self._cond.wait(remaining)

    def _release(self, slot: _Slot) -> None:
        with self._cond:
            if slot.phase == "busy":
                slot.phase = "ready"
                slot.last_used = time.monotonic()
                self._cond.notify_all()

    def _cut_short(self, failure: WorkerFailure, limit_s: float) -> bool:
        """A timeout set by the request's deadline, shorter than the tier's: not proof of a hang."""
        timed_out = classify(failure.info).error_class is ErrorClass.TIMEOUT
        return timed_out and limit_s < self.policy.timeout_s - 1e-3

    def _drain(self, slot: _Slot, worker: WorkerProcess, request_id: str, sent: float) -> None:
        """Let a worker finish the request whose caller gave up; a hang is still a hang at the
        tier's own timeout. The answer is dropped; the worker serves again after it."""
        try:
            worker.collect(request_id, sent + self.policy.timeout_s, self.policy.timeout_s)
        except WorkerFailure as failure:
            self._after_failure(slot, worker, failure.info, request_id)
            return
        self._log.info("worker.drained", worker_pid=worker.pid, generation=worker.generation, request_id=request_id)
        self._release(slot)

    def _after_failure(self, slot: _Slot, worker: WorkerProcess, info: ErrorInfo, request_id: str) -> None:
        verdict = classify(info)
        if verdict.error_class not in PROCESS_POISONING:
            self._release(slot)
            return
        with self._cond:
            slot.worker = None
            slot.phase = "stopped" if self._closed else "recycling"
            closed = self._closed
        event = {ErrorClass.WORKER_CRASHED: "worker.died", ErrorClass.TIMEOUT: "worker.timeout"}
        self._log.warning(
            event.get(verdict.error_class, "worker.poisoned"),
            worker_pid=worker.pid,
            generation=worker.generation,
            error_class=verdict.error_class,
            signature=verdict.signature,
            exitcode=info.exitcode,
            request_id=request_id,
            recent_requests=list(worker.recent),
        )
        if closed:
            self._stop(worker, graceful=False, reason="close")
            return
        self._log.info(
            "worker.recycling", worker_pid=worker.pid, generation=worker.generation, reason=verdict.error_class
        )
        self._on_recycle()
        self._spawn_thread(self._bring_up, f"recycle-{slot.index}", slot, verdict.error_class.value, worker)

    # -- starting and recycling (background threads) -------------------------------------------

    def _start_idle(self) -> None:
        """Start every idle slot. Caller holds the lock."""
        if self._closed or self._unavailable is not None:
            return
        for slot in self._slots:
            if slot.phase == "idle":
                slot.phase = "starting"
                reason = "restart_after_idle" if slot.unloaded else "start"
                self._spawn_thread(self._bring_up, f"start-{slot.index}", slot, reason, None)

    def _bring_up(self, slot: _Slot, reason: str, old: WorkerProcess | None) -> None:
        began = time.monotonic()
        stop_ms = self._stop(old, graceful=False, reason="recycle") if old is not None else None
        while not self._stopping.is_set():
            worker = self._new_worker(reason)
            try:
                timings = self._start(worker)
            except WorkerFailure as failure:
                self._stop(worker, graceful=False, reason="start_failed")
                if self._stopping.is_set() or not self._retry_start(slot, worker, failure):
                    return
                continue
            self._install(slot, worker, timings, reason, old, began, stop_ms)
            return

    def _new_worker(self, reason: str) -> WorkerProcess:
        generation = next(self._generations)
        name = f"docroute-{self.policy.name}-{generation}"
        worker = WorkerProcess(self.policy.backend, name=name, generation=generation, context=self._ctx)
        with self._cond:
            self._live.add(worker)
        self._log.info("worker.starting", generation=generation, reason=reason)
        return worker

    def _start(self, worker: WorkerProcess) -> dict[str, Any]:
        if self._closed:
            raise WorkerFailure(ErrorInfo.from_exception(BackendUnavailable("pool closed")), "start-up")
        worker.spawn()
        timings: dict[str, Any] = worker.wait_ready(self.policy.start_timeout_s)
        started = time.monotonic()
        try:
            worker.request(f"canary-{worker.generation}", canary_document(), self.policy.timeout_s, stage="canary")
        except WorkerFailure as failure:
            if classify(failure.info).error_class in PROCESS_POISONING:
                raise
        timings["canary_ms"] = round((time.monotonic() - started) * 1000, 2)
        return timings

    def _retry_start(self, slot: _Slot, worker: WorkerProcess, failure: WorkerFailure) -> bool:
        """Log a failed start; False if the tier is unavailable (never retried), else back off."""
        verdict = classify(failure.info)
        unavailable = verdict.error_class is ErrorClass.UNAVAILABLE
        slot.failed_starts += 1
        delay = min(BACKOFF_FIRST_S * 2 ** (slot.failed_starts - 1), self.policy.breaker.cooldown_s)
        self._log.warning(
            "worker.start_failed",
            worker_pid=worker.pid,
            generation=worker.generation,
            stage=failure.stage,
            error_type=failure.info.type,
            error_class=verdict.error_class,
            signature=verdict.signature,
            message=failure.info.message.strip().splitlines()[0][:300] if failure.stage == "start-up" else None,
            exitcode=failure.info.exitcode,
            retry_in_s=None if unavailable else delay,
        )
        if unavailable:
            with self._cond:
                self._unavailable = failure.info
                slot.phase = "idle"
                self._cond.notify_all()
            return False
        self._on_recycle()  # a failed start or canary counts toward the crash loop
        return not self._stopping.wait(delay)

    def _install(
        self,
        slot: _Slot,
        worker: WorkerProcess,
        timings: dict[str, Any],
        reason: str,
        old: WorkerProcess | None,
        began: float,
        stop_ms: float | None,
    ) -> None:
        with self._cond:
            closed = self._closed
            if not closed:
                slot.worker, slot.phase, slot.failed_starts = worker, "ready", 0
                slot.last_used = time.monotonic()
                self._cond.notify_all()
        if closed:
            self._stop(worker, graceful=True, reason="close")
            return
        duration_ms = round((time.monotonic() - began) * 1000, 2)
        if old is None:
            self._log.info(
                "worker.ready",
                generation=worker.generation,
                worker_pid=worker.pid,
                reason=reason,
                duration_ms=duration_ms,
                **timings,
            )
            return
        self._log.info(
            "worker.recycled",
            generation=worker.generation,
            old_pid=old.pid,
            new_pid=worker.pid,
            reason=reason,
            duration_ms=duration_ms,
            stop_ms=stop_ms,
            **timings,
        )

    # -- stopping ------------------------------------------------------------------------------

    def _stop(self, worker: WorkerProcess, *, graceful: bool, reason: str) -> float:
        began = time.monotonic()
        stopped = worker.stop(self.policy.stop_grace_s, graceful=graceful)
        with self._cond:
            self._live.discard(worker)
        stop_ms = round((time.monotonic() - began) * 1000, 2)
        if stopped:
            self._log.info(
                "worker.stopped",
                worker_pid=worker.pid,
                generation=worker.generation,
                reason=reason,
                exitcode=worker.exitcode,
                stop_ms=stop_ms,
            )
        return stop_ms

    def _unload_idle(self) -> None:
        limit = self.policy.idle_unload_s or 0.0
        while not self._stopping.wait(min(limit / 4, 1.0)):
            now = time.monotonic()
            with self._cond:
                idle = [s for s in self._slots if s.phase == "ready" and now - s.last_used >= limit]
                retired = [(slot.worker, now - slot.last_used) for slot in idle]
                for slot in idle:
                    slot.phase, slot.worker, slot.unloaded = "idle", None, True
            for worker, idle_s in retired:
                if worker is not None:
                    self._log.info(
                        "worker.idle_unloaded",
                        worker_pid=worker.pid,
                        generation=worker.generation,
                        idle_s=round(idle_s, 2),
                    )
                    self._stop(worker, graceful=True, reason="idle")

    def _spawn_thread(self, target: Callable[..., None], label: str, *args: Any) -> None:
        def run() -> None:
            try:
                target(*args)
            finally:
                with self._cond:
                    self._threads.discard(thread)

        thread = threading.Thread(target=run, name=f"docroute-{self.policy.name}-{label}", daemon=True)
        with self._cond:
            self._threads.add(thread)
        thread.start()


@atexit.register
def _close_all() -> None:
    """At interpreter exit, stop every pool's workers (before multiprocessing's own exit hook)."""
    for pool in list(_POOLS):
        pool.close()
