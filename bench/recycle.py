"""Time until a recycled primary serves again, split into stop, spawn, imports, load and canary.

    PYTHONPATH=src python bench/recycle.py [--n 10] [--imports torch] [--cuda on]

Each round sends a poison document (a simulated sticky CUDA error) to a faulty tier in a worker,
then polls until that tier answers again. ``--imports`` makes the worker import modules at start-up
the way a model backend does (``torch`` costs seconds), so the split shows what a recycle of a real
tier costs. ``--cuda on`` (a GPU machine) makes the error a real device-side assert (an
out-of-range gather on the GPU) and has each new worker create its CUDA context at load, as a
model backend does. The split comes from the ``worker.recycled`` event each recycle logs.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

PARTS = ("duration_ms", "stop_ms", "spawn_ms", "import_ms", "load_ms", "canary_ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10, help="recycles measured")
    parser.add_argument("--imports", nargs="*", default=[], help="modules the worker imports at start-up")
    parser.add_argument("--cuda", choices=("off", "on"), default="off", help="on: real device-side asserts")
    args = parser.parse_args()

    from common import document, page, table
    from structlog.testing import capture_logs

    from router.api.router import Router
    from router.observe import logs
    from router.policy.model import policy_from_dict

    logs.configure(stderr=False)
    image = page()
    poison = [document(image, seed=1_000_000 + i) for i in range(args.n)]
    backend = {"kind": "faulty", "cuda": args.cuda, "imports": args.imports}
    backend["triggers"] = {d.sha256: "sticky_cuda" for d in poison}
    tier = {"name": "primary", "backend": backend, "preload": True, "stop_grace_s": 2, "quarantine_s": 0}
    tier["breaker"] = {"max_recycles": 10_000, "failure_threshold": 10_000}
    serving_again = []
    with capture_logs() as captured:
        router = Router(policy_from_dict({"name": "recycle", "tiers": [tier]}))
        try:
            for i, doc in enumerate(poison):
                _wait_until_ready(router)
                failed_at = time.perf_counter()
                router.engine.run(doc, f"poison-{i}")
                while router.engine.run(document(image, seed=i), f"good-{i}").tier != "primary":
                    time.sleep(0.005)
                serving_again.append((time.perf_counter() - failed_at) * 1000)
        finally:
            router.close()
    recycled = [e for e in captured if e["event"] == "worker.recycled"]
    rows = [("error -> primary answers again", *_stats(serving_again))]
    rows += [(part, *_stats([e[part] for e in recycled])) for part in PARTS]
    imports = ", ".join(args.imports) or "nothing extra"
    reasons = ", ".join(sorted({e["reason"] for e in recycled}))
    title = f"Recycle of a faulty worker (ms), worker imports: {imports}, cuda: {args.cuda}, reason: {reasons}"
    table(title, ("part", "median", "p90", "min", "n"), rows)


def _wait_until_ready(router: Any) -> None:
    while (tier := router.status()["primary"])["state"] != "ready":
        if tier["state"] == "unavailable":
            raise SystemExit(f"the tier cannot run here: {tier['unavailable']}")
        time.sleep(0.01)


def _stats(values: list[float]) -> tuple[float, float, float, int]:
    from common import summary

    s = summary(values)
    return s["median"], s["p90"], s["min"], int(s["n"])


if __name__ == "__main__":
    main()
