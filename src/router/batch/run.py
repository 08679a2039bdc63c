"""Running a batch: inputs in, exactly one output line per input, however the run ends.

The main thread reads each input (hashing its bytes for the resume key), skips it if the output
already holds a final line with its key (a retryable one is replaced: ``router.batch.sink``), and
hands it to ``jobs`` daemon threads that call ``router.extract``; it alone writes lines, in the
order results arrive. ``router.extract`` never raises for a document's
problems; anything else it raises still becomes a failed line (``unknown``), so no input is lost.

Stopping (SIGINT, SIGTERM, or ``StopFlag.request``): no new input is started; the ones in flight
get ``grace_s`` to finish and get their lines. A second signal, or the end of the grace period,
abandons them: they get no line, and a rerun of the same command reads them again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import queue
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from router.batch.progress import NoProgress, Progress
from router.batch.sink import OutputWriteError, ResultSink
from router.batch.summary import Summary
from router.core.result import DocumentInfo, ErrorSummary, Result
from router.failures.errors import ErrorClass
from router.observe import events
from router.observe.logs import get_logger


class Extractor(Protocol):
    """What a batch needs from a router."""

    def extract(self, source: Any, *, name: str | None = None, request_id: str | None = None) -> Result: ...


@dataclass(frozen=True)
class Item:
    """One input, read: its resume key and its bytes (None when it cannot be read here)."""

    path: Path
    key: str
    data: bytes | None
    retry_of: str | None = None  # the request id of the retryable line this input's new line replaces
    replaces: str | None = None  # the request id of this input's line from before its bytes changed


def read_item(path: Path, max_bytes: int) -> Item:
    """Read and hash an input. One that cannot be read is keyed by its path; the router names the problem."""
    try:
        if path.is_file() and path.stat().st_size <= max_bytes:
            data = path.read_bytes()
            return Item(path, hashlib.sha256(data).hexdigest(), data)
    except OSError:
        pass
    return Item(path, f"path:{os.path.abspath(path)}", None)


class StopFlag:
    """Set by the first SIGINT/SIGTERM (stop taking inputs); the second one abandons those in flight."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self.abandon = threading.Event()
        self.reason: str | None = None

    def request(self, reason: str) -> None:
        if self.requested.is_set():
            self.abandon.set()
            return
        self.reason = reason
        self.requested.set()


