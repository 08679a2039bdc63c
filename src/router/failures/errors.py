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
the breaker, retried, HTTP status) is in ``router.failures.traits``; it and the failure data
(``router.failures.info``) are re-exported here: ``traits(c)``, ``http_status(c)``.
"""

from __future__ import annotations

from typing import Any

from router.failures.info import ErrorInfo, Failure
from router.failures.signatures import classify
from router.failures.traits import TRAITS, ErrorClass, Traits, classes_where, http_status, traits

#: A view of the traits table: classes after which the process that raised them must not serve again.
PROCESS_POISONING: frozenset[ErrorClass] = classes_where("poisons_process")


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

    Given a foreign failure's ``ErrorInfo``, it is classified here, once; given a ``Failure``, the
    failure keeps the class it was born with."""

    def __init__(self, failure: Failure | ErrorInfo, worker: dict[str, Any] | None = None):
        if isinstance(failure, ErrorInfo):
            failure = classify(failure)
        self.failure = failure
        self.worker = worker  # {"pid": ..., "generation": ...} when a worker process was involved
        super().__init__(f"{failure.info.type}: {failure.info.message}")

    @property
    def info(self) -> ErrorInfo:
        return self.failure.info


class RouterClosedError(DocrouteError):
    """The router was used after it was closed."""


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
