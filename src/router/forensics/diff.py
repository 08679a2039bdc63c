"""What differs between two policies, field by field, with defaults filled in.

Tiers are matched by name, so a tier that moved shows as a change of the chain's order, not as
every field of two tiers changing. Paths name tiers: ``tiers[vision].retry.attempts``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from router.policy.model import Policy


@dataclass(frozen=True)
class Change:
    path: str
    a: Any
    b: Any
    note: str | None = None  # for lists: what was added and removed


@dataclass
class PolicyDiff:
    a: str
    b: str
    changes: list[Change] = field(default_factory=list)

    @property
    def same(self) -> bool:
        return not self.changes

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "same": self.same, "changes": [asdict(c) for c in self.changes]}


def diff(a: Policy, b: Policy) -> PolicyDiff:
    """Every difference between ``a`` and ``b`` (descriptions and names aside, they are shown too)."""
    result = PolicyDiff(f"{a.name} [{a.digest()}]", f"{b.name} [{b.digest()}]")
    left, right = a.model_dump(mode="json"), b.model_dump(mode="json")
    left_tiers = {t["name"]: t for t in left.pop("tiers")}
    right_tiers = {t["name"]: t for t in right.pop("tiers")}
    result.changes += _compare(left, right, "")
    if list(left_tiers) != list(right_tiers):
        result.changes.append(Change("tiers (order)", list(left_tiers), list(right_tiers)))
    for name in [*left_tiers, *(n for n in right_tiers if n not in left_tiers)]:
        path = f"tiers[{name}]"
        if name not in right_tiers:
            result.changes.append(Change(path, _tier_summary(left_tiers[name]), None))
        elif name not in left_tiers:
            result.changes.append(Change(path, None, _tier_summary(right_tiers[name])))
        else:
            result.changes += _compare(left_tiers[name], right_tiers[name], path)
    return result


def _compare(left: Any, right: Any, path: str) -> list[Change]:
    if isinstance(left, dict) and isinstance(right, dict):
        changes: list[Change] = []
        for key in [*left, *(k for k in right if k not in left)]:
            sub = f"{path}.{key}" if path else key
            changes += _compare(left.get(key), right.get(key), sub)
        return changes
    if left == right:
        return []
    if isinstance(left, list) and isinstance(right, list):
        added = [x for x in right if x not in left]
        removed = [x for x in left if x not in right]
        note = " ".join([*(f"+{x}" for x in added), *(f"-{x}" for x in removed)]) or "reordered"
        return [Change(path, left, right, note)]
    return [Change(path, left, right)]


def _tier_summary(tier: dict[str, Any]) -> str:
    return f"{tier['backend']['kind']} tier, timeout {tier['timeout_s']:g} s"
