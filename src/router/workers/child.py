"""The worker's main function: runs in the spawned process, owns one backend.

It imports and loads the backend, answers the ready handshake (or reports its start-up failure as
data), then serves requests until told to stop or until its parent goes away. It never logs: the
parent is the single writer of the decision log, so timings and failures come back as data.

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

from router.errors import ErrorInfo
from router.workers import protocol, transport

PARENT_CHECK_S = 0.5


def main(conn: Connection, options: Any, parent_pid: int, region_path: str | None, region_size: int) -> None:
    entered = time.monotonic()
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
        error = ErrorInfo.from_exception(exc).to_dict()
        conn.send({"kind": protocol.START_FAILED, "pid": os.getpid(), "entered": entered, **timings, "error": error})
        return
    conn.send({"kind": protocol.READY, "pid": os.getpid(), "entered": entered, **timings})
    try:
        _serve(conn, backend, region)
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


def _serve(conn: Connection, backend: Any, region: transport.PageRegion | None) -> None:
    while True:
        try:
            message = conn.recv()
        except EOFError:  # the parent closed its end or died
            return
        if message["kind"] == protocol.STOP:
            return
        overflow = [conn.recv_bytes() for _ in range(message["overflow"])]
        reply = _answer(message, backend, region, overflow)
        try:
            conn.send(reply)
        except (TypeError, AttributeError, pickle.PicklingError) as exc:  # meta that is not plain data
            conn.send({"kind": protocol.ERROR, "id": message["id"], "error": ErrorInfo.from_exception(exc).to_dict()})


def _answer(message: dict[str, Any], backend: Any, region: Any, overflow: list[bytes]) -> dict[str, Any]:
    started = time.monotonic()
    try:
        document = transport.unpack(message["document"], region, overflow)
        extraction = backend.extract(document).to_dict()
    except Exception as exc:  # the worker's translation boundary: any backend failure becomes data
        return {"kind": protocol.ERROR, "id": message["id"], "error": ErrorInfo.from_exception(exc).to_dict()}
    elapsed_ms = round((time.monotonic() - started) * 1000, 3)
    return {"kind": protocol.RESULT, "id": message["id"], "extraction": extraction, "elapsed_ms": elapsed_ms}


def _watch_parent(parent_pid: int) -> None:
    """End this process if its parent dies, even while a backend call blocks the main thread."""

    def watch() -> None:
        while True:
            time.sleep(PARENT_CHECK_S)
            if os.getppid() != parent_pid:
                sys.stderr.flush()
                os._exit(70)

    threading.Thread(target=watch, name="docroute-parent-watch", daemon=True).start()
