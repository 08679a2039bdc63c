"""Progress on stderr: a bar with rate and ETA on a terminal, a plain line every few seconds otherwise."""

from __future__ import annotations

import sys
import time
from typing import Any, Literal, Protocol, TextIO

Mode = Literal["auto", "bar", "plain", "none"]


class Progress(Protocol):
    def skipped(self, count: int) -> None:
        """Inputs found already done in the output."""

    def advance(self, status: str) -> None:
        """One input processed, with its result's status."""

    def close(self) -> None: ...


def make_progress(mode: Mode, total: int, stream: TextIO | None = None) -> Progress:
    stream = stream or sys.stderr
    if mode == "auto":
        mode = "bar" if stream.isatty() else "plain"
    if mode == "bar":
        return BarProgress(total, stream)
    if mode == "plain":
        return PlainProgress(total, stream)
    return NoProgress()


class NoProgress:
    def skipped(self, count: int) -> None:
        return None

    def advance(self, status: str) -> None:
        return None

    def close(self) -> None:
        return None


class PlainProgress:
    """``batch: 40/150 (27%), failed 3, 1.92 docs/s, eta 57 s`` at most every ``every_s`` seconds."""

    def __init__(self, total: int, stream: TextIO, *, every_s: float = 5.0, clock: Any = time.monotonic):
        self._total = total
        self._stream = stream
        self._every_s = every_s
        self._clock = clock
        self._started = clock()
        self._printed = self._started
        self._done = 0
        self._processed = 0
        self._failed = 0

    def skipped(self, count: int) -> None:
        self._done += count

    def advance(self, status: str) -> None:
        self._done += 1
        self._processed += 1
        self._failed += status == "failed"
        if self._clock() - self._printed >= self._every_s:
            self._print()

    def _print(self) -> None:
        self._printed = self._clock()
        elapsed = max(self._printed - self._started, 1e-9)
        rate = self._processed / elapsed
        remaining = self._total - self._done
        eta = f"{remaining / rate:.0f} s" if rate > 0 else "?"
        percent = 100 * self._done / self._total if self._total else 100
        self._stream.write(
            f"batch: {self._done}/{self._total} ({percent:.0f}%), failed {self._failed}, {rate:.2f} docs/s, eta {eta}\n"
        )
        self._stream.flush()

    def close(self) -> None:
        if self._processed:
            self._print()


class BarProgress:
    """A rich bar. Rate and ETA count only the documents processed in this run, not those skipped."""

    def __init__(self, total: int, stream: TextIO):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as RichProgress

        self._total = total
        self._bar = RichProgress(
            TextColumn("[bold]batch"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]} docs/s"),
            TextColumn("failed {task.fields[failed]}"),
            TimeElapsedColumn(),
            TextColumn("eta {task.fields[eta]}"),
            console=Console(file=stream),
        )
        self._task = self._bar.add_task("batch", total=total, failed=0, rate="-", eta="-")
        self._done = 0
        self._failed = 0
        self._processed = 0
        self._started = time.monotonic()
        self._bar.start()

    def skipped(self, count: int) -> None:
        self._done += count
        self._bar.update(self._task, completed=self._done)

    def advance(self, status: str) -> None:
        self._done += 1
        self._failed += status == "failed"
        self._processed += 1
        rate = self._processed / max(time.monotonic() - self._started, 1e-9)
        eta = f"{(self._total - self._done) / rate:.0f}s" if rate > 0 else "-"
        self._bar.update(self._task, completed=self._done, failed=self._failed, rate=f"{rate:.2f}", eta=eta)

    def close(self) -> None:
        self._bar.stop()
