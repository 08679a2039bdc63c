"""Failover: a sticky CUDA error in tier 1 until the answer from tier 2, versus tier 2 alone.

    PYTHONPATH=src python bench/failover.py [--n 30]

Both tiers are faulty backends in worker processes; tier 1 raises a (simulated) device-side
assert for the poison documents. The recycle of tier 1's worker happens off the request's path,
so a failover should cost only tier 1's failed attempt: target within 20 ms of tier 2 alone.
Each round waits until tier 1 is ready again, so every poison request meets a live tier 1.
"""

from __future__ import annotations

import argparse
import time


def _tiers(poison_shas: list[str]) -> list[dict]:
    fast = {"stop_grace_s": 1, "timeout_s": 10, "preload": True}
    loop_off = {"max_recycles": 10_000, "failure_threshold": 10_000}
    first = {"kind": "faulty", "cuda": "off", "triggers": dict.fromkeys(poison_shas, "sticky_cuda")}
    return [
        {"name": "tier1", "backend": first, "breaker": loop_off, "quarantine_s": 0, **fast},
        {"name": "tier2", "backend": {"kind": "faulty", "cuda": "off"}, **fast},
    ]


def _ready(router, tier: str) -> None:
    while router.status()[tier]["state"] != "ready":
        time.sleep(0.005)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=30, help="failovers measured")
    args = parser.parse_args()

    from common import document, page, summary, table

    from router.api.router import Router
    from router.observe import logs
    from router.policy.model import policy_from_dict

    logs.configure(stderr=False)
    image = page()
    poison = [document(image, seed=1_000_000 + i) for i in range(args.n + 3)]
    good = [document(image, seed=i) for i in range(args.n + 3)]
    tiers = _tiers([d.sha256 for d in poison])
    both = Router(policy_from_dict({"name": "failover", "tiers": tiers}))
    alone = Router(policy_from_dict({"name": "alone", "tiers": tiers[1:]}))
    failover_ms, alone_ms, tier1_ms = [], [], []
    try:
        _ready(alone, "tier2")
        for i in range(args.n + 3):
            _ready(both, "tier1")
            _ready(both, "tier2")
            started = time.perf_counter()
            result = both.engine.run(poison[i], f"poison-{i}")
            elapsed = (time.perf_counter() - started) * 1000
            assert result.tier == "tier2" and result.attempts[0].error_class == "sticky_cuda", result
            started = time.perf_counter()
            direct = alone.engine.run(good[i], f"alone-{i}")
            direct_ms = (time.perf_counter() - started) * 1000
            assert direct.tier == "tier2"
            if i >= 3:  # warm-up
                failover_ms.append(elapsed)
                alone_ms.append(direct_ms)
                tier1_ms.append(result.attempts[0].duration_ms)
    finally:
        both.close()
        alone.close()
    f, a, t = summary(failover_ms), summary(alone_ms), summary(tier1_ms)
    d = summary([x - y for x, y in zip(failover_ms, alone_ms, strict=True)])  # paired by round
    table(
        "Failover (ms): receipt-sized page, sticky error in tier 1 -> answer from tier 2",
        ("path", "median", "p90", "min", "n"),
        [
            ("tier 2 alone", a["median"], a["p90"], a["min"], a["n"]),
            ("tier 1 sticky -> tier 2", f["median"], f["p90"], f["min"], f["n"]),
            ("  of which tier 1's failed attempt", t["median"], t["p90"], t["min"], t["n"]),
            ("difference, paired by round", d["median"], d["p90"], d["min"], d["n"]),
        ],
    )


if __name__ == "__main__":
    main()
