"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Commands run as child processes (``python -m router``) import this checkout's code, as the tests do,
# not the one an editable install of the shared virtual environment points at.
_SRC = str(Path(__file__).resolve().parents[1] / "src")
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (_SRC, os.environ.get("PYTHONPATH")) if p)


def pytest_collection_modifyitems(config, items):
    """GPU tests run only where CUDA is, checked in a child process: the test process stays CUDA-free."""
    if not any("gpu" in item.keywords for item in items):
        return
    if not _cuda_available():
        skip = pytest.mark.skip(reason="needs a CUDA GPU")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)


def _cuda_available() -> bool:
    import subprocess
    import sys

    probe = "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, check=False).returncode == 0


@pytest.fixture(autouse=True, scope="session")
def _quiet_decision_log():
    """Events go nowhere unless a test captures them (capture_logs) or configures a sink itself."""
    from router.observe import logs

    logs.configure(stderr=False)


@pytest.fixture(autouse=True, scope="session")
def _no_child_process_left():
    """After the suite, no child process of the test process remains (no orphan workers, no zombies).

    multiprocessing's resource tracker is the standard library's own helper: it lives until this
    process exits, and is not ours to stop. The shared PDF reader is closed first, as a host would."""
    yield
    from router.api import pdfreader
    from router.drill.observe import children_left  # the drill counts leftovers the same way

    pdfreader.SHARED.close()  # the reader of load_document's callers without a router lives until closed

    left = children_left(wait_s=5)
    if left:
        pytest.fail(f"child processes left after the test session: {left}", pytrace=False)
