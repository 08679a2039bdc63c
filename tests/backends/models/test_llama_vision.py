"""Llama 3.2 Vision (Mllama) through the production path: image -> processor -> generate -> decode
-> post-process -> validated fields, or invalid_output."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version as installed_version
from pathlib import Path

import pytest

from backends import registry
from backends.errors import InvalidOutput
from backends.models import loading
from backends.models.llama_vision import LlamaVisionBackend
from router.failures.errors import ErrorClass, ErrorInfo, PolicyError
from router.failures.signatures import classify
from router.policy.model import policy_from_dict
from tests.backends.conftest import document, model_options
from tests.backends.receipts import ANSWER_FIELDS
from tests.lazy import lazy_module

generation = lazy_module("backends.models.generation")

UNSAFE_EVERYWHERE = {
    "max_new_tokens": 40,
    "repetition_penalty": 1.05,
    "no_repeat_ngram_size": 8,
    "encoder_repetition_penalty": 1.05,
    "encoder_no_repeat_ngram_size": 8,
}


def test_taught_model_answers_validated_fields(mllama_taught):
    backend = registry.create(model_options("llama_vision", mllama_taught))
    backend.load()
    extraction = backend.extract(document())
    assert extraction.fields.model_dump(
        exclude_none=True, exclude={"line_items", "date_raw", "total_raw", "confidence"}
    ) == (ANSWER_FIELDS)
    assert extraction.fields.date_raw == "31/01/2024" and extraction.fields.total_raw == "RM 12.50"
    assert extraction.meta["device"] == "cpu" and extraction.meta["new_tokens"] > 0
    assert "TINY" not in json.dumps(extraction.meta)  # metadata never holds document text


def test_safe_backend_answers_with_every_crash_prone_parameter_set(mllama_taught):
    """The parameters that crash raw are replaced, repetition control stays, the answer is valid."""
    backend = LlamaVisionBackend(model_options("llama_vision", mllama_taught, generation=UNSAFE_EVERYWHERE))
    extraction = backend.extract(document())
    replaced = list(generation.unsafe_parameters(installed_version("transformers")))
    assert extraction.meta["generation_replaced"] == replaced
    assert backend.plan.safe == {name: UNSAFE_EVERYWHERE[name] for name in replaced}  # each with its value
    native_penalty = backend.plan.kwargs["repetition_penalty"] == 1.05  # safe on transformers >= 5.18
    assert native_penalty != ("repetition_penalty" in replaced)  # repetition control in force, exactly once
    assert extraction.fields.merchant == "TINY MART" and extraction.fields.total == "12.50"


def test_untaught_model_garbage_is_invalid_output(mllama_random):
    backend = LlamaVisionBackend(model_options("llama_vision", mllama_random, generation=UNSAFE_EVERYWHERE))
    with pytest.raises(InvalidOutput) as caught:
        backend.extract(document())
    assert classify(ErrorInfo.from_exception(caught.value)).error_class is ErrorClass.INVALID_OUTPUT


def test_model_is_loaded_whole_on_one_device(mllama_random):
    backend = LlamaVisionBackend(model_options("llama_vision", mllama_random))
    backend.load()
    assert loading.model_kwargs(backend.options, backend.checkpoint, "cuda:1")["device_map"] == {"": "cuda:1"}
    assert {p.device.type for p in backend.model.parameters()} == {"cpu"}
    backend.close()
    assert backend.model is None


def test_trust_remote_code_is_a_policy_error():
    tier = {"name": "lv", "backend": {"kind": "llama_vision", "model": "/m", "trust_remote_code": True}}
    with pytest.raises(PolicyError, match="never runs checkpoint code"):
        policy_from_dict({"tiers": [tier]})


CHILD = """
import sys, json, torch
from backends.models.llama_vision import LlamaVisionBackend
from backends.options import LlamaVisionOptions
from backends.models import generation, prompts
from tests.backends.conftest import document
from tests.backends.tiny_models import receipt_image
mode, path, name, device = sys.argv[1:5]
values = {"repetition_penalty": 1.3, "no_repeat_ngram_size": 2,
          "encoder_repetition_penalty": 1.3, "encoder_no_repeat_ngram_size": 2}
options = LlamaVisionOptions(model=path, device=device, dtype="float32",
                             generation={"max_new_tokens": 40, name: values[name]})
backend = LlamaVisionBackend(options)
backend.load()
if mode == "safe":
    print(json.dumps(backend.extract(document()).to_dict()))
else:
    prompt = backend.processor.apply_chat_template(prompts.vision_messages(), add_generation_prompt=True)
    inputs = backend.processor(images=receipt_image(), text=prompt, add_special_tokens=False, return_tensors="pt")
    out = backend.model.generate(**inputs.to(backend.device), max_new_tokens=4, do_sample=False, **{name: values[name]})
    if device == "cuda":
        torch.cuda.synchronize()
    print("NO CRASH")
"""


def _child(*args: str) -> subprocess.CompletedProcess[str]:
    root = Path(__file__).resolve().parents[3]
    return subprocess.run(
        [sys.executable, "-c", CHILD, *args], cwd=root, capture_output=True, text=True, timeout=300, check=False
    )


def _crashing_parameter() -> str:
    return (
        "repetition_penalty"
        if "repetition_penalty" in generation.unsafe_parameters(installed_version("transformers"))
        else ("encoder_repetition_penalty")
    )


@pytest.mark.gpu
def test_seed_bug_on_cuda_is_a_device_side_assert(mllama_random):
    """Raw, the crash-prone parameter is a device-side assert on CUDA (in a child process, which
    that assert poisons): repetition_penalty on transformers < 5.18, encoder_repetition_penalty later."""
    out = _child("raw", str(mllama_random), _crashing_parameter(), "cuda")
    assert "NO CRASH" not in out.stdout
    assert "device-side assert triggered" in out.stderr or "Assertion" in out.stderr, out.stderr[-2000:]
    info = ErrorInfo(type="torch.AcceleratorError", message=out.stderr[-4000:])
    assert classify(info).error_class is ErrorClass.STICKY_CUDA


@pytest.mark.gpu
def test_safe_backend_on_cuda_answers_with_the_same_parameter(mllama_taught):
    name = _crashing_parameter()
    out = _child("safe", str(mllama_taught), name, "cuda")
    assert out.returncode == 0, out.stderr[-2000:]
    answer = json.loads(out.stdout.strip().splitlines()[-1])
    assert answer["fields"]["merchant"] == "TINY MART"
    assert answer["meta"]["device"] == "cuda:0" and name in answer["meta"]["generation_replaced"]
