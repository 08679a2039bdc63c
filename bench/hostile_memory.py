"""Peak memory of each surface while hostile PDFs go by: one row per bomb and surface.

    PYTHONPATH=src:. python bench/hostile_memory.py [--mib 4096] [--reader-mb 256]

Each bomb is a few kilobytes written by ``tests.router.hostile_pdfs`` (no file from outside the
repository) that inflates to ``--mib`` MiB, or builds 10^9 objects, or asks 1.4 million character
judgements. ``extract`` and ``batch`` are a real ``docroute`` command per bomb, ``serve`` one real
service that gets every bomb in turn; each runs under a 2 GiB address-space limit (RLIMIT_AS, for
the whole process tree) with the faulty tier answering any page. Peak RSS is the surface's own
process's high-water mark (``VmHWM``: the PDF reader's helper is a child, and pays for the bomb);
for ``serve`` it is the service's after that request, so it only grows down the table. The outcome
is the result's status and error class (``serve``: the HTTP status and error code).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from tests.router import hostile_pdfs as hostile  # noqa: E402
from tests.router.service.test_service_process import free_port, wait_until_up  # noqa: E402
from tests.router.surfaces_kit import env, policy_file, tier  # noqa: E402

TREE_LIMIT = 2 * 2**30
_PEAK = (
    "import atexit, sys\n"
    "def peak():\n"
    "    kib = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM'))\n"
    "    print('peak_rss_mib', kib // 1024, file=sys.stderr)\n"
    "atexit.register(peak)\n"
    "from router.cli import main\n"
    "sys.argv = ['docroute', *sys.argv[1:]]\n"
    "main()\n"
)


def bombs(mib: int) -> dict[str, Callable[[], bytes]]:
    return {
        "content stream, Flate twice": lambda: hostile.content_bomb(mib),
        "embedded XML, indirect /Filter": lambda: hostile.attachment_bomb(mib),
        "content, ASCIIHex + Flate": lambda: hostile.hex_and_flate_bomb(mib),
        "inline image 20000 x 20000": lambda: hostile.inline_image_bomb(mib),
        "forms 10 wide, 9 deep": lambda: hostile.form_fanout(9),
        "text flood, 20 pages": lambda: hostile.text_flood(20),
    }


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (TREE_LIMIT, TREE_LIMIT))


def _outcome(result: dict) -> str:
    error = result.get("error") or {}
    return f"{result['status']} {error.get('error_class', '')}".strip()


def _cli(command: list[str]) -> tuple[int, str, float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", _PEAK, *command],
        capture_output=True,
        text=True,
        env=env(),
        timeout=300,
        preexec_fn=_limited,
        check=False,
    )
    peak = int(done.stderr.rsplit("peak_rss_mib", 1)[1].split()[0])
    return peak, done.stdout, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=4096, help="what each compression bomb inflates to")
    parser.add_argument("--reader-mb", type=int, default=256, help="limits.pdf_reader_memory_mb")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        policy = policy_file(work, tier("a"), limits={"pdf_reader_memory_mb": args.reader_mb})
        made = {}
        for n, (name, build) in enumerate(bombs(args.mib).items()):
            made[name] = work / f"bomb-{n}.pdf"
            made[name].write_bytes(build())
        for name, path in made.items():
            peak, out, seconds = _cli(["extract", "--policy", str(policy), str(path)])
            rows.append((name, "extract", peak, _outcome(json.loads(out)), seconds))
            output = work / f"batch-{path.stem}.jsonl"
            peak, _, seconds = _cli(["batch", str(path), "--out", str(output), "-p", str(policy)])
            rows.append((name, "batch", peak, _outcome(json.loads(output.read_text().splitlines()[0])), seconds))
        rows += _serve(made, policy)
    print("| bomb | surface | peak RSS MiB | limit | outcome | seconds |")
    print("|---|---|---|---|---|---|")
    limit = f"RLIMIT_AS {TREE_LIMIT // 2**20} MiB, reader {args.reader_mb} MiB"
    for name, surface, peak, outcome, seconds in rows:
        print(f"| {name} | {surface} | {peak} | {limit} | {outcome} | {seconds:.1f} |")


def _serve(made: dict[str, Path], policy: Path) -> list[tuple[str, str, int, str, float]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "router", "serve", "--policy", str(policy), "--port", str(port)]
    process = subprocess.Popen(
        command, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_limited
    )
    rows = []
    try:
        wait_until_up(base, process)
        for name, path in made.items():
            started = time.monotonic()
            files = {"file": (path.name, path.read_bytes(), "application/pdf")}
            response = httpx.post(f"{base}/v1/extract", files=files, timeout=300)
            body = response.json()
            code = (body.get("error") or {}).get("error_class") or body.get("status", "")
            with open(f"/proc/{process.pid}/status") as status:
                peak = int(next(line for line in status if line.startswith("VmHWM")).split()[1]) // 1024
            rows.append((name, "serve", peak, f"{response.status_code} {code}", time.monotonic() - started))
    finally:
        process.kill()
        process.wait()
    return rows


if __name__ == "__main__":
    main()
