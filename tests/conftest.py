"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Commands run as child processes (``python -m router``) import this checkout's code, as the tests do,
# not the one an editable install of the shared virtual environment points at.
_SRC = str(Path(__file__).resolve().parents[1] / "src")
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (_SRC, os.environ.get("PYTHONPATH")) if p)

#: The seed of every fault draw, drill and seeded test; ``DOCROUTE_TEST_SEED=N`` (or ``--seed N``) picks another.
SEED_ENV = "DOCROUTE_TEST_SEED"
DEFAULT_SEED = 20241


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--seed",
        type=int,
        default=None,
        help=f"seed of the fault draws, drills and seeded tests (default: ${SEED_ENV} or {DEFAULT_SEED})",
    )


def _seed(config: pytest.Config) -> int:
    chosen = config.getoption("--seed")
    return chosen if chosen is not None else int(os.environ.get(SEED_ENV, DEFAULT_SEED))


def pytest_configure(config: pytest.Config) -> None:
    _hypothesis_profiles()


def _hypothesis_profiles() -> None:
    """Property tests draw the same examples every run (derandomized, no example database between
    runs); ``--hypothesis-profile=explore`` draws new ones (``--hypothesis-seed=N`` to repeat them)."""
    from hypothesis import settings

    settings.register_profile("docroute", derandomize=True, database=None, print_blob=True)
    settings.register_profile("explore", derandomize=False, database=None, print_blob=True)
    settings.load_profile("docroute")


def pytest_report_header(config: pytest.Config) -> str:
    return f"docroute test seed: {_seed(config)} (--seed N or {SEED_ENV}=N to repeat or change it)"


@pytest.fixture
def seed(request: pytest.FixtureRequest) -> int:
    """The run's seed, for a test that draws at random (fault rates, drills); a failure names it."""
    value = _seed(request.config)
    request.node.user_properties.append(("seed", value))
    return value


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    report = yield
    if report.failed and "seed" in getattr(item, "fixturenames", ()):
        report.sections.append(("seed", f"this test drew with seed {_seed(item.config)}: {SEED_ENV}=... repeats it"))
    return report


@pytest.fixture(autouse=True)
def _seeded_random(request: pytest.FixtureRequest) -> None:
    """The stdlib generator starts each test from the run's seed (pytest-randomly does the same when on)."""
    random.seed(f"{_seed(request.config)}:{request.node.nodeid}")


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    """Test modules are imported with bytecode on, into pytest's cache: under PYTHONDONTWRITEBYTECODE
    pytest would otherwise rewrite every module's asserts again on every run (a second of collection).
    Only this import writes there; the checkout itself stays free of ``__pycache__``."""
    cache = getattr(collector.config, "cache", None)  # None under -p no:cacheprovider
    if not (sys.dont_write_bytecode and isinstance(collector, pytest.Module) and cache is not None):
        return (yield)
    saved = sys.pycache_prefix
    sys.dont_write_bytecode, sys.pycache_prefix = False, str(cache.mkdir("pycache"))
    try:
        return (yield)
    finally:
        sys.dont_write_bytecode, sys.pycache_prefix = True, saved


@pytest.hookimpl(trylast=True)  # after pytest-randomly's shuffle, which stays within each of the two parts
def pytest_collection_modifyitems(config, items):
    """The longest work is handed out first, so that no worker starts it while the others run out of
    tests: Ray's tests (one unit on one worker) and the slow tests, then the rest."""
    items.sort(key=lambda item: (item.get_closest_marker("xdist_group") is None, "slow" not in item.keywords))
    _skip_gpu_tests_without_cuda(items)


def _skip_gpu_tests_without_cuda(items: list[pytest.Item]) -> None:
    """GPU tests run only where CUDA is, checked in a child process: the test process stays CUDA-free."""
    if not any("gpu" in item.keywords for item in items):
        return
    if not _cuda_available():
        skip = pytest.mark.skip(reason="needs a CUDA GPU")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)


def _cuda_available() -> bool:
    """Without an NVIDIA driver there is no CUDA: say so without starting torch (seconds) at all."""
    if not (Path("/proc/driver/nvidia/version").exists() or Path("/dev/nvidiactl").exists()):
        return False
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
    """After the suite, no child process of the test process remains (no orphan workers, no zombies):
    any left (a test that timed out, say) is named in a failure, then killed, so none outlives the run.

    multiprocessing's resource tracker is the standard library's own helper: it lives until this
    process exits, and is not ours to stop. The shared PDF reader is closed first, as a host would."""
    yield
    from router.api import pdfreader
    from router.drill.observe import children_left  # the drill counts leftovers the same way

    pdfreader.SHARED.close()  # the reader of load_document's callers without a router lives until closed

    left = children_left(wait_s=5)
    if left:
        _kill([int(line.split(" ", 1)[0]) for line in left])
        pytest.fail(f"child processes left after the test session (now killed): {left}", pytrace=False)


def _kill(pids: list[int]) -> None:
    import psutil

    processes = []
    for pid in pids:
        try:
            processes.append(psutil.Process(pid))
            processes[-1].kill()
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(processes, timeout=5)
