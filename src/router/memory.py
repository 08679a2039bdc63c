"""Keeping a long-running router's memory flat: freed page buffers go back to the system.

glibc's malloc serves a large allocation with its own ``mmap`` and unmaps it when freed, but only
above a threshold that it raises by itself (up to 32 MiB) whenever such a block is freed. After the
first decoded page is freed, pages of a megabyte or so come from the heap arenas instead (one per
thread) and stay there, fragmented: measured with ``docroute drill``, a router answering 2,000
receipts from 4 threads, a fifth of model calls faulty, grew its anonymous RSS by 24-30% with no
Python object leaking, and by 5-6% with the threshold held at 256 KiB. ``hold_mmap_threshold``
holds it there (``mallopt``), once per process. It does nothing off glibc, or when
``MALLOC_MMAP_THRESHOLD_`` is set in the environment (glibc then already uses that value: set it
to choose another).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import threading

M_MMAP_THRESHOLD = -3  # glibc's malloc.h
THRESHOLD_BYTES = 256 * 1024

_lock = threading.Lock()
_held: bool | None = None


def hold_mmap_threshold(nbytes: int = THRESHOLD_BYTES) -> bool:
    """Fix glibc's mmap threshold at ``nbytes`` (first call only); whether it is held."""
    global _held
    with _lock:
        if _held is None:
            _held = _mallopt(nbytes)
        return _held


def _mallopt(nbytes: int) -> bool:
    if not sys.platform.startswith("linux") or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, nbytes))
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
