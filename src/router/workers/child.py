"""The worker's main function: runs in the spawned process, owns one backend.

It imports and loads the backend, answers the ready handshake (or reports its start-up failure as
data), then serves requests until told to stop or until its parent goes away. It never logs: the
parent is the single writer of the decision log, so timings and failures come back as data.

A worker with a capacity above 1 batches: once a request has arrived it waits up to the batch
window for more (up to its capacity) and answers the ones waiting together in one
``extract_batch`` call. What fails for one document (its pages, its answer) is that request's error;
what fails the shared call (a device-side assert) is one error message naming every request of the
batch, so all of them fail with it and the parent recycles the process once.

Only this process imports model code (through the backend): the router's process stays CUDA-free.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

from router.failures.errors import ErrorInfo
from router.workers import protocol, transport

PARENT_CHECK_S = 0.5


def main(
    conn: Connection,
    options: Any,
    parent_pid: int,
    region_path: str | None,
    region_size: int,
    capacity: int = 1,
    window_s: float = 0.0,
    environ: dict[str, str] | None = None,
) -> None:
    entered = time.monotonic()
    if environ is not None:  # the parent's, now: a fork server's own may be older
        os.environ.clear()
        os.environ.update(environ)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the parent decides
    _watch_parent(parent_pid)
    timings: dict[str, float] = {}
    try:
        backend = _load(options, timings)
        region = transport.PageRegion(region_path, region_size, create=False) if region_path else None
        if region is not None:
            region.prefault()
        transport.warm_allocator()
    except BaseException as exc:  # start-up failure: reported as data, then this process ends
        error = _error(exc)
        conn.send({"kind": protocol.START_FAILED, "pid": os.getpid(), "entered": entered, **timings, "error": error})
        return
    conn.send({"kind": protocol.READY, "pid": os.getpid(), "entered": entered, **timings})
    try:
        _serve(conn, backend, region, capacity, window_s)
    finally:
        backend.close()


def _load(options: Any, timings: dict[str, float]) -> Any:
    from backends import registry

    started = time.monotonic()
    backend_class = registry.backend_class(options.kind)
    warm = getattr(backend_class, "warm_imports", None)
    if warm is not None:
        warm(options)
    loading = time.monotonic()
    timings["import_ms"] = round((loading - started) * 1000, 2)
    backend = backend_class(options)
    backend.load()
    timings["load_ms"] = round((time.monotonic() - loading) * 1000, 2)
    return backend


def _serve(conn: Connection, backend: Any, region: Any, capacity: int, window_s: float) -> None:
    batching = capacity > 1 and callable(getattr(backend, "extract_batch", None))
    while True:
        requests, stop = _collect(conn, capacity if batching else 1, window_s)
        for reply in _answer(requests, backend, region, batching):
            try:
                conn.send(reply)
            except (TypeError, AttributeError, pickle.PicklingError) as exc:  # meta that is not plain data
                conn.send({"kind": protocol.ERROR, "ids": reply.get("ids", [reply.get("id")]), "error": _error(exc)})
        if stop:
            return


Request = tuple[dict[str, Any], list[bytes]]


def _collect(conn: Connection, capacity: int, window_s: float) -> tuple[list[Request], bool]:
    """The requests to answer together: the first one (waited for), then those that arrive within
    the window, up to ``capacity``; and whether to stop after answering them."""
    requests: list[Request] = []
    until = 0.0
    while len(requests) < capacity:
        if requests and not conn.poll(max(0.0, until - time.monotonic())):
            break
        try:
            message = conn.recv()
        except EOFError:  # the parent closed its end or died
            return requests, True
        if message["kind"] == protocol.STOP:
            return requests, True
        requests.append((message, [conn.recv_bytes() for _ in range(message["overflow"])]))
        conn.send({"kind": protocol.RECEIVED, "id": message["id"]})
        until = until or time.monotonic() + window_s
    return requests, False


def _answer(requests: list[Request], backend: Any, region: Any, batching: bool) -> list[dict[str, Any]]:
    """One reply per request, or one error naming all of them when their shared call failed."""
    started = time.monotonic()
    replies: dict[int, dict[str, Any]] = {}
    documents: dict[int, Any] = {}
    for message, overflow in requests:
        try:
            documents[message["id"]] = transport.unpack(message["document"], region, overflow)
        except Exception as exc:  # this request's pages: its own error
            replies[message["id"]] = {"kind": protocol.ERROR, "ids": [message["id"]], "error": _error(exc)}
    if batching and len(documents) > 1:
        try:
            outcomes = list(backend.extract_batch(list(documents.values())))
            if len(outcomes) != len(documents):
                raise RuntimeError(f"extract_batch answered {len(outcomes)} of {len(documents)} documents")
        except Exception as exc:  # the shared call failed: every request of the batch fails with it
            return [*replies.values(), {"kind": protocol.ERROR, "ids": list(documents), "error": _error(exc)}]
    else:
        outcomes = [_extract_one(backend, document) for document in documents.values()]
    elapsed_ms = round((time.monotonic() - started) * 1000, 3)
    for request_id, outcome in zip(documents, outcomes, strict=True):
        replies[request_id] = _reply(request_id, outcome, elapsed_ms)
    return [replies[message["id"]] for message, _ in requests]


def _reply(request_id: int, outcome: Any, elapsed_ms: float) -> dict[str, Any]:
    """The reply for one request: its answer, or its own error (a backend failure, or an answer
    that is not an Extraction)."""
    try:
        if isinstance(outcome, Exception):
            raise outcome
        extraction = outcome.to_dict()
    except Exception as exc:
        return {"kind": protocol.ERROR, "ids": [request_id], "error": _error(exc)}
    return {"kind": protocol.RESULT, "id": request_id, "extraction": extraction, "elapsed_ms": elapsed_ms}


def _extract_one(backend: Any, document: Any) -> Any:
    try:
        return backend.extract(document)
    except Exception as exc:  # the worker's translation boundary: any backend failure becomes data
        return exc


def _error(exc: BaseException) -> dict[str, Any]:
    return ErrorInfo.from_exception(exc).to_dict()


def _watch_parent(parent_pid: int) -> None:
    """End this process if its parent dies, even while a backend call blocks the main thread.

    The OS parent is the router's process (spawned) or the fork server (forked), which ends with
    the router's: either way this process is re-parented when the router dies. The router's pid is
    checked as well, for a fork server that outlives it."""
    os_parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(PARENT_CHECK_S)
            if os.getppid() != os_parent or not _alive(parent_pid):
                sys.stderr.flush()
                os._exit(70)

    threading.Thread(target=watch, name="docroute-parent-watch", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # there, under another user: not ours, but alive
        return True
    return True
