"""Readiness: can any tier answer a request now? Each tier's state says why or why not.

A router with a ``warm_start`` tier still on its first start (state ``warming``) is not ready, even
where another tier could answer: it admits no document until that tier's workers are up."""

from __future__ import annotations

from typing import Any

#: Runner states in which a tier takes a request: idle tiers start on their first request.
ANSWERING_STATES = frozenset({"ready", "busy", "idle"})
WARMING = "warming"


def can_answer(tier: dict[str, Any]) -> bool:
    """The decision core's verdict (``admits``: an open breaker on the last tier that runs here still
    admits, as the probe) plus the runner's state; ``Router.status()`` says both."""
    return tier.get("unavailable") is None and tier.get("state") in ANSWERING_STATES and tier.get("admits", True)


def warming(status: dict[str, dict[str, Any]]) -> bool:
    """Whether a warm_start tier is still on its first start."""
    return any(info.get("state") == WARMING for info in status.values())


def readiness(status: dict[str, dict[str, Any]]) -> tuple[bool, dict[str, dict[str, Any]]]:
    """Whether at least one tier can answer and none is warming, and each tier's status with
    ``can_answer`` added."""
    tiers = {name: {**info, "can_answer": can_answer(info)} for name, info in status.items()}
    return any(t["can_answer"] for t in tiers.values()) and not warming(status), tiers
