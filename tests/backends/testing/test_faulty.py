"""The fault-injecting backend in-process: answers, deterministic triggers and draws, and the
faults that do not need a process of their own (sticky, segfault, exit and hang are tested with
real workers in tests/router/workers/test_workers_*.py)."""

from __future__ import annotations

import hashlib
import multiprocessing
import time

import pytest
from pydantic import ValidationError

from backends.documents.document import Document
from backends.options import FaultyOptions
from backends.testing.faulty import FaultyBackend
from router.failures.errors import ErrorClass, ErrorInfo, PolicyError
from router.failures.signatures import classify
from router.policy.model import policy_from_dict
from tests.router.fakes import document as fake_document


def doc(n: int) -> Document:
    return fake_document(hashlib.sha256(str(n).encode()).hexdigest())


def loaded(**options) -> FaultyBackend:
    backend = FaultyBackend(FaultyOptions(cuda="off", **options))
    backend.load()
    return backend


def test_without_faults_it_answers_the_fixed_fields():
    answer = loaded(fields={"merchant": "M", "date": "2024-05-06", "total": "1.25"}).extract(doc(1))
    assert answer.fields.model_dump(exclude_none=True, exclude={"line_items", "confidence"}) == {
        "merchant": "M",
        "date": "2024-05-06",
        "total": "1.25",
    }
    assert answer.meta["fault"] is None


def test_garbage_fails_the_schema_and_is_classified_invalid_output():
    with pytest.raises(ValidationError) as failed:
        loaded(faults={"garbage": 1.0}).extract(doc(2))
    assert classify(ErrorInfo.from_exception(failed.value)).error_class is ErrorClass.INVALID_OUTPUT


def test_cuda_oom_without_a_gpu_raises_the_real_text_and_is_not_sticky():
    backend = loaded(faults={"cuda_oom": 1.0})
    with pytest.raises(RuntimeError) as failed:
        backend.extract(doc(3))
    verdict = classify(ErrorInfo.from_exception(failed.value))
    assert (verdict.error_class, verdict.signature) == (ErrorClass.CUDA_OOM, "cuda_oom_type")


def test_slow_answers_after_the_extra_time():
    started = time.monotonic()
    answer = loaded(faults={"slow": 1.0}, slow_s=0.2).extract(doc(4))
    assert time.monotonic() - started >= 0.2 and answer.meta["fault"] == "slow"


def test_triggers_pick_documents_by_sha256_prefix_before_any_draw():
    target = doc(5)
    backend = loaded(triggers={target.sha256[:12]: "garbage"})
    assert backend.extract(doc(6)).meta["fault"] is None
    with pytest.raises(ValidationError):
        backend.extract(target)


def test_seeded_draws_repeat_in_every_process_that_uses_the_seed():
    def faults(backend: FaultyBackend) -> list[str | None]:
        return [backend.extract(doc(n)).meta["fault"] for n in range(40)]

    first = faults(loaded(faults={"slow": 0.5}, slow_s=0, seed=7))
    assert first == faults(loaded(faults={"slow": 0.5}, slow_s=0, seed=7))
    assert 5 < first.count("slow") < 35


def _drawn_in_this_process(seed: int, results) -> None:  # runs in a spawned worker-like process
    results.put((multiprocessing.current_process().name, faults_drawn(seed)))


def faults_drawn(seed: int) -> list[str | None]:
    backend = loaded(faults={"slow": 0.5}, slow_s=0, seed=seed)
    return [backend.extract(doc(n)).meta["fault"] for n in range(40)]


def test_each_worker_process_draws_its_own_seeded_faults_the_same_on_every_run():
    """A pool's n-th worker (named docroute-TIER-n) draws from the seed and its name: a replacement
    worker does not repeat its predecessor's faults (a fault drawn first by every new process would
    recycle it forever), and the same worker draws the same faults on every run."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    names = ["docroute-t-1", "docroute-t-2", "docroute-t-1"]
    processes = [context.Process(target=_drawn_in_this_process, args=(7, results), name=n) for n in names]
    for process in processes:
        process.start()
    drawn = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(10)
    by_name: dict[str, list[list[str | None]]] = {}
    for name, faults in drawn:
        by_name.setdefault(name, []).append(faults)
    first, again = by_name["docroute-t-1"]
    assert first == again  # the same worker, the same draws
    assert by_name["docroute-t-2"][0] != first  # its replacement, its own
    assert faults_drawn(7) not in (first, by_name["docroute-t-2"][0])  # the router's own process: the seed alone


def test_fail_load_raises_an_os_error_classified_by_its_text():
    backend = FaultyBackend(FaultyOptions(fail_load="/models/x does not appear to have a file named config.json"))
    with pytest.raises(OSError) as failed:
        backend.load()
    assert classify(ErrorInfo.from_exception(failed.value)).signature == "missing_weights"


@pytest.mark.parametrize(
    ("faulty", "problem"),
    [
        ({"triggers": {"abc": "hang"}}, "prefixes of at least 8 digits"),
        ({"faults": {"hang": 0.7, "exit": 0.6}}, "add up to at most 1"),
        ({"faults": {"melt": 0.1}}, "tiers[0].backend.faults.melt"),
        ({"cuda": "maybe"}, "tiers[0].backend.cuda"),
    ],
)
def test_bad_faulty_options_name_the_field(faulty, problem):
    with pytest.raises(PolicyError) as failed:
        policy_from_dict({"tiers": [{"name": "a", "backend": {"kind": "faulty", **faulty}}]})
    assert problem in str(failed.value)
