"""What a drill watches besides results: decision-log events, child processes, memory.

``EventTally`` is a logging handler on a router's log that counts events by name and tier (it
reads the event dicts structlog hands the stdlib logger, so it sees what the JSON log would hold,
without parsing JSON). The process probes use psutil.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import psutil

from router.observe import events
from router.observe.logs import RouterLog

#: The events that end a request in the log: exactly one per request.
TERMINAL_EVENTS = frozenset({events.REQUEST_DONE.name, events.REQUEST_CRASHED.name})


class EventTally(logging.Handler):
    """Counts docroute events by name, and by (name, tier)."""

    def __init__(self, requests: int = 0, prefix: str = "drill-") -> None:
        super().__init__(logging.DEBUG)
        self.by_name: Counter[str] = Counter()
        self.by_tier: Counter[tuple[str, str]] = Counter()
        #: terminal events per drill request (ids ``{prefix}{index}``), allocated up front
        self.done = bytearray(requests)
        self._prefix = prefix
        self._tally_lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        event = record.msg if isinstance(record.msg, dict) else {"event": str(record.msg)}
        name = str(event.get("event", ""))
        with self._tally_lock:
            self.by_name[name] += 1
            self.by_tier[(name, str(event.get("tier", "")))] += 1
            if name in TERMINAL_EVENTS:
                self._count_done(str(event.get("request_id", "")))

    def _count_done(self, request_id: str) -> None:
        if request_id.startswith(self._prefix) and request_id[len(self._prefix) :].isdigit():
            index = int(request_id[len(self._prefix) :])
            if index < len(self.done) and self.done[index] < 255:
                self.done[index] += 1

    def reset(self) -> None:
        """Forget what was counted (after a warm-up)."""
        with self._tally_lock:
            self.by_name.clear()
            self.by_tier.clear()
            self.done[:] = bytes(len(self.done))

    def count(self, prefix: str) -> int:
        """Events whose name is ``prefix`` or starts with ``prefix.``."""
        with self._tally_lock:
            return sum(n for name, n in self.by_name.items() if name == prefix or name.startswith(prefix + "."))

    def per_tier(self, name: str) -> dict[str, int]:
        with self._tally_lock:
            return {tier: n for (event, tier), n in sorted(self.by_tier.items()) if event == name}

    def attach(self, log: RouterLog) -> EventTally:
        """Listen to one router's events."""
        log.add_handler(self)
        return self


@dataclass(frozen=True)
class Memory:
    """This process's resident memory, in MiB, in the kernel's three parts (``/proc/self/status``).

    ``anon_mb`` (heap, anonymous maps, stacks) is what a leak grows. ``file_mb`` (code and data of
    libraries, paged in on first use and evicted under pressure) and ``shmem_mb`` (the page buffers
    shared with workers, 8 MiB each, as many as there are workers alive at that instant) move with
    the machine and with recycles under way.
    """

    total_mb: float
    anon_mb: float
    file_mb: float
    shmem_mb: float


def memory() -> Memory:
    total = round(psutil.Process().memory_info().rss / 2**20, 1)
    parts = _status_kib(("RssAnon", "RssFile", "RssShmem"))
    if parts is None:  # not Linux: no parts, all of it counts as the process's own
        return Memory(total, total, 0.0, 0.0)
    anon, file, shmem = (round(kib / 1024, 1) for kib in parts)
    return Memory(total, anon, file, shmem)


def _status_kib(keys: tuple[str, ...]) -> tuple[int, ...] | None:
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return None
    values = dict(line.split(":", 1) for line in lines if ":" in line)
    try:
        return tuple(int(values[key].split()[0]) for key in keys)
    except (KeyError, ValueError, IndexError):
        return None


def child_pids() -> set[int]:
    """The pids of this process's children now (a drill leaves out those it did not start)."""
    return {c.pid for c in _children()}


def children_left(wait_s: float = 5.0, *, before: frozenset[int] = frozenset()) -> list[str]:
    """Child processes of this process still there after up to ``wait_s``, described.

    Children in ``before`` were there when the drill began (a host's own, a test session's Ray
    cluster): they are not the router's. Nor are multiprocessing's resource tracker and fork server
    (which workers start from): the standard library's helpers live until the interpreter exits.
    """
    deadline = time.monotonic() + wait_s
    while True:
        left = [c for c in _children() if c.pid not in before and not is_multiprocessing_helper(c)]
        if not left or time.monotonic() >= deadline:
            return [f"{c.pid} {' '.join(cmdline(c))[:120]}" for c in left]
        time.sleep(0.1)


def _children() -> list[psutil.Process]:
    return psutil.Process().children(recursive=True)


def is_multiprocessing_helper(process: psutil.Process) -> bool:
    """The resource tracker or the fork server this process started (not what the fork server
    forked: a worker carries the fork server's command line, but is its child, not ours)."""
    command = " ".join(cmdline(process))
    helper = "multiprocessing.resource_tracker" in command or "multiprocessing.forkserver" in command
    try:
        return helper and process.ppid() == os.getpid()
    except psutil.Error:
        return False


def cmdline(process: psutil.Process) -> list[str]:
    try:
        return list(process.cmdline())
    except psutil.ZombieProcess:
        return ["<zombie>"]
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return ["<gone>"]
