"""Which lines of a batch output a rerun leaves alone, and which inputs it reads again.

A line is final when a tier answered (``ok``, ``degraded``), or when the failure is the document's
own (``fault == "document"`` in ``router.failures.traits``: it cannot be read, or it was read and no tier's
answer passed validation): reading it again would give the same answer. Any other failure (no tier
could run, breaker open, timeout, a worker that crashed, an unknown error) is passing, and a rerun
retries that input. ``--retry-failed`` retries the document failures too.
"""

from __future__ import annotations

from typing import Any

from router.failures.traits import ErrorClass, traits


def is_final(record: dict[str, Any], *, retry_failed: bool = False) -> bool:
    """Whether a rerun keeps this line rather than reading its input again."""
    if record.get("status") != "failed":
        return True
    if retry_failed:
        return False
    error_class = (record.get("error") or {}).get("error_class")
    return error_class in _CLASSES and traits(error_class).fault == "document"


_CLASSES = frozenset(c.value for c in ErrorClass)  # a line from another version may name another class
