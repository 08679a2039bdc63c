"""A cluster batch's output folder: one JSONL part per batch of inputs, written by atomic rename.

An actor writes the lines of a whole batch to a temporary file beside the part, flushes it to disk
and renames it onto ``part-<digest>.jsonl``, where the digest names the batch's inputs. A part is
therefore in the folder whole or not at all, and when Ray retries a batch (its actor or node died
after the write), the retry writes the same name and replaces the part: it never adds a second copy.

Resume identifies an input by its absolute path (the ``input`` field of its line): a rerun lists
the inputs, reads the ``input`` of every part and sends only the others. Hashing millions of remote
files on the driver to key them by content, as the single-machine batch does, is not viable; the
content hash is still on every line (``key``), computed by the actor that read the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

PART_GLOB = "part-*.jsonl"


def part_path(out_dir: Path, inputs: Sequence[str]) -> Path:
    """Where the lines of this batch of inputs go: the same batch always gets the same name."""
    digest = hashlib.sha256("\n".join(inputs).encode()).hexdigest()[:32]
    return out_dir / f"part-{digest}.jsonl"


def write_part(out_dir: Path, inputs: Sequence[str], records: Sequence[dict[str, Any]]) -> Path:
    """Write a batch's lines as one part, whole or not at all (replacing an earlier try's part)."""
    target = part_path(out_dir, inputs)
    _replace(target, records)
    return target


def read_parts(out_dir: Path) -> Iterator[dict[str, Any]]:
    """Every line of every part (parts are whole: a torn one never gets its name)."""
    for part in sorted(out_dir.glob(PART_GLOB)):
        yield from read_part(part)


def read_part(part: Path) -> Iterator[dict[str, Any]]:
    with part.open("rb") as file:
        for raw in file:
            with contextlib.suppress(ValueError):
                yield json.loads(raw)


def written_part(out_dir: Path, inputs: Sequence[str]) -> list[dict[str, Any]] | None:
    """The lines of this batch when its part is already written (a retry of a batch whose actor died
    after writing it, before Ray had its result), in input order; None otherwise."""
    try:
        lines = {str(record.get("input")): record for record in read_part(part_path(out_dir, inputs))}
    except FileNotFoundError:
        return None
    return [lines[name] for name in inputs] if set(lines) == set(inputs) else None


def done_inputs(out_dir: Path) -> set[str]:
    """The inputs that already have their line."""
    return {str(record["input"]) for record in read_parts(out_dir) if "input" in record}


def remove_leftovers(out_dir: Path) -> int:
    """Delete temporary files of writes that a crash interrupted; return how many."""
    removed = 0
    for leftover in out_dir.glob(".part-*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()
            removed += 1
    return removed


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def drop_repeats(out_dir: Path) -> int:
    """Keep the first line of each input (parts in name order) and rewrite, whole, any part that
    repeats one; return the lines dropped. A repeat can only come from an actor of an earlier run
    that outlived its driver and wrote after this run read the folder; the driver calls this at the
    end of a run, when only its own actors (now done) have been writing."""
    seen: set[str] = set()
    dropped = 0
    for part in sorted(out_dir.glob(PART_GLOB)):
        records = [json.loads(raw) for raw in part.read_bytes().splitlines() if raw.strip()]
        keep = [r for r in records if r.get("input") not in seen]
        seen.update(str(r.get("input")) for r in records)
        if len(keep) == len(records):
            continue
        dropped += len(records) - len(keep)
        if keep:
            _replace(part, keep)
        else:
            part.unlink()
    return dropped


def _replace(target: Path, records: Sequence[dict[str, Any]]) -> None:
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    data = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records).encode()
    try:
        with temporary.open("wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    _sync_folder(target.parent)
