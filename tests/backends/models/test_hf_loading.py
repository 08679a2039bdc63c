"""Finding weights (local directory, Hugging Face cache, Hub only if allowed), saying how to fetch
missing ones, placing the model on one device, and bitsandbytes quantisation."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from backends import registry
from backends.errors import BackendUnavailable, InvalidOutput
from backends.models import hf, loading
from backends.models.ocr_llm import OcrLlmBackend
from router.failures.errors import ErrorClass, ErrorInfo
from router.failures.signatures import classify
from router.policy.model import load_policy
from tests.backends.conftest import OCR_TEXT, document, model_options
from tests.backends.models.test_ocr_llm import given_text

ROOT = Path(__file__).resolve().parents[3]


def hf_cache(tmp_path: Path, model_id: str, source: Path) -> Path:
    """A Hugging Face hub cache holding ``source`` as ``model_id`` at revision main."""
    cache = tmp_path / "hub"
    repo = cache / ("models--" + model_id.replace("/", "--"))
    commit = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(source, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    return cache


@pytest.mark.parametrize(
    ("tier", "command"),
    [
        ("internvl3", "hf download OpenGVLab/InternVL3-8B-hf"),
        ("llama-vision", 'hf download meta-llama/Llama-3.2-11B-Vision-Instruct --exclude "original/*"'),
        ("ocr-llm", 'hf download meta-llama/Llama-3.2-3B-Instruct --exclude "original/*"'),
    ],
)
def test_default_policy_tiers_say_how_to_fetch_missing_weights(tmp_path, tier, command):
    options = load_policy("default").tier(tier).backend.model_copy(update={"cache_dir": str(tmp_path)})
    reason = registry.preflight(options)
    assert reason is not None
    assert f"`{command}`" in reason
    assert f"not in the Hugging Face cache ({tmp_path})" in reason and "allow_download is false" in reason
    folder = "models--" + options.model.replace("/", "--")
    assert f"copy its cache folder {folder} into {tmp_path}" in reason
    assert ("hf auth login" in reason) == options.model.startswith("meta-llama/")


def test_missing_local_directory_names_it_and_the_command_that_fills_it(tmp_path):
    target = tmp_path / "llama-vision"
    reason = registry.preflight(model_options("llama_vision", target))
    assert reason is not None and f"weights not found: {target} does not exist" in reason
    assert (
        f'`hf download meta-llama/Llama-3.2-11B-Vision-Instruct --exclude "original/*" --local-dir {target}`' in reason
    )


def test_local_directory_without_weights_says_what_is_missing(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    assert "has no weight files" in (registry.preflight(model_options("ocr_llm", tmp_path)) or "")
    (tmp_path / "config.json").unlink()
    assert "has no config.json" in (registry.preflight(model_options("ocr_llm", tmp_path)) or "")


def test_model_id_found_in_the_hf_cache_loads_offline(tmp_path, llama_taught):
    cache = hf_cache(tmp_path, "tiny/llama-3.2-text", llama_taught)
    options = model_options("ocr_llm", "tiny/llama-3.2-text", cache_dir=str(cache))
    assert registry.preflight(options) is None
    found = hf.locate(options)
    assert found is not None and found.source == "cache" and found.offline
    assert loading.pretrained_kwargs(options, found)["local_files_only"] is True
    backend = OcrLlmBackend(options, ocr=given_text(OCR_TEXT))
    assert backend.extract(document()).fields.merchant == "TINY MART"


def test_download_only_when_the_policy_allows_it(tmp_path):
    options = model_options("ocr_llm", "tiny/not-cached", cache_dir=str(tmp_path))
    assert hf.locate(options) is None
    allowed = options.model_copy(update={"allow_download": True})
    found = hf.locate(allowed)
    assert found is not None and found.source == "hub" and not found.offline
    assert registry.preflight(allowed) is None
    assert loading.pretrained_kwargs(allowed, found) == {
        "local_files_only": False,
        "trust_remote_code": False,
        "revision": None,
        "cache_dir": str(tmp_path),
    }


def test_weights_info_for_doctor(tmp_path, llama_random):
    missing = registry.backend_class("internvl3").weights(model_options("internvl3", "OpenGVLab/InternVL3-8B-hf"))
    assert missing["found"] is None and "hf download OpenGVLab/InternVL3-8B-hf" in missing["fetch"]
    assert missing["expected"].startswith("OpenGVLab/InternVL3-8B-hf in the Hugging Face cache ")
    present = registry.backend_class("ocr_llm").weights(model_options("ocr_llm", llama_random))
    assert (present["found"], present["source"], present["fetch"]) == (str(llama_random), "local", None)


def test_preflight_never_imports_torch_or_transformers():
    code = (
        "import sys\n"
        "from backends import registry\n"
        "from router.policy.model import load_policy\n"
        "for tier in load_policy('default').tiers[:3]:  # the model tiers\n"
        "    registry.preflight(tier.backend)\n"
        "    getattr(registry.backend_class(tier.backend.kind), 'weights', lambda o: None)(tier.backend)\n"
        "print(sorted(m for m in ('torch', 'transformers', 'tokenizers') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_missing_packages_are_named_with_the_pip_command(tmp_path):
    reason = hf.preflight(
        model_options("ocr_llm", tmp_path), packages=("torch", "no_such_package_xyz"), suggested_model="x/y"
    )
    assert reason == "missing Python packages: no_such_package_xyz (pip install no_such_package_xyz)"


def test_cuda_device_without_cuda_is_unavailable_with_the_fix(llama_random):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(BackendUnavailable, match="device: cuda, but CUDA is not available here") as caught:
        OcrLlmBackend(model_options("ocr_llm", llama_random, device="cuda")).load()
    assert "use device: cpu" in str(caught.value)
    assert classify(ErrorInfo.from_exception(caught.value)).error_class is ErrorClass.UNAVAILABLE


# --- quantisation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantization", "device", "version", "devices", "problem"),
    [
        ("none", "cpu", None, set(), None),
        ("4bit", "cuda", None, set(), "needs bitsandbytes (pip install bitsandbytes)"),
        ("8bit", "cpu", (0, 43), {"cuda"}, "bitsandbytes 0.43 supports cuda here (0.45 or newer also runs on the CPU"),
        ("4bit", "cuda", (0, 50), {"cpu"}, "on device cuda: bitsandbytes 0.50 supports cpu here"),
        ("4bit", "cpu", (0, 50), {"cpu", "cuda"}, None),
    ],
)
def test_quantization_support_table(quantization, device, version, devices, problem):
    found = loading.quantization_problem(quantization, device, version, devices)
    assert (found is None) if problem is None else (problem in (found or ""))


def _bnb_on_cpu() -> bool:
    version, devices, _ = loading.bitsandbytes_support()
    return version is not None and "cpu" in devices


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "quantization", "module"),
    [
        ("ocr_llm", "4bit", "Linear4bit"),
        ("ocr_llm", "8bit", "Linear8bitLt"),
        ("internvl3", "8bit", "Linear8bitLt"),
        ("llama_vision", "8bit", "Linear8bitLt"),
    ],
)
def test_quantised_loading_on_cpu(request, kind, quantization, module):
    """Quantised layers load and generate on the CPU (bitsandbytes >= 0.45). Not covered on the CPU:
    4-bit with the tiny vision models' 16-wide projections (bitsandbytes' CPU kernels reject them)."""
    if not _bnb_on_cpu():  # asked here, not at collection: importing bitsandbytes imports torch
        pytest.skip("bitsandbytes cannot quantise on the CPU here")
    fixture = {"ocr_llm": "llama_random", "internvl3": "internvl_random", "llama_vision": "mllama_random"}[kind]
    path = request.getfixturevalue(fixture)
    backend = registry.create(model_options(kind, path, quantization=quantization, generation={"max_new_tokens": 5}))
    if kind == "ocr_llm":
        backend._ocr = given_text(OCR_TEXT)
    backend.load()
    assert module in {type(m).__name__ for m in backend.model.modules()}
    with pytest.raises(InvalidOutput):  # generation runs through the quantised layers; the answer is garbage
        backend.extract(document())


@pytest.mark.parametrize(("kind", "tower"), [("llama_vision", "vision_model"), ("internvl3", "vision_tower")])
def test_quantisation_is_for_the_language_model_only(kind, tower):
    """The vision tower and projector stay unquantised: bitsandbytes' int8 matmul rejects the tiled
    Mllama vision encoder's 4-D activations (found by test_quantised_mllama_on_cuda[8bit] on an H100)."""
    from backends.models import internvl, llama_vision

    keep = {"llama_vision": llama_vision.VISION_MODULES, "internvl3": internvl.VISION_MODULES}[kind]
    if not _bnb_on_cpu():
        pytest.skip("bitsandbytes cannot quantise on the CPU here")
    config = loading.quantization_config(model_options(kind, Path("/m"), quantization="8bit"), "cpu", keep)
    assert {tower, "multi_modal_projector", "lm_head"} <= set(config.llm_int8_skip_modules)