@contextlib.contextmanager
def handle_signals(stop: StopFlag) -> Iterator[StopFlag]:
    """Route SIGINT and SIGTERM to ``stop`` (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, lambda number, _frame: stop.request(signal.Signals(number).name))
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@dataclass
class BatchSettings:
    jobs: int = 1
    max_bytes: int = 50 * 2**20
    grace_s: float = 30.0
    poll_s: float = 0.2


def warm_up(router: Any, stop: StopFlag) -> None:
    """Start every tier and wait until none is still starting (``Router.warm_up``), so the first
    documents reach the best tiers; a stop ends the wait (the router's close stops the start-ups)."""
    done = threading.Event()

    def warm() -> None:
        try:
            router.warm_up()
        finally:
            done.set()

    threading.Thread(target=warm, name="warm-up", daemon=True).start()
    while not done.wait(0.1) and not stop.requested.is_set():
        pass


def run_batch(
    router: Extractor,
    paths: Sequence[Path],
    sink: ResultSink,
    settings: BatchSettings,
    *,
    stop: StopFlag | None = None,
    progress: Progress | None = None,
) -> Summary:
    """Process every input not yet in ``sink``; return what happened."""
    return _Batch(router, sink, settings, stop or StopFlag(), progress or NoProgress()).run(paths)


class _Batch:
    def __init__(
        self, router: Extractor, sink: ResultSink, settings: BatchSettings, stop: StopFlag, progress: Progress
    ):
        self.router = router
        self.sink = sink
        self.settings = settings
        self.stop = stop
        self.progress = progress
        self.done: Counter[str] = Counter(sink.done)
        self.inbox: queue.Queue[Item | None] = queue.Queue()
        self.outbox: queue.Queue[tuple[Item, dict[str, Any] | None]] = queue.Queue()
        self.summary = Summary()
        self.in_flight = 0  # handed to the threads and not yet collected
        self.running: set[Path] = set()  # being extracted now (not waiting in the inbox)
        self.lock = threading.Lock()
        self.log = getattr(router, "log", None) or get_logger()  # the router's destinations

    def run(self, paths: Sequence[Path]) -> Summary:
        started = time.monotonic()
        self.summary.total = len(paths)
        events.BATCH_STARTED.emit(self.log, inputs=len(paths), already_in_output=sum(self.done.values()))
        threads = [
            threading.Thread(target=self._work, name=f"batch-{n}", daemon=True) for n in range(self.settings.jobs)
        ]
        for thread in threads:
            thread.start()
        try:
            self._loop(iter(paths))
            if self.stop.abandon.is_set():
                with self.lock:  # a result that arrives after this is counted as abandoned, not lost silently
                    self._drain()
                    self.summary.abandoned = len(self.running)
        finally:
            for _ in threads:
                self.inbox.put(None)
            try:
                self.sink.sync()
            except OutputWriteError as exc:
                self._output_failed(exc)
        if not self.stop.abandon.is_set():
            for thread in threads:
                thread.join()
        self.summary.interrupted_by = self.stop.reason
        self.summary.elapsed_s = time.monotonic() - started
        events.BATCH_FINISHED.emit(self.log, **self.summary.to_dict())
        return self.summary

    def _loop(self, todo: Iterator[Path]) -> None:
        exhausted = False
        stopping_since: float | None = None
        while True:
            if not exhausted and not self.stop.requested.is_set():
                exhausted = self._feed(todo)
            if self.in_flight == 0 and (exhausted or self.stop.requested.is_set()):
                return
            if self.stop.requested.is_set():
                stopping_since = stopping_since or time.monotonic()
                if self.stop.abandon.is_set() or time.monotonic() - stopping_since > self.settings.grace_s:
                    self.stop.abandon.set()
                    return
            with contextlib.suppress(queue.Empty):
                self._collect(*self.outbox.get(timeout=self.settings.poll_s))

    def _feed(self, todo: Iterator[Path]) -> bool:
        """Keep every thread busy and one input ready for each; True when no input is left."""
        while self.in_flight < 2 * self.settings.jobs and not self.stop.requested.is_set():
            path = next(todo, None)
            if path is None:
                return True
            item = read_item(path, self.settings.max_bytes)
            if self.done[item.key] > 0:  # a multiset: two identical files each need their own line
                self.done[item.key] -= 1
                self.summary.already_done += 1
                self.progress.skipped(1)
                continue
            retry_of = self.sink.take_retryable(item.key)
            if retry_of is not None:
                item = dataclasses.replace(item, retry_of=retry_of)
                self.summary.retried += 1
            earlier = self.sink.current_line(str(item.path))
            if earlier is not None and earlier[0] != item.key:  # the file changed since its line
                item = dataclasses.replace(item, replaces=earlier[1])
                self.done[earlier[0]] -= 1  # that line goes: it answers for no other input
            self.inbox.put(item)
            self.in_flight += 1
        return False

    def _drain(self) -> None:
        """Write the results that arrived before the rest were abandoned."""
        while True:
            try:
                self._collect(*self.outbox.get_nowait())
            except queue.Empty:
                return

    def _collect(self, item: Item, record: dict[str, Any] | None) -> None:
        self.in_flight -= 1
        if record is None:  # not started: a stop came first
            return
        try:
            self.sink.write(record)
        except OutputWriteError as exc:  # nothing more can be kept: stop, and let a rerun finish
            self._output_failed(exc)
            self.summary.abandoned += 1
            return
        self.summary.add(record)
        self.progress.advance(record["status"])

    def _output_failed(self, error: OutputWriteError) -> None:
        """Stop taking inputs; those in flight finish (their threads may run native OCR code that
        must not be left running at exit) and, unwritten, are read again by the rerun."""
        self.summary.output_error = self.summary.output_error or str(error)
        self.stop.requested.set()

    def _work(self) -> None:
        while True:
            item = self.inbox.get()
            if item is None:
                return
            if self.stop.requested.is_set():
                self.outbox.put((item, None))
                continue
            with self.lock:
                self.running.add(item.path)
            record = self._process(item)
            with self.lock:
                self.running.discard(item.path)
                self.outbox.put((item, record))

    def _process(self, item: Item) -> dict[str, Any]:
        request_id = uuid.uuid4().hex
        started = time.monotonic()
        source = item.data if item.data is not None else item.path
        try:
            result = self.router.extract(source, name=str(item.path), request_id=request_id)
        except Exception as exc:  # the document must still get its line
            events.BATCH_EXTRACT_CRASHED.emit(self.log, request_id=request_id, error_type=type(exc).__name__)
            result = _crashed(self.router, item, request_id, exc, started)
        retry = {"retry_of": item.retry_of} if item.retry_of else {}
        replaces = {"replaces": item.replaces} if item.replaces else {}
        return {"input": str(item.path), "key": item.key, **retry, **replaces, **result.model_dump(mode="json")}


def _crashed(router: Any, item: Item, request_id: str, exc: Exception, started: float) -> Result:
    sha = None if item.key.startswith("path:") else item.key
    return Result(
        request_id=request_id,
        status="failed",
        document=DocumentInfo(source=str(item.path), sha256=sha),
        policy=getattr(getattr(router, "policy", None), "name", "unknown"),
        policy_hash=getattr(router, "policy_hash", ""),
        duration_ms=round((time.monotonic() - started) * 1000, 2),
        error=ErrorSummary(error_class=ErrorClass.UNKNOWN, message=f"internal error: {exc!r}"[:300]),
    )
