"""The bad-input corpus through every surface: each input gets exactly one outcome, bad ones are
refused as ``bad_input`` with the problem named, odd-but-good ones are answered, and the process keeps
serving."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from router.api.inputs import load_document
from router.api.router import Router
from router.drill.corpus import Case, write_corpus
from router.failures.errors import BadInputError
from router.policy.model import InputLimits, policy_from_dict
from tests.router.workerkit import png

#: A faulty model tier in worker processes (it crashes now and then) in front of fixed answers.
POLICY = {
    "name": "corpus",
    "deadline_s": 30,
    "tiers": [
        {
            "name": "model",
            "backend": {"kind": "faulty", "cuda": "off", "faults": {"segfault": 0.1, "garbage": 0.1}},
            "workers": 2,
            "timeout_s": 5,
            "stop_grace_s": 0.5,
            "quarantine_s": 0,
        },
        {"name": "fixed", "backend": {"kind": "faulty"}, "isolation": "inline", "workers": 4},
    ],
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Case]:
    return write_corpus(tmp_path_factory.mktemp("corpus"))


def test_the_corpus_holds_a_dozen_kinds_of_bad_input_and_odd_good_ones(corpus: list[Case]):
    bad = [c for c in corpus if c.bad]
    good = [c for c in corpus if not c.bad]
    assert len(bad) >= 12 and len(good) >= 6
    assert len({c.name for c in corpus}) == len(corpus)
    assert len({c.path for c in corpus}) == len(corpus)


def test_each_case_is_read_or_refused_as_expected(corpus: list[Case]):
    for case in corpus:
        if case.bad:
            with pytest.raises(BadInputError) as caught:
                load_document(case.path, InputLimits())
            assert case.problem in str(caught.value), case.name
            assert str(case.path) in str(caught.value), case.name  # the input is named too
        else:
            assert load_document(case.path, InputLimits()).pages, case.name


def check(case: Case, result: dict) -> None:
    """One result for one case: refused with the problem named, or answered."""
    if case.bad:
        assert result["status"] == "failed", case.name
        assert result["error"]["error_class"] == "bad_input", case.name
        assert case.problem in result["error"]["message"], (case.name, result["error"]["message"])
    else:
        assert result["status"] in ("ok", "degraded"), (case.name, result.get("error"))
        assert result["fields"]["merchant"]["value"], case.name


def test_the_router_answers_each_case_once_from_many_threads_and_keeps_serving(corpus: list[Case]):
    router = Router(policy_from_dict(POLICY))
    try:
        router.warm_up()
        rounds = corpus * 3
        with ThreadPoolExecutor(6) as pool:
            results = list(pool.map(lambda case: router.extract(case.path), rounds))
        for case, result in zip(rounds, results, strict=True):
            check(case, result.model_dump(mode="json"))
        assert len({r.request_id for r in results}) == len(rounds)
        assert router.extract(png(1)).ok  # still serving
    finally:
        router.close()


def test_docroute_extract_prints_one_classified_line_per_input_in_order(corpus: list[Case], tmp_path: Path):
    policy = tmp_path / "corpus.yaml"
    policy.write_text(yaml.safe_dump(POLICY))
    paths = [str(case.path) for case in corpus]
    out = subprocess.run(
        [sys.executable, "-m", "router", "extract", *paths, "--policy", str(policy), "-q"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    results = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(results) == len(corpus), out.stderr
    for case, result in zip(corpus, results, strict=True):
        assert result["document"]["source"].startswith(str(case.path)), case.name
        check(case, result)
    bad = sum(case.bad for case in corpus)
    assert out.returncode == 1
    assert f"{bad} of {len(corpus)} documents failed" in out.stderr


def test_docroute_batch_writes_one_classified_line_per_input(corpus: list[Case], tmp_path: Path):
    """A folder named on the command line is walked (it is not an input itself); every other case
    is named one by one, and each gets its line."""
    policy = tmp_path / "corpus.yaml"
    policy.write_text(yaml.safe_dump(POLICY))
    cases = [case for case in corpus if not case.path.is_dir()]
    out_file = tmp_path / "out.jsonl"
    options = ["-o", str(out_file), "--policy", str(policy), "--progress", "none", "--jobs", "4"]
    out = subprocess.run(
        [sys.executable, "-m", "router", "batch", *(str(c.path) for c in cases), *options],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert out.returncode == 1, out.stderr  # some failed: the bad ones
    by_input = {}
    for line in out_file.read_text().splitlines():
        record = json.loads(line)
        assert record["input"] not in by_input, f"two lines for {record['input']}"
        by_input[record["input"]] = record
    assert set(by_input) == {str(c.path) for c in cases}
    for case in cases:
        check(case, by_input[str(case.path)])


@pytest.mark.slow
def test_the_service_answers_each_case_with_a_classified_status_and_keeps_serving(corpus: list[Case], tmp_path: Path):
    """Uploads where a file can travel, server paths where only the disk has it: 200 or 422 with a
    classified answer each, never a 5xx, and the service answers after."""
    from router.service import ServiceSettings
    from tests.router.service.test_service import serving

    policy = tmp_path / "corpus.yaml"
    policy.write_text(yaml.safe_dump(POLICY))
    folder = corpus[0].path.parent
    with serving(policy, ServiceSettings(allow_path=folder)) as client:

        def send(case: Case):
            if case.uploadable:
                return client.post("/v1/extract", files={"file": (case.path.name, case.path.read_bytes())})
            return client.post("/v1/extract", json={"path": case.path.name})

        with ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(send, corpus * 2))
        for case, response in zip(corpus * 2, responses, strict=True):
            assert response.status_code < 500, (case.name, response.status_code, response.text[:300])
            served_path(case, response) if not case.uploadable else check(case, response.json())
            assert response.status_code == (200 if not case.bad else 403 if leaves(case, folder) else 422), case.name
        assert client.get("/healthz").status_code == 200
        good = next(case for case in corpus if not case.bad and case.uploadable)
        assert client.post("/v1/extract", files={"file": (good.path.name, good.path.read_bytes())}).status_code == 200


def leaves(case: Case, folder: Path) -> bool:
    """A link out of the folder the service may read (the unreadable file, as root)."""
    try:
        return not case.path.resolve().is_relative_to(folder.resolve())
    except RuntimeError:  # a link loop
        return False


def served_path(case: Case, response) -> None:
    """A server-path request: the router's classified result, or the service's own refusal.

    The service resolves links before the router sees the path: a dangling link reads 'file not
    found', a loop and a link out of the folder are refused by the service itself."""
    body = response.json()
    if isinstance(body.get("error"), dict) and "error_class" not in body["error"]:  # a refusal, not a Result
        assert case.bad and body["error"]["code"] in ("unresolvable_path", "path_not_allowed"), (case.name, body)
        return
    if case.name == "dangling symlink":
        assert body["error"]["message"] == f"{case.path.name}: file not found"
        return
    check(case, body)
    assert "/" not in body["document"]["source"], "the answer names the server's own path"


def test_pdfs_read_from_many_threads_at_once_each_get_their_own_error(corpus: list[Case]):
    """PDFium keeps its last error in global state: unlocked, a corrupt PDF read beside a locked
    one was reported password-protected (found by this corpus through docroute batch)."""
    pdfs = [c for c in corpus if c.name in ("corrupt PDF", "password-protected PDF", "PDF named .jpg")] * 40

    def read(case: Case) -> str:
        try:
            load_document(case.path, InputLimits())
        except BadInputError as error:
            return error.problem
        return "read"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(read, pdfs))
    for case, outcome in zip(pdfs, outcomes, strict=True):
        assert (case.problem or "read") in outcome if case.bad else outcome == "read", (case.name, outcome)
