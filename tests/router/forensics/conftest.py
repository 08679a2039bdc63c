"""Decision logs of real runs: a Router with the faulty backend in worker processes, documents that
trigger sticky CUDA errors, hangs, segfaults, invalid output and slow answers, and an inline
fallback. Each scenario runs once per session, under a policy A (recorded) and a policy B (run for
real, to confirm what replay predicted from A's log)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from router.api.router import Router
from router.core.result import Result
from router.observe import logs
from router.policy.model import policy_from_dict
from tests.router.workerkit import png, sha, wait_until

VISION_FIELDS = {"merchant": "PRIMARY STORE", "date": "2024-01-31", "total": "12.50", "currency": "EUR"}
BACKUP_FIELDS = {"merchant": "BACKUP STORE", "date": "2024-01-31", "total": "12.50", "currency": "EUR"}
FALLBACK_FIELDS = {"merchant": "FALLBACK STORE", "date": "2024-02-29", "total": "3.00"}  # no currency
STRICT = {"required": ["merchant", "date", "total", "currency"]}


@dataclass
class Run:
    log: Path
    results: list[Result]
    policy: dict[str, Any]


def vision(triggers: dict[str, str], **tier: Any) -> dict[str, Any]:
    backend = {"kind": "faulty", "cuda": "off", "fields": VISION_FIELDS, "triggers": triggers, "slow_s": 0.8}
    settings = {"timeout_s": 2, "stop_grace_s": 0.5, "start_timeout_s": 30, "preload": True}
    breaker = {"failure_threshold": 50, "max_recycles": 10, "cooldown_s": 600, **tier.pop("breaker", {})}
    return {"name": "vision", "backend": backend, **settings, "breaker": breaker, **tier}


def inline(name: str, fields: dict[str, str], triggers: dict[str, str] | None = None, **tier: Any) -> dict[str, Any]:
    backend = {"kind": "faulty", "cuda": "off", "fields": fields, "triggers": triggers or {}}
    return {"name": name, "backend": backend, "isolation": "inline", "breaker": {"failure_threshold": 50}, **tier}


def run_policy(policy: dict[str, Any], documents: list[bytes], log: Path) -> Run:
    """Each document in turn; between documents the harness waits for the worker tier to be ready,
    then leaves a gap of twice the first start-up time: requests arrive at a steady pace, and a
    recycle is over before the next request, in both runs."""
    parsed = policy_from_dict(policy)
    results = []
    started = time.monotonic()
    router = Router(parsed, log_json=log, log_stderr=False)
    try:
        ready = lambda: router.status()["vision"]["state"] == "ready"  # noqa: E731
        router.warm_up(30)
        wait_until(ready, 30, "vision ready")
        gap = 2 * (time.monotonic() - started) + 0.2
        for index, document in enumerate(documents):
            results.append(router.extract(document, request_id=f"{parsed.name}-{index}"))
            waited = time.monotonic()
            wait_until(ready, 30, "vision ready")
            time.sleep(max(0.0, gap - (time.monotonic() - waited)))
    finally:
        router.close()
        logs.configure(stderr=False)
    return Run(log, results, policy)


# -- chaos: every kind of fault once or twice ------------------------------------------------

CHAOS = [png(500 + i) for i in range(8)]
#: (fault on vision, fault on backup) per document, in order.
CHAOS_FAULTS = [
    (None, None),
    ("sticky_cuda", None),
    ("garbage", None),
    ("hang", None),
    ("segfault", "garbage"),
    ("sticky_cuda", "garbage"),
    ("garbage", "garbage"),
    ("slow", None),
]


def chaos_policy(name: str, **changes: Any) -> dict[str, Any]:
    """A: vision (worker processes) -> backup (inline) -> fallback (inline, strict gate it fails).
    ``changes`` go to the vision tier; ``fallback_gate=None`` drops the fallback's strict gate."""
    vision_triggers = {sha(d): f for d, (f, _) in zip(CHAOS, CHAOS_FAULTS, strict=True) if f}
    backup_triggers = {sha(d): f for d, (_, f) in zip(CHAOS, CHAOS_FAULTS, strict=True) if f}
    gate = changes.pop("fallback_gate", STRICT)
    fallback = inline("fallback", FALLBACK_FIELDS, **({"quality_gate": gate} if gate else {}))
    return {
        "name": name,
        "deadline_s": 20,
        "tiers": [vision(vision_triggers, **changes), inline("backup", BACKUP_FIELDS, backup_triggers), fallback],
    }


