"""What each error class means: the one table every part of the router reads.

Per class: whose fault it is (``tier``: the tier is broken; ``document``: the tier read the document
and could not answer it, or it cannot be read at all; ``neither``: the tier cannot run on this
machine), whether the process that raised it must not serve again, whether the document is kept away
from the tier for a while, whether it counts toward the tier's breaker, whether the content breaker
(opt-in) sees it, the default retry and fallback, and the HTTP status a service answers a failed
result of this class with.

Read it through ``traits(error_class)`` and ``http_status(error_class)``; the derived sets below are
views of the table, not restatements. ``docs/policy.md`` renders it (``scripts/policy_reference.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Literal

Fault = Literal["tier", "document", "neither"]


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


@dataclass(frozen=True)
class Traits:
    """What one error class means to the router."""

    fault: Fault
    poisons_process: bool  # the worker that raised it is recycled before it serves again
    quarantines: bool  # the document skips the tier for the tier's ``quarantine_s``
    counts_toward_breaker: bool  # a fault of the tier: counts toward its breaker
    content: bool  # the tier read the document and gave no usable answer: only the opt-in content breaker sees it
    retry: bool  # in ``retry_on`` by default
    fall_back: bool  # in ``fallback_on`` by default; otherwise the request stops
    http_status: int  # what a service answers a failed result of this class with
    faulty_modes: tuple[str, ...] = ()  # the ``faulty`` backend's fault modes that end in this class
    meaning: str = ""

    @property
    def remedy(self) -> str:
        """The default remedy in one word, for the ``error.classified`` event."""
        if not self.fall_back:
            return "fail"
        if self.retry:
            return "retry"
        return "recycle_and_fall_back" if self.poisons_process else "fall_back"


C = ErrorClass


def _tier_fault(
    *,
    poisons: bool,
    quarantines: bool,
    meaning: str,
    retry: bool = False,
    status: int = 503,
    faulty_modes: tuple[str, ...] = (),
) -> Traits:
    """A fault of the tier: it counts toward the breaker and the next tier is tried."""
    return Traits(
        fault="tier",
        poisons_process=poisons,
        quarantines=quarantines,
        counts_toward_breaker=True,
        content=False,
        retry=retry,
        fall_back=True,
        http_status=status,
        faulty_modes=faulty_modes,
        meaning=meaning,
    )


_TABLE: dict[ErrorClass, Traits] = {
    C.STICKY_CUDA: _tier_fault(
        poisons=True, quarantines=True, faulty_modes=("sticky_cuda",), meaning="the CUDA context is poisoned for good"
    ),
    C.CUDA_OOM: _tier_fault(
        poisons=False, quarantines=False, retry=True, faulty_modes=("cuda_oom",), meaning="out of GPU memory"
    ),
    C.BAD_INDEX: _tier_fault(poisons=False, quarantines=False, meaning="an index outside a tensor, caught in time"),
    C.TIMEOUT: _tier_fault(
        poisons=True, quarantines=False, faulty_modes=("hang", "slow"), meaning="the attempt ran past its time"
    ),
    C.WORKER_CRASHED: _tier_fault(
        poisons=True, quarantines=True, faulty_modes=("segfault", "exit"), meaning="the worker process died"
    ),
    C.UNKNOWN: _tier_fault(poisons=False, quarantines=False, status=500, meaning="no signature matched: a bug"),
    C.UNAVAILABLE: Traits(
        fault="neither",
        poisons_process=False,
        quarantines=False,
        counts_toward_breaker=False,
        content=False,
        retry=False,
        fall_back=True,
        http_status=503,
        meaning="the tier cannot run on this machine",
    ),
    C.INVALID_OUTPUT: Traits(
        fault="document",
        poisons_process=False,
        quarantines=False,
        counts_toward_breaker=False,
        content=True,
        retry=False,
        fall_back=True,
        http_status=422,
        faulty_modes=("garbage",),
        meaning="the tier read the document but its answer failed validation or the quality gate",
    ),
    C.BAD_INPUT: Traits(
        fault="document",
        poisons_process=False,
        quarantines=False,
        counts_toward_breaker=False,
        content=False,
        retry=False,
        fall_back=False,
        http_status=422,
        meaning="the document itself cannot be read; no tier can help",
    ),
}

#: The table, read-only.
TRAITS: MappingProxyType[ErrorClass, Traits] = MappingProxyType({c: _TABLE[c] for c in ErrorClass})


def traits(error_class: ErrorClass | str) -> Traits:
    """The traits of a class (its value as a string works too)."""
    return TRAITS[ErrorClass(error_class)]


def http_status(error_class: ErrorClass | str | None) -> int:
    """The HTTP status for a failed result of ``error_class``: 422 when the document is at fault
    (unreadable, or read without a usable answer), 503 when no tier could run it, 500 for a bug."""
    return 500 if error_class is None else traits(error_class).http_status


def classes_where(trait: str) -> frozenset[ErrorClass]:
    """Every class whose boolean ``trait`` is true, e.g. ``classes_where("poisons_process")``."""
    return frozenset(c for c, t in TRAITS.items() if getattr(t, trait))


def default_retry_on() -> list[ErrorClass]:
    return [c for c in ErrorClass if TRAITS[c].retry]


def default_fallback_on() -> list[ErrorClass]:
    return [c for c in ErrorClass if TRAITS[c].fall_back]


def class_of_fault_mode(mode: str) -> ErrorClass | None:
    """The class a ``faulty`` backend fault mode ends an attempt with, if it fails one."""
    return next((c for c, t in TRAITS.items() if mode in t.faulty_modes), None)
