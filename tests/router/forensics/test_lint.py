"""Policy lint: each rule fires on the mistake it names, with its field path, and not on a sound policy."""

from __future__ import annotations

import subprocess
import sys

import pytest

from backends.kinds import SPECS, spec_for
from router.forensics.diff import diff
from router.forensics.lint import RISKY_GENERATION, lint, possible_classes
from router.policy.model import load_policy, policy_from_dict

VISION = {"kind": "llama_vision", "model": "/models/llama", "device": "cuda"}
RULES = {"name": "rules", "backend": {"kind": "ocr_rules"}}


def findings(policy, transformers="5.24.0"):
    return {(f.rule, f.severity, f.path) for f in lint(policy_from_dict(policy), transformers=transformers)}


def chain(*tiers, **top):
    return {"name": "t", **top, "tiers": list(tiers)}


def test_a_sound_policy_has_no_findings():
    assert lint(load_policy("cpu")) == []
    assert findings(chain({"name": "vision", "backend": VISION}, RULES)) == set()


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (
            chain({"name": "a", "backend": VISION}, {"name": "b", "backend": VISION}, RULES),
            ("duplicate-tier", "error", "tiers[1].backend"),
        ),
        (
            chain(RULES | {"fallback_on": ["cuda_oom"]}, {"name": "z", "backend": {"kind": "faulty"}}),
            ("unreachable-tier", "warning", "tiers[0].fallback_on"),
        ),
        (
            chain({"name": "a", "backend": VISION, "fallback_on": []}, RULES),
            ("unreachable-tier", "warning", "tiers[0].fallback_on"),
        ),
        (
            chain({"name": "a", "backend": VISION, "fallback_on": ["bad_input", "timeout"]}, RULES),
            ("fallback-on-bad-input", "warning", "tiers[0].fallback_on"),
        ),
        (
            chain(RULES | {"fallback_on": ["sticky_cuda", "timeout"]}, {"name": "z", "backend": {"kind": "faulty"}}),
            ("fallback-never-occurs", "warning", "tiers[0].fallback_on"),
        ),
        (
            chain(RULES | {"retry": {"attempts": 2, "retry_on": ["cuda_oom"]}}),
            ("retry-never-occurs", "warning", "tiers[0].retry.retry_on"),
        ),
        (
            chain(
                {"name": "a", "backend": VISION, "timeout_s": 50, "retry": {"attempts": 3, "retry_on": ["timeout"]}},
                RULES,
                deadline_s=120,
            ),
            ("retries-exceed-deadline", "error", "tiers[0].retry.attempts"),
        ),
        (
            chain({"name": "a", "backend": VISION, "timeout_s": 50, "retry": {"attempts": 3}}, RULES, deadline_s=120),
            ("retries-exceed-deadline", "warning", "tiers[0].retry.attempts"),
        ),
        (
            chain(RULES | {"timeout_s": 300}, deadline_s=60),
            ("timeout-exceeds-deadline", "warning", "tiers[0].timeout_s"),
        ),
        (
            chain({"name": "a", "backend": VISION, "timeout_s": 100}, RULES, deadline_s=90),
            ("chain-exceeds-deadline", "warning", "tiers[1]"),
        ),
        (
            chain({"name": "a", "backend": VISION | {"generation": {"encoder_repetition_penalty": 1.2}}}, RULES),
            ("generation-replaced", "info", "tiers[0].backend.generation.encoder_repetition_penalty"),
        ),
        (
            chain({"name": "a", "backend": VISION, "isolation": "inline"}, RULES),
            ("gpu-tier-inline", "error", "tiers[0].isolation"),
        ),
        (chain({"name": "a", "backend": VISION}), ("no-cpu-tier", "warning", "tiers")),
        (
            chain({"name": "a", "backend": VISION, "quarantine_s": 0}, RULES),
            ("quarantine-off", "warning", "tiers[0].quarantine_s"),
        ),
        (
            chain({"name": "a", "backend": VISION | {"generation": {"max_new_tokens": 16}}}, RULES),
            ("short-generation", "warning", "tiers[0].backend.generation.max_new_tokens"),
        ),
    ],
)
def test_each_rule_names_the_field(policy, expected):
    assert expected in findings(policy)


