"""``docroute batch --engine ray`` on a local Ray cluster: one line per input, whatever dies."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from router.cli import app
from router.drill.policies import drill_policy
from router.forensics.incidents import incident_report
from router.forensics.reader import read_logs
from router.observe.events import validate
from router.scale.batch import ClusterSettings, run_cluster_batch
from router.scale.ledger import ANSWERED
from router.scale.resources import Sizing, router_resources
from tests.router.scale.kit import (
    actors,
    exactly_one_line_each,
    parts,
    sha256,
    slow_policy,
    when,
)
from tests.router.surfaces_kit import cli, env, images

pytestmark = [pytest.mark.ray, pytest.mark.xdist_group("ray")]  # one worker, one Ray cluster


def test_200_documents_through_faulty_model_tiers_get_one_line_each_and_workers_recycle_inside(ray_cluster, tmp_path):
    docs = images(tmp_path / "docs", 200)
    policy = drill_policy({"sticky_cuda": 0.04, "segfault": 0.03, "garbage": 0.03}, last_tier="fixed", workers=1)
    logs = tmp_path / "logs"
    settings = ClusterSettings(address=ray_cluster.address, routers=2, log_dir=logs)

    summary = run_cluster_batch(docs, tmp_path / "out", policy, settings)

    assert exactly_one_line_each(tmp_path / "out", docs)
    assert summary.processed == 200 and summary.failed == 0
    assert len(actors(tmp_path / "out")) == 2  # no actor died: the poisoned workers were recycled inside
    events = [json.loads(line) for log in logs.glob("*.jsonl") for line in log.read_text().splitlines()]
    assert len({e["pid"] for e in events if e["event"] == "router.starting"}) == 2  # one log per router
    assert any(e["event"] == "worker.recycling" for e in events)
    assert all(e.get("host") and e.get("actor") for e in events)  # pids collide across nodes; host does not
    assert [problem for e in events for problem in validate(e)] == []


def test_a_rerun_sends_nothing_already_in_the_output_and_routers_get_the_resources_sized(ray_cluster, tmp_path):
    docs = images(tmp_path / "docs", 12)
    settings = ClusterSettings(address=ray_cluster.address, routers=1)
    run_cluster_batch(docs[:5], tmp_path / "first", slow_policy(0.0), settings)
    for part in (tmp_path / "first").glob("part-*.jsonl"):
        (tmp_path / "out").mkdir(exist_ok=True)
        part.rename(tmp_path / "out" / part.name)
    settings.sizing = Sizing(cpus=2, memory_gb=0.3)  # the options override the policy's figures

    summary = run_cluster_batch(docs, tmp_path / "out", slow_policy(0.0), settings)

    assert (summary.already_done, summary.processed) == (5, 7)
    assert exactly_one_line_each(tmp_path / "out", docs)
    derived = router_resources(slow_policy(0.0))  # one CPU (no OCR slot), the router's memory
    assert [a["resources"] for a in actors(tmp_path / "first")] == [{"CPU": 1.0, "memory": derived.memory_bytes}]
    assert [a["resources"] for a in actors(tmp_path / "out")] == [{"CPU": 2.0, "memory": 0.3e9}]


def test_router_actors_killed_mid_run_come_back_and_lose_and_repeat_nothing(ray_cluster, tmp_path):
    """Every router actor is SIGKILLed mid-run: the run cannot end without a replacement, so one
    comes back for sure (with one of two killed, the survivor could finish the run while a restart
    was still starting on a loaded machine, and whether a third actor appeared was up to chance)."""
    docs = images(tmp_path / "docs", 80)
    out = tmp_path / "out"
    settings = ClusterSettings(address=ray_cluster.address, routers=2, batch_size=8)
    victims: list[int] = []

    def kill_all() -> None:
        victims.extend(actor["pid"] for actor in actors(out))
        for pid in victims:
            os.kill(pid, signal.SIGKILL)

    watcher = when(lambda: parts(out) >= 1 and len(actors(out)) == 2, kill_all)
    summary = run_cluster_batch(docs, out, slow_policy(0.1), settings)
    watcher.join()

    assert len(victims) == 2, "the run ended before its actors could be killed"
    assert exactly_one_line_each(out, docs)
    assert summary.processed == 80 and summary.failed == 0
    assert len(actors(out)) >= 3 and {a["pid"] for a in actors(out)} - set(victims)  # new processes came back


def test_a_document_that_kills_the_router_process_gets_one_failed_line_and_the_run_ends(ray_cluster, tmp_path):
    docs = images(tmp_path / "docs", 24)
    poison = docs[9]
    policy = slow_policy(0.01, triggers={sha256(poison): "exit"})
    settings = ClusterSettings(address=ray_cluster.address, routers=1, batch_size=8, log_dir=tmp_path / "logs")

    summary = run_cluster_batch(docs, tmp_path / "out", policy, settings)

    assert exactly_one_line_each(tmp_path / "out", docs)
    assert summary.failed == 1 and dict(summary.by_error) == {"worker_crashed": 1}
    failed = [r for r in _records(tmp_path / "out") if r["status"] == "failed"]
    assert [os.path.realpath(r["input"]) for r in failed] == [os.path.realpath(poison)]
    assert len(actors(tmp_path / "out")) == 3  # crashed twice (alone the second time), then given up
    events = [json.loads(line) for log in (tmp_path / "logs").glob("*.jsonl") for line in log.read_text().splitlines()]
    gave_up = [e for e in events if e["event"] == "batch.gave_up"]
    assert [(e["key"], e["crashes"]) for e in gave_up] == [(sha256(poison), 2)]
    assert {e["key"] for e in events if e["event"] == "batch.rerun"} >= {sha256(poison)}  # re-runs are named

    report = incident_report(read_logs(sorted((tmp_path / "logs").glob("*.jsonl"))))
    assert report["window"]["routers"] == 3 and len(report["window"]["hosts"]) == 1  # three router processes
    assert {(r["event"], r["key"], r["status"]) for r in report["reruns"]} >= {
        ("batch.gave_up", sha256(poison), "failed")
    }


def test_a_driver_killed_mid_run_then_rerun_gives_exactly_one_line_per_input(ray_cluster, tmp_path):
    docs = images(tmp_path / "docs", 60)
    out = tmp_path / "out"
    policy_path = tmp_path / "policy.json"
    policy_path.write_text(json.dumps(slow_policy(0.15).model_dump(mode="json")))
    command = cli(
        "batch", str(tmp_path / "docs"), "--engine", "ray", "--address", ray_cluster.address,
        "--out", str(out), "--policy", str(policy_path), "--routers", "2", "--progress", "none",
        "--log-json", str(tmp_path / "logs"),
    )  # fmt: skip
    driver = subprocess.Popen(command, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    killed = when(lambda: parts(out) >= 1, lambda: driver.send_signal(signal.SIGKILL))
    driver.wait(timeout=180)
    killed.join()
    assert driver.returncode == -signal.SIGKILL, "the first run finished before its driver could be killed"
    first = len(list(_records(out)))
    assert 0 < first < 60

    rerun = subprocess.run(command, env=env(), capture_output=True, text=True, timeout=180, check=False)

    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert exactly_one_line_each(out, docs)
    already = int(rerun.stderr.split("already in the output ")[1].split()[0].rstrip(","))
    assert already >= first  # an actor of the killed run may have finished one more part
    drivers = sorted((tmp_path / "logs").glob("driver-*.jsonl"))  # each driver's own events, beside the routers'
    assert len(drivers) == 2 and {e["event"] for e in _events(drivers[0]) + _events(drivers[1])} >= {
        "batch.started",
        "batch.finished",
    }
    assert all(e["host"] for e in _events(drivers[0]))


def _events(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def _in_flight(out: Path) -> bool:
    """Whether a document is being routed now: its ledger note is begun and not yet marked answered."""
    return any(not note.name.endswith(ANSWERED) for note in (out / "_ledger").glob("[0-9a-f]*"))


def _records(out: Path):
    from router.scale.output import read_parts

    return list(read_parts(out))


@pytest.mark.slow
def test_a_node_sigkilled_mid_run_loses_and_repeats_nothing(ray_cluster, tmp_path):
    """The routers run on a simulated node of their own (a custom resource puts them there); it is
    SIGKILLed mid-run and a replacement node joins, as an autoscaler would bring one. Ray starts
    nodes only from the main thread, so here the run goes on in another."""
    from tests.router.scale.conftest import node_args

    cluster = ray_cluster.cluster
    docs = images(tmp_path / "docs", 80)
    out = tmp_path / "out"
    node = cluster.add_node(**node_args(ray_cluster.temp_dir, num_cpus=2, resources={"routers": 2}))
    logs = tmp_path / "logs"
    settings = ClusterSettings(
        address=ray_cluster.address, routers=2, batch_size=8, resources={"routers": 1}, log_dir=logs
    )
    result: dict[str, Any] = {}
    # a document takes 0.6 s, a batch of 8 1.2 s on a router's 4 threads: longer than the kill takes to
    # land on a loaded machine, so the batch seen in flight is still unwritten when its node dies (at
    # 0.1 s it could be written first, and nothing was left to re-run)
    run = threading.Thread(
        target=lambda: result.update(summary=run_cluster_batch(docs, out, slow_policy(0.6), settings)), daemon=True
    )
    run.start()
    deadline = time.monotonic() + 120
    while not (parts(out) >= 2 and _in_flight(out)) and run.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    killed_mid_run = run.is_alive()
    cluster.remove_node(node, allow_graceful=False)  # SIGKILL to every process of the node
    spare = cluster.add_node(**node_args(ray_cluster.temp_dir, num_cpus=2, resources={"routers": 2}))
    try:
        run.join(timeout=180)
    finally:
        cluster.remove_node(spare)

    assert killed_mid_run, "the run ended before the node could be killed"
    assert exactly_one_line_each(out, docs)
    assert result["summary"].processed == 80 and result["summary"].failed == 0
    hosts = {a["host"] for a in actors(out)}
    assert len(hosts) == 2  # routers on the killed node, then on its replacement
    _incidents_name_the_hosts_and_the_documents_rerun(logs, out, docs, hosts)


def _incidents_name_the_hosts_and_the_documents_rerun(logs: Path, out: Path, docs: list[Path], hosts: set[str]) -> None:
    """``docroute incidents`` over the logs of the node-kill run: grouped by host, the documents that were
    in flight on the lost node named (by their input's sha256, as their lines are) with how their re-run
    ended."""
    files = sorted(str(f) for f in logs.glob("*.jsonl"))
    done = CliRunner().invoke(app, ["incidents", *files, "--json"])
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert set(report["window"]["hosts"]) == hosts and not report["window"]["skipped"]
    assert {h["host"] for h in report["by_host"]} == hosts and all(h["routers"] for h in report["by_host"])
    inputs = {sha256(p): os.path.realpath(p) for p in docs}
    lines = {os.path.realpath(r["input"]): r for r in _records(out)}
    reruns = report["reruns"]
    assert reruns, "no document was in flight on the node when it was killed"
    for rerun in reruns:
        assert rerun["event"] == "batch.rerun" and rerun["key"] in inputs and rerun["status"] == "ok"
        assert lines[inputs[rerun["key"]]]["request_id"] == rerun["request_id"]  # its line is the re-run's
    assert report["window"]["requests"] - len(docs) <= len(reruns)  # no document routed again unnamed
    rerun_on = {r["host"] for r in reruns}  # the replacement node's routers
    assert len(rerun_on) == 1 and {h["host"] for h in report["by_host"] if h["unfinished"]} <= hosts - rerun_on
    unfinished = {r["sha256"] for r in report["unfinished"]}  # cut short on the killed node
    assert unfinished <= {r["key"] for r in reruns if r["reason"] == "in_flight"}
    table = CliRunner().invoke(app, ["incidents", *files, "--top", "100"], env={"COLUMNS": "300"}).stdout
    assert "Re-run documents" in table and all(r["key"][:16] in table for r in reruns)
