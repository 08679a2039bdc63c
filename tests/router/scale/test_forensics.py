"""Decision logs of a whole cluster: routers on different nodes may share a pid, never a (host, pid)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from router.api.router import Router
from router.cli import app
from router.forensics.reader import HOST_CHARS
from router.forensics.recorded import collect
from router.observe import logs
from router.policy.model import policy_from_dict
from tests.router.scale.kit import sha256
from tests.router.surfaces_kit import images, tier

HOSTS = sorted(["a1" * 28, "b2" * 28])  # Ray node ids are 56 hex characters


def _router_life(host: str, request_id: str) -> list[dict]:
    common = {"pid": 4242, "host": host, "actor": f"actor-{host}", "policy": "p", "policy_hash": "h"}
    return [
        {**common, "event": "router.starting", "ts": "2026-01-01T00:00:00+00:00", "tiers": ["fixed"]},
        {**common, "event": "request.received", "ts": "2026-01-01T00:00:01+00:00", "request_id": request_id},
        {
            **common,
            "event": "request.done",
            "ts": "2026-01-01T00:00:02+00:00",
            "request_id": request_id,
            "status": "ok",
            "tier": "fixed",
        },
    ]


def test_routers_with_the_same_pid_on_two_nodes_are_two_sessions():
    recording = collect(_router_life("node-a", "r1") + _router_life("node-b", "r2"))

    assert [(s.host, s.pid, [r.request_id for r in s.requests]) for s in recording.sessions] == [
        ("node-a", 4242, ["r1"]),
        ("node-b", 4242, ["r2"]),
    ]


def _two_nodes_same_pid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[Path], dict[str, str]]:
    """Real decision logs of two routers that share a pid (this process) under two Ray node ids, as
    routers on two nodes do; each recycles its worker once (a sticky CUDA error on its first document)."""
    monkeypatch.setattr(logs, "_placement", {})  # the placement is process-wide: this test's own
    docs = images(tmp_path / "docs", 2)
    request_ids = {}
    files = []
    for host, doc in zip(HOSTS, docs, strict=True):
        logs.set_placement(host=host, actor=f"actor-{host[:4]}")
        model = {
            "name": "model",
            "backend": {"kind": "faulty", "cuda": "off", "triggers": {sha256(doc): "sticky_cuda"}},
        }
        model |= {"workers": 1, "preload": True, "stop_grace_s": 0.5}
        policy = policy_from_dict({"name": "nodes", "tiers": [model, tier("rules")]})
        files.append(tmp_path / f"{host[:16]}.jsonl")
        with Router(policy, logger=logs.discard(), log_json=files[-1]) as router:
            router.warm_up()
            request_ids[host] = router.extract(doc.read_bytes(), name=doc.name).request_id
            _wait_for_recycle(router)
    return files, request_ids


def _wait_for_recycle(router: Router) -> None:
    deadline = time.monotonic() + 60
    while router.status()["model"]["state"] != "ready" and time.monotonic() < deadline:
        time.sleep(0.05)


def test_incidents_and_trail_name_the_host_of_every_process_they_show(tmp_path, monkeypatch):
    files, request_ids = _two_nodes_same_pid(tmp_path, monkeypatch)
    pid, short = os.getpid(), [host[:HOST_CHARS] for host in HOSTS]

    report = json.loads(_cli("incidents", *files, "--json"))
    assert report["window"]["processes"] == [{"host": host, "pid": pid} for host in HOSTS]
    assert [(h["host"], h["routers"], h["requests"]) for h in report["by_host"]] == [(h, [pid], 1) for h in HOSTS]
    assert sorted(r["host"] for r in report["recycles"]["events"]) == HOSTS
    assert {(r["host"], r["pid"]) for r in report["degraded"]} == {(host, pid) for host in HOSTS}
    assert all(line["host"] in HOSTS for line in report["timeline"])

    text = _cli("incidents", *files, "--top", "50")
    for title, rows in _tables(text).items():
        if title.startswith(("Worker recycles", "Timeline", "Breaker", "Degraded", "Routers by host")):
            assert rows and all(any(s in row for s in short) for row in rows), (title, rows)
    assert f"{short[0]}:{pid}" in text and f"{short[1]}:{pid}" in text

    steps = json.loads(_cli("trail", request_ids[HOSTS[0]], *files, "--json"))["steps"]
    workers = [s["event"] for s in steps if s["role"] == "worker"]
    assert workers and {e["host"] for e in workers} == {HOSTS[0]}  # not the other node's worker of the same pid
    assert f"{short[0]}:{pid}" in _cli("trail", request_ids[HOSTS[0]], *files)


def _cli(*args: object) -> str:
    result = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "400"})  # a row per line
    assert result.exit_code == 0, result.output
    return result.stdout


def _tables(text: str) -> dict[str, list[str]]:
    """Rich tables of ``text``: each title and its body rows (lines between the header rule and the end)."""
    tables: dict[str, list[str]] = {}
    title = None
    for line in text.splitlines():
        if line and not line.startswith(("┏", "┃", "┡", "│", "└", "├", " ")):
            title = line.strip()
            tables.setdefault(title, [])
        elif title and line.startswith("│"):
            tables[title].append(line)
    return tables
