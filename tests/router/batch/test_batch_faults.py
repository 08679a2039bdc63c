"""``docroute batch`` with real worker processes that crash, hang and poison themselves."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest
import yaml

from router.observe.events import validate
from tests.router.surfaces_kit import (
    ROOT,
    bad_files,
    cli,
    env,
    images,
    lines,
    one_line_per_input,
    policy_file,
    run_cli,
    tier,
)

pytestmark = pytest.mark.slow

#: Documents (by index) that always trigger a fault in the worker tier, and the class it must get.
TRIGGERS = {1: ("garbage", "invalid_output"), 3: ("sticky_cuda", "sticky_cuda"), 6: ("segfault", "worker_crashed"),
            9: ("exit", "worker_crashed"), 12: ("hang", "timeout")}  # fmt: skip


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def worker_tier(**backend: object) -> dict[str, object]:
    return {
        "name": "workers",
        "backend": {"kind": "faulty", **backend},
        "isolation": "process",
        "workers": 2,
        "timeout_s": 3,
        "breaker": {"failure_threshold": 100, "max_recycles": 100},
    }


def worker_pids(log: Path) -> set[int]:
    pids = set()
    for line in log.read_text().splitlines():
        event = json.loads(line)
        for key in ("worker_pid", "new_pid"):
            if event.get("event", "").startswith("worker.") and event.get(key):
                pids.add(int(event[key]))
    return pids


def alive(pids: set[int]) -> set[int]:
    return {pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE}


@pytest.mark.parametrize("jobs", [None, 1], ids=["parallel", "one-at-a-time"])
def test_a_batch_with_crashing_workers_and_bad_files_gives_every_input_one_line(tmp_path, jobs):
    """In parallel, which faulty document meets a worker (and which finds the tier recycling after
    another one's crash) depends on timing; one at a time, the first two faults always meet one."""
    docs = images(tmp_path / "in", 14)
    bad = bad_files(tmp_path / "in")
    triggers = {sha(docs[i])[:16]: mode for i, (mode, _) in TRIGGERS.items()}
    policy = policy_file(tmp_path, worker_tier(triggers=triggers, hang_s=60), tier("rules"))
    out, log = tmp_path / "out.jsonl", tmp_path / "log.jsonl"
    args = ["--out", str(out), "--policy", str(policy), "--log-json", str(log)] + (
        ["--jobs", str(jobs)] if jobs else []
    )
    done = run_cli("batch", str(tmp_path / "in"), *args)
    assert done.returncode == 1, done.stderr  # 1: the bad files failed
    assert one_line_per_input(out, docs + bad)
    records = {Path(r["input"]).name: r for r in lines(out)}
    for path in bad:
        assert records[path.name]["error"]["error_class"] == "bad_input"
    for path in docs:
        assert records[path.name]["status"] in ("ok", "degraded")  # a fallback answered every fault
    for index, (mode, error_class) in TRIGGERS.items():
        record = records[docs[index].name]
        assert record["tier"] == "rules", mode
        worker_attempts = [a for a in record["attempts"] if a["tier"] == "workers"]
        assert all(a["error_class"] == error_class for a in worker_attempts), (mode, worker_attempts)
    records_logged = [json.loads(line) for line in log.read_text().splitlines()]
    events = [record["event"] for record in records_logged]
    if jobs == 1:  # warmed up, and garbage recycles nothing: these two faults meet a worker
        for index in (1, 3):
            first = records[docs[index].name]["attempts"][0]
            assert (first["tier"], first["error_class"]) == ("workers", TRIGGERS[index][1])
        assert "worker.poisoned" in events and "worker.recycling" in events
    assert {"batch.started", "batch.finished"} <= set(events)
    assert [problem for record in records_logged for problem in validate(record)] == []
    assert alive(worker_pids(log)) == set(), "worker processes outlived the batch"


def test_sigterm_stops_a_batch_on_worker_processes_without_orphans_and_a_rerun_completes(tmp_path):
    docs = images(tmp_path / "in", 20)
    policy = policy_file(tmp_path, worker_tier(faults={"slow": 1.0}, slow_s=0.2), tier("rules"))
    out, log = tmp_path / "out.jsonl", tmp_path / "log.jsonl"
    args = cli("batch", str(tmp_path / "in"), "--out", str(out), "--policy", str(policy), "--log-json", str(log))
    process = subprocess.Popen(args, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not out.exists() or len(out.read_bytes().splitlines()) < 3:
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr
    assert worker_pids(log) and alive(worker_pids(log)) == set(), "worker processes outlived the batch"
    assert 3 <= len(lines(out)) < len(docs)
    resumed = run_cli("batch", str(tmp_path / "in"), "--out", str(out), "--policy", str(policy), timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert one_line_per_input(out, docs)


def receipts(folder: Path, count: int) -> list[Path]:
    """Clean synthetic receipts (``backends.testing.synthetic``), each its own document."""
    import random

    from backends.testing.synthetic import random_receipt, render_receipt

    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"receipt{n:02d}.png" for n in range(count)]
    for n, path in enumerate(paths):
        render_receipt(random_receipt(random.Random(n), degrade=False)).save(path)
    return paths


def cpu_policy(folder: Path) -> Path:
    """The shipped cpu policy with two OCR workers (whatever the cores) that no crash takes out."""
    data = yaml.safe_load((ROOT / "policies" / "cpu.yaml").read_text())
    ocr = next(t for t in data["tiers"] if t["name"] == "ocr-rules")
    ocr |= {"workers": 2, "breaker": {"failure_threshold": 100, "max_recycles": 100}}
    path = folder / "cpu2.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def reading(log: Path) -> tuple[list[int], int]:
    """The OCR workers that came up, and the documents they are reading now (attempts started, not ended)."""
    ready, started, ended = [], 0, 0
    for line in log.read_text().splitlines() if log.exists() else []:
        event = json.loads(line) if line.endswith("}") else {}
        if event.get("tier") != "ocr-rules":
            continue
        ready += [event["worker_pid"]] if event["event"] == "worker.ready" else []
        started += event["event"] == "attempt.started"
        ended += event["event"] in ("attempt.succeeded", "attempt.failed")
    return ready, started - ended


def test_an_ocr_worker_killed_mid_page_leaves_one_line_per_input_and_a_rerun_reads_it_again(tmp_path):
    """kill -9 of a RapidOCR worker while both read a page: its document gets one classified line
    (worker_crashed) or, if the worker had not read it yet, another worker's answer; the worker is
    replaced in the background; a rerun of the command reads the crashed one again."""
    docs = receipts(tmp_path / "in", 4)
    policy, out, log = cpu_policy(tmp_path), tmp_path / "out.jsonl", tmp_path / "log.jsonl"
    args = ["batch", str(tmp_path / "in"), "--out", str(out), "--policy", str(policy)]
    process = subprocess.Popen(cli(*args, "--log-json", str(log)), env=env(), stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    ready, busy = reading(log)
    while len(ready) < 2 or busy < 2:  # both workers up, and each holding a document
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.01)
        ready, busy = reading(log)
    victim = ready[0]
    os.kill(victim, signal.SIGKILL)
    _, stderr = process.communicate(timeout=240)
    assert process.returncode in (0, 1), stderr
    assert one_line_per_input(out, docs)
    classes = {r["error"]["error_class"] for r in lines(out) if r["status"] == "failed"}
    assert classes <= {"worker_crashed"}, classes
    logged = [json.loads(line) for line in log.read_text().splitlines()]
    retired = {e["event"] for e in logged if e.get("worker_pid") == victim}
    assert {"worker.died", "worker.recycling"} <= retired, retired
    assert alive(worker_pids(log)) == set(), "worker processes outlived the batch"
    rerun = run_cli(*args, timeout=240)
    assert rerun.returncode == 0, rerun.stderr
    assert one_line_per_input(out, docs) and {r["status"] for r in lines(out)} <= {"ok", "degraded"}
