"""One worker process as the parent sees it: spawn, handshake, requests with a time limit, stop.

A worker holds up to ``capacity`` requests at once. Each is sent with its own number and waits on
its own ``Pending``; after the handshake one reader thread per worker watches two things at once
(``multiprocessing.connection.wait``): the pipe, whose replies it hands to their requests by
number, and the process sentinel, which becomes ready when the process dies whatever the cause;
then every request still waiting fails with that death. A hang is only visible as a request's time
running out. Every failure leaves here as ``WorkerFailure`` carrying one classified ``Failure``: a
death, a hang or a failed start is born with its class; an error the child reports as data is
classified once, here, where it enters. Deciding what to do about it is the pool's job.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import multiprocessing
import os
import threading
import time
import weakref
from collections import deque
from multiprocessing import connection, forkserver, popen_forkserver
from multiprocessing import context as mp_context
from typing import Any

from backends.documents.document import Document
from router.failures.errors import ErrorClass, ErrorInfo, Failure
from router.failures.signatures import classify
from router.workers import child, protocol, transport

RECENT_REQUESTS = 8
#: What the fork server imports once, so that a new worker starts with them: the worker's own code
#: and the backend registry, never torch (the server must stay CUDA-free, or its forks inherit a
#: context). ``__main__`` is the standard library's default, kept so that a fork need not re-import
#: the host's main module either.
WORKER_MODULES = ("__main__", "router.workers.process", "router.workers.child", "backends.registry")


def start_context() -> Any:
    """The multiprocessing context workers start from: the fork server.

    A spawned worker pays a new interpreter and the imports of the worker's code (about 0.4 s of a
    core each time); a worker forked from the fork server (a clean, single-threaded process started
    once per router process, that has never touched CUDA) pays a fork. Recycles are off the request
    path either way, but a crash loop or a drill recycles hundreds of times, and each start takes a
    core from the requests. The fork server keeps the environment it started with, so each worker
    is handed the parent's environment of the moment it starts (``child.main``), as a spawned one
    would have it; its working directory and ``sys.path`` the standard library hands over itself.
    The preload list is the process's one: the host's modules stay in it, ours are added.
    """
    context = _ForkServerContext()
    preload = list(getattr(getattr(forkserver, "_forkserver", None), "_preload_modules", None) or [])
    context.set_forkserver_preload(preload + [name for name in WORKER_MODULES if name not in preload])
    return context


MAIN_GUARD = (
    "a router with worker processes was built while multiprocessing imported the main module for a "
    "process it starts (the fork server or a worker): put the script's code under "
    '`if __name__ == "__main__":`, as multiprocessing requires'
)


def refuse_while_importing_main() -> None:
    """Raise at once, with the remedy, when called from a main module that multiprocessing is
    importing for a new process (an unguarded script): workers started from there could never start."""
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise RuntimeError(MAIN_GUARD)


class _Popen(popen_forkserver.Popen):
    """The standard library's, made safe for several threads watching one process (the reader,
    the pool's watcher, ``stop``): its ``poll`` reads the exit status from a pipe, and of two
    threads polling at once the second reads end-of-file and records 255 for any death."""

    def __init__(self, process_obj: Any):
        self._polling = threading.Lock()
        super().__init__(process_obj)

    def poll(self, flag: int = os.WNOHANG) -> int | None:
        with self._polling:
            return super().poll(flag)


class _ForkServerProcess(mp_context.ForkServerProcess):
    @staticmethod
    def _Popen(process_obj: Any) -> _Popen:
        return _Popen(process_obj)


class _ForkServerContext(mp_context.ForkServerContext):
    Process = _ForkServerProcess


class WorkerFailure(Exception):
    """Internal: a worker failed at ``stage`` (spawn, start-up, canary, serving); ``failure`` says how."""

    def __init__(self, failure: Failure, stage: str, shared: str | None = None):
        super().__init__(f"{stage}: {failure.info.type}: {failure.info.message}")
        self.failure = failure
        self.stage = stage
        #: The one event several requests' failures come from (a failed batch call, a dead worker).
        self.shared = shared

    @property
    def info(self) -> ErrorInfo:
        return self.failure.info


#: The type names the router's own worker failures carry (``error_type`` in the log).
_CRASHED = "router.workers.protocol.WorkerCrashed"
_START_FAILED = "router.workers.protocol.WorkerStartFailed"
_TIMEOUT = "router.core.runners.AttemptTimeout"


def _own(
    error_class: ErrorClass, signature: str, type_: str, message: str, pid: int | None, exitcode: int | None = None
) -> Failure:
    """A failure the supervisor observes itself, born with its class."""
    return Failure(error_class, signature, ErrorInfo(type=type_, message=message, pid=pid, exitcode=exitcode))


def _reported(error: dict[str, Any], pid: int | None) -> Failure:
    """A failure the child reported as data: foreign, classified here, once."""
    return classify(dataclasses.replace(ErrorInfo.from_dict(error), pid=pid))


class WorkerGone(Exception):
    """Internal: the worker died or was retired before it read this request (before the send, or
    with the request still in its pipe); the request was never its to answer (the pool gives it
    another worker, nobody is blamed). ``failure`` is the worker's own, when it died."""

    def __init__(self, message: str, failure: Failure | None = None):
        super().__init__(message)
        self.failure = failure


