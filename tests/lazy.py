"""Heavy modules (torch, transformers, and docroute's modules that import them) for test modules that
use them only inside tests: ``torch = lazy_module("torch")`` imports torch at the first attribute a
test reads, not when pytest collects the file, so collecting the suite stays fast."""

from __future__ import annotations

import importlib
import types
from typing import Any


class _LazyModule(types.ModuleType):
    def __getattr__(self, attribute: str) -> Any:
        # pytest probes every module attribute at collection (__test__, _mock_name, ...): those are not
        # the module's, and must not import it (read a version with importlib.metadata instead)
        if attribute.startswith("_"):
            raise AttributeError(attribute)
        return getattr(importlib.import_module(self.__name__), attribute)


def lazy_module(name: str) -> Any:
    return _LazyModule(name)
