"""The batch output: a JSONL file holding one current line per input.

Writing. Each line is written with one ``write`` on a file opened ``O_APPEND``, so a line is either
in the file whole or not at all; lines are flushed to disk (``fsync``) every few lines, every few
seconds and at close. A process killed in the middle of a write (or a full disk) can still leave a
torn last line: opening the file again cuts it off, and the input it belonged to is read again.
A line that carries a name which is not valid UTF-8 (a file name from a foreign file system) is
written ASCII-escaped (``\\udcff``), so it is still JSON and decodes back to the same name.

Keys. Every line carries ``key``: the sha256 of the input's bytes, or ``path:<absolute path>`` for
an input that could not be read. A rerun matches inputs to lines by key (by content: a renamed copy
of a done input is done; two identical files each need their own line).

Retrying. A line is *final* when a tier answered, or when the document is at fault (``bad_input``,
``invalid_output``: see ``router.batch.resume``); a line that failed for a passing reason (no tier
could run, breaker open, timeout, crashed worker) is *retryable*, and a rerun reads its input again.
The new line names the one it replaces (``"retry_of": <request_id>``), so the file stays readable
at every instant: a line named by a later line's ``retry_of`` is superseded. An input whose bytes
changed since its line was written (same name, new key) is read again, and its new line names the
old one the same way (``"replaces": <request_id>``): one current line per input. Closing the sink then
*compacts* the file: the current lines are copied to a temporary file next to it, which is flushed
to disk and renamed over the output (atomic), so the file holds exactly one line per input again.
A crash before or during compaction leaves the superseding lines and the lines they replace; both
``read_records`` and the next run know which is current, and the next run compacts.

Locking. While a sink is open it holds an exclusive ``flock`` on ``<output>.lock`` (the output itself
is replaced by compaction, so it cannot carry the lock): a second batch on the same output is refused
with ``OutputBusyError``, or waits for the first with ``wait=True``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from router.batch.resume import is_final
from router.failures.errors import DocrouteError
from router.observe import events
from router.observe.logs import get_logger


class OutputBusyError(DocrouteError):
    """Another process is writing the same batch output."""

    def __init__(self, path: Path):
        self.path = path
        super().__init__(
            f"{path} is being written by another batch (lock {lock_path(path)}); wait for it or use --wait"
        )


class NotAnOutputError(DocrouteError):
    """The file named as the output holds something else (an image, notes): it is left untouched."""

    def __init__(self, path: Path):
        self.path = path
        super().__init__(
            f"{path} is not the output of a batch (its first line is not a JSON result); "
            "expected a new file or an earlier run's output"
        )


class OutputWriteError(DocrouteError):
    """The output cannot be written (a full disk, a file system gone read-only): the batch stops,
    and a rerun finishes once there is room (a torn last line is cut on the next open)."""

    def __init__(self, path: Path, error: OSError):
        self.path = path
        self.strerror = error.strerror or str(error)
        super().__init__(f"cannot write {path}: {self.strerror}")


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


class ResultSink:
    def __init__(
        self,
        path: Path,
        *,
        retry_failed: bool = False,
        wait: bool = False,
        fsync_every: int = 32,
        fsync_interval_s: float = 2.0,
    ):
        self.path = path
        self._fsync_every = fsync_every
        self._fsync_interval_s = fsync_interval_s
        path.parent.mkdir(parents=True, exist_ok=True)
        _check_is_output(path)  # before the lock is made: a refused file gets no lock file beside it
        self._lock_fd = _lock(path, wait=wait)
        try:
            _check_is_output(path)  # again, holding the lock: another batch may have written it since
            self.repaired_bytes = _cut_torn_tail(path)
            state = _read_state(path, retry_failed)
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except BaseException:
            os.close(self._lock_fd)
            raise
        self.done, self.retryable, self.superseded, self.unreadable_lines, self._by_input = state
        self._broken: OutputWriteError | None = None
        self._unsynced = 0
        self._synced_at = time.monotonic()
        if self.repaired_bytes:
            events.BATCH_OUTPUT_REPAIRED.emit(get_logger(), path=str(path), cut_bytes=self.repaired_bytes)

    def take_retryable(self, key: str) -> str | None:
        """The request id of a retryable line for ``key`` that a new line will replace, if any."""
        waiting = self.retryable.get(key)
        return waiting.pop(0) if waiting else None

    def current_line(self, input_name: str) -> tuple[str, str] | None:
        """The key and request id of the current line for the input so named, if it has one."""
        return self._by_input.get(input_name)

    def write(self, record: dict[str, Any]) -> None:
        """Append one line, whole. After a write fails (a full disk), every later one fails too: a
        line appended after a torn one would be unreadable."""
        if self._broken is not None:
            raise self._broken
        view = memoryview(encode_line(record))
        start = os.fstat(self._fd).st_size
        try:
            while view:  # a short write only happens on a full disk
                view = view[os.write(self._fd, view) :]
        except OSError as exc:
            with contextlib.suppress(OSError):  # the torn part, if it can be cut now (else: on the next open)
                os.ftruncate(self._fd, start)
            self._broken = OutputWriteError(self.path, exc)
            raise self._broken from None
        self.superseded.update(str(record[f]) for f in SUPERSEDING if record.get(f))
        self._unsynced += 1
        if self._unsynced >= self._fsync_every or time.monotonic() - self._synced_at >= self._fsync_interval_s:
            self.sync()

    def sync(self) -> None:
        if self._unsynced:
            try:
                os.fsync(self._fd)
            except OSError as exc:
                raise OutputWriteError(self.path, exc) from None
        self._unsynced = 0
        self._synced_at = time.monotonic()

    def close(self) -> None:
        if self._fd < 0:
            return
        try:
            try:
                self.sync()
            finally:
                os.close(self._fd)
                self._fd = -1
            if self.superseded:
                dropped = _compact(self.path, self.superseded)
                events.BATCH_OUTPUT_COMPACTED.emit(get_logger(), path=str(self.path), superseded_lines=dropped)
                self.superseded = set()
        finally:
            os.close(self._lock_fd)

    def __enter__(self) -> ResultSink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def encode_line(record: dict[str, Any]) -> bytes:
    """One JSON line in UTF-8; ASCII-escaped when it carries a name that is not valid UTF-8."""
    try:
        return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
    except UnicodeEncodeError:  # a lone surrogate from os.fsdecode: JSON's \\udcXX escape carries it
        return (json.dumps(record, separators=(",", ":")) + "\n").encode()


def _lock(path: Path, *, wait: bool) -> int:
    fd = os.open(lock_path(path), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(fd)
        raise OutputBusyError(path) from None
    return fd


def _check_is_output(path: Path) -> None:
    """Refuse a non-empty file that no batch wrote, before a torn-tail cut or an append touches it.
    Every line a batch writes is a JSON object with ``key``; a first line torn by a crash is a prefix
    of one, so it starts with ``{``."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb") as file:
        first = file.readline(1 << 20)
    if not first.startswith(b"{"):
        raise NotAnOutputError(path)
    if first.endswith(b"\n"):
        try:
            record = json.loads(first)
        except ValueError:
            raise NotAnOutputError(path) from None
        if not isinstance(record, dict) or "key" not in record:
            raise NotAnOutputError(path)


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


