"""The drill's parts: fault specs, its policies, unique inputs, and an audit that catches lost inputs."""

from __future__ import annotations

import hashlib
import io
import json
import threading
from pathlib import Path

import pytest
from PIL import Image

from router.core.result import DocumentInfo, Result
from router.drill import DrillSettings, FaultSpecError, drill_policy, parse_faults, run_drill, with_fault_stand_ins
from router.drill.documents import DrillInputs, with_text_chunk
from router.drill.observe import EventTally
from router.drill.report import DrillReport, percentile
from router.drill.run import _Load
from router.observe.logs import RouterLog, discard
from router.policy.model import policy_from_dict

# -- fault specs ---------------------------------------------------------------------------------


def test_a_fault_spec_reads_as_rates_per_mode():
    assert parse_faults("sticky_cuda=0.05, hang=0.02,segfault=0.02,") == {
        "sticky_cuda": 0.05,
        "hang": 0.02,
        "segfault": 0.02,
    }


def test_all_spreads_a_rate_over_every_mode():
    rates = parse_faults("all=0.21")
    assert set(rates) == {"sticky_cuda", "cuda_oom", "hang", "segfault", "exit", "garbage", "slow"}
    assert sum(rates.values()) == pytest.approx(0.21)


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("hang", "expected mode=rate"),
        ("boom=0.1", "unknown fault mode 'boom'"),
        ("hang=lots", "rate 'lots' is not a number"),
        ("hang=1.5", "rate must lie in 0..1"),
        ("hang=nan", "rate must lie in 0..1"),
        ("hang=0.6,exit=0.6", "add up to 1.2"),
    ],
)
def test_a_bad_fault_spec_names_the_part_and_the_problem(spec: str, problem: str):
    with pytest.raises(FaultSpecError, match=problem):
        parse_faults(spec)


# -- policies ------------------------------------------------------------------------------------


def test_the_drill_chain_puts_faulty_model_workers_in_front_of_a_last_tier_that_answers():
    policy = drill_policy({"hang": 0.1}, last_tier="fixed", workers=3, timeout_s=1.5)
    assert [(t.name, t.backend.kind, t.effective_isolation) for t in policy.tiers] == [
        ("model-a", "faulty", "process"),
        ("model-b", "faulty", "process"),
        ("fixed", "faulty", "inline"),
    ]
    model = policy.tiers[0]
    assert model.backend.faults == {"hang": 0.1} and model.backend.cuda == "off"  # type: ignore[union-attr]
    assert model.workers == 3 and model.timeout_s == 1.5 and model.preload
    assert policy.tiers[2].backend.faults == {}  # type: ignore[union-attr]
    assert drill_policy({}).tiers[2].backend.kind == "ocr_rules"  # the default: the real last tier
    assert [t.name for t in drill_policy({}, last_tier="none").tiers] == ["model-a", "model-b"]


def test_a_users_policy_keeps_its_tier_settings_with_faulty_stand_ins_for_model_tiers():
    policy = policy_from_dict(
        {
            "name": "prod",
            "tiers": [
                {"name": "vision", "backend": {"kind": "internvl3", "model": "/m"}, "timeout_s": 7, "workers": 3},
                {"name": "chaos", "backend": {"kind": "faulty", "seed": 4}},
                {"name": "rules", "backend": {"kind": "ocr_rules"}},
            ],
        }
    )
    drilled = with_fault_stand_ins(policy, {"segfault": 0.2})
    vision, chaos, rules = drilled.tiers
    assert (vision.name, vision.backend.kind, vision.timeout_s, vision.workers) == ("vision", "faulty", 7, 3)
    assert vision.backend.faults == {"segfault": 0.2}  # type: ignore[union-attr]
    assert chaos.backend.faults == {"segfault": 0.2} and chaos.backend.seed == 4  # type: ignore[union-attr]
    assert rules == policy.tiers[2]
    assert drilled.name == "prod+drill"


def test_an_inline_faulty_tier_gets_only_the_faults_the_routers_own_process_survives():
    """A segfault drawn inline would kill the drill itself (it did: exit 139 after 80 requests)."""
    policy = drill_policy({}, last_tier="fixed")
    drilled = with_fault_stand_ins(policy, {"segfault": 0.1, "hang": 0.1, "garbage": 0.2, "slow": 0.1})
    model_a, _, fixed = drilled.tiers
    assert model_a.backend.faults == {"segfault": 0.1, "hang": 0.1, "garbage": 0.2, "slow": 0.1}  # type: ignore[union-attr]
    assert fixed.effective_isolation == "inline"
    assert fixed.backend.faults == {"garbage": 0.2, "slow": 0.1}  # type: ignore[union-attr]


def test_a_policy_without_model_tiers_cannot_be_drilled():
    rules_only = policy_from_dict({"tiers": [{"name": "rules", "backend": {"kind": "ocr_rules"}}]})
    with pytest.raises(ValueError, match="no model or faulty tier"):
        with_fault_stand_ins(rules_only, {"hang": 0.1})


