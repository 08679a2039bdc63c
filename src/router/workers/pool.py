"""A tier's worker processes behind the Runner protocol: the supervisor.

Each of the tier's ``workers`` slots holds at most one process, and each process takes up to the
tier's ``capacity`` requests at once (it batches them). A request takes the ready slot with the
fewest requests in flight, sends the document and waits for the answer within its timeout. A
failure that poisons the process (a sticky CUDA error, a death, a timeout:
``errors.PROCESS_POISONING``) retires it on the spot: the slot is marked recycling, the request
gets its error at once (so the engine moves on to the next tier), and so does every other request
still in that process (a batch fails together; the process is retired once, by whichever of its
requests saw the failure first). A background thread stops the old process (terminate, grace,
kill) and starts a new one, which must pass the canary before it takes traffic. Each recycle is
reported to ``on_recycle`` (the tier's breaker counts them to detect a crash loop).

Idle workers are watched too: a watcher thread waits on their process sentinels, and a worker that
dies while idle (OOM killer, a stray ``kill``) is logged with its exit code or signal and replaced
before a request meets it; no document is blamed for it. A request re-checks that its worker is
alive when it takes it, for a death the watcher has not seen yet.

Failed starts (the OS refusing to spawn, a backend that fails to load, a failed canary) are retried
with exponential backoff (tenacity), except those classified ``unavailable`` (missing weights...),
which mark the tier unavailable for good. Any other exception in a supervising thread is logged
(``worker.supervision_failed``), marks a starting slot ``failed``, and the thread's work is retried
with backoff until the pool closes: no slot is left in a state nothing will leave.

A timeout is proof of a hang only at the tier's own ``timeout_s``. When a request's deadline left
it less time, the request still gets its timeout at once, but the worker is left to finish in the
background ("drained", still busy) and killed only if it passes the tier's timeout too.

States of a slot: idle -> starting -> ready <-> busy (at capacity) -> recycling -> ready ...;
starting -> failed -> starting; any -> stopped.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing import connection
from typing import Any

from tenacity import RetryCallState, Retrying, retry_if_exception, retry_if_exception_type, wait_exponential

from backends.documents.document import Document
from backends.protocol import Extraction
from router.core.runners import RunOutcome, TierState
from router.failures.errors import PROCESS_POISONING, AttemptError, ErrorClass, ErrorInfo, Failure
from router.failures.signatures import classify
from router.observe import events
from router.observe.logs import get_logger
from router.policy.model import TierPolicy
from router.workers import transport
from router.workers.canary import canary_document
from router.workers.process import (
    Pending,
    WorkerFailure,
    WorkerGone,
    WorkerProcess,
    refuse_while_importing_main,
    start_context,
)
from router.workers.protocol import signal_name

BACKOFF_FIRST_S = 0.5
#: Workers a request is sent to, when each ends (or is retired) before reading it: the first and
#: one more. A document that kills a worker as it is read must not cost the tier more restarts.
MAX_SENDS = 2
WATCH_POLL_S = 5.0  # the watcher wakes on every change anyway; this only bounds a missed wake-up
_PHASE_STATES = (("ready", TierState.READY), ("busy", TierState.BUSY), ("recycling", TierState.RECYCLING))
_POOLS: weakref.WeakSet[WorkerPool] = weakref.WeakSet()
_DEATH_EVENTS = {ErrorClass.WORKER_CRASHED: events.WORKER_DIED, ErrorClass.TIMEOUT: events.WORKER_TIMEOUT}


def spawn_worker(
    options: Any, *, name: str, generation: int, context: Any, capacity: int = 1, window_s: float = 0.0
) -> WorkerProcess:
    """Create and start one worker process (the pool's default ``spawn``)."""
    worker = WorkerProcess(
        options, name=name, generation=generation, context=context, capacity=capacity, window_s=window_s
    )
    worker.spawn()
    return worker


SpawnWorker = Callable[..., WorkerProcess]


@dataclass
class _Slot:
    index: int
    phase: str = "idle"  # idle, starting, failed, ready, busy, recycling, stopped
    worker: WorkerProcess | None = None
    in_flight: int = 0  # requests the worker holds (ready below capacity, busy at it)
    last_used: float = 0.0
    unloaded: bool = False
    warmed: bool = False  # its first start has ended: a worker installed, or the start failed


class _StartFailed(Exception):
    """Internal: one start of a worker failed (``failure``); ``worker`` is None if none was spawned."""

    def __init__(self, failure: WorkerFailure, generation: int, worker: WorkerProcess | None):
        super().__init__(str(failure))
        self.failure, self.generation, self.worker = failure, generation, worker
        spawned = failure.stage != "spawn"  # the OS refusing a process says nothing about the tier
        self.unavailable = spawned and failure.failure.error_class is ErrorClass.UNAVAILABLE


class _Closed(Exception):
    """Internal: the pool closed while a worker was starting."""


class WorkerPool:
    def __init__(
        self,
        policy: TierPolicy,
        *,
        on_recycle: Callable[[], None] | None = None,
        log: Any = None,
        context: Any = None,
        spawn: SpawnWorker = spawn_worker,
    ):
        refuse_while_importing_main()
        self.policy = policy
        self._on_recycle = on_recycle or (lambda: None)
        self._log = log or get_logger(tier=policy.name, backend=policy.backend.kind)
        self._ctx = context or start_context()
        self._spawn = spawn
        self._cond = threading.Condition()
        self._slots = [_Slot(i) for i in range(policy.worker_count)]
        self._generations = itertools.count(1)
        self._live: set[WorkerProcess] = set()
        self._threads: set[threading.Thread] = set()
        self._unavailable: Failure | None = None
        self._closed = False
        self._stopping = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        os.set_blocking(self._wake_r, False)
        _POOLS.add(self)
        self._spawn_thread(self._watch, "watch", task="watch")
        if policy.idle_unload_s:
            self._spawn_thread(self._unload_idle, "idle", task="unload")

    # -- the Runner protocol -------------------------------------------------------------------

    def state(self) -> TierState:
        with self._cond:
            if self._closed:
                return TierState.STOPPED
            if self._unavailable is not None:
                return TierState.UNAVAILABLE
            phases = {slot.phase for slot in self._slots}
            warming = self.policy.warm_start and not all(slot.warmed for slot in self._slots)
        if warming:
            return TierState.WARMING
        for phase, state in _PHASE_STATES:
            if phase in phases:
                return state
        return TierState.LOADING if phases & {"starting", "failed"} else TierState.IDLE

    def unavailable_reason(self) -> str | None:
        failure = self._unavailable
        return None if failure is None else failure.info.message.splitlines()[0][:300]

    def load(self) -> tuple[int, int]:
        """(capacity, in flight): the requests the started workers can hold at once, and hold now."""
        with self._cond:
            serving = [s for s in self._slots if s.phase in ("ready", "busy")]
            return len(serving) * self.policy.capacity, sum(s.in_flight for s in serving)

    def start(self) -> None:
        with self._cond:
            self._start_idle()

    def run(self, document: Document, *, timeout_s: float, request_id: str) -> RunOutcome:
        deadline = time.monotonic() + timeout_s
        for _ in range(MAX_SENDS):
            slot, worker = self._acquire(deadline, timeout_s, idle=self._needs_idle(document))
            try:
                pending = self._send(slot, worker, document, request_id)
                return self._answer(slot, worker, pending, request_id, deadline)
            except WorkerGone as gone:  # retired, or dead with the request unread: another worker
                self._release(slot, worker)
                last = (worker, gone)
        raise self._gone_too_often(*last)

    def _answer(
        self, slot: _Slot, worker: WorkerProcess, pending: Pending, request_id: str, deadline: float
    ) -> RunOutcome:
        """The answer to ``pending``, or the AttemptError of its failure (the worker retired if it
        must be); WorkerGone if the worker ended before reading it."""
        ref = {"pid": worker.pid, "generation": worker.generation}
        sent = time.monotonic()
        try:
            answer = worker.collect(pending, deadline, max(0.0, deadline - sent))
        except WorkerGone:
            raise
        except WorkerFailure as failed:
            drained = self._cut_short(failed.failure, deadline - sent)
            if drained:
                drain = (slot, worker, pending, request_id, sent)
                self._spawn_thread(self._drain, f"drain-{slot.index}", *drain, task="drain")
            else:
                self._after_failure(slot, worker, failed.failure, request_id)
            retired = not drained and failed.failure.error_class in PROCESS_POISONING
            # every failure that retires a process is one event, however many requests it held
            shared = f"worker:{worker.pid}:{worker.generation}" if retired else failed.shared
            raise AttemptError(failed.failure, worker={**ref, "shared": shared}) from None
        except BaseException:  # a bug, or an interrupt: the request's place in the worker is given back
            worker.forget(pending)
            self._release(slot, worker)
            raise
        self._release(slot, worker)
        try:
            extraction = Extraction.from_dict(answer)
        except (ValueError, KeyError, TypeError) as exc:  # pydantic's ValidationError is a ValueError
            raise AttemptError(classify(ErrorInfo.from_exception(exc, pid=worker.pid)), worker=ref) from exc
        return RunOutcome(extraction, worker_pid=worker.pid, worker_generation=worker.generation)

    def _needs_idle(self, document: Document) -> bool:
        """Whether ``document`` must wait for a worker holding no request: pages too big for a
        request's slice go over the pipe, which a batching worker reads only between batches, so
        they would block every other send to that worker behind a batch."""
        return self.policy.capacity > 1 and transport.overflows(document)

    def _send(self, slot: _Slot, worker: WorkerProcess, document: Document, request_id: str) -> Pending:
        """Send the document to the worker taken for it; WorkerGone when that worker was found
        retired or dead at the send (the request was never its: nobody is blamed)."""
        try:
            return worker.submit(request_id, document)
        except WorkerGone:
            raise
        except BaseException:  # a bug, or an interrupt: the request's place in the worker is given back
            self._release(slot, worker)
            raise

    def _gone_too_often(self, worker: WorkerProcess, gone: WorkerGone) -> AttemptError:
        """Workers kept ending before they read the request: the last one's death is its failure (a
        document that kills a worker as it is read must not go round the pool); a worker that was
        only retired blames nobody."""
        ref = {"pid": worker.pid, "generation": worker.generation, "shared": f"worker:{worker.pid}:{worker.generation}"}
        if gone.failure is not None:
            return AttemptError(gone.failure, worker=ref)
        retired = (
            f"tier {self.policy.name}: worker {worker.pid} was retired before it read the request, {MAX_SENDS} times"
        )
        return AttemptError(Failure.own(ErrorClass.UNAVAILABLE, "worker_retired", retired), worker=ref)

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
        self._wake()
        for worker in live:
            self._stop(worker, graceful=True, reason="close")
        for thread in threads:
            thread.join(timeout=3 * self.policy.stop_grace_s + 1)
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    # -- taking and giving back a worker -------------------------------------------------------

    def _acquire(self, deadline: float, timeout_s: float, *, idle: bool = False) -> tuple[_Slot, WorkerProcess]:
        """A ready worker with room (with ``idle``: one that holds no request at all)."""
        with self._cond:
            while True:
                if self._closed:
                    closed = f"tier {self.policy.name}: the worker pool is closed"
                    raise AttemptError(Failure.own(ErrorClass.UNAVAILABLE, "pool_closed", closed))
                if self._unavailable is not None:
                    raise AttemptError(self._unavailable)
                for slot in sorted(self._slots, key=lambda s: s.in_flight):  # the least loaded first
                    if slot.phase == "ready" and slot.worker is not None and not (idle and slot.in_flight):
                        if not slot.worker.alive():  # dead before the watcher (or its reader) saw it
                            self._died_idle(slot, slot.worker)
                            continue
                        if not slot.worker.accepting():  # its pipe broke as it ends: the watcher replaces it
                            continue
                        slot.in_flight += 1
                        if slot.in_flight >= self.policy.capacity:
                            slot.phase = "busy"
                        return slot, slot.worker
                self._start_idle()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    waited = f"no worker of tier {self.policy.name} was ready within {timeout_s:.1f}s"
                    raise AttemptError(
                        Failure.own(
                            ErrorClass.TIMEOUT, "attempt_timeout", waited, type_="router.core.runners.AttemptTimeout"
                        )
                    )
                self._cond.wait(remaining)

    def _release(self, slot: _Slot, worker: WorkerProcess) -> None:
        """A request of ``worker`` is done with it (a request of a retired worker changes nothing)."""
        with self._cond:
            if slot.worker is worker and slot.in_flight > 0:
                slot.in_flight -= 1
                if slot.phase == "busy":
                    slot.phase = "ready"
                slot.last_used = time.monotonic()
                self._cond.notify_all()
        self._wake()

    def _cut_short(self, failure: Failure, limit_s: float) -> bool:
        """A timeout set by the request's deadline, shorter than the tier's: not proof of a hang."""
        return failure.error_class is ErrorClass.TIMEOUT and limit_s < self.policy.timeout_s - 1e-3

    def _drain(self, slot: _Slot, worker: WorkerProcess, pending: Pending, request_id: str, sent: float) -> None:
        """Let a worker finish the request whose caller gave up (the others of its batch go on); a
        hang is still a hang at the tier's own timeout. The answer is dropped; the request's place
        in the worker is given back after it."""
        try:
            worker.collect(pending, sent + self.policy.timeout_s, self.policy.timeout_s)
        except WorkerGone:  # it ended before reading the request: nothing to drain, nobody to blame
            self._release(slot, worker)
            return
        except WorkerFailure as failed:
            self._after_failure(slot, worker, failed.failure, request_id)
            return
        events.WORKER_DRAINED.emit(
            self._log, worker_pid=worker.pid, generation=worker.generation, request_id=request_id
        )
        self._release(slot, worker)

    def _after_failure(self, slot: _Slot, worker: WorkerProcess, failure: Failure, request_id: str) -> None:
        """A request's failure: a poisoned, dead or hung worker is retired and replaced, once, and
        the other requests it holds fail with the same failure."""
        if failure.error_class not in PROCESS_POISONING:
            self._release(slot, worker)
            return
        with self._cond:
            if slot.worker is not worker:
                return  # retired already, by another request of the same batch (or the watcher)
            slot.worker, slot.in_flight = None, 0
            slot.phase = "stopped" if self._closed else "recycling"
        worker.fail_pending(failure)
        self._retire(slot, worker, failure, request_id)

    # -- watching idle workers -----------------------------------------------------------------

    def _watch(self) -> None:
        """Wait on the sentinels of the idle workers; replace one that dies."""
        while not self._stopping.is_set():
            with self._cond:
                idle = {
                    s.worker.sentinel: (s, s.worker)
                    for s in self._slots
                    if s.phase == "ready"
                    and s.in_flight == 0
                    and s.worker is not None
                    and s.worker.sentinel is not None
                }
            ready = connection.wait([self._wake_r, *idle], WATCH_POLL_S)
            if self._wake_r in ready:
                with contextlib.suppress(BlockingIOError, OSError):
                    os.read(self._wake_r, 4096)
            for sentinel in ready:
                if sentinel in idle:
                    with self._cond:
                        self._died_idle(*idle[sentinel])

    def _died_idle(self, slot: _Slot, worker: WorkerProcess) -> None:
        """An idle worker is dead: retire and replace it; no request is blamed. Caller holds the lock."""
        if slot.phase != "ready" or slot.in_flight or slot.worker is not worker or self._closed:
            return  # a request holds it (and meets the death itself), or it is already handled
        slot.worker, slot.phase = None, "recycling"
        self._retire(slot, worker, worker.death(), None)

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_w, b"\0")

    # -- retiring, starting and recycling ------------------------------------------------------

    def _retire(self, slot: _Slot, worker: WorkerProcess, failure: Failure, request_id: str | None) -> None:
        """Log why a worker leaves, then replace it in the background (or just stop it, if closed)."""
        exitcode = failure.info.exitcode
        death = _DEATH_EVENTS.get(failure.error_class, events.WORKER_POISONED)
        fields: dict[str, Any] = {"signal": signal_name(exitcode)} if death is events.WORKER_DIED else {}
        death.emit(
            self._log,
            worker_pid=worker.pid,
            generation=worker.generation,
            error_class=failure.error_class,
            signature=failure.signature,
            exitcode=exitcode,
            request_id=request_id,
            recent_requests=list(worker.recent),
            **fields,
        )
        if self._closed:
            self._stop(worker, graceful=False, reason="close")
            return
        events.WORKER_RECYCLING.emit(
            self._log, worker_pid=worker.pid, generation=worker.generation, reason=failure.error_class
        )
        self._on_recycle()
        reason = failure.error_class.value
        self._spawn_thread(self._bring_up, f"recycle-{slot.index}", slot, reason, worker, task="start", slot=slot)

    def _start_idle(self) -> None:
        """Start every idle slot. Caller holds the lock."""
        if self._closed or self._unavailable is not None:
            return
        for slot in self._slots:
            if slot.phase == "idle":
                slot.phase = "starting"
                reason = "restart_after_idle" if slot.unloaded else "start"
                self._spawn_thread(self._bring_up, f"start-{slot.index}", slot, reason, None, task="start", slot=slot)

    def _bring_up(self, slot: _Slot, reason: str, old: WorkerProcess | None) -> None:
        """Stop ``old`` (if any), then start workers until one passes the canary, backing off."""
        with self._cond:
            if slot.phase not in ("starting", "recycling", "failed"):
                return  # a rerun after the worker was installed (or the pool closed): nothing left to do
        began = time.monotonic()
        stop_ms = self._stop(old, graceful=False, reason="recycle") if old is not None else None
        retrying = Retrying(
            retry=retry_if_exception(lambda exc: isinstance(exc, _StartFailed) and not exc.unavailable),
            wait=self._backoff(),
            stop=lambda _: self._stopping.is_set(),
            sleep=self._sleep,
            before_sleep=lambda state: self._start_failed(state, slot),
            reraise=True,
        )
        try:
            worker, timings = retrying(self._start_one, reason)
        except _Closed:
            return
        except _StartFailed as failed:
            if failed.unavailable:
                self._start_failed_for_good(slot, failed)
            return  # else the pool is closing
        self._install(slot, worker, timings, reason, old, began, stop_ms)

    def _backoff(self) -> wait_exponential:
        return wait_exponential(multiplier=BACKOFF_FIRST_S, max=max(BACKOFF_FIRST_S, self.policy.breaker.cooldown_s))

    def _start_one(self, reason: str) -> tuple[WorkerProcess, dict[str, Any]]:
        if self._stopping.is_set():
            raise _Closed
        generation = next(self._generations)
        events.WORKER_STARTING.emit(self._log, generation=generation, reason=reason)
        name = f"docroute-{self.policy.name}-{generation}"
        try:
            worker = self._spawn(
                self.policy.backend,
                name=name,
                generation=generation,
                context=self._ctx,
                capacity=self.policy.capacity,
                window_s=self.policy.batch_window_ms / 1000,
            )
        except Exception as exc:  # the OS or multiprocessing refused (EMFILE, ENOMEM, EAGAIN): data, retried
            refused = WorkerFailure(classify(ErrorInfo.from_exception(exc)), "spawn")
            raise _StartFailed(refused, generation, None) from exc
        with self._cond:
            self._live.add(worker)
        try:
            return worker, self._handshake(worker)
        except WorkerFailure as failure:
            self._stop(worker, graceful=False, reason="start_failed")
            raise _StartFailed(failure, generation, worker) from None

    def _handshake(self, worker: WorkerProcess) -> dict[str, Any]:
        if self._closed:
            raise WorkerFailure(Failure.own(ErrorClass.UNAVAILABLE, "pool_closed", "pool closed"), "start-up")
        timings: dict[str, Any] = worker.wait_ready(self.policy.start_timeout_s)
        started = time.monotonic()
        try:
            worker.request(f"canary-{worker.generation}", canary_document(), self.policy.timeout_s, stage="canary")
        except WorkerFailure as failed:
            if failed.failure.error_class in PROCESS_POISONING:
                raise
        timings["canary_ms"] = round((time.monotonic() - started) * 1000, 2)
        return timings

    def _start_failed(self, state: RetryCallState, slot: _Slot) -> None:
        """tenacity's before_sleep: log the failed start that will be retried; it counts toward the
        crash loop (a tier whose workers keep failing to start is broken)."""
        failed = state.outcome.exception() if state.outcome else None
        with self._cond:
            slot.warmed = True  # a failed first start ends the slot's warm-up; it retries in the background
        if isinstance(failed, _StartFailed):
            self._log_start_failed(failed, retry_in_s=round(state.next_action.sleep, 3) if state.next_action else None)
            self._on_recycle()

    def _start_failed_for_good(self, slot: _Slot, failed: _StartFailed) -> None:
        self._log_start_failed(failed, retry_in_s=None)
        with self._cond:
            self._unavailable = failed.failure.failure
            slot.phase, slot.warmed = "idle", True
            self._cond.notify_all()

    def _log_start_failed(self, failed: _StartFailed, retry_in_s: float | None) -> None:
        failure, verdict = failed.failure, failed.failure.failure
        events.WORKER_START_FAILED.emit(
            self._log,
            worker_pid=None if failed.worker is None else failed.worker.pid,
            generation=failed.generation,
            stage=failure.stage,
            error_type=failure.info.type,
            error_class=verdict.error_class,
            signature=verdict.signature,
            message=failure.info.message.strip().splitlines()[0][:300] if failure.stage != "canary" else None,
            exitcode=failure.info.exitcode,
            retry_in_s=retry_in_s,
        )

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
                slot.worker, slot.phase, slot.in_flight = worker, "ready", 0
                slot.last_used, slot.warmed = time.monotonic(), True
                self._cond.notify_all()
        if closed:
            self._stop(worker, graceful=True, reason="close")
            return
        self._wake()
        duration_ms = round((time.monotonic() - began) * 1000, 2)
        if old is None:
            events.WORKER_READY.emit(
                self._log,
                generation=worker.generation,
                worker_pid=worker.pid,
                reason=reason,
                duration_ms=duration_ms,
                **timings,
            )
            return
        events.WORKER_RECYCLED.emit(
            self._log,
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
            events.WORKER_STOPPED.emit(
                self._log,
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
                idle = [s for s in self._slots if s.phase == "ready" and not s.in_flight and now - s.last_used >= limit]
                retired = [(slot.worker, now - slot.last_used) for slot in idle]
                for slot in idle:
                    slot.phase, slot.worker, slot.unloaded = "idle", None, True
            for worker, idle_s in retired:
                if worker is not None:
                    events.WORKER_IDLE_UNLOADED.emit(
                        self._log, worker_pid=worker.pid, generation=worker.generation, idle_s=round(idle_s, 2)
                    )
                    self._stop(worker, graceful=True, reason="idle")

    # -- supervising threads -------------------------------------------------------------------

    def _spawn_thread(
        self, target: Callable[..., None], label: str, *args: Any, task: str, slot: _Slot | None = None
    ) -> None:
        """Run ``target`` in a daemon thread. An unexpected exception is logged, marks a starting
        slot failed, and ``target`` runs again after a backoff, until the pool closes."""
        retrying = Retrying(
            retry=retry_if_exception_type(Exception),
            wait=self._backoff(),
            stop=lambda _: self._stopping.is_set(),
            sleep=self._sleep,
            before_sleep=lambda state: self._supervision_failed(state, task, slot),
            reraise=True,
        )

        def run() -> None:
            try:
                retrying(target, *args)
            except Exception:  # only when the pool closed during a backoff; the failure was logged
                return
            finally:
                with self._cond:
                    self._threads.discard(thread)

        thread = threading.Thread(target=run, name=f"docroute-{self.policy.name}-{label}", daemon=True)
        with self._cond:
            self._threads.add(thread)
        thread.start()

    def _sleep(self, seconds: float) -> None:
        """Backoff that ends early when the pool closes."""
        self._stopping.wait(seconds)

    def _supervision_failed(self, state: RetryCallState, task: str, slot: _Slot | None) -> None:
        error = state.outcome.exception() if state.outcome else None
        with self._cond:
            if task == "start" and slot is not None and slot.phase in ("starting", "recycling"):
                slot.phase = "failed"  # left when the retried start installs a worker
        events.WORKER_SUPERVISION_FAILED.emit(
            self._log,
            task=task,
            slot=None if slot is None else slot.index,
            error_type=type(error).__name__,
            message=str(error).splitlines()[0][:300] if str(error) else "",
            retry_in_s=round(state.next_action.sleep, 3) if state.next_action else 0.0,
        )


@atexit.register
def _close_all() -> None:
    """At interpreter exit, stop every pool's workers (before multiprocessing's own exit hook)."""
    for pool in list(_POOLS):
        pool.close()
