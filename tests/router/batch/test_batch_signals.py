"""``docroute batch`` in a real process, interrupted by real signals, then resumed."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.router.surfaces_kit import bad_files, cli, env, images, lines, one_line_per_input, policy_file, run_cli, tier

pytestmark = pytest.mark.slow


def start(folder: Path, out: Path, policy: Path, *extra: str) -> subprocess.Popen[str]:
    args = cli("batch", str(folder), "--out", str(out), "--policy", str(policy), "--progress", "plain", *extra)
    return subprocess.Popen(args, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_lines(out: Path, count: int, process: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not out.exists() or len(out.read_bytes().splitlines()) < count:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the batch wrote too few lines"
        time.sleep(0.02)


def slow_policy(tmp_path: Path, slow_s: float) -> Path:
    return policy_file(tmp_path, tier("a", workers=2, backend={"faults": {"slow": 1.0}, "slow_s": slow_s}))


@pytest.mark.parametrize(("signum", "exit_code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_batch_resumed_has_exactly_one_line_per_input(tmp_path, signum, exit_code):
    inputs = [*images(tmp_path / "in", 24), *bad_files(tmp_path / "in")]
    out = tmp_path / "out.jsonl"
    policy = slow_policy(tmp_path, 0.1)
    process = start(tmp_path / "in", out, policy)
    wait_for_lines(out, 4, process)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == exit_code, stderr
    assert f"interrupted by {signum.name}" in stderr
    written = lines(out)
    assert 4 <= len(written) < len(inputs)
    assert len({line["key"] for line in written}) == len(written)

    resumed = run_cli("batch", str(tmp_path / "in"), "--out", str(out), "--policy", str(policy))
    assert resumed.returncode == 1, resumed.stderr  # 1: some inputs (the bad files) failed
    assert f"already in the output {len(written)}" in resumed.stderr
    assert one_line_per_input(out, inputs)


def test_a_second_signal_abandons_documents_in_flight_and_a_rerun_reads_them(tmp_path):
    inputs = images(tmp_path / "in", 4)
    out = tmp_path / "out.jsonl"
    policy = slow_policy(tmp_path, 1.5)
    log = tmp_path / "log.jsonl"
    process = start(tmp_path / "in", out, policy, "--log-json", str(log))
    deadline = time.monotonic() + 30
    while not log.exists() or log.read_text().count('"attempt.started"') < 2:  # two documents in flight
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=10)
    assert process.returncode == 143, stderr
    assert "abandoned 2" in stderr
    assert not out.read_text()
    resumed = run_cli("batch", str(tmp_path / "in"), "--out", str(out), "--policy", str(policy))
    assert resumed.returncode == 0, resumed.stderr
    assert one_line_per_input(out, inputs)


def test_a_killed_batch_leaves_only_whole_lines_and_resumes(tmp_path):
    inputs = images(tmp_path / "in", 16)
    out = tmp_path / "out.jsonl"
    policy = slow_policy(tmp_path, 0.05)
    process = start(tmp_path / "in", out, policy)
    wait_for_lines(out, 3, process)
    process.kill()
    process.communicate(timeout=10)
    with out.open("ab") as file:  # as if the kill had landed in the middle of a write
        file.write(b'{"input": "torn", "key": "abc')
    resumed = run_cli("batch", str(tmp_path / "in"), "--out", str(out), "--policy", str(policy))
    assert resumed.returncode == 0, resumed.stderr
    assert one_line_per_input(out, inputs)


def _file_size_limit(limit: int):
    """For the child: files it writes may not grow past ``limit`` bytes, as on a full disk (the
    kernel refuses the write with EFBIG; its SIGXFSZ is ignored so the write fails instead)."""

    def apply() -> None:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_an_output_that_cannot_be_written_stops_the_batch_in_one_line_and_a_rerun_finishes(tmp_path):
    """The disk fills up mid-batch: no traceback, a line naming the output and why, exit code 74,
    the lines written whole; a rerun with room finishes with exactly one line per input."""
    inputs = images(tmp_path / "in", 12)
    out = tmp_path / "out.jsonl"
    policy = policy_file(tmp_path, tier("a"))
    args = cli("batch", str(tmp_path / "in"), "--out", str(out), "--policy", str(policy), "--progress", "none")
    full = subprocess.run(
        args, env=env(), capture_output=True, text=True, timeout=60, preexec_fn=_file_size_limit(4000), check=False
    )
    assert full.returncode == 74, full.stderr
    assert "Traceback" not in full.stderr
    assert f"cannot write {out}: File too large" in full.stderr and "rerun the same command" in full.stderr
    assert 0 < len(out.read_bytes()) <= 4000

    resumed = run_cli("batch", str(tmp_path / "in"), "--out", str(out), "--policy", str(policy))
    assert resumed.returncode == 0, resumed.stderr
    assert one_line_per_input(out, inputs)
