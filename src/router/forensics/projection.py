"""What one recorded attempt would have been under another time limit or quality gate.

Only what the record can tell: an attempt that answered after 1.2 s times out under a 0.5 s limit;
one that timed out at 5 s also times out at 3 s, but under a 10 s limit its outcome was never
recorded. Times within ``margin`` of a limit are too close to call. Never a guess: ``Unknown``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from router.forensics.recorded import Attempt

_MISSING = re.compile(r"missing required fields: (?P<names>[\w, ]+)")


@dataclass(frozen=True)
class Projected:
    """The attempt's outcome: ``ok`` or an error class, how long it took, and why it changed."""

    label: str
    duration_s: float
    fields_present: frozenset[str] | None = None
    note: str | None = None

    @property
    def ok(self) -> bool:
        return self.label == "ok"


@dataclass(frozen=True)
class Unknown:
    reason: str


def margin(limit_s: float) -> float:
    """How close to a limit a recorded time is too close to call: timings jitter between runs."""
    return max(0.05, 0.1 * limit_s)


def project(
    attempt: Attempt,
    timeout_s: float,
    *,
    inline: bool,
    gates: tuple[frozenset[str], frozenset[str]] | None,
) -> Projected | Unknown:
    """``attempt`` under a limit of ``timeout_s``; ``gates`` = (recorded, new) required fields if they differ."""
    duration = attempt.duration_ms / 1000
    where = f"attempt {attempt.number} of {attempt.tier}"
    if attempt.error_class == "timeout":
        return _timed_out(attempt, duration, timeout_s, where, inline)
    if abs(duration - timeout_s) <= margin(timeout_s):
        return Unknown(f"{where} took {duration:.2f} s, too close to the new {timeout_s:.2f} s limit to call")
    if duration > timeout_s:
        note = f"{where} took {duration:.2f} s: would run past the new {timeout_s:.2f} s limit"
        return Projected("timeout", duration if inline else timeout_s, note=note)
    present = frozenset(attempt.fields_present) if attempt.fields_present is not None else None
    recorded = Projected("ok" if attempt.outcome == "succeeded" else str(attempt.error_class), duration, present)
    if gates is None or attempt.outcome not in ("succeeded", "rejected"):
        return recorded
    return _regate(attempt, recorded, *gates)


def _timed_out(attempt: Attempt, duration: float, timeout_s: float, where: str, inline: bool) -> Projected | Unknown:
    recorded_limit = attempt.timeout_s
    if recorded_limit is None:
        return Unknown(f"{where} timed out, but its time limit was not recorded")
    if abs(timeout_s - recorded_limit) <= margin(recorded_limit):
        return Projected("timeout", duration)
    if timeout_s < recorded_limit:
        # a worker is killed at the limit; an inline call runs to its end and is judged after
        shorter = duration if inline else timeout_s + max(0.0, duration - recorded_limit)
        return Projected("timeout", shorter, note=f"{where} times out sooner ({timeout_s:.2f} s)")
    return Unknown(
        f"{where} timed out at {recorded_limit:.2f} s; whether it would finish within the new "
        f"{timeout_s:.2f} s was never recorded"
    )


def _regate(attempt: Attempt, recorded: Projected, old: frozenset[str], new: frozenset[str]) -> Projected | Unknown:
    """The recorded answer judged by the new quality gate."""
    where = f"attempt {attempt.number} of {attempt.tier}"
    if recorded.fields_present is not None:
        missing = new - recorded.fields_present
        label = "invalid_output" if missing else "ok"
        note = f"{where}: the new gate rejects it (missing {', '.join(sorted(missing))})" if missing else None
        return Projected(label, recorded.duration_s, recorded.fields_present, note)
    match = _MISSING.search(attempt.message or "")
    if match is None:
        return Unknown(f"{where} was rejected by the quality gate; which fields it held was not recorded")
    absent = frozenset(n.strip() for n in match["names"].split(",") if n.strip())
    present = old - absent
    if new & absent:
        return recorded
    if new <= present:
        note = f"{where}: the new gate accepts the answer the old one rejected"
        return Projected("ok", recorded.duration_s, present, note)
    unknown = ", ".join(sorted(new - present))
    return Unknown(f"{where} was rejected; whether it held {unknown} (required now) was not recorded")
