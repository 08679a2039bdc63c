"""The HTTP service under load with faults: 8 clients for 60 s against ``docroute serve``.

    PYTHONPATH=src python bench/service_load.py [--clients 8] [--duration 60] [--json]

Two scenarios, each a real ``docroute serve`` process with the drill's chain (two faulty model
tiers in worker processes, a fifth of their calls faulty, every fault mode):

- ``safety-net``: OCR + rules (real Tesseract) as the last tier, as in ``docroute drill``: every
  request must get 200, or 422 for the bad inputs mixed in (2%).
- ``no-safety-net``: the model tiers alone, so some requests fail on every tier: those must get a
  *classified* 503 (the Result, with the error class), or 422 when the answers failed validation
  (``invalid_output``: the document's fault), and nothing else may be 5xx.

Every answer but a 200 must carry the documented ``{"error": {"code", "message"}}`` and every answer
must echo the request's ``X-Request-ID``; the table counts those that did not (``undocumented``).

Each client uploads rendered receipts (each request's bytes unique), a prober checks /healthz
every 0.5 s. Prints a table per scenario: status codes, error classes, latency, recycles, the
service's memory and child processes before and after; exits 1 if any 5xx was unclassified, a
health probe failed, or a worker process outlived the service.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

SCENARIOS = {"safety-net": "ocr_rules", "no-safety-net": "none"}
FAULTS = "sticky_cuda=0.03,cuda_oom=0.03,hang=0.03,segfault=0.03,exit=0.03,garbage=0.03,slow=0.02"
BAD_INPUT_RATE = 0.02


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load per scenario")
    parser.add_argument("--scenario", choices=[*SCENARIOS, "both"], default="both")
    parser.add_argument("--faults", default=FAULTS, help="fault rates of the model tiers (docroute drill --faults)")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    args = parser.parse_args()
    names = list(SCENARIOS) if args.scenario == "both" else [args.scenario]
    results = {name: run_scenario(name, args.clients, args.duration, args.faults) for name in names}
    if args.json:
        print(json.dumps(results))
    else:
        for name, result in results.items():
            show(name, result)
    sys.exit(0 if all(r["passed"] for r in results.values()) else 1)


def run_scenario(name: str, clients: int, duration: float, faults: str = FAULTS) -> dict[str, Any]:
    from router.drill import drill_policy, parse_faults

    policy = drill_policy(parse_faults(faults), last_tier=SCENARIOS[name])  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory(prefix="docroute-load-") as work:
        policy_path = Path(work) / "policy.yaml"
        policy_path.write_text(json.dumps(policy.model_dump(mode="json")))  # JSON is YAML
        service = Service(policy_path, Path(work) / "events.jsonl")
        try:
            load = Load(service.base, clients, Path(work) / "corpus")
            before = service.memory_mb()
            load.run(duration)
            after = service.memory_mb()
            status = service.status()
        finally:
            left = service.stop()
    return load.result(name, clients, duration, before, after, status, left)


class Service:
    """``docroute serve`` as a child process on a free port."""

    def __init__(self, policy: Path, log: Path, options: list[str] | None = None):
        import httpx

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{port}"
        args = ["serve", "--policy", str(policy), "--port", str(port), "--log-json", str(log), *(options or [])]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "router", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1] / "src"), *sys.path])},
        )
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the service did not start")
            try:
                if httpx.get(f"{self.base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        time.sleep(1.0)  # the second worker of each tier

    def memory_mb(self) -> float:
        import psutil

        return round(psutil.Process(self.process.pid).memory_info().rss / 2**20, 1)

    def status(self) -> dict[str, Any]:
        import httpx

        return dict(httpx.get(f"{self.base}/readyz", timeout=5).json())

    def stop(self) -> list[int]:
        """SIGTERM, wait; the worker processes it leaves behind (there should be none)."""
        import psutil

        workers = [c.pid for c in psutil.Process(self.process.pid).children(recursive=True)]
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        time.sleep(1.0)  # workers exit within half a second of their parent
        return [pid for pid in workers if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]


class Load:
    """``clients`` threads uploading receipts, and a health prober."""

    def __init__(self, base: str, clients: int, corpus_dir: Path):
        from router.drill.documents import DrillInputs

        self.base = base
        self.clients = clients
        self.inputs = DrillInputs(seed=1, bad_input_rate=BAD_INPUT_RATE, corpus_dir=corpus_dir)
        self.codes: Counter[int] = Counter()
        self.classes: Counter[str] = Counter()
        self.unclassified: list[str] = []
        self.undocumented: list[str] = []
        self.latency_ms: list[float] = []
        self.health: Counter[str] = Counter()
        self.sent = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def run(self, duration: float) -> None:
        threads = [threading.Thread(target=self._client, args=(n,)) for n in range(self.clients)]
        threads.append(threading.Thread(target=self._probe))
        for thread in threads:
            thread.start()
        time.sleep(duration)
        self._stop.set()
        for thread in threads:
            thread.join()

    def _client(self, number: int) -> None:
        import httpx

        rng = random.Random(number)
        with httpx.Client(base_url=self.base, timeout=120) as client:
            while not self._stop.is_set():
                with self._lock:
                    index, self.sent = self.sent, self.sent + 1
                item = self.inputs(index)
                data = item.source if isinstance(item.source, bytes) else _bytes_of(item.source)
                if data is None:  # a case that lives only on disk: send a receipt instead
                    data = self.inputs(rng.randrange(10**6) * 2 + 1_000_000).source
                started = time.perf_counter()
                files = {"file": (item.name.split("/")[-1], data)}
                headers = {"X-Request-ID": f"load-{index}"}
                response = client.post("/v1/extract", files=files, headers=headers)
                self._record(response, (time.perf_counter() - started) * 1000, headers["X-Request-ID"])

    def _record(self, response: Any, elapsed_ms: float, request_id: str) -> None:
        body = _json(response)
        error = body.get("error") if isinstance(body, dict) else None
        documented = response.status_code == 200 or (
            isinstance(error, dict) and isinstance(error.get("code"), str) and isinstance(error.get("message"), str)
        )
        with self._lock:
            if not documented or response.headers.get("x-request-id") != request_id:
                self.undocumented.append(f"{response.status_code} {response.text[:200]}")
            self.codes[response.status_code] += 1
            self.latency_ms.append(elapsed_ms)
            if isinstance(error, dict) and "error_class" in error:
                self.classes[error["error_class"]] += 1
            elif isinstance(error, dict) and "code" in error:
                self.classes[f"service:{error['code']}"] += 1
            if response.status_code >= 500 and not (response.status_code == 503 and isinstance(error, dict)):
                self.unclassified.append(f"{response.status_code} {response.text[:200]}")

    def _probe(self) -> None:
        import httpx

        while not self._stop.wait(0.5):
            try:
                code = httpx.get(f"{self.base}/healthz", timeout=5).status_code
                self.health["ok" if code == 200 else f"http {code}"] += 1
            except httpx.TransportError as exc:
                self.health[type(exc).__name__] += 1

    def result(
        self,
        name: str,
        clients: int,
        duration: float,
        before: float,
        after: float,
        status: dict[str, Any],
        left: list[int],
    ) -> dict[str, Any]:
        ordered = sorted(self.latency_ms)
        answered = sum(n for code, n in self.codes.items() if code < 500)
        safety_net = SCENARIOS[name] != "none"
        expected_codes = {200, 422} if safety_net else {200, 422, 503}
        passed = (
            not self.unclassified
            and not self.undocumented
            and set(self.health) <= {"ok"}
            and not left
            and set(self.codes) <= expected_codes
            and self.codes[200] > 0
        )
        return {
            "scenario": name,
            "clients": clients,
            "duration_s": duration,
            "requests": sum(self.codes.values()),
            "requests_per_s": round(sum(self.codes.values()) / duration, 1),
            "status_codes": {str(code): n for code, n in sorted(self.codes.items())},
            "error_classes": dict(self.classes.most_common()),
            "answered_or_refused": answered,
            "unclassified_5xx": self.unclassified[:10],
            "undocumented": self.undocumented[:10],
            "health_probes": dict(self.health),
            "p50_ms": _quantile(ordered, 0.5),
            "p95_ms": _quantile(ordered, 0.95),
            "max_ms": round(ordered[-1], 1) if ordered else 0.0,
            "rss_before_mb": before,
            "rss_after_mb": after,
            "recycles": {tier: state.get("recycles", 0) for tier, state in status.get("tiers", {}).items()},
            "workers_left_after_stop": left,
            "passed": passed,
        }


def _bytes_of(path: Path) -> bytes | None:
    try:
        return path.read_bytes() if path.is_file() and path.stat().st_size < 10_000_000 else None
    except OSError:
        return None


def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _quantile(ordered: list[float], q: float) -> float:
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1) if ordered else 0.0


def show(name: str, result: dict[str, Any]) -> None:
    from common import table

    rows = [
        ("requests", f"{result['requests']} in {result['duration_s']:.0f} s ({result['requests_per_s']}/s), "
         f"{result['clients']} clients"),
        ("status codes", ", ".join(f"{code}: {n}" for code, n in result["status_codes"].items())),
        ("error classes", ", ".join(f"{c}: {n}" for c, n in result["error_classes"].items()) or "-"),
        ("unclassified 5xx", len(result["unclassified_5xx"])),
        ("undocumented answers", len(result["undocumented"])),
        ("health probes", ", ".join(f"{k}: {n}" for k, n in result["health_probes"].items())),
        ("latency", f"p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, max {result['max_ms']} ms"),
        ("recycles", ", ".join(f"{t}: {n}" for t, n in result["recycles"].items())),
        ("service RSS", f"{result['rss_before_mb']} -> {result['rss_after_mb']} MiB"),
        ("workers left after SIGTERM", len(result["workers_left_after_stop"])),
        ("verdict", "PASS" if result["passed"] else "FAIL"),
    ]  # fmt: skip
    table(f"Service under load with faults: {name}", ("", "value"), rows)


if __name__ == "__main__":
    main()
