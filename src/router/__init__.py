"""docroute's router: policies, the tier chain, worker supervision and the decision log.

Never imports torch or transformers: the supervising process must stay free of CUDA. The public
names below are imported on first use, so that ``docroute --help`` starts fast.

Layers, high to low (import-linter contracts in pyproject.toml, see docs/architecture.md): ``cli``,
``scale``, ``service`` | ``drill`` | ``evaluation``, ``batch`` | ``forensics``, ``api``, ``workers``, ``core``,
``observe``, ``policy``, ``failures``. Users import ``from router import Router`` and the names below.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Router": "router.api.router",
    "Result": "router.core.result",
    "Policy": "router.policy.model",
    "load_policy": "router.policy.model",
    "DocrouteError": "router.failures.errors",
    "PolicyError": "router.failures.errors",
    "BadInputError": "router.failures.errors",
    "ErrorClass": "router.failures.errors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'router' has no attribute {name!r}")
