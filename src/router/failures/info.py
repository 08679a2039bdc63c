"""A failure as data: ``ErrorInfo`` (what was raised, safe to send across a pipe and to log) and
``Failure`` (an ``ErrorInfo`` with its class and the signature that classified it)."""

from __future__ import annotations

import os
import traceback as tb
from dataclasses import asdict, dataclass, field
from typing import Any

from router.failures.traits import ErrorClass, Traits, traits


@dataclass(frozen=True)
class ErrorInfo:
    """A failure as plain data: safe to send across a pipe, log, and compare.

    ``type`` is the exception's qualified name and ``bases`` the qualified names of its classes in
    method resolution order, so that signatures can match ``torch.OutOfMemoryError`` as well as
    its base ``RuntimeError`` without importing torch.
    """

    type: str
    message: str
    bases: tuple[str, ...] = ()
    traceback: str = ""
    pid: int | None = None
    exitcode: int | None = None

    @classmethod
    def from_exception(cls, exc: BaseException, *, pid: int | None = None) -> ErrorInfo:
        mro = tuple(_qualname(k) for k in type(exc).__mro__ if k not in (object, BaseException))
        chain = _chained_messages(exc)
        return cls(
            type=_qualname(type(exc)),
            message=chain,
            bases=mro,
            traceback="".join(tb.format_exception(exc)),
            pid=os.getpid() if pid is None else pid,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ErrorInfo:
        return cls(**{**data, "bases": tuple(data.get("bases", ()))})

    def names(self) -> tuple[str, ...]:
        """The type and all its bases, qualified and bare, for type matching."""
        qualified = (self.type, *self.bases)
        return qualified + tuple(name.rsplit(".", 1)[-1] for name in qualified)


def _qualname(klass: type) -> str:
    module = klass.__module__
    return klass.__qualname__ if module == "builtins" else f"{module}.{klass.__qualname__}"


def _chained_messages(exc: BaseException) -> str:
    """The message of an exception and of the causes it was raised from, outermost first.

    Signature matching needs the causes: transformers wraps an ``OSError`` from the hub in its own
    message, and a backend may wrap a CUDA ``RuntimeError``.
    """
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(parts) < 5:
        seen.add(id(current))
        text = str(current).strip()
        if text and text not in parts:
            parts.append(text)
        current = current.__cause__ or current.__context__
    return "\n-- caused by: ".join(parts)


@dataclass(frozen=True)
class Failure:
    """One failure, classified: its class, the signature that matched (or the router's own name for
    it), and the failure as data. The one type that travels from where a failure enters to the result."""

    error_class: ErrorClass
    signature: str
    info: ErrorInfo = field(repr=False)

    @classmethod
    def own(cls, error_class: ErrorClass, signature: str, message: str, *, type_: str | None = None) -> Failure:
        """A failure the router observes itself, born with its class (no signature matching)."""
        return cls(error_class, signature, ErrorInfo(type=type_ or signature, message=message, pid=os.getpid()))

    @property
    def traits(self) -> Traits:
        return traits(self.error_class)
