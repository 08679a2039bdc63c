"""Reading decision logs: rotated files in time order, torn lines skipped with a warning, and a
router killed mid-run leaves a log that parses up to the moment it died."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from router.forensics.incidents import incident_report
from router.forensics.reader import between, read_logs
from router.observe import logs
from router.policy.model import LoggingPolicy
from tests.router.fakes import GOOD, Script, make_engine, run

ROOT = Path(__file__).resolve().parents[3]


def record(path: Path, requests: int, **logging: object) -> None:
    logs.configure(LoggingPolicy(stderr=False, **logging), json_path=path)  # type: ignore[arg-type]
    try:
        engine, _ = make_engine({"a": Script([GOOD])})
        for _ in range(requests):
            run(engine)
    finally:
        logs.configure(stderr=False)


def test_a_torn_last_line_is_skipped_with_a_warning(tmp_path):
    path = tmp_path / "log.jsonl"
    record(path, 2)
    text = path.read_text()
    path.write_text(text[: len(text) - 40])  # the last event, cut mid-line
    read = read_logs([path])
    assert len(read.events) == text.count("\n") - 1
    assert len(read.warnings) == 1 and "torn last line" in read.warnings[0] and f"{path}:" in read.warnings[0]
    report = incident_report(read)
    assert [r["last_event"] for r in report["unfinished"]] == ["attempt.succeeded"]


def test_lines_that_are_not_events_are_skipped_and_counted(tmp_path):
    path = tmp_path / "mixed.log"
    record(path, 1)
    with path.open("a") as f:
        f.write("".join(f"2025-01-01 console line {i}\n" for i in range(8)))
        f.write('{"not": "an event"}\n')
    read = read_logs([path])
    assert read.events and all("event" in e for e in read.events)
    assert sum("not a JSON event" in w for w in read.warnings) == 5
    assert any("4 more lines" in w for w in read.warnings)


def test_a_hosts_own_json_events_in_the_same_file_are_skipped_not_a_traceback(tmp_path):
    path = tmp_path / "app.jsonl"
    with path.open("w") as f:  # the host's structlog JSON goes first, with its own keys
        f.write('{"event": "app.started", "timestamp": "2025-01-01T00:00:00Z"}\n')
    record(path, 2)
    read = read_logs([path])
    assert all(e["event"] != "app.started" for e in read.events)
    assert any(f"{path}:1" in w for w in read.warnings)
    report = incident_report(read)
    assert report["window"]["requests"] == 2


def test_rotated_files_are_read_in_time_order_whatever_order_they_are_given(tmp_path):
    path = tmp_path / "log.jsonl"
    record(path, 12, rotate_bytes=3000, backups=30)
    files = sorted(tmp_path.glob("log.jsonl*"))
    assert len(files) >= 3
    read = read_logs(reversed(files))
    assert [e["ts"] for e in read.events] == sorted(e["ts"] for e in read.events)
    assert read.files[-1] == str(path) and read.files[0].endswith(f".{len(files) - 1}")
    done = [e for e in read.events if e["event"] == "request.done"]
    assert len(done) == 12 and not read.warnings


def test_between_selects_a_time_window(tmp_path):
    path = tmp_path / "log.jsonl"
    record(path, 3)
    read = read_logs([path])
    middle = read.events[len(read.events) // 2]["ts"]
    assert 0 < len(between(read, since=middle).events) < len(read.events)
    assert between(read, until="2000-01-01T00:00:00").events == []


CHILD = textwrap.dedent(
    """
    import sys, time
    from router.observe import logs
    from router.policy.model import LoggingPolicy
    from tests.router.fakes import GOOD, Script, make_engine, run

    logs.configure(LoggingPolicy(stderr=True, format="json"), json_path=sys.argv[1])
    def slow():
        time.sleep(0.01)
        return GOOD
    engine, _ = make_engine({"a": Script([slow])})
    n = 0
    while True:
        run(engine)
        n += 1
        print(n, flush=True)
    """
)


def test_a_router_killed_mid_run_leaves_a_complete_parseable_log(tmp_path):
    """SIGKILL gives no chance to flush: every event before it must already be on disk, whole,
    in the file and on stderr at once."""
    path = tmp_path / "log.jsonl"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    for line in child.stdout:
        if int(line) >= 20:
            break
    os.kill(child.pid, signal.SIGKILL)
    _, stderr = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL
    read = read_logs([path])
    assert not read.warnings
    finished = [e for e in read.events if e["event"] == "request.done"]
    assert len(finished) >= 20
    report = incident_report(read)
    assert len(report["unfinished"]) <= 1  # at most the request in flight when it died
    stderr_events = [line for line in stderr.splitlines() if line.startswith("{")]
    assert len(stderr_events) >= len(read.events) - 1
