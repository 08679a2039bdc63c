"""Errors docroute raises, the classes failures are sorted into, and what each class asks for.

Exceptions the library raises to its callers::

    DocrouteError
    ├── PolicyError          a policy file is invalid: file, field path, what was expected
    ├── BadInputError        a document cannot be read: which input, what is wrong with it
    ├── AttemptError         one tier attempt failed; carries the failure as plain data (ErrorInfo)
    └── RouterClosedError    the router was used after close()

Failures inside a tier (an exception in a backend, a dead or hung worker) never cross the router as
foreign exceptions: they are turned into ``ErrorInfo`` data at one boundary (the runner), classified
by ``router.signatures`` into an ``ErrorClass``, and each class carries its default ``Action``.
"""

from __future__ import annotations

import os
import traceback as tb
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class ErrorClass(StrEnum):
    """What went wrong, at the level the router makes decisions on."""

    STICKY_CUDA = "sticky_cuda"  # the process's CUDA context is poisoned for good
    CUDA_OOM = "cuda_oom"  # out of GPU memory; the context survives
    BAD_INDEX = "bad_index"  # an index outside a tensor, caught before it poisoned anything
    UNAVAILABLE = "unavailable"  # weights, packages or a GPU are missing: the tier cannot run here
    TIMEOUT = "timeout"  # the attempt ran past its time
    WORKER_CRASHED = "worker_crashed"  # the worker process died (signal, exit)
    INVALID_OUTPUT = "invalid_output"  # an answer came back but failed validation or the quality gate
    BAD_INPUT = "bad_input"  # the document itself cannot be read; no tier can help
    UNKNOWN = "unknown"  # nothing in the signature table matched


class Action(StrEnum):
    """What the router does about a failure of a class, unless the policy says otherwise."""

    RETRY = "retry"  # try the same tier again (within its retry budget), then fall back
    RECYCLE_AND_FALL_BACK = "recycle_and_fall_back"  # replace the worker process, move on at once
    FALL_BACK = "fall_back"  # move on to the next tier
    FAIL = "fail"  # stop: no tier can do better


DEFAULT_ACTIONS: dict[ErrorClass, Action] = {
    ErrorClass.STICKY_CUDA: Action.RECYCLE_AND_FALL_BACK,
    ErrorClass.CUDA_OOM: Action.RETRY,
    ErrorClass.BAD_INDEX: Action.FALL_BACK,
    ErrorClass.UNAVAILABLE: Action.FALL_BACK,
    ErrorClass.TIMEOUT: Action.RECYCLE_AND_FALL_BACK,
    ErrorClass.WORKER_CRASHED: Action.RECYCLE_AND_FALL_BACK,
    ErrorClass.INVALID_OUTPUT: Action.FALL_BACK,
    ErrorClass.BAD_INPUT: Action.FAIL,
    ErrorClass.UNKNOWN: Action.FALL_BACK,
}

#: Classes after which the process that raised them must not serve again.
PROCESS_POISONING: frozenset[ErrorClass] = frozenset(
    {ErrorClass.STICKY_CUDA, ErrorClass.TIMEOUT, ErrorClass.WORKER_CRASHED}
)


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
    """One tier attempt failed. Carries the failure as data, not as a foreign exception."""

    def __init__(self, info: ErrorInfo, worker: dict[str, Any] | None = None):
        self.info = info
        self.worker = worker  # {"pid": ..., "generation": ...} when a worker process was involved
        super().__init__(f"{info.type}: {info.message}")


class RouterClosedError(DocrouteError):
    """The router was used after it was closed."""


@dataclass
class Classification:
    """The verdict on one failure: its class, the signature that matched, and what to do."""

    error_class: ErrorClass
    signature: str
    action: Action
    info: ErrorInfo = field(repr=False)
