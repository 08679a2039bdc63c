"""The parts of a batch: finding inputs, the append-only output, the summary's numbers."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from router.batch import ResultSink, Summary, discover, percentile
from router.batch.progress import BarProgress, PlainProgress, make_progress
from router.batch.run import read_item
from router.batch.sink import read_records
from tests.router.surfaces_kit import images


def test_folders_are_walked_for_documents_only_and_named_files_are_always_inputs(tmp_path):
    docs = images(tmp_path / "set" / "sub", 2)
    (tmp_path / "set" / "labels.jsonl").write_text("{}")
    named = tmp_path / "notes.txt"
    named.write_text("x")
    found, unmatched = discover([str(tmp_path / "set"), str(named), str(tmp_path / "missing.jpg")])
    assert found == [*docs, named, tmp_path / "missing.jpg"]
    assert unmatched == []


def test_globs_expand_and_repeats_are_dropped(tmp_path):
    docs = images(tmp_path, 3)
    found, unmatched = discover([str(tmp_path / "*.png"), str(docs[0]), str(tmp_path / "**/*.tif")])
    assert found == docs
    assert unmatched == [str(tmp_path / "**/*.tif")]


def test_names_too_long_for_the_file_system_are_an_input_or_an_unmatched_glob(tmp_path):
    long = str(tmp_path / ("a" * 300))
    found, unmatched = discover([long + ".png", long + "*"])
    assert found == [Path(long + ".png")]
    assert unmatched == [long + "*"]


def test_a_torn_last_line_is_cut_so_its_input_is_read_again(tmp_path):
    out = tmp_path / "out.jsonl"
    whole = json.dumps({"key": "aaa", "status": "ok"}) + "\n"
    out.write_text(whole + '{"key": "bbb", "sta')
    sink = ResultSink(out)
    sink.close()
    assert out.read_text() == whole
    assert sink.repaired_bytes == len('{"key": "bbb", "sta')
    assert dict(sink.done) == {"aaa": 1}


def test_a_file_that_is_one_torn_line_is_emptied(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text('{"key": "half')
    ResultSink(out).close()
    assert out.read_text() == ""


def test_lines_are_appended_whole_and_keys_counted_as_a_multiset(tmp_path):
    out = tmp_path / "deep" / "out.jsonl"
    with ResultSink(out, fsync_every=1) as sink:
        for key in ("k1", "k2", "k1"):
            sink.write({"key": key, "text": "ünïcode\nnewline inside"})
    assert len(out.read_bytes().splitlines()) == 3
    reopened = ResultSink(out)
    reopened.close()
    assert dict(reopened.done) == {"k1": 2, "k2": 1}
    assert [r["key"] for r in read_records(out)] == ["k1", "k2", "k1"]


def test_an_input_is_keyed_by_its_bytes_or_if_unreadable_by_its_path(tmp_path):
    [doc] = images(tmp_path, 1)
    copy = tmp_path / "copy.png"
    copy.write_bytes(doc.read_bytes())
    assert read_item(doc, 10**6).key == read_item(copy, 10**6).key
    assert read_item(doc, 10**6).data == doc.read_bytes()
    missing = read_item(tmp_path / "nope.png", 10**6)
    assert missing.key == f"path:{os.path.abspath(tmp_path / 'nope.png')}" and missing.data is None
    too_big = read_item(doc, 10)
    assert too_big.key.startswith("path:") and too_big.data is None


@pytest.mark.parametrize(("values", "q", "expected"), [([], 50, None), ([5.0], 95, 5.0), ([1, 2, 3, 4], 50, 2.5)])
def test_percentiles_interpolate(values, q, expected):
    assert percentile(values, q) == expected


def test_the_summary_counts_by_status_tier_and_error_class():
    summary = Summary(total=4, already_done=1)
    summary.add({"status": "ok", "tier": "a", "duration_ms": 10})
    summary.add({"status": "degraded", "tier": "b", "duration_ms": 30})
    summary.add({"status": "failed", "tier": None, "duration_ms": 1, "error": {"error_class": "bad_input"}})
    data = summary.to_dict()
    assert data["by_status"] == {"ok": 1, "degraded": 1, "failed": 1}
    assert data["by_tier"] == {"a": 1, "b": 1, "none": 1}
    assert data["by_error_class"] == {"bad_input": 1}
    assert data["latency_ms"] == {"p50": 10.0, "p95": 28.0}
    assert any("p50 10 ms" in line for line in summary.lines())


def test_plain_progress_prints_rate_and_eta():
    now = [0.0]
    stream = io.StringIO()
    progress = PlainProgress(10, stream, every_s=1.0, clock=lambda: now[0])
    progress.skipped(2)
    now[0] = 2.0
    progress.advance("ok")
    progress.advance("failed")
    assert stream.getvalue() == "batch: 3/10 (30%), failed 0, 0.50 docs/s, eta 14 s\n"
    progress.close()
    assert stream.getvalue().splitlines()[-1] == "batch: 4/10 (40%), failed 1, 1.00 docs/s, eta 6 s"


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_a_bar_on_a_terminal_and_plain_lines_elsewhere():
    assert isinstance(make_progress("auto", 3, io.StringIO()), PlainProgress)
    terminal = FakeTerminal()
    bar = make_progress("auto", 3, terminal)
    assert isinstance(bar, BarProgress)
    bar.skipped(1)
    bar.advance("ok")
    bar.close()
    assert "2/3" in terminal.getvalue() and "docs/s" in terminal.getvalue()


FULL_DISK = """
import json, resource, signal, sys
from pathlib import Path
from router.batch import ResultSink
from router.batch.sink import OutputWriteError

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
out = Path(sys.argv[1])
line = {"key": "k", "request_id": "r", "status": "ok", "pad": "x" * 300}
sink = ResultSink(out)
resource.setrlimit(resource.RLIMIT_FSIZE, (1000, resource.RLIM_INFINITY))  # the disk fills up
failed_at = None
for n in range(10):
    try:
        sink.write({**line, "key": f"k{n}", "request_id": f"r{n}"})
    except OutputWriteError:
        failed_at = n
        break
resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
try:  # room again (a temporary file deleted): still no line after a torn one
    sink.write({**line, "key": "late", "request_id": "late"})
    late = "written"
except OutputWriteError:
    late = "refused"
print(json.dumps({"failed_at": failed_at, "late": late}))
"""


def test_after_a_failed_write_no_line_follows_and_the_file_holds_whole_lines(tmp_path):
    """The disk fills up mid-line (a real kernel file-size limit), then room comes back: the torn
    part is cut and no later line is appended behind it, so every line in the file reads."""
    import subprocess
    import sys

    from tests.router.surfaces_kit import env

    out = tmp_path / "out.jsonl"
    done = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(out)], capture_output=True, text=True, env=env(), timeout=60, check=True
    )
    report = json.loads(done.stdout)
    assert report == {"failed_at": 2, "late": "refused"}
    assert [json.loads(raw)["key"] for raw in out.read_bytes().splitlines()] == ["k0", "k1"]
