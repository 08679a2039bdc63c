"""The forensics commands: tables for people, --json for machines, exit codes that mean something."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from router.cli import app
from tests.router.forensics.world import World, documents, run_world, tier

runner = CliRunner()


@pytest.fixture(scope="module")
def world_log(tmp_path_factory):
    """Three documents: one answered by a, one after a sticky error on a (by b), one failed everywhere."""
    path = tmp_path_factory.mktemp("cli") / "log.jsonl"
    docs = documents(3)
    world = World(
        {
            (docs[1].sha256, "a"): [("sticky", 0.4)],
            (docs[2].sha256, "a"): [("garbage", 0.2)],
            (docs[2].sha256, "b"): [("garbage", 0.3)],
        }
    )
    run_world({"name": "a", "tiers": [tier("a"), tier("b")]}, world, docs, path)
    return path, docs


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


def test_incidents_in_a_window_without_events_says_so_in_one_line(world_log):
    path, _ = world_log
    code, out = invoke("incidents", path, "--since", "2099-01-01T00:00:00Z")
    assert code == 0
    assert out.strip() == f"no events from 2099-01-01T00:00:00Z to the end in {path} (events read at other times)"


def test_incidents_counts_failures_by_tier_and_class(world_log):
    path, docs = world_log
    code, out = invoke("incidents", path, "--json")
    report = json.loads(out)
    assert code == 0
    assert report["failures"] == {"a": {"sticky_cuda": 1, "invalid_output": 1}, "b": {"invalid_output": 1}}
    assert report["status"] == {"ok": 1, "degraded": 1, "failed": 1}
    assert [d["sha256"] for d in report["poisoning_documents"]] == [docs[1].sha256]
    assert [r["sha256"] for r in report["degraded"]] == [docs[1].sha256]
    code, out = invoke("incidents", path)
    assert code == 0 and "Failed attempts by tier and error class" in out and "sticky_cuda" in out


def test_trail_tells_one_request_from_a_prefix(world_log):
    path, _ = world_log
    code, out = invoke("trail", "a-1", path, "--json")
    events = [s["event"]["event"] for s in json.loads(out)["steps"]]
    assert code == 0
    assert events[0] == "request.received" and events[-1] == "request.done"
    assert "attempt.failed" in events and "route.fallback" in events
    code, out = invoke("trail", "a-", path)
    assert code == 1 and "matches 3 requests" in out
    code, out = invoke("trail", "a-1", path)
    assert code == 0 and "route.fallback" in out


def test_replay_reports_changes_and_unknowns(world_log, tmp_path):
    path, _ = world_log
    policy = tmp_path / "strict.yaml"
    policy.write_text(yaml.safe_dump({"name": "strict", "tiers": [tier("a", fallback_on=["timeout"]), tier("b")]}))
    code, out = invoke("replay", path, "--policy", policy, "--json")
    report = json.loads(out)
    assert code == 0
    assert report["counts"]["newly_failed"] == 1 and report["counts"]["same"] == 2
    code, out = invoke("replay", path, "--policy", policy)
    assert code == 0 and "newly_failed" in out


def test_policy_lint_exits_1_on_errors_and_2_on_an_invalid_policy(tmp_path):
    bad = tmp_path / "bad.yaml"
    vision = {"kind": "llama_vision", "model": "/m", "generation": {"encoder_no_repeat_ngram_size": 3}}
    tiers = [
        {"name": "v", "backend": vision},
        {"name": "w", "backend": vision},
        {"name": "r", "backend": {"kind": "ocr_rules"}},
    ]
    bad.write_text(yaml.safe_dump({"tiers": tiers}))
    code, out = invoke("policy", "lint", bad, "--json")
    rules = {(f["rule"], f["severity"]) for f in json.loads(out)}
    assert code == 1 and {("duplicate-tier", "error"), ("generation-replaced", "info")} <= rules
    assert invoke("policy", "lint", "cpu")[0] == 0
    invalid = tmp_path / "invalid.yaml"
    invalid.write_text("tiers: []\n")
    assert invoke("policy", "lint", invalid)[0] == 2


def test_policy_diff(tmp_path):
    code, out = invoke("policy", "diff", "default", "cpu", "--json")
    assert code == 0 and not json.loads(out)["same"]
    assert invoke("policy", "diff", "default", "cpu", "--exit-code")[0] == 1
    assert invoke("policy", "diff", "cpu", "cpu", "--exit-code")[0] == 0


def test_a_file_without_events_is_an_error(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    code, out = invoke("incidents", empty)
    assert code == 2 and "no docroute events" in out


def test_events_that_miss_fields_or_are_foreign_are_skipped_and_counted_never_a_traceback(world_log, tmp_path):
    path, _ = world_log
    spoiled = tmp_path / "spoiled.jsonl"
    real = path.read_text().splitlines()
    skipped = json.loads(next(line for line in real if '"tier.skipped"' in line or '"attempt.failed"' in line))
    cut = {k: v for k, v in skipped.items() if k != "tier"}  # a line cut short and closed again
    mistyped = {**json.loads(next(line for line in real if '"attempt.failed"' in line)), "attempt": "one"}
    foreign = {"event": "app.request", "ts": skipped["ts"], "path": "/"}  # another program's event
    spoiled.write_text("\n".join([*real, *(json.dumps(e) for e in (cut, mistyped, foreign))]) + "\n")

    for command in (["incidents", spoiled, "--json"], ["replay", spoiled, "--policy", "cpu", "--json"]):
        result = runner.invoke(app, [str(a) for a in command])
        assert result.exit_code == 0 and result.exception is None, result.output
        report = json.loads(result.stdout)
        skipped_counts = report["window"]["skipped"] if command[0] == "incidents" else report["skipped"]
        assert skipped_counts == {"malformed_event": 2, "unknown_event": 1}
        assert "missing field 'tier'" in result.stderr and "attempt.failed.attempt: expected integer" in result.stderr
    assert json.loads(runner.invoke(app, ["incidents", str(path), "--json"]).stdout)["window"]["requests"] == 3
    result = runner.invoke(app, ["incidents", str(spoiled)])
    assert result.exit_code == 0 and "skipped 3 lines" in result.stdout
    result = runner.invoke(app, ["trail", "a-1", str(spoiled)])
    assert result.exit_code == 0 and result.exception is None