@pytest.fixture(scope="session")
def chaos(tmp_path_factory) -> dict[str, Run]:
    folder = tmp_path_factory.mktemp("chaos")
    a = run_policy(chaos_policy("chaos-a"), CHAOS, folder / "a.jsonl")
    b_policy = chaos_policy(
        "chaos-b",
        timeout_s=0.4,
        fallback_on=["sticky_cuda", "cuda_oom", "timeout", "worker_crashed"],
        fallback_gate=None,
    )
    b = run_policy(b_policy, CHAOS, folder / "b.jsonl")
    return {"a": a, "b": b}


# -- a crash loop: the vision worker dies on every document until its breaker opens ----------

LOOP = [png(600 + i) for i in range(5)]


def loop_policy(name: str, max_recycles: int) -> dict[str, Any]:
    triggers = {sha(d): "segfault" for d in LOOP[:4]}
    tier = vision(triggers, breaker={"max_recycles": max_recycles})
    return {"name": name, "deadline_s": 20, "tiers": [tier, inline("fallback", FALLBACK_FIELDS)]}


@pytest.fixture(scope="session")
def crash_loop(tmp_path_factory) -> dict[str, Run]:
    folder = tmp_path_factory.mktemp("loop")
    return {
        "a": run_policy(loop_policy("loop-a", max_recycles=2), LOOP, folder / "a.jsonl"),
        "b": run_policy(loop_policy("loop-b", max_recycles=1), LOOP, folder / "b.jsonl"),
    }


# -- the rarer events: a tier that cannot start, retries, a breaker that recovers, idle unload --

MISC = [png(700 + i) for i in range(3)]


@pytest.fixture(scope="session")
def misc_run(tmp_path_factory) -> Path:
    """Bad input; a tier whose weights are missing; retries of an OOM; a breaker that opens, probes
    and closes; a worker unloaded when idle, which a later request waits for."""
    log = tmp_path_factory.mktemp("misc") / "log.jsonl"
    missing = "/models/x does not appear to have a file named config.json"
    broken = {"name": "broken", "backend": {"kind": "faulty", "cuda": "off", "fail_load": missing}, "preload": True}
    flaky = inline(
        "flaky",
        VISION_FIELDS,
        {sha(MISC[0]): "cuda_oom", sha(MISC[2]): "garbage"},
        retry={"attempts": 2, "retry_on": ["cuda_oom"], "backoff": {"initial_s": 0.05, "jitter_s": 0}},
        breaker={"failure_threshold": 2, "cooldown_s": 0.3},
    )
    sleepy = {
        "name": "sleepy",
        "backend": {"kind": "faulty", "cuda": "off", "fields": VISION_FIELDS},
        "preload": True,
        "idle_unload_s": 0.3,
        "stop_grace_s": 0.5,
    }
    router = Router(
        policy_from_dict({"name": "misc", "tiers": [broken, flaky, sleepy]}), log_json=log, log_stderr=False
    )
    try:
        router.warm_up(30)
        router.extract(b"not an image", name="junk.bin")
        router.extract(MISC[0])
        wait_until(lambda: router.status()["sleepy"]["state"] == "idle", 10, "sleepy unloaded")
        time.sleep(0.25)  # well past flaky's cooldown: its probe is not a close call for replay
        router.extract(MISC[1])
        router.extract(MISC[2])
    finally:
        router.close()
        logs.configure(stderr=False)
    return log