def _lines(path: Path) -> Iterator[tuple[bytes, dict[str, Any] | None]]:
    """Each line's bytes and its record (None when it is not a JSON object)."""
    if not path.exists():
        return
    with path.open("rb") as file:
        for raw in file:
            try:
                record = json.loads(raw)
            except ValueError:
                record = None
            yield raw, record if isinstance(record, dict) else None


#: The fields by which a line names the line it supersedes: a retry of it, or a newer reading of
#: the same input whose content changed between two runs.
SUPERSEDING = ("retry_of", "replaces")


def _superseded(path: Path) -> set[str]:
    return {str(r[f]) for _, r in _lines(path) if r is not None for f in SUPERSEDING if r.get(f)}


def _read_state(path: Path, retry_failed: bool) -> _State:
    """Final lines per key, retryable lines' request ids per key, superseded ids, unparsable lines,
    and each input's current line (key, request id)."""
    superseded = _superseded(path)
    final: Counter[str] = Counter()
    retryable: dict[str, list[str]] = {}
    by_input: dict[str, tuple[str, str]] = {}
    unreadable = 0
    for raw, record in _lines(path):
        if record is None or "key" not in record:
            unreadable += raw.strip() != b""
            continue
        if str(record.get("request_id")) in superseded:
            continue
        key = str(record["key"])
        if record.get("input") and record.get("request_id"):
            by_input[str(record["input"])] = (key, str(record["request_id"]))
        if record.get("request_id") and not is_final(record, retry_failed=retry_failed):
            retryable.setdefault(key, []).append(str(record["request_id"]))
        else:
            final[key] += 1
    return final, retryable, superseded, unreadable, by_input


_State = tuple[Counter[str], dict[str, list[str]], set[str], int, dict[str, tuple[str, str]]]


def _compact(path: Path, superseded: set[str]) -> int:
    """Rewrite ``path`` without the superseded lines, atomically; return how many were dropped."""
    temporary = path.with_name(path.name + ".compacting")
    dropped = 0
    try:
        with temporary.open("wb") as out:
            for raw, record in _lines(path):
                if record is not None and str(record.get("request_id")) in superseded:
                    dropped += 1
                    continue
                out.write(raw)
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:  # no room for the copy: the output stays as it is (readable), the next run compacts
        temporary.unlink(missing_ok=True)
        raise OutputWriteError(temporary, exc) from None
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a power cut
    finally:
        os.close(directory)
    return dropped


def read_records(path: Path) -> list[dict[str, Any]]:
    """The current line of each input, in file order (torn and superseded lines left out)."""
    superseded = _superseded(path)
    return [r for _, r in _lines(path) if r is not None and str(r.get("request_id")) not in superseded]
