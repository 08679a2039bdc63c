"""From a policy's backend ``kind`` to its class, imported only when first needed.

Importing a model backend's module is cheap (heavy imports happen in ``load``), but the registry
still imports lazily so that listing kinds or validating a policy never touches model code. Which
class serves which kind is part of the kind's spec (``backends.kinds``).
"""

from __future__ import annotations

import importlib
from typing import Any

from backends.documents.document import Document
from backends.kinds import BY_KIND, spec_for
from backends.protocol import Backend

#: kind -> "module:Class", as the specs say.
BACKENDS: dict[str, str] = {kind: spec.backend for kind, spec in BY_KIND.items()}


def backend_class(kind: str) -> Any:
    """The class registered for ``kind``."""
    module_name, _, class_name = spec_for(kind).backend.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def create(options: Any) -> Backend:
    """A new, not yet loaded, backend for the given options."""
    backend: Backend = backend_class(options.kind)(options)
    return backend


def declines(options: Any, document: Document) -> str | None:
    """Why the backend for these options does not read this kind of document, or None (cheap)."""
    reason: str | None = backend_class(options.kind).declines(options, document)
    return reason


def preflight(options: Any) -> str | None:
    """Why the backend for these options cannot run on this machine, or None."""
    reason: str | None = backend_class(options.kind).preflight(options)
    return reason
