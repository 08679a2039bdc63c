"""Batch outputs under a careful user: odd file names, retries of passing failures, one writer at a
time, folder walks that meet links and FIFOs, and output options that cannot work."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from router.api.router import Router
from router.batch import BatchSettings, ResultSink, discover, run_batch
from router.batch.sink import OutputBusyError, read_records
from router.cli import app
from router.policy.model import load_policy
from tests.router.surfaces_kit import bad_files, images, policy_file, run_cli, tier


def router_for(folder: Path, *tiers, **settings) -> Router:
    folder.mkdir(parents=True, exist_ok=True)
    return Router(load_policy(policy_file(folder, *tiers, **settings)))


def batch(router, inputs, out, *, retry_failed=False):
    with ResultSink(out, retry_failed=retry_failed) as sink:
        return run_batch(router, inputs, sink, BatchSettings(jobs=2))


def test_a_file_name_that_is_not_utf8_gets_its_line_and_is_matched_on_resume(tmp_path):
    good = images(tmp_path / "in", 3)
    odd = tmp_path / "in" / os.fsdecode(b"bad\xffname.png")
    odd.write_bytes(good[0].read_bytes()[:-1] + b"\x00")  # distinct bytes, still a PNG header
    stray = tmp_path / "in" / os.fsdecode(b"gone\xfe.png")  # missing: keyed by its path
    inputs = [*good, odd, stray]
    out = tmp_path / "out.jsonl"
    with router_for(tmp_path, tier("a")) as router:
        first = batch(router, inputs, out)
        again = batch(router, inputs, out)
    assert first.processed == 5
    assert (again.processed, again.already_done) == (0, 5)
    records = read_records(out)
    assert sorted(r["input"] for r in records) == sorted(str(p) for p in inputs)
    assert out.read_bytes().decode("utf-8")  # the file is valid UTF-8, the names JSON escapes
    assert os.fsencode(next(r["input"] for r in records if "gone" in r["input"])).endswith(b"gone\xfe.png")


def test_a_file_that_changed_between_two_runs_keeps_one_current_line_naming_the_old_one(tmp_path):
    """It got a second line for the same path, without saying which one was current."""
    first_docs = images(tmp_path / "in", 2)
    out = tmp_path / "out.jsonl"
    with router_for(tmp_path, tier("a")) as router:
        batch(router, first_docs, out)
        before = {r["input"]: r for r in read_records(out)}
        images(tmp_path / "in", 2, size=(50, 30))  # same names, new bytes
        again = batch(router, first_docs, out)
    after = {r["input"]: r for r in read_records(out)}
    assert again.processed == 2 and len(out.read_text().splitlines()) == 2  # compacted: one line each
    assert {name: r["replaces"] for name, r in after.items()} == {n: r["request_id"] for n, r in before.items()}
    assert all(after[n]["key"] != before[n]["key"] for n in after)


def transient_then_fixed(tmp_path: Path, garbage_sha: str) -> tuple[Router, Router]:
    """A first router whose only tier runs out of GPU memory on everything except one document
    (whose answer fails validation); a second that answers."""
    broken = tier("a", backend={"faults": {"cuda_oom": 1.0}, "triggers": {garbage_sha[:12]: "garbage"}})
    fixed = tier("a", backend={"triggers": {garbage_sha[:12]: "garbage"}})
    return router_for(tmp_path / "p1", broken), router_for(tmp_path / "p2", fixed)


def test_a_rerun_retries_passing_failures_and_keeps_one_current_line_per_input(tmp_path):
    good = images(tmp_path / "in", 4)
    [unreadable, *_] = bad_files(tmp_path / "bad")
    garbage = good[-1]
    inputs = [*good, unreadable]
    out = tmp_path / "out.jsonl"
    first_router, second_router = transient_then_fixed(tmp_path, hashlib.sha256(garbage.read_bytes()).hexdigest())
    with first_router:
        batch(first_router, inputs, out)
    classes = {r["input"]: r["error"]["error_class"] for r in read_records(out)}
    assert classes == {
        **{str(p): "cuda_oom" for p in good[:3]},
        str(garbage): "invalid_output",
        str(unreadable): "bad_input",
    }
    with second_router:
        second = batch(second_router, inputs, out)
        assert (second.retried, second.processed, second.already_done) == (3, 3, 2)
        lines = [json.loads(line) for line in out.read_text().splitlines()]
        assert len(lines) == 5  # compacted: the three replaced lines are gone from the file
        assert {r["input"]: r["status"] for r in lines} == {
            **{str(p): "ok" for p in good[:3]},
            str(garbage): "failed",
            str(unreadable): "failed",
        }
        assert sum("retry_of" in r for r in lines) == 3
        third = batch(second_router, inputs, out)  # nothing passing is left: document failures are final
        assert (third.processed, third.already_done) == (0, 5)
        forced = batch(second_router, inputs, out, retry_failed=True)
        assert (forced.retried, forced.processed) == (2, 2)
    assert len(out.read_text().splitlines()) == 5
    assert sorted(r["input"] for r in read_records(out)) == sorted(map(str, inputs))


def test_a_crash_before_compaction_leaves_a_file_whose_current_lines_are_known(tmp_path):
    out = tmp_path / "out.jsonl"
    old = {"key": "k1", "request_id": "r1", "status": "failed", "error": {"error_class": "timeout"}}
    other = {"key": "k2", "request_id": "r2", "status": "ok"}
    new = {"key": "k1", "request_id": "r3", "status": "ok", "retry_of": "r1"}
    out.write_text("".join(json.dumps(r) + "\n" for r in (old, other, new)))
    assert [r["request_id"] for r in read_records(out)] == ["r2", "r3"]
    sink = ResultSink(out)
    assert (dict(sink.done), sink.retryable) == ({"k1": 1, "k2": 1}, {})
    sink.close()  # the next run compacts
    assert [json.loads(line)["request_id"] for line in out.read_text().splitlines()] == ["r2", "r3"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "out.jsonl.lock"]


def test_a_second_writer_of_the_same_output_is_refused_or_waits(tmp_path):
    out = tmp_path / "out.jsonl"
    first = ResultSink(out)
    with pytest.raises(OutputBusyError, match="being written by another batch"):
        ResultSink(out)
    threading.Timer(0.3, first.close).start()
    started = time.monotonic()
    with ResultSink(out, wait=True):
        assert time.monotonic() - started > 0.1  # it waited for the first to close


def test_the_cli_refuses_a_second_batch_on_the_same_output_with_one_line(tmp_path):
    docs = images(tmp_path / "in", 2)
    out = tmp_path / "out.jsonl"
    with ResultSink(out):
        result = run_cli("batch", *map(str, docs), "--out", str(out), "-p", str(policy_file(tmp_path, tier("a"))))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "being written by another batch" in result.stderr
    assert out.read_text() == ""


def test_a_folder_walk_gives_dangling_links_and_fifos_their_lines(tmp_path):
    folder = tmp_path / "in"
    images(folder, 1)
    (folder / "dangling.png").symlink_to(folder / "nowhere.png")
    os.mkfifo(folder / "pipe.jpg")
    (folder / "sub.png").mkdir()  # a folder named like a document is walked, not an input
    found, _ = discover([str(folder)])
    assert sorted(p.name for p in found) == ["dangling.png", "doc000.png", "pipe.jpg"]
    out = tmp_path / "out.jsonl"
    with router_for(tmp_path, tier("a")) as router:
        batch(router, found, out)
    messages = {Path(r["input"]).name: (r["error"] or {}).get("message", "") for r in read_records(out)}
    assert "missing file" in messages["dangling.png"]
    assert "not a regular file" in messages["pipe.jpg"]


def test_help_says_resume_is_by_content():
    text = " ".join(CliRunner().invoke(app, ["batch", "--help"], terminal_width=200).output.split())
    assert "by content" in text and "renamed" in text and "--retry-failed" in text


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        (["--out", "{tmp}/nosuch/out.jsonl"], "does not exist"),
        (["--out", "{tmp}"], "is a folder"),
        (["--out", "{tmp}/out.jsonl", "--log-json", "{tmp}/nosuch/log.jsonl"], "does not exist"),
        (["--out", "{tmp}/out.jsonl", "--log-json", "{tmp}"], "is a folder"),
        (["--out", "{tmp}/out.jsonl", "--log-json", "{tmp}/./out.jsonl"], "name the same file"),
    ],
)
def test_output_options_that_cannot_work_are_one_line_and_exit_2(tmp_path, options, problem):
    [doc] = images(tmp_path / "in", 1)
    args = ["batch", str(doc), "-p", "cpu", *(o.format(tmp=tmp_path) for o in options)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert problem in result.output and result.output.strip().count("\n") == 0
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("content", [b"\x89PNG\r\n\x1a\nrest of an image", b"my notes\nno newline at the end"])
def test_an_out_that_is_not_a_batch_output_is_refused_and_left_untouched(tmp_path, content):
    [doc] = images(tmp_path / "in", 1)
    precious = tmp_path / "precious.png"
    precious.write_bytes(content)
    result = CliRunner().invoke(app, ["batch", str(doc), "-p", "cpu", "--out", str(precious)])
    assert result.exit_code == 2, result.output
    assert "not the output of a batch" in result.output and str(precious) in result.output
    assert precious.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "precious.png"]  # no lock file left beside it


def test_an_input_named_as_out_is_refused_and_left_untouched(tmp_path):
    [doc] = images(tmp_path / "in", 1)
    before = doc.read_bytes()
    result = CliRunner().invoke(app, ["batch", str(doc), "-p", "cpu", "--out", str(doc)])
    assert result.exit_code == 2, result.output
    assert doc.read_bytes() == before


def test_a_special_file_as_out_is_one_line_and_exit_2(tmp_path):
    [doc] = images(tmp_path / "in", 1)
    os.mkfifo(tmp_path / "pipe.jsonl")
    result = CliRunner().invoke(app, ["batch", str(doc), "-p", "cpu", "--out", str(tmp_path / "pipe.jsonl")])
    assert result.exit_code == 2, result.output
    assert "not a regular file" in result.output and result.output.strip().count("\n") == 0


def test_an_out_whose_lock_cannot_be_opened_is_one_line_and_exit_2(tmp_path):
    [doc] = images(tmp_path / "in", 1)
    (tmp_path / "out.jsonl.lock").mkdir()
    result = CliRunner().invoke(app, ["batch", str(doc), "-p", "cpu", "--out", str(tmp_path / "out.jsonl")])
    assert result.exit_code == 2, result.output
    assert "out.jsonl.lock" in result.output and result.output.strip().count("\n") == 0


def test_a_name_too_long_for_the_file_system_gets_its_failed_line(tmp_path):
    long = str(tmp_path / ("a" * 300))
    found, _ = discover([long + ".png"])
    out = tmp_path / "out.jsonl"
    with router_for(tmp_path, tier("a")) as router:
        batch(router, found, out)
    [record] = read_records(out)
    assert record["error"]["error_class"] == "bad_input" and "name too long" in record["error"]["message"]


def test_a_glob_that_matches_the_batch_own_files_leaves_them_out(tmp_path):
    folder = tmp_path / "in"
    docs = images(folder, 2)
    policy = policy_file(tmp_path, tier("a"))
    out, log = folder / "out.jsonl", folder / "log.jsonl"
    for _ in range(3):  # the reruns see out.jsonl, out.jsonl.lock and log.jsonl among the matches
        args = ["batch", str(folder / "*"), "-p", str(policy), "--out", str(out), "--log-json", str(log)]
        result = CliRunner().invoke(app, [*args, "--progress", "none"])
        assert result.exit_code == 0, result.output
    assert sorted(r["input"] for r in read_records(out)) == sorted(str(d) for d in docs)


def test_a_log_json_that_is_not_a_log_is_refused_and_left_untouched(tmp_path):
    [doc] = images(tmp_path / "in", 1)
    precious = tmp_path / "scan.png"
    precious.write_bytes(doc.read_bytes())
    args = ["batch", str(doc), "-p", "cpu", "--out", str(tmp_path / "out.jsonl"), "--log-json", str(precious)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "not a docroute log" in result.output and result.output.strip().count("\n") == 0
    assert precious.read_bytes() == doc.read_bytes()