# -- inputs --------------------------------------------------------------------------------------


def test_each_request_sends_a_distinct_valid_png_of_the_same_receipt():
    inputs = DrillInputs(seed=1)
    first, again, ninth = inputs(1), inputs(1), inputs(1 + 8)
    assert first.source == again.source  # the same for the same index, from any thread
    assert isinstance(first.source, bytes) and isinstance(ninth.source, bytes)
    assert hashlib.sha256(first.source).digest() != hashlib.sha256(ninth.source).digest()
    pixels = [Image.open(io.BytesIO(s)).convert("RGB").tobytes() for s in (first.source, ninth.source)]
    assert pixels[0] == pixels[1]


def test_a_text_chunk_keeps_the_png_valid():
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, "PNG")
    tagged = with_text_chunk(buffer.getvalue(), "request 7")
    image = Image.open(io.BytesIO(tagged))
    image.load()  # checks every chunk's CRC
    assert image.info["Comment"] == "request 7"


def test_bad_inputs_are_mixed_in_at_their_rate(tmp_path: Path):
    inputs = DrillInputs(seed=2, bad_input_rate=0.3, corpus_dir=tmp_path)
    drawn = [inputs(i) for i in range(400)]
    from_corpus = [d for d in drawn if d.name.startswith("corpus/")]
    assert 80 < len(from_corpus) < 160
    assert any(d.expect_bad_input for d in from_corpus) and not all(d.expect_bad_input for d in from_corpus)


# -- the audit -----------------------------------------------------------------------------------


class ScriptedRouter:
    """A router stand-in whose requests go wrong on purpose, to prove the audit notices."""

    tiers: list = []

    def __init__(self, hang_on: int | None = None):
        self.hang_on = hang_on
        self.release = threading.Event()
        self.decision_log = RouterLog(host=discard())

    def extract(self, source, *, name, request_id):
        number = int(request_id.rsplit("-", 1)[1])
        if number == self.hang_on:
            self.release.wait(30)
        if number == 3:
            raise RuntimeError("a bug in the router")
        log = self.decision_log.logger.bind(request_id=request_id)
        if number != 9:  # 9: no terminal event in the log
            log.info("request.done")
        if number == 7:  # 7: two
            log.info("request.done")
        answered_id = "someone-else" if number == 5 else request_id  # 5: a result for another request
        return Result(
            request_id=answered_id,
            status="ok",
            tier="t",
            document=DocumentInfo(source=name),
            policy="p",
            policy_hash="h",
            duration_ms=1.0,
        )


def audit(router: ScriptedRouter, requests: int, stall_s: float = 30.0) -> DrillReport:
    settings = DrillSettings(requests=requests, concurrency=3)
    tally = EventTally(requests).attach(router.decision_log)
    load = _Load(router, DrillInputs(), settings)  # type: ignore[arg-type]
    load.run(stall_s)
    report = DrillReport(policy="p", faults={}, requests=requests, concurrency=3)
    load.fill(report, tally)
    return report


def test_the_audit_counts_inputs_without_exactly_one_result_and_one_terminal_event():
    report = audit(ScriptedRouter(), 12)
    assert report.lost_ids == ["drill-000003", "drill-000005", "drill-000007", "drill-000009"]
    assert report.lost == 4 and report.raised == 1
    assert report.answered == 11
    assert not report.passed


def test_a_request_that_never_returns_stalls_the_drill_and_is_lost():
    router = ScriptedRouter(hang_on=2)
    try:
        report = audit(router, 6, stall_s=1.0)
    finally:
        router.release.set()
    assert report.stalled and "drill-000002" in report.lost_ids
    assert not report.passed


def test_percentiles_by_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 0.5), percentile(values, 0.95), percentile([], 0.5)) == (50.0, 95.0, 0.0)


# -- a small real drill, in this process -----------------------------------------------------------


#: Process-killing faults, by the error class their attempt fails with.
KILLING = {"sticky_cuda", "worker_crashed"}
RETIRED = ("worker.died", "worker.poisoned", "worker.timeout")


def sure_faults(inputs: DrillInputs, near: tuple[int, ...], mode: str) -> tuple[dict[str, str], set[str]]:
    """Triggers that give a receipt at (or just after) each of the measured requests ``near`` the fault
    ``mode`` for sure, and those requests' ids. The measured phase starts with every worker up, so a
    sure fault on its first request meets a worker."""
    chosen = [next(i for i in range(start, start + 50) if isinstance(inputs(i).source, bytes)) for start in near]
    triggers = {hashlib.sha256(inputs(i).source).hexdigest()[:16]: mode for i in chosen}  # type: ignore[arg-type]
    return triggers, {f"drill-{i:06d}" for i in chosen}


