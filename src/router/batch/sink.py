"""The batch output: a JSONL file with one line per input, appended to, never rewritten.

Each line is written with one ``write`` on a file opened ``O_APPEND``, so a line is either in the
file whole or not at all; lines are flushed to disk (``fsync``) every few lines, every few seconds
and at close. A process killed in the middle of a write (or a full disk) can still leave a torn
last line: opening the file again cuts it off, and the input it belonged to is read again.

Every line carries ``key``: the sha256 of the input's bytes, or ``path:<absolute path>`` for an
input that could not be read. A rerun skips inputs whose key is already in the file.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

from router import events
from router.logs import get_logger


class ResultSink:
    def __init__(self, path: Path, *, fsync_every: int = 32, fsync_interval_s: float = 2.0):
        self.path = path
        self._fsync_every = fsync_every
        self._fsync_interval_s = fsync_interval_s
        path.parent.mkdir(parents=True, exist_ok=True)
        self.repaired_bytes = _cut_torn_tail(path)
        self.done, self.unreadable_lines = _read_keys(path)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._unsynced = 0
        self._synced_at = time.monotonic()
        if self.repaired_bytes:
            events.BATCH_OUTPUT_REPAIRED.emit(get_logger(), path=str(path), cut_bytes=self.repaired_bytes)

    def write(self, record: dict[str, Any]) -> None:
        """Append one line, whole."""
        data = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        view = memoryview(data)
        while view:  # a short write only happens on a full disk; the tail is cut on the next open
            view = view[os.write(self._fd, view) :]
        self._unsynced += 1
        if self._unsynced >= self._fsync_every or time.monotonic() - self._synced_at >= self._fsync_interval_s:
            self.sync()

    def sync(self) -> None:
        if self._unsynced:
            os.fsync(self._fd)
        self._unsynced = 0
        self._synced_at = time.monotonic()

    def close(self) -> None:
        if self._fd < 0:
            return
        self.sync()
        os.close(self._fd)
        self._fd = -1

    def __enter__(self) -> ResultSink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _cut_torn_tail(path: Path) -> int:
    """Truncate a last line without its newline; return the bytes cut."""
    if not path.exists():
        return 0
    size = path.stat().st_size
    if size == 0:
        return 0
    with path.open("rb+") as file:
        file.seek(size - 1)
        if file.read(1) == b"\n":
            return 0
        position = size
        while position > 0:  # scan back in blocks for the last newline
            start = max(0, position - 65536)
            file.seek(start)
            block = file.read(position - start)
            newline = block.rfind(b"\n")
            if newline >= 0:
                keep = start + newline + 1
                break
            position = start
        else:
            keep = 0
        file.truncate(keep)
        file.flush()
        os.fsync(file.fileno())
        return size - keep


def _read_keys(path: Path) -> tuple[Counter[str], int]:
    """How many lines each key has, and how many lines could not be parsed."""
    keys: Counter[str] = Counter()
    unreadable = 0
    if not path.exists():
        return keys, 0
    with path.open("rb") as file:
        for raw in file:
            try:
                key = json.loads(raw)["key"]
            except (ValueError, KeyError, TypeError):
                unreadable += raw.strip() != b""
                continue
            keys[str(key)] += 1
    return keys, unreadable


def read_records(path: Path) -> list[dict[str, Any]]:
    """Every whole line of a batch output, in file order (a torn last line is left out)."""
    records: list[dict[str, Any]] = []
    if not path.exists():
        return records
    with path.open("rb") as file:
        for raw in file:
            try:
                records.append(json.loads(raw))
            except ValueError:
                continue
    return records
