"""The ``--faults`` spec of a drill: ``mode=rate`` pairs, e.g. ``sticky_cuda=0.05,hang=0.02``.

Modes are the ``faulty`` backend's (``backends.options.FaultMode``); rates are probabilities per
call that add up to at most 1. ``all=0.2`` spreads 0.2 evenly over every mode.
"""

from __future__ import annotations

from typing import get_args

from backends.options import FaultMode

MODES: tuple[str, ...] = get_args(FaultMode)
#: The error class each mode shows up as in results and the decision log.
EXPECTED_CLASS = {
    "sticky_cuda": "sticky_cuda",
    "cuda_oom": "cuda_oom",
    "hang": "timeout",
    "segfault": "worker_crashed",
    "exit": "worker_crashed",
    "garbage": "invalid_output",
    "slow": None,  # answers, later
}


class FaultSpecError(ValueError):
    """A ``--faults`` spec that cannot be read; the message names the part and what was expected."""


def parse_faults(spec: str) -> dict[str, float]:
    """``"sticky_cuda=0.05,hang=0.02"`` -> ``{"sticky_cuda": 0.05, "hang": 0.02}``."""
    rates: dict[str, float] = {}
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        mode, sep, value = part.partition("=")
        mode = mode.strip()
        if not sep:
            raise FaultSpecError(f"{part!r}: expected mode=rate, e.g. hang=0.02")
        rate = _rate(part, value)
        if mode == "all":
            for each in MODES:
                rates[each] = rates.get(each, 0.0) + rate / len(MODES)
            continue
        if mode not in MODES:
            raise FaultSpecError(f"{part!r}: unknown fault mode {mode!r}; known: {', '.join(MODES)}, all")
        rates[mode] = rates.get(mode, 0.0) + rate
    total = sum(rates.values())
    if total > 1 + 1e-9:
        raise FaultSpecError(f"fault rates add up to {total:g}; they must add up to at most 1")
    return rates


def _rate(part: str, value: str) -> float:
    try:
        rate = float(value)
    except ValueError:
        raise FaultSpecError(f"{part!r}: rate {value.strip()!r} is not a number") from None
    if not 0 <= rate <= 1:
        raise FaultSpecError(f"{part!r}: rate must lie in 0..1")
    return rate


def format_faults(rates: dict[str, float]) -> str:
    return ",".join(f"{mode}={rate:g}" for mode, rate in rates.items())