@pytest.mark.gpu
@pytest.mark.parametrize("quantization", ["4bit", "8bit"])
def test_quantised_mllama_on_cuda(mllama_random, quantization):
    """In a child process (the test process stays CUDA-free): loads on cuda:0 and generates."""
    code = (
        "import sys\n"
        "from backends.models.llama_vision import LlamaVisionBackend\n"
        "from backends.options import LlamaVisionOptions\n"
        "from backends.errors import InvalidOutput\n"
        "from tests.backends.conftest import document\n"
        "b = LlamaVisionBackend(LlamaVisionOptions(model=sys.argv[1], quantization=sys.argv[2], dtype='float16',\n"
        "    generation={'max_new_tokens': 5, 'repetition_penalty': 1.2}))\n"
        "b.load()\n"
        "print(sorted({type(m).__name__ for m in b.model.modules() if 'Linear' in type(m).__name__}))\n"
        "try:\n    b.extract(document())\nexcept InvalidOutput:\n    print('GARBAGE AS EXPECTED')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(mllama_random), quantization], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "GARBAGE AS EXPECTED" in out.stdout and ("Linear4bit" in out.stdout or "Linear8bitLt" in out.stdout)


def test_quantisation_without_bitsandbytes_is_a_clear_error(llama_random, monkeypatch):
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)  # as on a platform where it is not installed
    backend = OcrLlmBackend(model_options("ocr_llm", llama_random, quantization="4bit"))
    with pytest.raises(BackendUnavailable, match=r"quantization: 4bit needs bitsandbytes \(pip install bitsandbytes\)"):
        backend.load()
    assert backend.model is None  # refused before any weights were read


