"""The suite's own promises: collecting it is quick (no heavy library imported to list the tests), and
CI runs the README's test command with the linters as steps of their own."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "bitsandbytes", "ray", "tokenizers")
COLLECT = """
import json, sys, pytest
code = pytest.main(["--collect-only", "-q", "-n", "0", "-p", "no:randomly", "-p", "no:cacheprovider", "tests"])
print(json.dumps({"code": int(code), "heavy": sorted(m for m in %r if m in sys.modules)}))
"""


@pytest.mark.slow
def test_collecting_the_suite_imports_no_heavy_library():
    """A test module imports torch, transformers, bitsandbytes or Ray inside the tests that use them
    (tests/lazy.py), never to be collected: collection stays a second or two, not 10-48 s."""
    out = subprocess.run(
        [sys.executable, "-c", COLLECT % (HEAVY,)], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    verdict = json.loads(out.stdout.strip().splitlines()[-1])
    assert verdict == {"code": 0, "heavy": []}, out.stdout[-3000:]


def test_ci_runs_the_readme_test_command_and_each_linter_as_its_own_step():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    command = re.search(r"# set up, then run the test suite\n(.+)\n", readme)
    assert command is not None and command.group(1) == "./scripts/setup && .venv/bin/python -m pytest"
    assert "./scripts/setup" in ci and re.search(r'^step "tests" \.venv/bin/python -m pytest( |$)', ci, re.M)
    for linter in ("ruff check src tests bench", "ruff format --check src tests bench", "mypy"):
        assert re.search(rf'^step "[^"]+" \.venv/bin/{re.escape(linter)}$', ci, re.M), linter
