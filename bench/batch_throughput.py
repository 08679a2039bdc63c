"""Batch throughput: ``docroute batch`` with the cpu policy against plain Tesseract on the same images.

Plain Tesseract is the floor any OCR-based batch stands on: ``tesseract IMG stdout --psm 6`` with
``OMP_THREAD_LIMIT=1``, as many at once as there are cores. docroute adds reading and checking each
input, the rules, the routing, the JSONL output; the target is at least 0.95 of plain Tesseract's rate.

    python bench/batch_throughput.py [FOLDER] [--limit N] [--rounds R] [--jobs J]

Prints one row per run and the ratios. ``docroute`` is timed twice: the whole command (process start,
imports and router set-up included) and the batch loop alone (from its ``--summary-json``). Rounds
alternate the two contenders so that a load on the machine hurts both alike.
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff"}


def tesseract_rate(images: list[Path], jobs: int) -> float:
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}

    def one(path: Path) -> None:
        subprocess.run(["tesseract", str(path), "stdout", "--psm", "6"], env=env, capture_output=True, check=True)

    started = time.perf_counter()
    with ThreadPoolExecutor(jobs) as pool:
        list(pool.map(one, images))
    return len(images) / (time.perf_counter() - started)


def docroute_rates(folder: Path, count: int, jobs: int | None, policy: str) -> tuple[float, float]:
    """(whole command, batch loop alone) in documents per second."""
    with tempfile.TemporaryDirectory() as tmp:
        out, summary = Path(tmp) / "out.jsonl", Path(tmp) / "summary.json"
        args = [sys.executable, "-m", "router", "batch", str(folder), "--out", str(out), "--policy", policy]
        args += ["--progress", "none", "--summary-json", str(summary)] + (["--jobs", str(jobs)] if jobs else [])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
        started = time.perf_counter()
        done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        if done.returncode not in (0, 1):
            raise SystemExit(f"docroute batch failed ({done.returncode}):\n{done.stderr[-2000:]}")
        data = json.loads(summary.read_text())
        assert data["processed"] == count, data
        return count / wall, count / data["elapsed_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", nargs="?", default="/work/shared/sroie-dev/images", type=Path)
    parser.add_argument("--limit", type=int, default=None, help="Only the first N images (sorted by name).")
    parser.add_argument("--rounds", type=int, default=1, help="Alternating rounds of both contenders.")
    parser.add_argument("--jobs", type=int, default=None, help="docroute --jobs (default: the policy's).")
    parser.add_argument("--tesseract-jobs", type=int, default=os.cpu_count() or 2, help="Tesseracts at once.")
    parser.add_argument("--policy", default="cpu")
    args = parser.parse_args()

    images = sorted(p for p in args.folder.iterdir() if p.suffix.lower() in SUFFIXES)[: args.limit]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for image in images:  # the same images for both, in a folder of their own
            (folder / image.name).symlink_to(image.resolve())
        rows = []
        for round_ in range(1, args.rounds + 1):
            plain = tesseract_rate(images, args.tesseract_jobs)
            whole, loop = docroute_rates(folder, len(images), args.jobs, args.policy)
            rows.append((plain, whole, loop))
            print(f"round {round_}: tesseract {plain:.3f}  docroute {whole:.3f} (loop {loop:.3f}) docs/s", flush=True)
    plain, whole, loop = (statistics.median(column) for column in zip(*rows, strict=True))
    print()
    print(f"{len(images)} images from {args.folder}, {os.cpu_count()} cores, median of {args.rounds} round(s)")
    print(f"{'contender':<44} {'docs/s':>8} {'ratio':>7}")
    print(f"{'tesseract --psm 6, OMP_THREAD_LIMIT=1, x' + str(args.tesseract_jobs):<44} {plain:>8.3f} {1:>7.3f}")
    print(f"{'docroute batch --policy ' + args.policy + ' (whole command)':<44} {whole:>8.3f} {whole / plain:>7.3f}")
    print(f"{'docroute batch --policy ' + args.policy + ' (batch loop)':<44} {loop:>8.3f} {loop / plain:>7.3f}")


if __name__ == "__main__":
    main()
