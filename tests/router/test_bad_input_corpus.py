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

from router.api import Router
from router.drill.corpus import Case, write_corpus
from router.errors import BadInputError
from router.inputs import load_document
from router.policy import InputLimits, policy_from_dict
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
    router = Router(policy_from_dict(POLICY), configure_logging=False)
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