@dataclasses.dataclass
class Pending:
    """One request sent to a worker, until its reply (or the worker's death) comes."""

    number: int
    request_id: str
    stage: str
    region_slice: int | None
    received: bool = False  # the child has read it off the pipe
    done: threading.Event = dataclasses.field(default_factory=threading.Event)
    reply: dict[str, Any] | None = None
    failure: Failure | None = None


class WorkerProcess:
    def __init__(
        self,
        options: Any,
        *,
        name: str,
        generation: int,
        context: Any = None,
        capacity: int = 1,
        window_s: float = 0.0,
    ):
        self.options = options
        self.name = name
        self.generation = generation
        self.capacity = capacity
        self.window_s = window_s
        self.recent: deque[str] = deque(maxlen=RECENT_REQUESTS)
        self.pid: int | None = None
        self._ctx = context or start_context()
        self._process: Any = None
        self._conn: Any = None
        self._region: transport.PageRegion | None = None
        self._spawned_at = 0.0
        self._lock = threading.Lock()
        self._stopped = False
        self._numbers = itertools.count(1)
        self._pending: dict[int, Pending] = {}
        self._free_slices = list(range(capacity - 1, -1, -1))
        self._replies = threading.Lock()  # guards _pending, _free_slices and _gone
        self._sending = threading.Lock()
        self._gone = False
        self._reader: threading.Thread | None = None

    # -- starting ------------------------------------------------------------------------------

    def spawn(self) -> None:
        """Start the process. Whatever the OS refuses (too many open files, no memory) is raised
        as is, with nothing left open (no fd, no region file)."""
        with self._lock:
            if self._stopped:
                stopped = _own(ErrorClass.WORKER_CRASHED, "worker_signal", _CRASHED, "stopped before it started", None)
                raise WorkerFailure(stopped, "start-up")
            self._region = _region_or_none(self.capacity * transport.SLICE_BYTES)
            opened: list[Any] = []
            try:
                parent_conn, child_conn = self._ctx.Pipe(duplex=True)
                opened += [parent_conn, child_conn]
                region = (self._region.path, self._region.size) if self._region else (None, 0)
                self._process = self._ctx.Process(
                    target=child.main,
                    args=(
                        child_conn,
                        self.options,
                        os.getpid(),
                        *region,
                        self.capacity,
                        self.window_s,
                        dict(os.environ),
                    ),
                    name=self.name,
                    daemon=True,
                )
                self._spawned_at = time.monotonic()
                self._process.start()
            except BaseException:
                self._stopped, self._process = True, None
                for conn in opened:
                    _close_quietly(conn, None)
                if self._region is not None:
                    _close_quietly(None, self._region)
                raise
            finally:
                if opened:
                    opened[1].close()
            self._conn = parent_conn
            self.pid = self._process.pid
            # the safety net for a dropped handle; at exit the pools stop their workers themselves
            weakref.finalize(self, _reap, self._process, self._conn, self._region).atexit = False

    def wait_ready(self, timeout_s: float) -> dict[str, float]:
        """Block until the handshake; the start-up timings (spawn, import, load) in ms."""
        try:
            message = self._receive(time.monotonic() + timeout_s, "start-up", timeout_s)
        finally:
            if self._region is not None:
                self._region.unlink()  # mapped by the child by now, or never will be
        timings = {
            "spawn_ms": round((message["entered"] - self._spawned_at) * 1000, 2),
            "import_ms": message.get("import_ms"),
            "load_ms": message.get("load_ms"),
        }
        if message["kind"] == protocol.START_FAILED:
            raise WorkerFailure(_reported(message["error"], self.pid), "start-up")
        self._reader = threading.Thread(
            target=_read_replies,
            args=(weakref.ref(self), self._conn, self._process.sentinel),
            name=f"{self.name}-replies",
            daemon=True,
        )
        self._reader.start()
        return timings

    # -- watching ------------------------------------------------------------------------------

    @property
    def sentinel(self) -> int | None:
        """Becomes ready (``multiprocessing.connection.wait``) when the process ends, whatever the cause."""
        return None if self._process is None else self._process.sentinel

    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def accepting(self) -> bool:
        """Whether a request sent now can reach the worker: it runs and is neither retired nor gone."""
        with self._replies:
            gone = self._gone
        return not gone and self.alive()

    def death(self) -> Failure:
        """The failure of a worker that died while idle: its exit code or signal, as data."""
        return self._crashed("idle").failure

    # -- serving -------------------------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        """Requests sent and not answered yet (including those whose caller gave up)."""
        with self._replies:
            return len(self._pending)

    def request(self, request_id: str, document: Document, timeout_s: float, *, stage: str = "serving") -> Any:
        """The backend's answer (an Extraction as a dict), or ``WorkerFailure``."""
        deadline = time.monotonic() + timeout_s
        try:
            return self.collect(self.submit(request_id, document, stage=stage), deadline, timeout_s)
        except WorkerGone as gone:  # a direct request (the canary) has no other worker to go to
            raise WorkerFailure(gone.failure or self._crashed(stage).failure, stage) from None

    def submit(self, request_id: str, document: Document, *, stage: str = "serving") -> Pending:
        """Send ``document``; its answer is waited for with ``collect``."""
        with self._replies:
            gone = self._gone
            if not gone:
                region_slice = self._free_slices.pop() if self._free_slices and self._region else None
                pending = Pending(next(self._numbers), request_id, stage, region_slice)
                self._pending[pending.number] = pending
        if gone:
            raise WorkerGone(f"worker {self.pid} is gone")
        try:
            if region_slice is None:
                header, overflow = transport.pack(document, None)
            else:
                start = region_slice * transport.SLICE_BYTES
                header, overflow = transport.pack(
                    document, self._region, start=start, end=start + transport.SLICE_BYTES
                )
            with self._sending:
                self._conn.send(
                    {"kind": protocol.RUN, "id": pending.number, "document": header, "overflow": len(overflow)}
                )
                for buffer in overflow:
                    self._conn.send_bytes(buffer)
        except (OSError, ValueError):  # the pipe or region is gone: the worker died or was stopped
            with self._replies:
                self._gone = True
            self._settle([pending.number], None)
            raise WorkerGone(f"worker {self.pid} is gone", self._crashed(stage).failure) from None
        except BaseException:  # a page that cannot be packed, an interrupt: nothing was sent
            self._settle([pending.number], None)
            raise
        return pending

    def collect(self, pending: Pending, deadline: float, limit_s: float) -> Any:
        """Wait until ``deadline`` for the answer to ``pending``; it can be waited for again."""
        if not pending.done.wait(max(0.0, deadline - time.monotonic())):
            message = f"worker {self.pid} gave no answer within {limit_s:.1f}s"
            raise WorkerFailure(_own(ErrorClass.TIMEOUT, "attempt_timeout", _TIMEOUT, message, self.pid), pending.stage)
        if pending.failure is not None and not pending.received:  # still in the pipe: never read
            raise WorkerGone(f"worker {self.pid} ended before reading the request", pending.failure)
        if pending.failure is not None:  # the worker died or was retired with this request in it
            raise WorkerFailure(pending.failure, pending.stage, shared=f"worker:{self.pid}:{self.generation}")
        reply = pending.reply or {}
        if reply.get("kind") == protocol.ERROR:
            ids = reply["ids"]
            shared = f"batch:{self.pid}:{self.generation}:{ids[0]}" if len(ids) > 1 else None
            raise WorkerFailure(_reported(reply["error"], self.pid), pending.stage, shared=shared)
        return reply["extraction"]

    def fail_pending(self, failure: Failure) -> None:
        """Fail every request still waiting on this worker with ``failure`` (it is being retired):
        none is sent to it after this."""
        with self._replies:
            self._gone = True
            waiting = list(self._pending)
        self._settle(waiting, None, failure)

    def forget(self, pending: Pending) -> None:
        """Give up on ``pending`` without an answer (its caller failed): its slice is free again."""
        self._settle([pending.number], None)

    def _settle(self, numbers: list[int], reply: dict[str, Any] | None, failure: Failure | None = None) -> None:
        with self._replies:
            settled = [self._pending.pop(n) for n in numbers if n in self._pending]
            for pending in settled:
                if pending.region_slice is not None:
                    self._free_slices.append(pending.region_slice)
        for pending in settled:
            pending.reply, pending.failure = reply, failure
            pending.done.set()

    def _dispatch(self, message: dict[str, Any]) -> None:
        """A reply from the child: to the request(s) it names; or the receipt of one."""
        if message.get("kind") == protocol.RECEIVED:
            with self._replies:
                pending = self._pending.get(message["id"])
                if pending is not None:
                    pending.received = True
                    self.recent.append(pending.request_id)  # a suspect only once it reached the worker
            return
        self._settle(message.get("ids") or [message.get("id")], message)

    def _gone_now(self) -> None:
        """The process ended (or its pipe broke): every waiting request fails with its death."""
        with self._replies:
            self._gone = True
            waiting = list(self._pending.values())
        for pending in waiting:
            self._settle([pending.number], None, self._crashed(pending.stage).failure)

    def _receive(self, deadline: float, stage: str, timeout_s: float) -> Any:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                what = "did not start" if stage == "start-up" else "gave no answer"
                message = f"worker {self.pid} {what} within {timeout_s:.1f}s"
                raise WorkerFailure(_own(ErrorClass.TIMEOUT, "attempt_timeout", _TIMEOUT, message, self.pid), stage)
            try:
                ready = connection.wait([self._conn, self._process.sentinel], remaining)
                if self._conn in ready:
                    return self._conn.recv()
            except (EOFError, OSError, ValueError):
                raise self._crashed(stage) from None
            if self._process.sentinel in ready:
                raise self._crashed(stage)

    def _crashed(self, stage: str) -> WorkerFailure:
        self._process.join(1.0)
        code = self._process.exitcode
        text = protocol.describe_exit(self.pid, code)
        if stage == "start-up" and code is not None and code >= 0:  # it could not start: the tier cannot run
            failure = _own(
                ErrorClass.UNAVAILABLE, "worker_start_failed", _START_FAILED, f"{text} during start-up", self.pid, code
            )
        else:
            failure = _own(
                ErrorClass.WORKER_CRASHED, "worker_signal", _CRASHED, f"{text} during {stage}", self.pid, code
            )
        return WorkerFailure(failure, stage)

    # -- stopping ------------------------------------------------------------------------------

    @property
    def exitcode(self) -> int | None:
        return None if self._process is None else self._process.exitcode

    def stop(self, grace_s: float, *, graceful: bool) -> bool:
        """Ask (if ``graceful``), then terminate, then kill; always reaps. False if there was
        nothing to stop (never spawned, or stopped before); the exit code is in ``exitcode``."""
        with self._lock:
            process = self._process
            if process is None or self._stopped:
                self._stopped = True
                return False
            self._stopped = True
            # ask only when no request is halfway through its send: a STOP inside a page's bytes
            # would corrupt the stream, and waiting for that send could block for a whole batch
            if graceful and process.is_alive() and self._sending.acquire(blocking=False):
                try:
                    with contextlib.suppress(OSError, ValueError):
                        self._conn.send({"kind": protocol.STOP})
                finally:
                    self._sending.release()
                process.join(grace_s)
            for end in (process.terminate, process.kill):
                if process.is_alive():
                    end()
                    process.join(grace_s)
            if self._reader is not None:
                self._reader.join(grace_s)  # it fails the requests still waiting, then ends
            _close_quietly(self._conn, self._region)
            return True


