"""Keeping a long-running router's memory flat: freed page buffers go back to the system.

Two glibc malloc defaults let a router's heap grow by fragmentation, with no Python object leaking
(measured with ``docroute drill``: 4 threads, a fifth of model calls faulty, 2% bad inputs):

- Large blocks get their own ``mmap``, unmapped when freed, but only above a threshold that glibc
  raises by itself (up to 32 MiB) whenever such a block is freed. After the first decoded page is
  freed, pages of a megabyte or so come from the heap arenas instead and stay there, fragmented:
  2,000 requests grew the anonymous RSS by 24-30%, and by 5-6% with the threshold held at 256 KiB.
- Each thread may get its own arena (up to 8 per core), and each keeps its own fragments: 8,000
  requests then grew it by 6-9%, and by 0.9-1.7% with at most 2 arenas, at the same throughput
  (the router's threads mostly wait on workers and Tesseract, not on malloc).

``hold_malloc_settings`` sets both (``mallopt``), once per process. It does nothing off glibc, and
leaves alone a setting chosen in the environment (``MALLOC_MMAP_THRESHOLD_``,
``MALLOC_ARENA_MAX``): glibc already uses that value.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import threading

# glibc's malloc.h: parameter numbers, and the environment variable that sets each.
SETTINGS = {
    "mmap_threshold": (-3, "MALLOC_MMAP_THRESHOLD_", 256 * 1024),
    "arena_max": (-8, "MALLOC_ARENA_MAX", 2),
}

_lock = threading.Lock()
_held: dict[str, bool] | None = None


def hold_malloc_settings() -> dict[str, bool]:
    """Set glibc's mmap threshold and arena limit (first call only); which of them are held."""
    global _held
    with _lock:
        if _held is None:
            libc = _glibc()
            _held = {name: _mallopt(libc, *setting) for name, setting in SETTINGS.items()}
        return dict(_held)


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt  # noqa: B018 - musl has no mallopt
    except (OSError, AttributeError):
        return None
    return libc


def _mallopt(libc: ctypes.CDLL | None, parameter: int, env_name: str, value: int) -> bool:
    if libc is None or env_name in os.environ:
        return False
    return bool(libc.mallopt(parameter, value))
