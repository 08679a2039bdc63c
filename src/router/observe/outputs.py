"""Files docroute writes, checked before the first byte: a results file, a summary, a decision log,
a folder of reports.

One place for what makes a path unusable as an output, read by the commands (which print the
problem and exit 2 before any work starts) and by a router opening its decision log (which raises).
"""

from __future__ import annotations

import os
from pathlib import Path


def output_problem(path: Path) -> str | None:
    """Why ``path`` cannot be written as a file (a folder, a device, a missing or read-only folder), or None."""
    if path.is_symlink() and not path.exists():
        return "is a symbolic link to a missing file (or a link loop), expected a file"
    if path.is_dir():
        return "is a folder, expected a file"
    if path.exists() and not path.is_file():
        return "is not a regular file (a device, pipe or socket), expected a file"
    folder = path.parent
    if not folder.is_dir():
        return f"folder {folder} does not exist" if not folder.exists() else f"{folder} is not a folder"
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return "not writable"
    return _write_problem(path)


def folder_problem(path: Path) -> str | None:
    """Why ``path`` cannot be a folder docroute writes files into (made if missing), or None."""
    if path.exists() and not path.is_dir():
        return "is a file, expected a folder"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"cannot be made: {exc.strerror or exc}"
    return _write_problem(path / f".docroute-write-check-{os.getpid()}")


def _write_problem(path: Path) -> str | None:
    """Whether a file can really be opened for writing at ``path`` (permission bits do not say it
    for root, nor in /proc, /sys or a read-only mount): opened for appending, changing nothing; one
    that did not exist is made and removed again."""
    existed = path.exists()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | (0 if existed else os.O_CREAT | os.O_EXCL), 0o644)
    except OSError as exc:
        return f"cannot be written: {exc.strerror or exc}"
    os.close(fd)
    if not existed:
        path.unlink(missing_ok=True)
    return None


def not_a_log(path: Path) -> str | None:
    """A log is appended to (and rotated): an existing file that holds something else is refused."""
    if not path.is_file() or path.stat().st_size == 0:
        return None
    with path.open("rb") as file:
        first = file.read(1)
    return None if first == b"{" else "is not a docroute log (JSON lines); expected a new file or an earlier log"


def log_problem(path: Path) -> str | None:
    """Why ``path`` cannot be a decision log (appended to, rotated), or None."""
    return output_problem(path) or not_a_log(path)
