"""The docs that are generated from code are up to date."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_policy_reference_matches_the_policy_models():
    out = subprocess.run(
        [sys.executable, "scripts/policy_reference.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
