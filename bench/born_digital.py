"""Born-digital PDFs and e-invoices with the cpu policy: whole requests, from bytes to result.

    PYTHONPATH=src python bench/born_digital.py [--n 50] [--pdf FILE ...]

Documents: a one-page invoice with a text layer (read from it, never rendered), the same invoice
with its Factur-X XML embedded (answered by the einvoice tier), and the same page as a scan (an
image-only PDF, rendered at 200 dpi and OCR'd: what every PDF cost before). ``--pdf`` adds real
files, each timed on its own, then all of them together. The breaker is set out of reach, so that
documents the rules cannot answer do not take the tier out (it is the speed that is measured).
Target: a born-digital one-page PDF answered in under 100 ms p50.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

INVOICE = [
    "Eisenwaren Huber GmbH",
    "Marienplatz 1, 80331 München",
    "Rechnung Nr. RE-2024-0815",
    "Rechnungsdatum: 14.03.2024",
    *[(f"Artikel {n:02d} Schrauben M{n}", f"{n * 3.15:.2f}") for n in range(1, 16)],
    ("Nettobetrag", "377.55"),
    ("MwSt 19%", "71.73"),
    ("TOTAL EUR", "449.28"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50, help="requests per text-layer document")
    parser.add_argument("--scans", type=int, default=5, help="requests for the scanned copy (seconds each)")
    parser.add_argument("--pdf", type=Path, nargs="*", default=[], help="real PDFs to time as well")
    args = parser.parse_args()

    from common import summary, table

    from backends.testing.synthetic_pdf import factur_x_xml, scanned_pdf, text_pdf
    from router import Router
    from router.api.inputs import load_document
    from router.policy.model import InputLimits, load_policy, policy_from_dict

    born = text_pdf([INVOICE])
    xml = factur_x_xml("Eisenwaren Huber GmbH", "20240314", "449.28")
    documents: list[tuple[str, bytes, int]] = [
        ("one-page invoice, text layer", born, args.n),
        ("the same with Factur-X XML", text_pdf([INVOICE], attachments={"factur-x.xml": xml}), args.n),
    ]
    page = load_document(born, InputLimits(), name="born.pdf").pages[0]
    documents.append(("the same page scanned (200 dpi)", scanned_pdf([page]), args.scans))
    documents += [(path.name, path.read_bytes(), args.n) for path in args.pdf]

    cpu = load_policy("cpu").model_dump(mode="json")
    for tier in cpu["tiers"]:
        tier["breaker"]["failure_threshold"] = 1_000_000
    rows, pooled = [], []
    with Router(policy_from_dict(cpu)) as router:
        router.extract(born, name="warm-up.pdf")
        for label, data, count in documents:
            times, result = [], None
            for _ in range(count):
                started = time.perf_counter()
                result = router.extract(data, name="bench.pdf")
                times.append((time.perf_counter() - started) * 1000)
            assert result is not None
            stats = summary(times)
            sources = ",".join(result.meta.get("page_sources", [])) or "-"
            rows.append((label, result.tier or result.status, sources, stats["median"], stats["p90"], stats["n"]))
            if label in {path.name for path in args.pdf}:
                pooled += times
    if pooled:
        stats = summary(pooled)
        rows.append((f"all {len(args.pdf)} --pdf files", "", "", stats["median"], stats["p90"], stats["n"]))
    table(
        "Born-digital PDFs, cpu policy, whole request (ms)",
        ["document", "answered by", "pages read from", "p50", "p90", "n"],
        rows,
    )


if __name__ == "__main__":
    main()
