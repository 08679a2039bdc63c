"""Batch throughput: ``docroute batch`` with the cpu policy against plain Tesseract on the same images.

Plain Tesseract is the floor any OCR-based batch stands on: ``tesseract IMG stdout --psm 6`` with
``OMP_THREAD_LIMIT=1``, as many at once as there are cores. docroute adds reading and checking each
input, the rules, the routing, the JSONL output; the target is at least 0.95 of plain Tesseract's rate.

    python bench/batch_throughput.py [FOLDER] [--limit N] [--rounds R] [--jobs J]

Prints one row per run and the ratios. ``docroute`` is timed twice: the whole command (process start,
imports and router set-up included) and the batch loop alone (from its ``--summary-json``). Plain
Tesseract is timed twice too: on the original images (the baseline a user would run), and on the
pages as the OCR tier hands them to Tesseract (pages longer than ``ocr.max_side_px`` reduced by the
same integer factor, prepared before timing): the second isolates what docroute itself costs.
Rounds alternate the contenders so that a load on the machine hurts them alike.
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


def same_pixels(images: list[Path], folder: Path) -> list[Path]:
    """The pages as the OCR tier reads them: reduced like ``backends.ocr.engine`` does, written losslessly."""
    from PIL import Image

    from backends.ocr.engine import reduction
    from backends.options import OcrOptions

    limit = OcrOptions().max_side_px
    pages = []
    for path in images:
        with Image.open(path) as image:
            factor = reduction(image.size, limit)
            if factor == 1:
                pages.append(path)
                continue
            page = folder / f"{path.stem}.png"
            image.convert("RGB").reduce(factor).save(page, compress_level=1)
            pages.append(page)
    return pages


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
        folder, reduced = Path(tmp) / "docs", Path(tmp) / "reduced"
        folder.mkdir()
        reduced.mkdir()
        for image in images:  # the same images for both, in a folder of their own
            (folder / image.name).symlink_to(image.resolve())
        pages = same_pixels(images, reduced)
        rows = []
        for round_ in range(1, args.rounds + 1):
            plain = tesseract_rate(images, args.tesseract_jobs)
            whole, loop = docroute_rates(folder, len(images), args.jobs, args.policy)
            same = tesseract_rate(pages, args.tesseract_jobs)
            rows.append((plain, same, whole, loop))
            print(
                f"round {round_}: tesseract {plain:.3f} (same pixels {same:.3f})  "
                f"docroute {whole:.3f} (loop {loop:.3f}) docs/s",
                flush=True,
            )
    plain, same, whole, loop = (statistics.median(column) for column in zip(*rows, strict=True))
    reduced_count = sum(1 for page in pages if page.parent == reduced)
    print()
    print(f"{len(images)} images from {args.folder} ({reduced_count} reduced by the OCR tier), {os.cpu_count()} cores")
    print(f"median of {args.rounds} round(s); ratio: docroute / plain tesseract")
    print(f"{'contender':<60} {'docs/s':>8} {'ratio':>7} {'vs same px':>10}")
    tess = f"tesseract --psm 6, OMP_THREAD_LIMIT=1, x{args.tesseract_jobs}"
    print(f"{tess + ', original images':<60} {plain:>8.3f} {1:>7.3f} {'':>10}")
    print(f"{tess + ', same pixels':<60} {same:>8.3f} {'':>7} {1:>10.3f}")
    for label, rate in (("whole command", whole), ("batch loop", loop)):
        name = f"docroute batch --policy {args.policy} ({label})"
        print(f"{name:<60} {rate:>8.3f} {rate / plain:>7.3f} {rate / same:>10.3f}")


if __name__ == "__main__":
    main()
