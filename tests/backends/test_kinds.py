"""Each backend kind is described once (``backends.kinds``), and everything that needs a fact about a
kind reads it from there: the registry, policy validation, the generated docs and the schema, the
drill, and the backends themselves; and the spec's verdict on generation parameters is what the real
models do (tiny random-weight models, on the CPU)."""

from __future__ import annotations

import dataclasses
import typing
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

import pytest

from backends import kinds, registry
from backends.kinds import SPECS, spec_for
from backends.options import GenerationOptions
from router.drill.policies import with_fault_stand_ins
from router.policy.model import Policy, json_schema, policy_from_dict
from tests.backends.conftest import model_options
from tests.backends.receipts import receipt_image
from tests.lazy import lazy_module

generation = lazy_module("backends.models.generation")

ROOT = Path(__file__).resolve().parents[2]
INSTALLED = installed_version("transformers")
RAW = {"encoder_repetition_penalty": 1.3, "encoder_no_repeat_ngram_size": 2, "repetition_penalty": 1.3}
RAW |= {"no_repeat_ngram_size": 2}


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.kind)
def test_every_kind_has_one_spec_that_its_class_and_options_agree_with(spec):
    backend_class = registry.backend_class(spec.kind)
    assert backend_class.kind == spec.kind
    assert spec.options.model_fields["kind"].default == spec.kind
    assert backend_class.uses_gpu == spec.cuda
    assert ("device" in spec.options.model_fields) == spec.cuda


def test_the_registry_and_the_policy_union_hold_exactly_the_specs_kinds():
    assert set(registry.BACKENDS) == {spec.kind for spec in SPECS}
    backend = typing.get_args(Policy.model_fields["tiers"].annotation)[0].model_fields["backend"]
    assert {typing.get_args(o.model_fields["kind"].annotation)[0] for o in typing.get_args(backend.annotation)} == {
        spec.kind for spec in SPECS
    }
    with pytest.raises(KeyError, match="known: einvoice, faulty, internvl3"):
        registry.backend_class("tesseract")


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.kind)
def test_default_isolation_comes_from_the_spec(spec):
    options = {"kind": spec.kind, "model": "/models/m"} if "model" in spec.options.model_fields else {}
    tier = policy_from_dict({"tiers": [{"name": "t", "backend": {"kind": spec.kind, **options}}]}).tiers[0]
    assert tier.effective_isolation == spec.isolation


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.kind)
def test_docs_and_schema_describe_each_kind_from_its_spec(spec):
    assert spec.describe() in json_schema()["$defs"][spec.options.__name__]["description"]
    assert spec.describe() in (ROOT / "docs" / "policy.md").read_text()


def test_generation_option_descriptions_state_no_kind_verdict_of_their_own():
    """The fields point at the kinds; what a kind does with them is said only by its spec."""
    for name in kinds.ALWAYS_UNSAFE + kinds.UNSAFE_BEFORE_CLAMP:
        description = GenerationOptions.model_fields[name].description or ""
        assert "crash" not in description.lower() and "replaced" not in description
        assert not any(spec.kind in description for spec in SPECS)


def test_the_drill_stands_in_for_exactly_the_kinds_that_may_use_cuda():
    tiers = [
        {"name": spec.kind.replace("_", "-"), "backend": {"kind": spec.kind, "model": "/m"}}
        if "model" in spec.options.model_fields
        else {"name": spec.kind.replace("_", "-"), "backend": {"kind": spec.kind}}
        for spec in SPECS
    ]
    drilled = with_fault_stand_ins(policy_from_dict({"tiers": tiers}), {"hang": 0.1})
    for spec, tier in zip(SPECS, drilled.tiers, strict=True):
        assert (tier.backend.kind == "faulty") == (spec.cuda or spec.kind == "faulty")


@pytest.mark.parametrize("version", ["4.46.3", "5.17.0", "5.18.0", "5.24.0", None])
def test_verdicts_follow_the_transformers_version_only_where_prompts_leave_the_lm_head(version):
    for spec in SPECS:
        for name in RAW:
            verdict = spec.generation.verdict(name, version) if spec.generation else None
            if spec.kind == "llama_vision":
                assert verdict == ("replaced" if name in kinds.unsafe_parameters(version) else "passed")
            elif spec.generation:
                assert verdict == "passed"


@pytest.fixture(scope="module")
def loaded(mllama_random: Path, internvl_random: Path) -> dict[str, Any]:
    backends = {}
    for kind, path in (("llama_vision", mllama_random), ("internvl3", internvl_random)):
        backend = registry.create(model_options(kind, path, generation={"max_new_tokens": 3, **RAW}))
        backend.load()  # the production path: the plan follows the kind's spec
        backends[kind] = backend
    return backends


@pytest.mark.parametrize("kind", ["llama_vision", "internvl3"])
def test_each_backend_replaces_exactly_what_its_spec_says(loaded, kind):
    backend = loaded[kind]
    expected = [n for n in generation.NEUTRAL if spec_for(kind).generation.verdict(n, INSTALLED) == "replaced"]
    assert backend.plan.replaced == expected
    [(text, _)] = backend._answer_pages([receipt_image()])  # and generating with the plan works
    assert isinstance(text, str)


@pytest.mark.parametrize("name", kinds.unsafe_parameters(INSTALLED))
@pytest.mark.parametrize("kind", ["llama_vision", "internvl3"])
def test_a_raw_parameter_crashes_the_real_model_exactly_when_the_spec_replaces_it(loaded, kind, name):
    """The spec is true to the models: raw (no replacement, no id check), the parameter indexes the
    logits at Mllama's image id and fails; on InternVL, whose image ids lie inside the lm_head, it runs."""
    backend = loaded[kind]
    raw = generation.plan_generation(
        GenerationOptions(max_new_tokens=3, **{name: RAW[name]}), unsafe=(), transformers_version=INSTALLED
    )
    original = backend.plan
    backend.plan = dataclasses.replace(raw, indexing=[])  # skip the preflight id check: see what the model does
    try:
        if spec_for(kind).generation.verdict(name, INSTALLED) == "replaced":
            with pytest.raises((RuntimeError, IndexError), match="out of bounds"):
                backend._answer_pages([receipt_image()])
        else:
            backend._answer_pages([receipt_image()])
    finally:
        backend.plan = original