def test_repetition_penalty_on_llama_vision_depends_on_the_installed_transformers():
    policy = chain({"name": "a", "backend": VISION | {"generation": {"repetition_penalty": 1.1}}}, RULES)
    path = "tiers[0].backend.generation.repetition_penalty"
    assert ("generation-replaced", "info", path) in findings(policy, transformers="4.46.3")
    assert not any(rule == "generation-replaced" for rule, _, _ in findings(policy, transformers="5.18.0"))
    assert ("generation-replaced", "info", path) in findings(policy, transformers=None)  # worst case


MODEL_KINDS = [spec for spec in SPECS if spec.generation is not None]


@pytest.mark.parametrize("spec", MODEL_KINDS, ids=lambda s: s.kind)
@pytest.mark.parametrize("version", ["4.46.3", "5.18.0", "5.24.0", None])
@pytest.mark.parametrize("name", RISKY_GENERATION)
def test_lint_says_what_the_kinds_spec_says_about_each_generation_parameter(spec, version, name):
    """Encoder penalties on internvl3 pass through (its image ids lie inside the lm_head): no finding.
    On llama_vision they are applied vocabulary-safely: an info. The verdict comes from the spec, not from lint."""
    backend = {"kind": spec.kind, "model": "/models/m", "device": "cuda", "generation": {name: 2}}
    path = f"tiers[0].backend.generation.{name}"
    flagged = ("generation-replaced", "info", path) in findings(
        chain({"name": "m", "backend": backend}, RULES), transformers=version
    )
    assert flagged == (spec.generation.verdict(name, version) == "replaced")


def test_encoder_penalties_are_replaced_on_llama_vision_and_pass_through_on_internvl3():
    assert spec_for("llama_vision").generation.verdict("encoder_repetition_penalty", "5.24.0") == "replaced"
    assert spec_for("internvl3").generation.verdict("encoder_repetition_penalty", "5.24.0") == "passed"
    assert spec_for("ocr_llm").generation.verdict("repetition_penalty", "4.46.3") == "passed"


def test_the_installed_version_is_read_without_importing_transformers():
    code = (
        "import sys\n"
        "from router.forensics.lint import lint\n"
        "from router.policy.model import load_policy\n"
        "lint(load_policy('default'))\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_faulty_tiers_can_raise_what_their_faults_inject():
    tier = policy_from_dict(
        chain({"name": "f", "backend": {"kind": "faulty", "faults": {"segfault": 0.1, "garbage": 0.1}}})
    ).tiers[0]
    assert {"worker_crashed", "invalid_output"} <= {c.value for c in possible_classes(tier)}
    assert "sticky_cuda" not in {c.value for c in possible_classes(tier)}


def test_diff_matches_tiers_by_name_and_fills_in_defaults():
    a = policy_from_dict(chain({"name": "v", "backend": VISION, "timeout_s": 60}, RULES))
    b = policy_from_dict(
        chain(RULES, {"name": "v", "backend": VISION, "timeout_s": 30, "retry": {"attempts": 2}}, deadline_s=60)
    )
    changes = {c.path: (c.a, c.b) for c in diff(a, b).changes}
    assert changes == {
        "deadline_s": (120.0, 60.0),
        "tiers (order)": (["v", "rules"], ["rules", "v"]),
        "tiers[v].timeout_s": (60.0, 30.0),
        "tiers[v].retry.attempts": (1, 2),
    }
    assert diff(a, a).same


def test_a_cascade_that_can_never_escalate_or_gets_cheaper_is_warned_about():
    inline = {"backend": {"kind": "faulty"}, "isolation": "inline"}
    policy = policy_from_dict(
        {
            "accept": {"total": 0.9, "date": 0},
            "tiers": [{"name": "dear", "cost": 5, **inline}, {"name": "cheap", "cost": 1, **inline}],
        }
    )
    found = {(f.rule, f.path) for f in lint(policy, transformers=None)}
    assert ("threshold-never-escalates", "tiers[0].accept") in found
    assert ("threshold-never-escalates", "tiers[1].accept") not in found  # the last tier decides review
    assert ("later-tier-cheaper", "tiers[1].cost") in found


def test_the_shipped_cascade_lints_clean():
    assert [f for f in lint(load_policy("cascade"), transformers=None) if f.severity != "info"] == []
