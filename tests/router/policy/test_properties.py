"""Property-based tests (hypothesis): whatever a policy file holds, the answer is a valid policy or a
PolicyError whose every problem names a field; never another exception."""

from __future__ import annotations

import copy
import datetime as dt
import re
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from router.failures.errors import PolicyError
from router.policy.model import Policy, parse_policy, policy_from_dict

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

BASE: dict[str, Any] = {
    "version": 1,
    "name": "props",
    "deadline_s": 30,
    "quality_gate": {"required": ["merchant", "total"]},
    "limits": {"max_bytes": 1000000, "max_pages": 5},
    "logging": {"format": "json", "level": "info"},
    "tiers": [
        {
            "name": "vision",
            "backend": {
                "kind": "llama_vision",
                "model": "/models/llama",
                "generation": {"max_new_tokens": 64, "num_beams": 2, "early_stopping": True},
            },
            "workers": 2,
            "retry": {"attempts": 2, "retry_on": ["cuda_oom"], "backoff": {"initial_s": 0.1}},
            "breaker": {"failure_threshold": 3, "cooldown_s": 5},
        },
        {
            "name": "chaos",
            "backend": {"kind": "faulty", "faults": {"hang": 0.1, "garbage": 0.2}, "triggers": {"abcdef12": "exit"}},
            "timeout_s": 5,
            "fallback_on": ["timeout", "worker_crashed"],
        },
        {"name": "rules", "backend": {"kind": "ocr_rules", "ocr": {"psm": 6}}, "isolation": "inline"},
    ],
}

KEYS = st.text("abcdefghijklmnopqrstuvwxyz_-0123456789", min_size=1, max_size=12)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(),  # nan and infinities included
    st.text(max_size=30),
    st.sampled_from(["faulty", "ocr_rules", "internvl3", "cuda_oom", "timeout", "merchant", "0.5", "-1", "1e9"]),
    st.dates(),
    st.datetimes(),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=12,
)


def problem_path(problem: str) -> str:
    return re.sub(r"^line \d+(, column \d+)?: ", "", problem).split(": ", 1)[0]


def path_text(path: list[str | int]) -> str:
    """A path as PolicyError writes it: ``tiers[1].retry.attempts``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def assert_valid_or_named(text: str) -> Policy | PolicyError:
    try:
        policy = parse_policy(text, source="prop.yaml")
    except PolicyError as error:
        assert error.problems, "a PolicyError must list its problems"
        for problem in error.problems:
            assert re.match(r"^\S.*?: \S", problem, re.S), f"no 'path: what' in {problem!r}"
        return error
    # a valid policy is usable: it hashes, and its JSON form is again the same policy
    policy.digest()
    assert policy_from_dict(policy.model_dump(mode="json")) == policy
    return policy


@SETTINGS
@given(st.text(max_size=300))
@example("tiers: " + "[" * 3000 + "]" * 3000)  # nesting deeper than the recursion limit
@example("a: &a [1, 2]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\ntiers: [*c]")  # aliases
@example("--- 1\n--- 2\n")  # two documents
@example("name: !!python/object:os.system echo\ntiers: []")  # unsafe tag
@example("tiers:\n  - {name: a, backend: {kind: faulty}, timeout_s: .inf}")  # an infinite time limit
def test_any_text_is_a_policy_or_a_policy_error(text: str):
    assert_valid_or_named(text)


@SETTINGS
@given(VALUES)
def test_any_yaml_document_is_a_policy_or_a_policy_error(value: Any):
    assert_valid_or_named(yaml.safe_dump(value, allow_unicode=True))


def _paths(node: Any, prefix: list[str | int]) -> list[list[str | int]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, child in node.items():
            found += _paths(child, [*prefix, key])
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += _paths(child, [*prefix, index])
    return found


ALL_PATHS = _paths(BASE, [])


@st.composite
def mutations(draw: st.DrawFn) -> tuple[dict[str, Any], list[str | int]]:
    """BASE with one place changed: a value replaced, a key added or removed. Returns the data and
    the path of the parent of what changed (where the error must be reported, or below)."""
    data = copy.deepcopy(BASE)
    path = draw(st.sampled_from(ALL_PATHS))
    parent: Any = data
    for part in path[:-1]:
        parent = parent[part]
    action = draw(st.sampled_from(["replace", "add", "remove"]))
    last = path[-1]
    if action == "add" and isinstance(parent, dict):
        parent[draw(KEYS)] = draw(VALUES)
    elif action == "remove":
        del parent[last]
    else:
        parent[last] = draw(VALUES)
    return data, path[:-1]


@SETTINGS
@given(mutations())
def test_a_broken_field_is_named_in_the_error(mutation: tuple[dict[str, Any], list[str | int]]):
    data, parent = mutation
    outcome = assert_valid_or_named(yaml.safe_dump(data, allow_unicode=True))
    if isinstance(outcome, PolicyError):
        # the change is reported where it was made: at its parent (a cross-field rule) or below
        # (tiers[0].backend.kind changed: the backend's other fields are the problem); and a tier's
        # name is checked by the list of tiers (unique names)
        allowed = path_text(parent[:1] if parent[:1] == ["tiers"] and len(parent) <= 2 else parent)
        paths = [problem_path(p) for p in outcome.problems]
        assert any(p.startswith(allowed) for p in paths), f"{outcome.problems} do not name {allowed!r}"


def test_the_base_policy_is_valid():
    assert isinstance(assert_valid_or_named(yaml.safe_dump(BASE)), Policy)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (
            "tiers:\n  - {name: a, backend: {kind: faulty, triggers: {true: hang}}}",
            "tiers[0].backend.triggers[1] (key)",
        ),
        ("tiers:\n  - {name: a, backend: {kind: faulty}, timeout_s: .inf}", "tiers[0].timeout_s"),
        ("deadline_s: .nan\ntiers:\n  - {name: a, backend: {kind: faulty}}", "deadline_s"),
        ("tiers: " + "[" * 3000 + "]" * 3000, "<top level>"),
        (f"name: {dt.date(2024, 1, 31)}\ntiers:\n  - {{name: a, backend: {{kind: faulty}}}}", "name"),
    ],
)
def test_problems_found_by_the_properties_stay_fixed(text: str, named: str):
    """Each was a crash, a misleading path, or a policy accepted that could not run."""
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    assert any(problem_path(p) == named for p in caught.value.problems), caught.value.problems