def test_doctor_reports_where_each_model_tier_expects_weights(tmp_path, llama_random, monkeypatch):
    from typer.testing import CliRunner

    from router.cli import app, doctor

    monkeypatch.setattr(doctor, "_model_stack", lambda: {})  # no torch probe: only the tiers matter here
    policy = tmp_path / "models.yaml"
    tiers = [
        {
            "name": "vision",
            "backend": {"kind": "internvl3", "model": "OpenGVLab/InternVL3-8B-hf", "cache_dir": str(tmp_path)},
        },
        {"name": "text", "backend": {"kind": "ocr_llm", "model": str(llama_random), "device": "cpu"}},
    ]
    policy.write_text(json.dumps({"tiers": tiers}))  # JSON is YAML
    out = CliRunner().invoke(app, ["doctor", "--json", "-p", str(policy)])
    assert out.exit_code == 0, out.output
    vision, text = json.loads(out.output)["tiers"]
    assert vision["weights"]["expected"] == f"OpenGVLab/InternVL3-8B-hf in the Hugging Face cache {tmp_path}"
    assert "`hf download OpenGVLab/InternVL3-8B-hf`" in vision["weights"]["fetch"] and not vision["ready"]
    assert text["weights"]["found"] == str(llama_random) and text["ready"]


def test_an_interrupted_copy_of_a_sharded_checkpoint_is_reported(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    index = {"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    (tmp_path / "model-00001-of-00002.safetensors").write_bytes(b"")
    reason = registry.preflight(model_options("ocr_llm", tmp_path))
    assert "lacks 1 of the 2 weight shards its index lists (first: model-00002-of-00002.safetensors)" in (reason or "")


def test_a_tiny_model_is_built_once_per_recipe_and_kept_in_the_cache(request):
    """The same builder and arguments give the same saved directory, built once; other arguments
    another one (the key is the recipe, so a changed recipe never loads a stale model)."""
    from tests.backends.conftest import tiny_model

    first = tiny_model(request.config, "build_llama_text", answer='{"merchant": "CACHE CHECK"}')
    built_at = (first / ".complete").stat().st_mtime_ns
    again = tiny_model(request.config, "build_llama_text", answer='{"merchant": "CACHE CHECK"}')
    other = tiny_model(request.config, "build_llama_text", answer='{"merchant": "ANOTHER"}')
    assert again == first and (again / ".complete").stat().st_mtime_ns == built_at
    assert other != first and (other / "config.json").is_file() and (first / "config.json").is_file()
