"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


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
    from router import logs

    logs.configure(stderr=False)


@pytest.fixture(autouse=True, scope="session")
def _no_child_process_left():
    """After the suite, no child process of the test process remains (no orphan workers, no zombies).

    multiprocessing's resource tracker is the standard library's own helper: it lives until this
    process exits, and is not ours to stop."""
    yield
    import time

    import psutil

    def leftovers() -> list[psutil.Process]:
        children = psutil.Process().children(recursive=True)
        return [c for c in children if not _is_resource_tracker(c)]

    deadline = time.monotonic() + 5
    while leftovers() and time.monotonic() < deadline:
        time.sleep(0.1)
    left = leftovers()
    if left:
        described = [f"{c.pid} {' '.join(_cmdline(c))[:120]}" for c in left]
        pytest.fail(f"child processes left after the test session: {described}", pytrace=False)


def _is_resource_tracker(process) -> bool:
    return "multiprocessing.resource_tracker" in " ".join(_cmdline(process))


def _cmdline(process) -> list[str]:
    import psutil

    try:
        return process.cmdline()
    except psutil.ZombieProcess:
        return ["<zombie>"]
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return ["<gone>"]
