"""Batches in process: every input gets exactly one line, whatever it holds and however the run ends."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pytest

from backends.testing.synthetic import random_receipt, render_receipt
from router.api.router import Router
from router.batch import BatchSettings, ResultSink, StopFlag, run_batch
from router.batch.sink import read_records
from router.policy.model import load_policy
from tests.router.surfaces_kit import FIXED, bad_files, cpu_inline, images, one_line_per_input, pdf, policy_file, tier


def router_for(tmp_path, *tiers, **settings) -> Router:
    return Router(load_policy(policy_file(tmp_path, *tiers, **settings)))


def batch(router, inputs, out, *, jobs=2, stop=None, grace_s=30.0):
    with ResultSink(out) as sink:
        return run_batch(router, inputs, sink, BatchSettings(jobs=jobs, grace_s=grace_s), stop=stop)


def test_good_bad_and_missing_inputs_each_get_exactly_one_line(tmp_path):
    inputs = [
        *images(tmp_path / "in", 4),
        *bad_files(tmp_path / "in"),
        pdf(tmp_path / "in" / "two-pages.pdf"),
        tmp_path / "in" / "missing.png",
        tmp_path / "in",  # a folder named as a file
    ]
    out = tmp_path / "out.jsonl"
    with router_for(tmp_path, tier("a")) as router:
        summary = batch(router, inputs, out)
    assert one_line_per_input(out, inputs)
    records = {r["input"]: r for r in read_records(out)}
    assert records[str(inputs[0])]["status"] == "ok"
    assert {k: v["value"] for k, v in records[str(inputs[0])]["fields"].items()} == FIXED
    assert records[str(tmp_path / "in" / "two-pages.pdf")]["document"]["pages"] == 2
    for bad in inputs[4:7] + inputs[8:]:
        assert records[str(bad)]["status"] == "failed"
        assert records[str(bad)]["error"]["error_class"] == "bad_input"
    assert "file not found" in records[str(tmp_path / "in" / "missing.png")]["error"]["message"]
    assert summary.by_status == {"ok": 5, "failed": 5}
    assert summary.by_error == {"bad_input": 5}


def test_a_rerun_skips_what_is_done_and_appends_the_rest(tmp_path):
    inputs = images(tmp_path / "in", 6)
    out = tmp_path / "out.jsonl"
    with router_for(tmp_path, tier("a")) as router:
        first = batch(router, inputs[:4], out)
        second = batch(router, inputs, out)
        third = batch(router, inputs, out)
    assert (first.processed, second.processed, second.already_done, third.processed) == (4, 2, 4, 0)
    assert one_line_per_input(out, inputs)


def test_identical_files_each_get_their_own_line(tmp_path):
    [doc] = images(tmp_path / "in", 1)
    twin = tmp_path / "in" / "twin.png"
    twin.write_bytes(doc.read_bytes())
    out = tmp_path / "out.jsonl"
    with router_for(tmp_path, tier("a")) as router:
        batch(router, [doc], out)
        summary = batch(router, [doc, twin], out)
    assert (summary.already_done, summary.processed) == (1, 1)
    assert len(read_records(out)) == 2


def test_tier_failures_become_classified_lines_and_fallbacks_answer(tmp_path):
    inputs = images(tmp_path / "in", 12)
    out = tmp_path / "out.jsonl"
    flaky = tier("flaky", backend={"faults": {"garbage": 0.5, "cuda_oom": 0.2}, "seed": 7})
    with router_for(tmp_path, flaky, tier("last", backend={"faults": {"garbage": 0.5}, "seed": 3})) as router:
        summary = batch(router, inputs, out)
    assert one_line_per_input(out, inputs)
    records = read_records(out)
    assert summary.by_status["failed"] > 0 and summary.by_status["degraded"] > 0
    for record in records:
        if record["status"] == "failed":
            assert record["error"]["error_class"] in ("invalid_output", "cuda_oom")
        else:
            assert record["tier"] in ("flaky", "last")


class Crashing:
    """A router with a bug: extract raises for one document."""

    def __init__(self, inner, poison: str):
        self.inner = inner
        self.poison = poison

    def extract(self, source, *, name=None, request_id=None):
        if name and name.endswith(self.poison):
            raise RuntimeError("a bug in the router")
        return self.inner.extract(source, name=name, request_id=request_id)


def test_an_exception_from_the_router_still_gives_the_input_its_line(tmp_path):
    inputs = images(tmp_path / "in", 3)
    out = tmp_path / "out.jsonl"
    with router_for(tmp_path, tier("a")) as router:
        batch(Crashing(router, inputs[1].name), inputs, out)
    records = {r["input"]: r for r in read_records(out)}
    assert one_line_per_input(out, inputs)
    assert records[str(inputs[1])]["error"] == {
        "error_class": "unknown",
        "message": "internal error: RuntimeError('a bug in the router')",
    }


def stop_after(stop: StopFlag, out, lines: int) -> threading.Thread:
    def watch():
        while not out.exists() or len(out.read_bytes().splitlines()) < lines:
            time.sleep(0.01)
        stop.request("SIGINT")

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_a_stop_lets_documents_in_flight_finish_and_a_rerun_completes(tmp_path):
    inputs = images(tmp_path / "in", 10)
    out = tmp_path / "out.jsonl"
    slow = tier("a", workers=2, backend={"faults": {"slow": 1.0}, "slow_s": 0.15})
    with router_for(tmp_path, slow) as router:
        stop = StopFlag()
        stop_after(stop, out, 2)
        interrupted = batch(router, inputs, out, stop=stop)
        assert interrupted.interrupted_by == "SIGINT"
        assert interrupted.abandoned == 0
        assert 2 <= interrupted.processed < 10
        resumed = batch(router, inputs, out)
    assert resumed.already_done == interrupted.processed
    assert one_line_per_input(out, inputs)


def test_documents_still_in_flight_after_the_grace_period_are_abandoned_without_a_line(tmp_path):
    inputs = images(tmp_path / "in", 4)
    out = tmp_path / "out.jsonl"
    slow = tier("a", workers=2, timeout_s=30, backend={"faults": {"slow": 1.0}, "slow_s": 2.0})
    with router_for(tmp_path, slow) as router:
        stop = StopFlag()
        threading.Timer(0.3, stop.request, ["SIGTERM"]).start()
        started = time.monotonic()
        summary = batch(router, inputs, out, stop=stop, grace_s=0.2)
        elapsed = time.monotonic() - started
    assert elapsed < 1.5, "the batch waited for the slow documents"
    assert (summary.abandoned, summary.processed, summary.interrupted_by) == (2, 0, "SIGTERM")
    assert out.read_text() == ""


class Counting:
    """Counts how many documents are being extracted at once."""

    def __init__(self, inner):
        self.inner = inner
        self.now = 0
        self.most = 0
        self.lock = threading.Lock()

    def extract(self, source, **kwargs):
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            return self.inner.extract(source, **kwargs)
        finally:
            with self.lock:
                self.now -= 1


@pytest.mark.parametrize("jobs", [1, 3])
def test_jobs_bound_the_documents_in_flight(tmp_path, jobs):
    inputs = images(tmp_path / "in", 6)
    slow = tier("a", workers=4, backend={"faults": {"slow": 1.0}, "slow_s": 0.05})
    with router_for(tmp_path, slow) as router:
        counting = Counting(router)
        batch(counting, inputs, tmp_path / "out.jsonl", jobs=jobs)
    assert 1 <= counting.most <= jobs
    assert counting.most > 1 or jobs == 1


@pytest.mark.slow
def test_receipt_images_and_pdfs_are_read_by_the_cpu_policy(tmp_path):
    """Real Tesseract and rules: a PNG and a PDF of rendered receipts, each one line with its fields."""
    specs = [random_receipt(random.Random(seed), locale="UK", degrade=False) for seed in (11, 12)]
    (tmp_path / "in").mkdir()
    png, pdf_path = tmp_path / "in" / "a.png", tmp_path / "in" / "b.pdf"
    render_receipt(specs[0]).save(png)
    render_receipt(specs[1]).save(pdf_path, "PDF", resolution=200)
    out = tmp_path / "out.jsonl"
    with Router(cpu_inline()) as router:
        batch(router, [png, pdf_path], out)
    records = {Path(r["input"]).name: r for r in read_records(out)}
    for name, spec in (("a.png", specs[0]), ("b.pdf", specs[1])):
        assert records[name]["status"] == "ok", records[name]["error"]
        assert records[name]["fields"]["total"]["value"] == str(spec.total)
    assert records["b.pdf"]["document"]["media_type"] == "application/pdf"
