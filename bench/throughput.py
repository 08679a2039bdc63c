"""Throughput of the CPU tier: RapidOCR alone against ``docroute batch`` (local and on Ray), interleaved.

    python bench/throughput.py [-n 50] [--rounds 2] [--jobs J] [--policy cpu] [--no-ray]
                               [--sroie /work/shared/sroie-dev] [--docs-dev /work/shared/docs-dev]

Two sets: the first N sroie-dev scans and the first N docs-dev receipt photos (``kind:
receipt-photo`` in its labels). Per set and round, three contenders, their order turned each round
so that a load on the machine hurts them alike:

- **raw**: RapidOCR alone, one process per core (``--jobs``, default the cores), one onnxruntime
  thread each, its models loaded and one page read before the clock starts, on the pages as
  docroute hands them to the tier (``router.api.inputs.load_document`` with the policy's limits,
  decoded before the clock starts); each process reads its share (every J-th document);
- **batch**: ``docroute batch`` with the policy, the whole command timed, cold (interpreter, imports,
  the workers' warm-up and the first document included); its batch loop alone from
  ``--summary-json`` beside it;
- **ray**: ``docroute batch --engine ray`` on a local cluster started by the command (cluster start
  included), when Ray is installed and ``--no-ray`` is not given.

Prints one row per run, then per set the median rate of each contender and its ratio to raw, with
the load average before and after: on a shared machine the rates are noisy, so say the load with them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench.common import table  # noqa: E402

_PAGES: list[Any] = []  # the pages one raw process reads, decoded before the clock starts


def _decode(paths: list[str], policy: str) -> int:
    """In a raw process: decode its documents as docroute does, build the engine, read one page."""
    from backends.ocr.rapid import read_rapidocr
    from router.api.inputs import load_document
    from router.policy.model import load_policy

    limits = load_policy(policy).limits
    _PAGES[:] = [page for path in paths for page in load_document(Path(path), limits).pages]
    read_rapidocr(_PAGES[0])  # models loaded, first-run costs paid
    return len(_PAGES)


def _read_all() -> int:
    from backends.ocr.rapid import read_rapidocr

    for page in _PAGES:
        read_rapidocr(page)
    return len(_PAGES)


def raw(paths: list[Path], jobs: int, policy: str) -> float:
    """Seconds RapidOCR alone takes for ``paths`` in ``jobs`` processes, each reading its share."""
    pools = [ProcessPoolExecutor(1) for _ in range(jobs)]
    try:
        shares = [[str(p) for p in paths[i::jobs]] for i in range(jobs)]
        decoded = [pool.submit(_decode, share, policy) for pool, share in zip(pools, shares, strict=True) if share]
        for future in decoded:
            future.result()
        started = time.perf_counter()
        reads = [pool.submit(_read_all) for pool, share in zip(pools, shares, strict=True) if share]
        for future in reads:
            future.result()
        return time.perf_counter() - started
    finally:
        for pool in pools:
            pool.shutdown()


def batch(folder: Path, policy: str, work: Path, *, ray: bool) -> tuple[float, float | None]:
    """(whole command's seconds, batch loop's seconds) of ``docroute batch`` on ``folder``, cold."""
    out = work / ("ray-out" if ray else "out.jsonl")
    summary = work / "summary.json"
    for stale in (out, summary):
        subprocess.run(["rm", "-rf", str(stale)], check=True)
    args = [sys.executable, "-m", "router", "batch", str(folder), "--out", str(out), "--policy", policy]
    args += ["--progress", "none", "--summary-json", str(summary)] + (["--engine", "ray"] if ray else [])
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    started = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):  # 1: some document failed, which is the tier's answer, not the bench's
        command = "docroute batch --engine ray" if ray else "docroute batch"
        raise SystemExit(f"{command} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    loop = json.loads(summary.read_text()).get("elapsed_s") if summary.exists() else None
    return elapsed, loop


def sets(args: argparse.Namespace) -> dict[str, list[Path]]:
    from router.evaluation import load_labels

    scans = [label.image for label in load_labels(args.sroie, limit=args.n)]
    photos = [json.loads(line) for line in (args.docs_dev / "labels.jsonl").read_text().splitlines() if line.strip()]
    photos = [args.docs_dev / row["image"] for row in photos if row.get("kind") == "receipt-photo"][: args.n]
    return {"sroie-dev scans": scans, "docs-dev photos": photos}


def folder_of(paths: list[Path], root: Path) -> Path:
    """A folder holding exactly ``paths`` (links), for ``docroute batch FOLDER``."""
    root.mkdir(parents=True)
    for index, path in enumerate(paths):
        (root / f"{index:04d}{path.suffix.lower()}").symlink_to(path.resolve())
    return root


def contenders(ray: bool) -> list[str]:
    return ["raw", "batch", "ray"] if ray else ["raw", "batch"]


def has_ray() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> None:
    from router.policy.model import machine_cores

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=50, help="Documents per set.")
    parser.add_argument("--rounds", type=int, default=2, help="Interleaved rounds per set.")
    parser.add_argument("--jobs", type=int, default=machine_cores(), help="Raw processes (default: the cores).")
    parser.add_argument("--policy", default="cpu")
    parser.add_argument("--no-ray", action="store_true", help="Leave out docroute batch --engine ray.")
    parser.add_argument("--sroie", type=Path, default=Path("/work/shared/sroie-dev"))
    parser.add_argument("--docs-dev", type=Path, default=Path("/work/shared/docs-dev"))
    args = parser.parse_args()
    ray = has_ray() and not args.no_ray
    load_before = os.getloadavg()
    rows, rates = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for index, (name, paths) in enumerate(sets(args).items()):
            folder = folder_of(paths, Path(tmp) / f"set{index}")
            for round_ in range(args.rounds):
                order = contenders(ray)
                order = order[round_ % len(order) :] + order[: round_ % len(order)]
                for who in order:
                    loop = None
                    if who == "raw":
                        seconds = raw(paths, args.jobs, args.policy)
                    else:
                        seconds, loop = batch(folder, args.policy, Path(tmp), ray=who == "ray")
                    rates.setdefault((name, who), []).append(len(paths) / seconds)
                    loop_rate = len(paths) / loop if loop else None
                    rows.append((name, round_ + 1, who, len(paths), seconds, len(paths) / seconds, loop_rate))
                    print(f"{name} round {round_ + 1} {who}: {len(paths) / seconds:.3f} docs/s", flush=True)
    load_after = os.getloadavg()
    header = ("set", "round", "contender", "docs", "s", "docs/s", "loop docs/s")
    table(f"runs ({args.jobs} raw processes, policy {args.policy})", header, rows)
    summary = []
    for name in {name for name, _ in rates}:
        base = statistics.median(rates[(name, "raw")])
        for who in contenders(ray):
            median = statistics.median(rates[(name, who)])
            summary.append((name, who, median, median / base))
    table("medians: docs/s and against raw", ("set", "contender", "docs/s", "vs raw"), sorted(summary))
    loads = " / ".join(f"{a:.2f} -> {b:.2f}" for a, b in zip(load_before, load_after, strict=True))
    print(f"\nload average (1 / 5 / 15 min), before -> after: {loads}; {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