def killed_processes(events: list[dict]) -> set[int]:
    """The worker processes a drill request's attempt found dead or poisoned: the faults injected."""
    return {
        e["worker_pid"]
        for e in events
        if e["event"] == "attempt.failed"
        and e["error_class"] in KILLING
        and str(e.get("request_id", "")).startswith("drill-")
        and e.get("worker_pid")
    }


def test_a_small_drill_answers_or_classifies_every_input_and_its_counts_match_the_log(tmp_path: Path, seed: int):
    log = tmp_path / "drill.jsonl"
    faults = parse_faults("sticky_cuda=0.1,segfault=0.05,exit=0.05,garbage=0.1,cuda_oom=0.1")
    # drawn faults may all miss the measured phase; these cannot
    sure, sure_ids = sure_faults(DrillInputs(seed=seed, bad_input_rate=0.1, corpus_dir=tmp_path), (0,), "segfault")
    # the router's decisions, without Tesseract's time
    policy = drill_policy(faults, last_tier="fixed", seed=seed, triggers=sure)
    settings = DrillSettings(requests=80, concurrency=3, warmup=6, bad_input_rate=0.1, seed=seed)
    report = run_drill(policy, settings, log_json=log)
    assert report.passed, report.lines()
    assert report.lost == 0 and report.raised == 0 and report.children_left == 0
    assert report.answered + report.failed == 80
    assert set(report.failed_by_class) <= {"bad_input"} and report.failed == report.bad_inputs > 0
    assert sum(report.answered_by_tier.values()) == report.answered
    events = [json.loads(line) for line in log.read_text().splitlines()]
    drill_events = [e for e in events if str(e.get("request_id", "")).startswith("drill-")]
    done = [e["request_id"] for e in drill_events if e["event"] == "request.done"]
    assert sorted(done) == [f"drill-{i:06d}" for i in range(80)]
    crashed = {e["request_id"] for e in drill_events if e["event"] == "attempt.failed" and e["error_class"] in KILLING}
    assert sure_ids <= crashed  # the sure faults were injected
    retired = [e for e in drill_events if e["event"] in RETIRED]
    assert report.recycles == len(retired) >= len(killed_processes(events)) >= 1  # each retired worker recycled once
    assert set(report.breaker_transitions) == {"model-a", "model-b", "fixed"}
    assert 0 < report.p50_ms <= report.p95_ms <= report.max_ms


def test_a_drill_with_model_workers_at_capacity_4_loses_nothing_and_leaves_no_child(tmp_path: Path, seed: int):
    """Batching workers under faults: a shared fault fails a whole batch, every request of it falls
    back, each poisoned process is recycled once, and every input still gets exactly one result.

    The first measured request carries a sure sticky CUDA error (the drawn ones may all land in the
    warm-up): the drill is checked against the faults it injected, not against what chance gave."""
    log = tmp_path / "drill.jsonl"
    faults = parse_faults("sticky_cuda=0.05,segfault=0.03,garbage=0.05,cuda_oom=0.05,slow=0.05")
    sure, sure_ids = sure_faults(DrillInputs(seed=seed), (0,), "sticky_cuda")
    policy = drill_policy(faults, last_tier="fixed", workers=1, capacity=4, seed=seed, triggers=sure)
    settings = DrillSettings(requests=160, concurrency=12, warmup=8, seed=seed)
    report = run_drill(policy, settings, log_json=log)
    assert report.passed, report.lines()
    assert report.lost == 0 and report.raised == 0 and report.children_left == 0
    assert report.answered == 160 and report.failed == 0
    events = [json.loads(line) for line in log.read_text().splitlines()]
    batched = [
        e["meta"]["batch_size"]
        for e in events
        if e["event"] == "attempt.succeeded" and e["tier"].startswith("model") and "batch_size" in e["meta"]
    ]
    assert batched and max(batched) > 1  # the model workers really answered requests together
    poisoned = {e["request_id"] for e in events if e["event"] == "attempt.failed" and e["error_class"] == "sticky_cuda"}
    assert sure_ids <= poisoned  # the sure faults were injected
    retired = [e["worker_pid"] for e in events if e["event"] in RETIRED]
    assert len(retired) == len(set(retired))  # each process retired once, for its batch
    assert report.recycles >= len(killed_processes(events)) >= 1  # every process a fault killed was replaced


def test_children_that_were_there_before_the_drill_are_not_counted_as_left_behind():
    """A host's own child processes (a test session's Ray cluster, say) are not the router's."""
    import subprocess
    import sys

    from router.drill.observe import child_pids, children_left

    host_child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        before = frozenset(child_pids())
        assert host_child.pid in before
        assert children_left(wait_s=0, before=before) == []
        assert any(line.startswith(f"{host_child.pid} ") for line in children_left(wait_s=0))
    finally:
        host_child.kill()
        host_child.wait()
