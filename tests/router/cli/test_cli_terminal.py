"""What a person sees on a terminal: one extract is short on stderr and says each tier's
unavailability once; ``docroute doctor`` reads well at 80 columns. Real processes, the shipped
default policy, on a machine without model weights (skipped where every tier can run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from backends import registry
from router.policy.model import load_policy

ROOT = Path(__file__).resolve().parents[3]
RECEIPT = ROOT / "examples" / "receipt.png"


def docroute(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), **env}
    return subprocess.run(
        [sys.executable, "-m", "router", *args], capture_output=True, text=True, timeout=300, env=environment
    )


@pytest.fixture(scope="module")
def unavailable() -> dict[str, str]:
    """The default policy's tiers that cannot run here, with the reason preflight gives."""
    reasons = {t.name: registry.preflight(t.backend) for t in load_policy("default").tiers}
    missing = {name: reason for name, reason in reasons.items() if reason}
    if not missing:
        pytest.skip("every tier of the default policy can run on this machine")
    return missing


def test_one_extract_keeps_stderr_short_and_says_each_tier_unavailable_once(unavailable):
    out = docroute("extract", str(RECEIPT))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["status"] in ("ok", "degraded")
    logged = [json.loads(line) for line in out.stderr.splitlines()]
    assert len(out.stderr) < 4000, out.stderr  # it was 12.6 KB: the weights paragraph 6 times, a 4.9 KB start line
    assert [(e["event"], e["tier"]) for e in logged] == [("tier.unavailable", name) for name in unavailable]
    assert [e["reason"] for e in logged] == list(unavailable.values())


def test_a_verbose_extract_shows_every_decision_but_the_weights_paragraph_once_per_tier(unavailable):
    out = docroute("extract", "--verbose", str(RECEIPT))
    assert out.returncode == 0, out.stderr
    logged = [json.loads(line) for line in out.stderr.splitlines()]
    assert {"router.starting", "request.received", "tier.skipped", "request.done"} <= {e["event"] for e in logged}
    assert "policy_spec" not in out.stderr
    for name, reason in unavailable.items():
        telling = [e for e in logged if any(isinstance(v, str) and reason in v for v in e.values())]
        assert [e["event"] for e in telling] == ["tier.unavailable"], name
        (skip,) = [e for e in logged if e["event"] == "tier.skipped" and e["tier"] == name]
        assert skip["reason"] == "unavailable" and reason.startswith(skip["detail"]) and len(skip["detail"]) < 200
    assert len(out.stderr) < 8000


def test_doctor_reads_well_at_80_columns(unavailable):
    out = docroute("doctor", COLUMNS="80")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80
    text = " ".join(line.strip() for line in lines)
    for name, reason in unavailable.items():
        assert sum(line.startswith(f"{name}: ") for line in lines) == 1
        assert " ".join(reason.split()) in text  # the paragraph whole, wrapped only between words
