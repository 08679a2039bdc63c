"""The latency a worker process adds to a request, versus calling the same backend in-process.

    PYTHONPATH=src python bench/worker_overhead.py [--n 300]

Both paths run the faulty backend without faults (it answers at once), so the difference is the
worker's own cost: packing pages into shared memory, the pipe round trip, rebuilding the pages in
the child, and sending the answer back as plain data. Target: under 1 ms median.
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="requests per size")
    args = parser.parse_args()

    from common import RECEIPT, document, page, summary, table

    from backends.options import FaultyOptions
    from backends.testing.faulty import FaultyBackend
    from router.observe import logs
    from router.policy.model import policy_from_dict
    from router.workers import WorkerPool

    logs.configure(stderr=False)
    policy = policy_from_dict({"tiers": [{"name": "bench", "backend": {"kind": "faulty", "cuda": "off"}}]})
    inline = FaultyBackend(FaultyOptions(cuda="off"))
    inline.load()
    pool = WorkerPool(policy.tiers[0])
    pool.start()
    while pool.state().value != "ready":
        time.sleep(0.01)
    rows = []
    try:
        for label, size in (
            ("small page 500x700", (500, 700)),
            ("receipt 1000x1350", RECEIPT),
            ("large 2000x2800", (2000, 2800)),
        ):
            doc = document(page(size))
            in_process, worker = [], []
            for i in range(args.n + 10):
                started = time.perf_counter()
                inline.extract(doc)
                middle = time.perf_counter()
                pool.run(doc, timeout_s=10, request_id=f"r{i}")
                ended = time.perf_counter()
                if i >= 10:  # warm-up
                    in_process.append((middle - started) * 1000)
                    worker.append((ended - middle) * 1000)
            a, b = summary(in_process), summary(worker)
            rows.append((label, a["median"], b["median"], b["median"] - a["median"], b["p90"] - a["p90"], b["n"]))
    finally:
        pool.close()
    table(
        "Worker overhead per request (ms): faulty backend, in-process vs in a worker process",
        ("document", "in-process", "worker", "added (median)", "added (p90)", "n"),
        rows,
    )


if __name__ == "__main__":
    main()
