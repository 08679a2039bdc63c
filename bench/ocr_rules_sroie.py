"""Measure the OCR + rules tier on real receipts (SROIE dev subset): accuracy per field and time.

Usage (from the repository root)::

    PYTHONPATH=src python bench/ocr_rules_sroie.py [../shared/sroie-dev] [--workers 2] [--json]

Each receipt runs through the tier exactly as ``docroute`` runs it (image loaded by
``router.api.inputs``, Tesseract via ``backends.ocr.engine``, rules via ``OcrRulesBackend.read_page``, a
second reading when fields are missing), one receipt per process at a time, ``--workers``
processes in parallel.

Matching, per field:

* strict: the printed value the tier returns equals the label exactly (merchant as returned,
  ``date_raw``, ``total_raw``), after stripping outer whitespace;
* normalised: merchant names compared with ``normalize_text_for_match`` (accents folded,
  uppercase, punctuation dropped, whitespace collapsed); dates as ISO dates after
  ``normalize_date`` on the label (the tier returns ISO); totals as decimal numbers after
  ``parse_amount`` on the label (``RM9.00`` = ``9.00``).
* OCR ceiling: the share of receipts whose normalised label appears in Tesseract's own text (as
  a substring of the normalised text for the merchant, among every date or amount the text holds
  for the others). The difference to the normalised score is what the rules lose.

A receipt the tier refuses (too little text, a timeout) counts as a miss. ``--ocr-cache DIR``
keeps Tesseract's output between runs, to iterate on rules quickly; its timings are then not
Tesseract's and the table says so. Report numbers from a fresh run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

FIELDS = ("merchant", "date", "total")
DEFAULT_ROOT = Path(__file__).resolve().parents[1] / ".." / "shared" / "sroie-dev"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    root = Path(args.root).resolve()
    records = [json.loads(line) for line in (root / "labels.jsonl").read_text().splitlines() if line.strip()]
    records = records[: args.limit] if args.limit else records
    jobs = [(str(root), record, args.ocr_cache) for record in records]
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        results = list(pool.map(run_one, jobs, chunksize=1))
    wall = time.perf_counter() - started
    report = summarise(records, results, wall=wall, workers=args.workers, cached=bool(args.ocr_cache))
    print(json.dumps(report, indent=2) if args.json else render(report))
    if args.misses:
        _print_misses(records, results, args.misses)
    return 0


def run_one(job: tuple[str, dict[str, Any], str | None]) -> dict[str, Any]:
    """One receipt through the tier, in a worker process: fields, OCR text (for the ceiling), time.

    ``OcrRulesBackend.extract`` is ``ocr_document``, ``read_page`` and ``reread_if_incomplete``; the
    bench makes the same calls so that it keeps Tesseract's text (first reading) for the ceiling.
    """
    from backends.fields.ocr_rules import OcrRulesBackend
    from backends.ocr.engine import ocr_document
    from backends.options import OcrRulesOptions
    from router.api.inputs import load_document
    from router.policy.model import InputLimits

    root, record, cache = job
    backend = OcrRulesBackend(OcrRulesOptions())
    started = time.perf_counter()
    try:
        document = load_document(Path(root) / record["image"], InputLimits())
        if cache:
            page = _cached_ocr(document, backend, Path(cache) / f"{record['id']}.tsv")
        else:
            page = ocr_document(document, backend.options.ocr)
        extraction = backend.reread_if_incomplete(document, backend.read_page(page, pages=len(document.pages)))
        outcome: dict[str, Any] = {"fields": extraction.fields.model_dump(), "text": page.text, "error": None}
    except Exception as exc:  # a refused receipt is a measured miss, not a crash of the bench
        outcome = {"fields": None, "text": "", "error": f"{type(exc).__name__}: {exc}"}
    outcome["seconds"] = time.perf_counter() - started
    return outcome


def _cached_ocr(document: Any, backend: Any, path: Path) -> Any:
    from backends.ocr.engine import check_length, parse_tsv, reduction, run_tesseract

    options, page = backend.options.ocr, document.pages[0]
    factor = reduction(page.size, options.max_side_px)
    path = path.with_suffix(f".{options.psm}.{factor}.tsv")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(run_tesseract(page.reduce(factor) if factor > 1 else page, options))
    read = parse_tsv(path.read_text(), scale=factor)
    check_length(read, options)
    return read


def summarise(
    records: list[dict[str, Any]], results: list[dict[str, Any]], *, wall: float, workers: int, cached: bool
) -> dict[str, Any]:
    """Shares of strict, normalised and ceiling matches per field, failures and timings."""
    n = len(records)
    rows = {}
    for field in FIELDS:
        strict = sum(strict_match(field, r, res["fields"]) for r, res in zip(records, results, strict=True))
        normal = sum(normalised_match(field, r, res["fields"]) for r, res in zip(records, results, strict=True))
        ceiling = sum(in_ocr_text(field, r, res["text"]) for r, res in zip(records, results, strict=True))
        rows[field] = {"strict": strict / n, "normalised": normal / n, "ocr_ceiling": ceiling / n}
    seconds = [res["seconds"] for res in results]
    errors = [res["error"].split(":")[0] for res in results if res["error"]]
    return {
        "receipts": n,
        "workers": workers,
        "ocr_cached": cached,
        "fields": rows,
        "failures": {name: errors.count(name) for name in sorted(set(errors))},
        "seconds_per_receipt": {
            "wall": wall / n,
            "per_process_mean": statistics.fmean(seconds),
            "per_process_p50": statistics.median(seconds),
            "per_process_p95": sorted(seconds)[int(0.95 * (n - 1))],
        },
    }


def strict_match(field: str, record: dict[str, Any], fields: dict[str, Any] | None) -> bool:
    if not fields:
        return False
    printed = {"merchant": fields["merchant"], "date": fields["date_raw"], "total": fields["total_raw"]}[field]
    label = record[{"merchant": "company"}.get(field, field)]
    return printed is not None and printed.strip() == label.strip()


def normalised_match(field: str, record: dict[str, Any], fields: dict[str, Any] | None) -> bool:
    from backends.normalize import normalize_date, normalize_text_for_match, parse_amount

    if not fields or fields[field] is None:
        return False
    if field == "merchant":
        return normalize_text_for_match(fields["merchant"]) == normalize_text_for_match(record["company"])
    if field == "date":
        return fields["date"] == normalize_date(record["date"])
    return Decimal(fields["total"]) == parse_amount(record["total"])


def in_ocr_text(field: str, record: dict[str, Any], text: str) -> bool:
    from backends.normalize import find_amounts, find_dates, normalize_date, normalize_text_for_match, parse_amount

    if field == "merchant":
        return normalize_text_for_match(record["company"]) in normalize_text_for_match(text)
    if field == "date":
        return normalize_date(record["date"]) in {d.date.isoformat() for d in find_dates(text)}
    return parse_amount(record["total"]) in {a.value for a in find_amounts(text)}


def render(report: dict[str, Any]) -> str:
    source = "OCR from cache: times are NOT Tesseract's" if report["ocr_cached"] else "fresh OCR"
    lines = [
        f"OCR + rules tier on {report['receipts']} SROIE-dev receipts ({report['workers']} processes, {source})",
        "",
        f"{'field':<10}{'strict':>9}{'normalised':>12}{'OCR ceiling':>13}{'rule loss':>11}",
    ]
    for field, row in report["fields"].items():
        loss = row["ocr_ceiling"] - row["normalised"]
        lines.append(
            f"{field:<10}{row['strict']:>9.3f}{row['normalised']:>12.3f}{row['ocr_ceiling']:>13.3f}{loss:>11.3f}"
        )
    failures = ", ".join(f"{k} {v}" for k, v in report["failures"].items()) or "none"
    timing = report["seconds_per_receipt"]
    lines += [
        "",
        f"refused (counted as misses): {failures}",
        f"seconds per receipt: wall {timing['wall']:.3f} (all processes together); per process: "
        f"mean {timing['per_process_mean']:.3f}, p50 {timing['per_process_p50']:.3f}, "
        f"p95 {timing['per_process_p95']:.3f}",
    ]
    return "\n".join(lines)


def _print_misses(records: list[dict[str, Any]], results: list[dict[str, Any]], field: str) -> None:
    for record, result in zip(records, results, strict=True):
        if not normalised_match(field, record, result["fields"]):
            got = (result["fields"] or {}).get(field) if result["fields"] else result["error"]
            found = in_ocr_text(field, record, result["text"])
            label = record[{"merchant": "company"}.get(field, field)]
            print(f"{record['id']:<14} in_text={found!s:<5} label={label!r:<40} got={got!r}", file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", nargs="?", default=str(DEFAULT_ROOT), help="SROIE-dev folder (labels.jsonl, images/)")
    parser.add_argument("--workers", type=int, default=2, help="parallel processes (default 2)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--limit", type=int, default=0, help="only the first N receipts")
    parser.add_argument("--ocr-cache", default=None, help="keep/reuse Tesseract output here (rules iteration only)")
    parser.add_argument("--misses", choices=FIELDS, help="list the receipts this field misses (on stderr)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