def _read_replies(ref: weakref.ref[WorkerProcess], conn: Any, sentinel: int) -> None:
    """The reader thread: hand each reply to its request, until the process ends. It holds the
    worker only weakly, so a dropped handle is still reaped by its finalizer."""
    while True:
        try:
            ready = connection.wait([conn, sentinel])
            message = conn.recv() if conn in ready else None
        except Exception:  # EOF, a closed pipe, or a reply that cannot be unpickled here
            message = None
        worker = ref()
        if worker is None:
            return
        try:
            if message is None:  # the process ended (replies it sent before are read first)
                worker._gone_now()
                return
            worker._dispatch(message)
        except Exception:  # a malformed reply: no request may wait on a reader that is gone
            worker._gone_now()
            return
        del worker


def _region_or_none(size: int) -> transport.PageRegion | None:
    try:
        region = transport.PageRegion.create(size)
    except OSError:  # no shared memory here: pages go over the pipe
        return None
    region.prefault()
    return region


def _close_quietly(conn: Any, region: transport.PageRegion | None) -> None:
    if conn is not None:
        with contextlib.suppress(OSError):
            conn.close()
    if region is not None:
        region.unlink()
        region.close()


def _reap(process: Any, conn: Any, region: transport.PageRegion | None) -> None:
    """Safety net when a handle is dropped without stop(): no orphan, no zombie, no file."""
    if process.is_alive():
        process.kill()
    process.join(1.0)
    _close_quietly(conn, region)
