"""One worker process as the parent sees it: spawn, handshake, requests with a time limit, stop.

Every wait watches two things at once (``multiprocessing.connection.wait``): the pipe, for the
answer, and the process sentinel, which becomes ready when the process dies whatever the cause.
A hang is only visible as the time running out. Every failure leaves here as ``WorkerFailure``
carrying one classified ``Failure``: a death, a hang or a failed start is born with its class; an
error the child reports as data is classified once, here, where it enters. Deciding what to do
about it is the pool's job.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing as mp
import os
import threading
import time
import weakref
from collections import deque
from multiprocessing import connection
from typing import Any

from backends.document import Document
from router.errors import ErrorClass, ErrorInfo, Failure
from router.signatures import classify
from router.workers import child, protocol, transport

RECENT_REQUESTS = 8


class WorkerFailure(Exception):
    """Internal: a worker failed at ``stage`` (spawn, start-up, canary, serving); ``failure`` says how."""

    def __init__(self, failure: Failure, stage: str):
        super().__init__(f"{stage}: {failure.info.type}: {failure.info.message}")
        self.failure = failure
        self.stage = stage

    @property
    def info(self) -> ErrorInfo:
        return self.failure.info


#: The type names the router's own worker failures carry (``error_type`` in the log).
_CRASHED = "router.workers.protocol.WorkerCrashed"
_START_FAILED = "router.workers.protocol.WorkerStartFailed"
_TIMEOUT = "router.runners.AttemptTimeout"


def _own(
    error_class: ErrorClass, signature: str, type_: str, message: str, pid: int | None, exitcode: int | None = None
) -> Failure:
    """A failure the supervisor observes itself, born with its class."""
    return Failure(error_class, signature, ErrorInfo(type=type_, message=message, pid=pid, exitcode=exitcode))


def _reported(error: dict[str, Any], pid: int | None) -> Failure:
    """A failure the child reported as data: foreign, classified here, once."""
    return classify(dataclasses.replace(ErrorInfo.from_dict(error), pid=pid))


class WorkerProcess:
    def __init__(self, options: Any, *, name: str, generation: int, context: Any = None):
        self.options = options
        self.name = name
        self.generation = generation
        self.recent: deque[str] = deque(maxlen=RECENT_REQUESTS)
        self.pid: int | None = None
        self._ctx = context or mp.get_context("spawn")
        self._process: Any = None
        self._conn: Any = None
        self._region: transport.PageRegion | None = None
        self._spawned_at = 0.0
        self._lock = threading.Lock()
        self._stopped = False

    # -- starting ------------------------------------------------------------------------------

    def spawn(self) -> None:
        """Start the process. Whatever the OS refuses (too many open files, no memory) is raised
        as is, with nothing left open (no fd, no region file)."""
        with self._lock:
            if self._stopped:
                stopped = _own(ErrorClass.WORKER_CRASHED, "worker_signal", _CRASHED, "stopped before it started", None)
                raise WorkerFailure(stopped, "start-up")
            self._region = _region_or_none()
            opened: list[Any] = []
            try:
                parent_conn, child_conn = self._ctx.Pipe(duplex=True)
                opened += [parent_conn, child_conn]
                region = (self._region.path, self._region.size) if self._region else (None, 0)
                self._process = self._ctx.Process(
                    target=child.main,
                    args=(child_conn, self.options, os.getpid(), *region),
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
        return timings

    # -- watching ------------------------------------------------------------------------------

    @property
    def sentinel(self) -> int | None:
        """Becomes ready (``multiprocessing.connection.wait``) when the process ends, whatever the cause."""
        return None if self._process is None else self._process.sentinel

    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def death(self) -> Failure:
        """The failure of a worker that died while idle: its exit code or signal, as data."""
        return self._crashed("idle").failure

    # -- serving -------------------------------------------------------------------------------

    def request(self, request_id: str, document: Document, timeout_s: float, *, stage: str = "serving") -> Any:
        """The backend's answer (an Extraction as a dict), or ``WorkerFailure``."""
        self.recent.append(request_id)
        deadline = time.monotonic() + timeout_s
        try:
            header, overflow = transport.pack(document, self._region)
            self._conn.send({"kind": protocol.RUN, "id": request_id, "document": header, "overflow": len(overflow)})
            for buffer in overflow:
                self._conn.send_bytes(buffer)
        except (OSError, ValueError):  # the pipe or region is gone: the worker died or was stopped
            raise self._crashed(stage) from None
        return self.collect(request_id, deadline, timeout_s, stage=stage)

    def collect(self, request_id: str, deadline: float, limit_s: float, *, stage: str = "serving") -> Any:
        """Wait until ``deadline`` for the answer to ``request_id`` (sent before)."""
        reply = self._receive(deadline, stage, limit_s)
        if reply.get("id") != request_id:
            mismatch = f"worker {self.pid} answered {reply.get('id')!r} to {request_id!r}"
            raise WorkerFailure(_own(ErrorClass.WORKER_CRASHED, "worker_signal", _CRASHED, mismatch, self.pid), stage)
        if reply["kind"] == protocol.ERROR:
            raise WorkerFailure(_reported(reply["error"], self.pid), stage)
        return reply["extraction"]

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
            if graceful and process.is_alive():
                with contextlib.suppress(OSError, ValueError):
                    self._conn.send({"kind": protocol.STOP})
                process.join(grace_s)
            for end in (process.terminate, process.kill):
                if process.is_alive():
                    end()
                    process.join(grace_s)
            _close_quietly(self._conn, self._region)
            return True


def _region_or_none() -> transport.PageRegion | None:
    try:
        region = transport.PageRegion.create()
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
