"""OCR engines side by side: each engine's raw rate, the OCR + rules tier's batch rate on it, and
the accuracy it buys, on the same labelled documents.

    python bench/ocr_engines.py [DATASET] [--limit N] [--jobs J] [--engines tesseract,rapidocr]

DATASET is a folder with ``labels.jsonl`` (sroie-dev, docs-dev). For each engine:
- raw: the engine alone on the documents' pages (Tesseract ``--psm 6`` as a subprocess, or RapidOCR
  in-process), J documents at once in J processes, threads pinned to one per engine run;
- batch: ``docroute eval`` with the cpu policy's tier switched to that engine (breaker held open
  so that every document is read), J at once; its rate counts the whole loop (reading inputs,
  orientation checks, enlargement, rules, routing, JSONL) and its accuracy is normalised as
  ``docroute eval`` scores it.
Prints one table: documents/s raw and in batch, their ratio, and merchant / date / total accuracy.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench.common import table  # noqa: E402


def raw_one(job: tuple[str, str]) -> int:
    """One document's pages through the engine alone; returns the pages read."""
    from backends.ocr.engine import run_tesseract
    from backends.options import OcrOptions
    from router.api.inputs import load_document
    from router.policy.model import InputLimits

    path, engine = job
    document = load_document(Path(path), InputLimits())
    for page in document.pages:
        if engine == "rapidocr":
            from backends.ocr.rapid import read_rapidocr

            read_rapidocr(page)
        else:
            run_tesseract(page, OcrOptions())
    return len(document.pages)


def raw_rate(paths: list[str], engine: str, jobs: int) -> float:
    with ProcessPoolExecutor(jobs) as pool:
        list(pool.map(raw_one, [(paths[0], engine)] * jobs))  # models loaded, caches warm
        started = time.perf_counter()
        list(pool.map(raw_one, [(path, engine) for path in paths]))
    return len(paths) / (time.perf_counter() - started)


def policy_for(engine: str, folder: Path, isolation: str | None = None) -> Path:
    """The cpu policy with its OCR tier on ``engine`` and a breaker that never opens."""
    import yaml

    data = yaml.safe_load((ROOT / "policies" / "cpu.yaml").read_text())
    data["deadline_s"] = 600
    for tier in data["tiers"]:
        if tier["backend"]["kind"] == "ocr_rules":
            tier["backend"]["ocr"] = {**tier["backend"].get("ocr", {}), "engine": engine}
            tier["breaker"] = {"failure_threshold": 100000, "cooldown_s": 1}
            tier["timeout_s"] = 300
            if isolation:
                tier["isolation"] = isolation
    path = folder / f"cpu-{engine}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def batch(
    dataset: Path, engine: str, jobs: int, limit: int | None, folder: Path, isolation: str | None = None
) -> tuple[float, dict[str, float]]:
    """(documents per second of the batch loop, normalised accuracy per field) of ``docroute eval``."""
    out = folder / f"eval-{engine}"
    args = [
        sys.executable,
        "-m",
        "router",
        "eval",
        str(dataset),
        "--policy",
        str(policy_for(engine, folder, isolation)),
    ]
    args += ["--out", str(out), "--jobs", str(jobs), "--progress", "none", "--no-ceiling"]
    args += ["--limit", str(limit)] if limit else []
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"docroute eval failed ({done.returncode}):\n{done.stderr[-2000:]}")
    scores = json.loads((out / "scores.json").read_text())
    overall = scores["groups"]["(all)"]
    rate = overall["documents"] / scores["context"]["elapsed_s"]
    return rate, {name: field["normalised"] for name, field in overall["fields"].items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", nargs="?", default="/work/shared/sroie-dev", type=Path)
    parser.add_argument("--limit", type=int, default=None, help="Only the first N labelled documents.")
    parser.add_argument("--jobs", type=int, default=2, help="Documents at once (raw and batch alike).")
    parser.add_argument("--engines", default="tesseract,rapidocr")
    parser.add_argument("--isolation", choices=("inline", "process"), default=None, help="Override the tier's.")
    args = parser.parse_args()

    from router.evaluation import load_labels

    paths = [str(label.image) for label in load_labels(args.dataset, limit=args.limit)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for engine in args.engines.split(","):
            raw = raw_rate(paths, engine, args.jobs)
            rate, accuracy = batch(args.dataset, engine, args.jobs, args.limit, Path(tmp), args.isolation)
            cells = [accuracy.get(name) for name in ("merchant", "date", "total")]
            rows.append((engine, len(paths), raw, rate, rate / raw, *cells))
            print(f"{engine}: raw {raw:.3f} docs/s, batch {rate:.3f} docs/s", flush=True)
    header = ("engine", "docs", "raw docs/s", "batch docs/s", "batch/raw", "merchant", "date", "total")
    table(f"{args.dataset} with {args.jobs} at once, {os.cpu_count()} cores (accuracy normalised)", header, rows)


if __name__ == "__main__":
    main()
