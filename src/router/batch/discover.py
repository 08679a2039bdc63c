"""Turning the command line's INPUTS (files, folders, globs) into the list of documents to read.

A file named on the command line is always an input, whatever its extension: if it is not a
document, its line in the output says so. Folders are walked recursively for document extensions
only, so ``labels.jsonl`` or ``README.md`` next to the images are not inputs; an entry with a
document extension that is not a regular file (a dangling link, a FIFO, a socket) is an input too,
so its line says what it is rather than the walk passing it over in silence (it is never opened). A glob is expanded
(``**`` included) and its matches treated as if named one by one. A name that does not exist and
is not a glob is still an input: its line reads ``file not found``.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from pathlib import Path

#: Extensions picked up when walking a folder.
DOCUMENT_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".gif", ".webp", ".pdf"})
_GLOB_CHARS = frozenset("*?[")


def discover(arguments: Iterable[str]) -> tuple[list[Path], list[str]]:
    """The inputs, in a stable order and without repeats, and the patterns that matched nothing."""
    found: list[Path] = []
    unmatched: list[str] = []
    for argument in arguments:
        if _GLOB_CHARS & set(argument) and not os.path.exists(argument):  # False, not OSError, for a name too long
            matches = sorted(glob.glob(os.path.expanduser(argument), recursive=True))
            if not matches:
                unmatched.append(argument)
            for match in matches:
                found.extend(_expand(Path(match)))
        else:
            found.extend(_expand(Path(os.path.expanduser(argument))))
    return _unique(found), unmatched


def _expand(path: Path) -> list[Path]:
    if os.path.isdir(path):
        return sorted(p for p in path.rglob("*") if p.suffix.lower() in DOCUMENT_SUFFIXES and not p.is_dir())
    return [path]


def _unique(paths: list[Path]) -> list[Path]:
    seen: set[str] = set()
    unique = []
    for path in paths:
        identity = os.path.realpath(path)
        if identity not in seen:
            seen.add(identity)
            unique.append(path)
    return unique
