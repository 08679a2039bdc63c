"""Policy files as a careful user writes them: every mistake is named with its file and line, a typo
gets the closest valid key, duplicate keys and YAML 1.1 booleans are no trap, a policy cannot ask for
unbounded work, and every command exits 2 on an invalid policy."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from router.cli import app
from router.failures.errors import PolicyError
from router.policy.file import MAX_POLICY_BYTES, MAX_TEXT_CHARS, MAX_TIERS
from router.policy.model import load_policy, parse_policy, policy_from_dict, policy_names

ROOT = Path(__file__).resolve().parents[3]
TIER = "  - name: rules\n    backend: {kind: ocr_rules}\n"


def problems(text: str, tmp_path: Path, name: str = "p.yaml") -> list[str]:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert str(path) in str(caught.value)  # the file is named
    return caught.value.problems


def test_a_duplicate_key_is_an_error_naming_the_key_and_both_lines(tmp_path: Path):
    """Plain YAML keeps the last value silently (timeout_s 5 here), and check and lint said ok."""
    text = f"tiers:\n{TIER}    timeout_s: 30\n    workers: 2\n    timeout_s: 5\n"
    assert problems(text, tmp_path) == [
        "line 6: tiers[0].timeout_s: duplicate key `timeout_s` (first at line 4); "
        "YAML would silently keep only the last one"
    ]


def test_duplicate_top_level_keys_are_found_too(tmp_path: Path):
    found = problems(f"deadline_s: 60\ntiers:\n{TIER}deadline_s: 30\n", tmp_path)
    assert found == [f"line 5: deadline_s: duplicate key `deadline_s` (first at line 1); {_LAST}"]


_LAST = "YAML would silently keep only the last one"


def test_a_key_that_overrides_a_merged_one_is_not_a_duplicate():
    text = "tiers:\n  - &base {name: a, backend: {kind: ocr_rules}, timeout_s: 20}\n  - <<: *base\n    name: b\n"
    assert [(t.name, t.timeout_s) for t in parse_policy(text).tiers] == [("a", 20), ("b", 20)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"tiers:\n{TIER}    timeout: 30\n", "line 4: tiers[0].timeout: Extra inputs are not permitted"),
        ("deadlin_s: 30\n" + f"tiers:\n{TIER}", "line 1: deadlin_s: Extra inputs are not permitted"),
        (f"tiers:\n{TIER}    retry: {{attempts: 2, retry_onn: [timeout]}}\n", "line 4: tiers[0].retry.retry_onn"),
        (
            "tiers:\n  - name: m\n    backend:\n      kind: llama_vision\n      model: /m\n      genration: {}\n",
            "line 6: tiers[0].backend.genration",
        ),
        (f"tiers:\n{TIER.replace('ocr_rules', 'ocr_rule')}", "line 3: tiers[0].backend: Input tag 'ocr_rule'"),
        (f"tiers:\n{TIER}    retry: {{retry_on: [timout]}}\n", "line 4: tiers[0].retry.retry_on[0]: Input should be"),
        (f"tiers:\n{TIER}    timeout_s: -1\n", "line 4: tiers[0].timeout_s: Input should be greater than 0"),
    ],
)
def test_errors_name_the_line_and_suggest_the_closest_valid_key(tmp_path: Path, text: str, expected: str):
    found = problems(text, tmp_path)
    assert any(p.startswith(expected) for p in found), found


@pytest.mark.parametrize(
    ("text", "suggested"),
    [
        (f"tiers:\n{TIER}    timeout: 30\n", "timeout_s"),
        ("deadlin_s: 30\n" + f"tiers:\n{TIER}", "deadline_s"),
        (f"tiers:\n{TIER}    retry: {{attempts: 2, retry_onn: [timeout]}}\n", "retry_on"),
        (
            "tiers:\n  - name: m\n    backend:\n      kind: llama_vision\n      model: /m\n      genration: {}\n",
            "generation",
        ),
        (f"tiers:\n{TIER.replace('ocr_rules', 'ocr_rule')}", "ocr_rules"),
        (f"tiers:\n{TIER}    retry: {{retry_on: [timout]}}\n", "timeout"),
        ("tiers:\n  - name: f\n    backend: {kind: faulty, fualts: {hang: 0.1}}\n", "faults"),
    ],
)
def test_a_typo_gets_did_you_mean(tmp_path: Path, text: str, suggested: str):
    found = problems(text, tmp_path)
    assert any(p.endswith(f"did you mean `{suggested}`?") for p in found), found


def test_a_yaml_syntax_error_names_the_file_and_line_not_unicode_string(tmp_path: Path):
    path = tmp_path / "broken.yaml"
    path.write_text(f"tiers:\n{TIER}    timeout_s: 30\n   workers: [2\n")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    message = str(caught.value)
    assert str(path) in message and "<unicode string>" not in message
    assert re.search(r"line \d+, column \d+: not valid YAML", message), message


def test_on_and_off_mean_what_a_person_means():
    """YAML 1.1 read `cuda: on` (as docs/workers.md writes it) as True: 'got True'."""
    policy = parse_policy("tiers:\n  - name: f\n    backend: {kind: faulty, cuda: on}\n    preload: yes\n")
    assert policy.tiers[0].backend.cuda == "on"  # type: ignore[union-attr]
    assert policy.tiers[0].preload is True  # pydantic still reads yes/no/on/off for booleans
    assert parse_policy("tiers:\n  - name: f\n    backend: {kind: faulty, cuda: off}\n").tiers[0].backend.cuda == "off"  # type: ignore[union-attr]
    assert parse_policy("name: no\n" + f"tiers:\n{TIER}").name == "no"


def yaml_snippets() -> list[tuple[str, str]]:
    """Every ```yaml block of the README and docs/, and every shipped policy."""
    found = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for index, block in enumerate(re.findall(r"```ya?ml\n(.*?)```", doc.read_text(), re.S)):
            found.append((f"{doc.name}#{index + 1}", block))
    return found


@pytest.mark.parametrize(("where", "text"), yaml_snippets(), ids=[w for w, _ in yaml_snippets()])
def test_every_yaml_example_in_the_docs_loads_as_a_policy(where: str, text: str):
    policy = parse_policy(text, source=where)
    assert policy.tiers


def test_the_docs_hold_yaml_examples_at_all():
    assert len(yaml_snippets()) >= 1


def test_a_20000_tier_policy_is_refused_fast(tmp_path: Path):
    """It passed `check` and then hung start-up."""
    text = "tiers:\n" + "".join(f"  - {{name: t{i}, backend: {{kind: ocr_rules}}}}\n" for i in range(20_000))
    started = time.monotonic()
    found = problems(text, tmp_path)
    elapsed = time.monotonic() - started
    assert found == [f"<file>: {len(text)} bytes, over the limit of {MAX_POLICY_BYTES} for a policy file"]
    assert elapsed < 5  # generous: a bound on work, not a timing claim (it takes milliseconds)
    small = "".join(f"  - {{name: t{i}, backend: {{kind: ocr_rules}}}}\n" for i in range(MAX_TIERS + 1))
    assert problems("tiers:\n" + small, tmp_path) == [
        f"line 2: tiers: {MAX_TIERS + 1} tiers, over the limit of {MAX_TIERS}"
    ]


def test_tier_count_is_bounded_for_policies_given_as_data():
    tiers = [{"name": f"t{i}", "backend": {"kind": "ocr_rules"}} for i in range(20_000)]
    with pytest.raises(PolicyError, match=f"20000 tiers, over the limit of {MAX_TIERS}"):
        policy_from_dict({"tiers": tiers})


def test_free_text_is_bounded(tmp_path: Path):
    long = "x" * (MAX_TEXT_CHARS + 1)
    found = problems(f"description: {long}\ntiers:\n{TIER}", tmp_path)
    assert found == [
        f"line 1: description: {MAX_TEXT_CHARS + 1} characters, over the limit of {MAX_TEXT_CHARS} for a text value"
    ]
    found = problems(f"tiers:\n  - name: f\n    backend: {{kind: faulty, fail_load: {long}}}\n", tmp_path)
    assert found[0].startswith("line 3: tiers[0].backend.fail_load: 4097 characters")
    with pytest.raises(PolicyError, match="description: String should have at most"):
        policy_from_dict({"description": long, "tiers": [{"name": "r", "backend": {"kind": "ocr_rules"}}]})


def test_an_unknown_policy_name_lists_the_ones_that_can_be_named():
    with pytest.raises(PolicyError) as caught:
        load_policy("nosuch")
    assert "no policy named 'nosuch'" in str(caught.value)
    assert "cpu, default" in str(caught.value)
    assert {"cpu", "default"} <= set(policy_names())


def docroute(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "router", *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_every_command_exits_2_on_an_invalid_policy(tmp_path: Path):
    """`policy check` said 1, the others 2."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"tiers:\n{TIER}    timeout: 3\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n")  # never read: the policy comes first
    (tmp_path / "data" / "labels.jsonl").write_text('{"image": "a.png", "fields": {}}\n')
    (tmp_path / "log.jsonl").write_text("")
    commands = [
        ["policy", "check", str(bad)],
        ["policy", "lint", str(bad)],
        ["policy", "diff", str(bad), "cpu"],
        ["extract", "x.png", "-p", str(bad)],
        ["batch", str(tmp_path / "data"), "--out", str(tmp_path / "r.jsonl"), "-p", str(bad)],
        ["eval", str(tmp_path / "data"), "-p", str(bad)],
        ["serve", "-p", str(bad)],
        ["doctor", "-p", str(bad)],
        ["drill", "--policy", str(bad), "--requests", "1"],
        ["replay", str(tmp_path / "log.jsonl"), "-p", str(bad)],
    ]
    runner = CliRunner()
    for command in commands:  # in-process: the same Typer app the console script runs
        out = runner.invoke(app, command)
        assert out.exit_code == 2, (command, out.output)
        if command[0] != "replay":  # replay reads its logs first (no events: also 2)
            assert "did you mean `timeout_s`?" in out.output, (command, out.output)


def test_policy_nosuch_on_the_command_line_lists_the_built_in_policies():
    out = docroute("extract", "x.png", "--policy", "nosuch")
    assert out.returncode == 2
    assert "no policy named 'nosuch'" in out.stderr and "cpu, default" in out.stderr


def test_a_policy_path_that_is_no_regular_file_is_refused_without_reading_it(tmp_path: Path):
    """`--policy /dev/zero` read until memory ran out; a FIFO without a writer blocked forever."""
    fifo = tmp_path / "policy.yaml"
    os.mkfifo(fifo)
    for path in ("/dev/zero", fifo, tmp_path):
        with pytest.raises(PolicyError, match="not a regular file"):
            load_policy(path)


def test_policy_check_on_a_fifo_answers_at_once(tmp_path: Path):
    fifo = tmp_path / "policy.yaml"
    os.mkfifo(fifo)
    out = docroute("policy", "check", str(fifo))
    assert out.returncode == 2 and "not a regular file" in out.stderr
