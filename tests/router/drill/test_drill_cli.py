"""``docroute drill`` as a real process: the CI drill (2,000 requests, a fifth of model calls faulty,
every fault mode, real Tesseract as the last tier) loses nothing, leaves no process behind and does
not grow."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

CI_FAULTS = "sticky_cuda=0.03,cuda_oom=0.03,hang=0.03,segfault=0.03,exit=0.03,garbage=0.03,slow=0.02"
#: What each fault mode shows up as (slow answers, later).
FAULT_CLASSES = {"sticky_cuda", "cuda_oom", "timeout", "worker_crashed", "invalid_output"}
REQUIRED_KEYS = {
    "requests",
    "answered",
    "failed",
    "lost",
    "recycles",
    "children_left",
    "rss_start_mb",
    "rss_end_mb",
    "p50_ms",
    "p95_ms",
}


def docroute(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "router", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.mark.slow
@pytest.mark.timeout(600)  # its command's own limit: 2,000 requests through Tesseract on a loaded machine
def test_ci_drill_2000_requests_with_a_fifth_faulty_loses_nothing_leaves_nothing_and_does_not_grow(tmp_path: Path):
    log = tmp_path / "drill.jsonl"
    # four workers per model tier and eight requests at once: a hang holds one worker for the tier's
    # 2 s timeout, and with two workers and four clients the drill spent most of its time waiting on them
    out = docroute(
        "drill", "--requests", "2000", "--workers", "4", "--concurrency", "8",
        "--faults", CI_FAULTS, "--bad-inputs", "0.02", "--json", "--log-json", str(log),
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    report = json.loads(out.stdout)
    assert report["concurrency"] == 8
    assert report.keys() >= REQUIRED_KEYS
    assert report["requests"] == 2000 and report["policy"] == "drill-ocr_rules"
    assert report["lost"] == 0 and report["raised"] == 0 and not report["stalled"]
    assert report["children_left"] == 0
    assert report["rss_growth_pct"] < 10, report
    assert report["answered"] + report["failed"] == 2000
    # The eight rendered receipts (seed 0) all read right with Tesseract: nothing but bad input fails.
    assert report["failed_by_class"].keys() <= {"bad_input"} and report["misrouted_bad_inputs"] == 0
    assert report["answered_by_tier"].get("ocr-rules", 0) > 0  # the real last tier answered what models dropped
    assert report["attempt_failures"].keys() >= FAULT_CLASSES  # every mode was hit
    assert report["recycles"] > 0 and sum(report["recycles_by_tier"].values()) == report["recycles"]
    assert report["p50_ms"] <= report["p95_ms"]
    done = Counter(
        event["request_id"]
        for event in map(json.loads, log.read_text().splitlines())
        if event["event"] == "request.done" and event.get("request_id", "").startswith("drill-")
    )
    assert len(done) == 2000 and set(done.values()) == {1}  # the log agrees: one outcome per input


@pytest.mark.slow
def test_drilling_a_users_policy_keeps_its_tiers_and_reports_them(tmp_path: Path):
    policy = tmp_path / "prod.yaml"
    # Breakers that stay closed: with the defaults (3 recycles per 300 s) a fifth of sticky faults
    # opens the vision breaker within a handful of requests, and whether vision answered any counted
    # request then depends on how fast the machine recycles; this test is about the report, not that race.
    patient = {"failure_threshold": 1000, "max_recycles": 1000}
    tiers = [
        {
            "name": "vision",
            "backend": {"kind": "internvl3", "model": "/nowhere"},
            "timeout_s": 2,
            "stop_grace_s": 0.5,
            "breaker": patient,
        },
        {"name": "last", "backend": {"kind": "faulty"}, "isolation": "inline", "breaker": patient},
    ]
    policy.write_text(yaml.safe_dump({"name": "prod", "tiers": tiers}))
    # 200 requests: the inline last tier answers in a few ms, so 60 of them can all pass during the
    # first recycle of vision's one worker (a third of a second), and vision would answer none
    out = docroute("drill", "-n", "200", "--warmup", "5", "--policy", str(policy), "-f", "sticky_cuda=0.2", "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    report = json.loads(out.stdout)
    assert report["policy"] == "prod+drill" and report["lost"] == 0
    assert report["answered_by_tier"].get("vision", 0) > 0
    assert report["attempt_failures"].get("sticky_cuda", 0) > 0 and report["recycles_by_tier"]["vision"] > 0


def test_a_bad_fault_spec_is_a_usage_error():
    out = docroute("drill", "-n", "1", "--faults", "meltdown=0.1", timeout=60)
    assert out.returncode == 2
    assert "unknown fault mode 'meltdown'" in out.stderr
