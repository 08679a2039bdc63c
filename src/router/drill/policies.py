"""The policies a drill runs: its own chain of faulty model tiers, or a user's policy with stand-ins.

The drill's own chain: two ``faulty`` model tiers in worker processes (``model-a``, ``model-b``)
inject the drill's faults (drawn per worker process from the drill's seed, each tier its own
stream) in front of a last tier that answers everything: ``ocr_rules`` (real
Tesseract on the rendered receipts, the default) or ``fixed`` (an inline faulty backend without
faults, so thousands of requests finish in seconds); or ``none``, no safety net: a request both model tiers fail
fails (the HTTP service answers it with a classified 503). Timeouts are short and breakers quick to recover, so a drill
of a few thousand requests with a fifth of them faulty runs in minutes on two cores and still
opens, probes and closes breakers along the way.

With a user's policy, each model tier (and each faulty tier) keeps all its settings but its backend
is a faulty stand-in injecting the drill's faults; other tiers run as written.
"""

from __future__ import annotations

from typing import Any, Literal

from backends.kinds import spec_for
from router.policy.model import Policy, policy_from_dict

LastTier = Literal["fixed", "ocr_rules", "none"]
MODEL_ANSWER = {"merchant": "MODEL MART", "date": "2024-01-31", "total": "12.50"}
FIXED_ANSWER = {"merchant": "FALLBACK MART", "date": "2024-02-29", "total": "3.00"}


def drill_policy(
    faults: dict[str, float],
    *,
    last_tier: LastTier = "ocr_rules",
    workers: int = 2,
    capacity: int = 1,
    timeout_s: float = 2.0,
    seed: int = 0,
    triggers: dict[str, str] | None = None,
) -> Policy:
    """The drill's own chain: faulty model-a and model-b in front of ``last_tier``; with ``capacity``
    above 1 their workers batch (a shared fault then fails the whole batch, as on a GPU). ``triggers``
    (document sha256 prefix -> mode) inject a fault for sure, on top of the drawn ones."""
    models = [
        _model_tier(name, faults, workers, capacity, timeout_s, seed=seed + number, triggers=triggers or {})
        for number, name in enumerate(("model-a", "model-b"))
    ]
    return policy_from_dict(
        {
            "name": f"drill-{last_tier}",
            "description": "docroute drill: faulty model tiers in front of a last tier that answers",
            "deadline_s": 4 * timeout_s + 30,
            "tiers": models if last_tier == "none" else [*models, _last_tier(last_tier)],
        },
        source="<drill policy>",
    )


def _model_tier(
    name: str, faults: dict[str, float], workers: int, capacity: int, timeout_s: float, **draws: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "backend": _faulty(faults, hang_s=60.0, slow_s=timeout_s / 4, fields=MODEL_ANSWER, **draws),
        "workers": workers,
        "capacity": capacity,
        "preload": True,
        "timeout_s": timeout_s,
        "start_timeout_s": 30,
        "stop_grace_s": 0.5,
        "retry": {
            "attempts": 2,
            "retry_on": ["cuda_oom"],
            "backoff": {"initial_s": 0.01, "max_s": 0.05, "jitter_s": 0.01},
        },
        "breaker": {"failure_threshold": 5, "cooldown_s": 2.0, "max_recycles": 12, "recycle_window_s": 10.0},
        "quarantine_s": 60,
    }


def _last_tier(kind: LastTier) -> dict[str, Any]:
    if kind == "ocr_rules":
        return {"name": "ocr-rules", "backend": {"kind": "ocr_rules"}, "workers": 2, "timeout_s": 30}
    return {"name": "fixed", "backend": _faulty({}, fields=FIXED_ANSWER), "isolation": "inline", "workers": 8}


def _faulty(faults: dict[str, float], **options: Any) -> dict[str, Any]:
    return {"kind": "faulty", "cuda": "off", "faults": faults, **options}


#: The faults a backend in the router's own process (an inline tier) may take: a crash, an exit, a
#: sticky CUDA error or a hang there would hit the router itself, which no router survives.
INLINE_SAFE = frozenset({"garbage", "cuda_oom", "slow"})


def with_fault_stand_ins(policy: Policy, faults: dict[str, float]) -> Policy:
    """``policy`` with each model or faulty tier's backend replaced by a faulty one injecting ``faults``
    (an inline faulty tier only those of them that are safe in the router's own process)."""
    data = policy.model_dump(mode="json")
    stood_in = 0
    for tier, parsed in zip(data["tiers"], policy.tiers, strict=True):
        kind = tier["backend"]["kind"]
        if kind == "faulty":
            inline = parsed.effective_isolation == "inline"
            tier["backend"]["faults"] = {m: r for m, r in faults.items() if m in INLINE_SAFE} if inline else faults
        elif spec_for(kind).cuda:  # a model tier, by its kind's spec
            tier["backend"] = _faulty(faults, hang_s=tier["timeout_s"] + 60, fields=MODEL_ANSWER)
            tier["isolation"] = "process"
        else:
            continue
        stood_in += 1
    if not stood_in:
        raise ValueError(f"policy {policy.name!r} has no model or faulty tier to inject faults into")
    data["name"] = f"{policy.name}+drill"
    return policy_from_dict(data, source=f"<{policy.name} with fault stand-ins>")
