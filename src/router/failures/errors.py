"""Errors docroute raises, the classes failures are sorted into, and what each class asks for.

Exceptions the library raises to its callers::

    DocrouteError
    ├── PolicyError          a policy file is invalid: file, field path, what was expected
    ├── BadInputError        a document cannot be read: which input, what is wrong with it
    ├── AttemptError         one tier attempt failed; carries it as data (a classified Failure)
    └── RouterClosedError    the router was used after close()

Failures inside a tier (an exception in a backend, a dead or hung worker) never cross the router as
foreign exceptions: they are turned into ``ErrorInfo`` data at one boundary (the runner), classified
by ``router.failures.signatures`` into an ``ErrorClass`` once, where they enter, and travel on as one
``Failure``. The router's own failures (a quality rejection, an attempt timeout) are born as a
``Failure`` with their class. What each class means (whose fault, poisons the process, counts toward
the breaker, retried, HTTP status) is in ``router.failures.traits``, re-exported here: ``traits(c)``,
``http_status(c)``.
"""

from __future__ import annotations

import os
import traceback as tb
from dataclasses import asdict, dataclass, field
from typing import Any

from router.failures.traits import TRAITS, ErrorClass, Traits, classes_where, http_status, traits

#: A view of the traits table: classes after which the process that raised them must not serve again.
PROCESS_POISONING: frozenset[ErrorClass] = classes_where("poisons_process")


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


class DocrouteError(Exception):
    """The root of every error docroute raises."""


class PolicyError(DocrouteError):
    """A policy file is invalid. ``problems`` holds one line per problem, each naming the field."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid policy {source}:\n{lines}")


class BadInputError(DocrouteError):
    """A document cannot be read. The message names the input and the problem."""

    def __init__(self, source: str, problem: str):
        self.source = source
        self.problem = problem
        super().__init__(f"{source}: {problem}")


class AttemptError(DocrouteError):
    """One tier attempt failed. Carries the failure as data, not as a foreign exception.

    A foreign failure is classified where it enters (``router.failures.signatures.classify``, by the
    runner or the worker pool) before it is raised as one; the router's own failures are born with
    their class (``Failure.own``)."""

    def __init__(self, failure: Failure, worker: dict[str, Any] | None = None):
        self.failure = failure
        self.worker = worker  # {"pid": ..., "generation": ...} when a worker process was involved
        super().__init__(f"{failure.info.type}: {failure.info.message}")

    @property
    def info(self) -> ErrorInfo:
        return self.failure.info


class RouterClosedError(DocrouteError):
    """The router was used after it was closed."""


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


__all__ = [
    "PROCESS_POISONING",
    "TRAITS",
    "AttemptError",
    "BadInputError",
    "DocrouteError",
    "ErrorClass",
    "ErrorInfo",
    "Failure",
    "PolicyError",
    "RouterClosedError",
    "Traits",
    "http_status",
    "traits",
]
