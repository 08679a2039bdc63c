"""Worker processes for tiers that may touch CUDA: isolation, recycling, timeouts, crash loops.

A CUDA device-side assert poisons its process's CUDA context for good; only a new process recovers.
So every such tier runs in worker processes supervised from the router's process, which never
imports torch. Modules: ``protocol`` (the messages), ``transport`` (pages through shared memory),
``child`` (the worker's main, in the spawned process), ``process`` (one worker as the parent sees
it), ``canary`` (what a new worker must answer), ``pool`` (a tier's workers: the Runner).

Names are imported on first use: a spawned worker imports this package, and must stay light.

Imports ``core`` (the runners), ``observe`` and below; imported by ``api`` (``Router`` starts the
pools).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "WorkerPool": "router.workers.pool",
    "WorkerCrashed": "router.workers.protocol",
    "WorkerStartFailed": "router.workers.protocol",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'router.workers' has no attribute {name!r}")
