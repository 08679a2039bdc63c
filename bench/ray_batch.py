"""Ray's cost on one machine: ``docroute batch`` against ``--engine ray`` on a local (and a simulated
multi-node) cluster, same documents, same policy.

    PYTHONPATH=src python bench/ray_batch.py [--docs N] [--slow-ms MS] [--routers R] [--nodes K]

The policy is one inline ``faulty`` tier answering after ``--slow-ms`` (default 20 ms): no model,
no OCR, so the table shows what the engine adds, not what a tier costs. Rows: the local batch
(router set-up excluded), the Ray batch on a cold local cluster (its start-up shown apart), the
same again with the cluster up (actors still start per run), and with ``--nodes K`` the same on a
simulated K-node cluster (``ray.cluster_utils.Cluster``, all on this machine). "after 1st batch"
leaves the actors' start-up out: the rate once results flow.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH", "")) if p)

from bench.common import table  # noqa: E402


def policy(slow_ms: float, workers: int):  # type: ignore[no-untyped-def]
    from router.policy.model import policy_from_dict

    backend = {"kind": "faulty", "cuda": "off", "faults": {"slow": 1.0}, "slow_s": slow_ms / 1000}
    tier = {"name": "inline", "backend": backend, "isolation": "inline", "workers": workers}
    return policy_from_dict({"name": "bench-ray", "tiers": [tier]})


def documents(folder: Path, count: int) -> list[Path]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / f"doc{index:05d}.png"
        Image.new("RGB", (64, 48), (index % 256, index // 256 % 256, 9)).save(path)
        paths.append(path)
    return paths


def local_rate(paths: list[Path], out: Path, chain, workers: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    from router.api.router import Router
    from router.batch import BatchSettings, ResultSink, run_batch

    with Router(chain, log_stderr=False) as router, ResultSink(out) as sink:
        summary = run_batch(router, paths, sink, BatchSettings(jobs=workers))
    return summary.processed / summary.elapsed_s, summary.elapsed_s


class Stamps:
    """A progress display that notes when each result reached the driver."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def skipped(self, count: int) -> None:
        pass

    def advance(self, status: str) -> None:
        self.times.append(time.perf_counter())

    def close(self) -> None:
        pass


def ray_rate(paths: list[Path], out: Path, chain, routers: int) -> tuple[float, float, float]:  # type: ignore[no-untyped-def]
    """Documents per second over the whole run, its seconds, and the rate once the first batch is back
    (the actors' start-up left out)."""
    from router.scale.batch import ClusterSettings, run_cluster_batch

    stamps = Stamps()
    summary = run_cluster_batch(paths, out, chain, ClusterSettings(routers=routers), progress=stamps)
    first = stamps.times.count(stamps.times[0])
    steady = (len(stamps.times) - first) / (stamps.times[-1] - stamps.times[0])
    return summary.processed / summary.elapsed_s, summary.elapsed_s, steady


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=400)
    parser.add_argument("--slow-ms", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=4, help="slots of the tier (per router)")
    parser.add_argument("--routers", type=int, default=1)
    parser.add_argument("--nodes", type=int, default=0, help="also run on a simulated cluster of this many nodes")
    args = parser.parse_args()

    import ray

    from router.observe import logs

    logs.configure(stderr=False)
    chain = policy(args.slow_ms, args.workers)
    rows = []
    with tempfile.TemporaryDirectory(prefix="rb") as tmp:
        base = Path(tmp)
        paths = documents(base / "docs", args.docs)
        rate, elapsed = local_rate(paths, base / "local.jsonl", chain, args.workers)
        rows.append(["docroute batch (local)", 1, f"{rate:.1f}", f"{elapsed:.2f}", "-", "-", "1.00"])
        (base / "ray").mkdir()
        started = time.perf_counter()
        ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False, _temp_dir=str(base / "ray"))
        startup = time.perf_counter() - started
        try:
            for label, out in (("--engine ray, cold", "r1"), ("--engine ray, cluster up", "r2")):
                ray_docs, ray_elapsed, steady = ray_rate(paths, base / out, chain, args.routers)
                extra = f"{startup:.2f}" if out == "r1" else "-"
                cells = [f"{ray_docs:.1f}", f"{ray_elapsed:.2f}", f"{steady:.1f}", extra, f"{steady / rate:.2f}"]
                rows.append([label, args.routers, *cells])
        finally:
            ray.shutdown()
        if args.nodes:
            rows.append(_multi_node(paths, base, chain, args, rate))
    table(
        f"{args.docs} documents, an inline tier answering in {args.slow_ms:.0f} ms, {args.workers} slots per router",
        ["engine", "routers", "docs/s", "run s", "docs/s after 1st batch", "cluster start s", "steady vs local"],
        rows,
    )


def _multi_node(paths: list[Path], base: Path, chain, args, local: float) -> list[object]:  # type: ignore[no-untyped-def]
    import ray
    from ray.cluster_utils import Cluster

    os.environ["RAY_TMPDIR"] = str(base)  # where a simulated cluster notes its address (ray/ made above)
    node = {"node_ip_address": "127.0.0.1", "temp_dir": str(base / "ray"), "include_dashboard": False}
    started = time.perf_counter()
    cluster = Cluster(initialize_head=True, head_node_args={**node, "num_cpus": 2})
    try:
        for _ in range(args.nodes - 1):
            cluster.add_node(**node, num_cpus=2)
        ray.init(address=cluster.address, log_to_driver=False)
        startup = time.perf_counter() - started
        rate, elapsed, steady = ray_rate(paths, base / "r3", chain, args.routers * args.nodes)
        return [f"--engine ray, {args.nodes} simulated nodes", args.routers * args.nodes, f"{rate:.1f}",
                f"{elapsed:.2f}", f"{steady:.1f}", f"{startup:.2f}", f"{steady / local:.2f}"]  # fmt: skip
    finally:
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main()
