"""What crosses a worker's pipe: plain-data messages, never pickled exceptions or objects.

Parent to child::

    {"kind": "run", "id": n, "document": header, "overflow": k}   then k raw page buffers
    {"kind": "stop"}

Child to parent::

    {"kind": "ready", "pid", "entered", "import_ms", "load_ms"}       the handshake, once
    {"kind": "start_failed", "pid", "error": ErrorInfo dict, ...}       instead of ready
    {"kind": "received", "id": n}                                       request n is read off the pipe
    {"kind": "result", "id": n, "extraction": Extraction dict, "elapsed_ms"}
    {"kind": "error", "ids": [n, ...], "error": ErrorInfo dict}

``id`` is the parent's number for one request sent to this worker (not the router's request id,
which a retry reuses). A worker may hold several requests at once (its capacity) and answers them
in any order; an error names every request it fails: one, or all of a batch whose shared call
failed.

``received`` is sent as soon as the child has read a request, before it looks at it: a request the
child never acknowledged was still in the pipe when the process died (behind a batch that killed
it, or sent as it died). It was never the worker's to answer, so the parent gives it to another
worker, and nobody is blamed for it.

``entered`` is the child's ``time.monotonic()`` when its main function began: the clock is shared by
all processes of a machine, so the parent splits a start into spawn, imports and load.

The exceptions below are raised by the parent about a worker, and travel as ``ErrorInfo`` data;
the signature table matches them by type name.
"""

from __future__ import annotations

import signal
from typing import Any

RUN = "run"
STOP = "stop"
READY = "ready"
RECEIVED = "received"
START_FAILED = "start_failed"
RESULT = "result"
ERROR = "error"

Message = dict[str, Any]


class WorkerCrashed(Exception):
    """A worker process died (a signal, or an exit) while starting or serving a request."""


class WorkerStartFailed(Exception):
    """A worker process exited with a status before its ready handshake (it could not start)."""


def describe_exit(pid: int | None, exitcode: int | None) -> str:
    """'worker 123 killed by signal SIGSEGV' or 'worker 123 exited with code 3'."""
    if exitcode is None:
        return f"worker {pid} is gone (exit status unknown)"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = str(-exitcode)
        return f"worker {pid} killed by signal {name}"
    return f"worker {pid} exited with code {exitcode}"


def signal_name(exitcode: int | None) -> str | None:
    if exitcode is None or exitcode >= 0:
        return None
    try:
        return signal.Signals(-exitcode).name
    except ValueError:
        return str(-exitcode)
