"""Policy files validate into typed models; bad ones name the file, the field path and what was expected."""

from pathlib import Path

import pytest

from router.failures.errors import ErrorClass, PolicyError
from router.policy.model import BUILTIN_POLICY_DIR, json_schema, load_policy, parse_policy

POLICIES = sorted(BUILTIN_POLICY_DIR.glob("*.yaml"))


@pytest.mark.parametrize("path", POLICIES, ids=[p.stem for p in POLICIES])
def test_every_shipped_policy_loads(path):
    policy = load_policy(path)
    assert policy.tiers
    assert len(policy.digest()) == 12


def test_default_policy_is_the_full_chain_from_einvoice_xml_to_ocr_rules():
    policy = load_policy("default")
    assert [t.backend.kind for t in policy.tiers] == ["einvoice", "internvl3", "llama_vision", "ocr_llm", "ocr_rules"]
    assert [t.effective_isolation for t in policy.tiers] == ["inline", "process", "process", "process", "inline"]
    assert not any(getattr(t.backend, "trust_remote_code", False) for t in policy.tiers)
    assert not any(getattr(t.backend, "allow_download", False) for t in policy.tiers)


def test_cpu_policy_is_einvoice_xml_then_ocr_rules():
    assert [t.backend.kind for t in load_policy("cpu").tiers] == ["einvoice", "ocr_rules"]


MINIMAL = "tiers: [{name: rules, backend: {kind: ocr_rules}}]\n"


def test_defaults_fill_a_minimal_policy():
    tier = parse_policy(MINIMAL).tiers[0]
    assert tier.retry.attempts == 1
    assert ErrorClass.BAD_INPUT not in tier.fallback_on
    assert ErrorClass.STICKY_CUDA in tier.fallback_on


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "tiers: [{name: rules, backend: {kind: ocr_rules}, retries: 3}]",
            "tiers[0].retries: Extra inputs are not permitted",
        ),
        (
            "tiers: [{name: rules, backend: {kind: ocr_rules}, timeout_s: -1}]",
            "tiers[0].timeout_s: Input should be greater than 0",
        ),
        (
            "tiers: [{name: rules, backend: {kind: tesseract}}]",
            "tiers[0].backend: Input tag 'tesseract' found using 'kind' does not match",
        ),
        ("tiers: [{name: m, backend: {kind: internvl3}}]", "tiers[0].backend.model: Field required"),
        (
            "tiers: [{name: m, backend: {kind: llama_vision, model: x, generation: {early_stopping: true}}}]",
            "tiers[0].backend.generation: early_stopping only applies to beam search",
        ),
        (
            "tiers: [{name: rules, backend: {kind: ocr_rules}, retry: {retry_on: [flaky]}}]",
            "tiers[0].retry.retry_on[0]: Input should be",
        ),
        (
            MINIMAL.replace("]\n", ", {name: rules, backend: {kind: ocr_rules}}]"),
            "tiers: Value error, tier names must be unique; repeated: rules",
        ),
        ("tiers: []", "tiers: List should have at least 1 item"),
        ("deadline_s: soon\n" + MINIMAL, "deadline_s: Input should be a valid number"),
        ("- just\n- a list", "expected a mapping at the top level"),
        ("tiers: [unclosed", "not valid YAML"),
    ],
)
def test_bad_policies_name_the_field_and_the_expectation(text, expected):
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, source="bad.yaml")
    assert "bad.yaml" in str(caught.value)
    assert any(expected.replace("Value error, ", "") in problem for problem in caught.value.problems), (
        caught.value.problems
    )


def test_every_problem_is_reported_at_once():
    text = "deadline_s: -1\ntiers: [{name: Bad Name, backend: {kind: ocr_rules}, workers: 0}]"
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    assert len(caught.value.problems) == 3


def test_missing_file_is_a_policy_error(tmp_path: Path):
    with pytest.raises(PolicyError, match="file not found"):
        load_policy(tmp_path / "nope.yaml")


def test_yaml_is_read_safely(tmp_path: Path):
    path = tmp_path / "evil.yaml"
    path.write_text("tiers: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(PolicyError, match="not valid YAML"):
        load_policy(path)


def test_digest_changes_with_content():
    a = parse_policy(MINIMAL)
    b = parse_policy("deadline_s: 30\n" + MINIMAL)
    assert a.digest() != b.digest()
    assert a.digest() == parse_policy(MINIMAL).digest()


def test_json_schema_describes_every_field():
    schema = json_schema()
    assert schema["title"] == "docroute policy"
    tier = schema["$defs"]["TierPolicy"]["properties"]
    assert all("description" in spec for name, spec in tier.items()), [
        n for n, s in tier.items() if "description" not in s
    ]


@pytest.mark.parametrize("path", [p for p in POLICIES if p.stem in ("default", "cpu")], ids=lambda p: p.stem)
def test_shipped_chains_lint_clean_so_the_last_resort_tier_is_always_reached(path):
    from router.forensics.lint import lint

    findings = [f for f in lint(load_policy(path)) if f.severity in ("error", "warning")]
    assert findings == []


def _durations(schema: dict) -> dict[str, dict]:
    """Every property named ``*_s`` in the schema (the policy's and its backends'), by model.field."""
    found = {}
    for model, spec in schema["$defs"].items():
        for field, prop in spec.get("properties", {}).items():
            if field.endswith("_s"):
                options = prop.get("anyOf", [prop])
                found[f"{model}.{field}"] = next(o for o in options if o.get("type") == "number")
    return found


def test_every_duration_in_the_schema_is_bounded_above():
    durations = _durations(json_schema())
    assert {"TierPolicy.start_timeout_s", "TierPolicy.stop_grace_s", "InputLimits.pdf_read_timeout_s"} <= set(durations)
    assert [name for name, spec in durations.items() if spec.get("maximum", float("inf")) > 7 * 86400] == []


@pytest.mark.parametrize(
    "setting",
    [
        "deadline_s: 1e308",
        "tiers: [{name: rules, backend: {kind: ocr_rules}, start_timeout_s: 1e308}]",
        "tiers: [{name: rules, backend: {kind: ocr_rules}, timeout_s: 1e308}]",
        "tiers: [{name: rules, backend: {kind: ocr_rules}, stop_grace_s: 1e308}]",
        "tiers: [{name: rules, backend: {kind: ocr_rules, ocr: {timeout_s: 1e308}}}]",
    ],
)
def test_a_huge_duration_is_refused_naming_the_field_before_anything_waits_on_it(setting):
    text = setting if setting.startswith("tiers") else setting + "\n" + MINIMAL
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, source="huge.yaml")
    assert any("less than or equal to 604800" in problem for problem in caught.value.problems), caught.value.problems
