"""The service's memory under large uploads: 8 clients sending 44 MiB, 35-megapixel scans.

    PYTHONPATH=src python bench/service_memory.py [--clients 8] [--duration 30] [--parallel 2 8]

A real ``docroute serve --policy cpu`` per row, once with each ``--max-parallel`` given (the default
is the policy's worker slots: 2 for the cpu policy). Every client uploads the same kind of page, a
rendered receipt scaled to 4,200 x 8,400 pixels with scanner grain (so it neither compresses nor
decodes cheaply), each upload with its own PNG text chunk so that its sha256 is new. The service's
peak RSS is the kernel's high-water mark (``VmHWM``), so no spike falls between two samples.

What it shows: an upload is only read, decoded and held while its request has a slot, so the peak
grows with ``--max-parallel``, not with the clients or ``--max-in-flight``; the rest wait as
spooled files on disk. Prints one row per setting.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from service_load import Service

ROOT = Path(__file__).resolve().parents[1]
SIZE = (4200, 8400)  # 35.3 MP, under the default max_pixels (40 MP)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load per setting")
    parser.add_argument("--parallel", type=int, nargs="+", default=[2, 8], help="--max-parallel values to run")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    upload = large_scan()
    rows = [run(parallel, args.clients, args.duration, upload) for parallel in args.parallel]
    if args.json:
        print(json.dumps(rows))
        return
    from common import table

    print(f"upload: {len(upload) / 2**20:.1f} MiB PNG, {SIZE[0]} x {SIZE[1]} px ({SIZE[0] * SIZE[1] / 1e6:.1f} MP)")
    header = ("max_parallel", "clients", "requests", "codes", "p50 ms", "RSS idle", "RSS peak", "peak - idle")
    table(
        "docroute serve --policy cpu under large uploads (MiB)",
        header,
        [
            (
                r["max_parallel"],
                r["clients"],
                r["requests"],
                " ".join(f"{c}:{n}" for c, n in r["codes"].items()),
                r["p50_ms"],
                r["rss_idle_mb"],
                r["rss_peak_mb"],
                round(r["rss_peak_mb"] - r["rss_idle_mb"], 1),
            )
            for r in rows
        ],
    )


def large_scan(seed: int = 7) -> bytes:
    """A receipt as a 600-dpi colour scan would give it: large, grainy, 44 MiB as PNG."""
    import numpy as np
    from PIL import Image

    from backends.testing.synthetic import random_receipt, render_receipt

    receipt = render_receipt(random_receipt(random.Random(seed), degrade=False)).convert("RGB")
    page = np.asarray(receipt.resize(SIZE, Image.Resampling.BICUBIC), dtype=np.int16)
    grain = np.random.default_rng(seed).integers(-3, 4, size=page.shape, dtype=np.int16)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(page + grain, 0, 255).astype(np.uint8)).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def run(parallel: int, clients: int, duration: float, upload: bytes) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="docroute-memory-") as work:
        service = Service(
            ROOT / "policies" / "cpu.yaml", Path(work) / "events.jsonl", ["--max-parallel", str(parallel)]
        )
        try:
            idle = _status_mb(service.process.pid, "VmRSS")
            codes, latency = _load(service.base, clients, duration, upload)
            peak = _status_mb(service.process.pid, "VmHWM")
        finally:
            service.stop()
    latency.sort()
    return {
        "max_parallel": parallel,
        "clients": clients,
        "requests": sum(codes.values()),
        "codes": dict(sorted(codes.items())),
        "p50_ms": round(latency[len(latency) // 2]) if latency else None,
        "rss_idle_mb": idle,
        "rss_peak_mb": peak,
    }


def _load(base: str, clients: int, duration: float, upload: bytes) -> tuple[Counter[int], list[float]]:
    import httpx

    from router.drill.documents import with_text_chunk

    codes: Counter[int] = Counter()
    latency: list[float] = []
    lock, stop = threading.Lock(), threading.Event()

    def client(number: int) -> None:
        sent = 0
        with httpx.Client(base_url=base, timeout=600) as http:
            while not stop.is_set():
                body = with_text_chunk(upload, f"client {number} upload {sent}")  # a new sha256
                sent += 1
                started = time.perf_counter()
                response = http.post("/v1/extract", files={"file": ("scan.png", body)})
                with lock:
                    codes[response.status_code] += 1
                    latency.append((time.perf_counter() - started) * 1000)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(duration)
    stop.set()
    for thread in threads:
        thread.join()
    return codes, latency


def _status_mb(pid: int, key: str) -> float:
    """A size from ``/proc/PID/status`` (``VmRSS`` now, ``VmHWM`` its peak so far) in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise KeyError(key)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    main()
