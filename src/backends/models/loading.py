"""Loading a checkpoint onto one device: dtype, bitsandbytes quantisation, placement.

Imported only inside a backend's ``load`` (it imports torch and transformers). A model is placed
whole on ``cuda:{gpu}`` or on the CPU, never split with ``device_map="auto"``: a model spread over
devices turns one device's sticky CUDA error into every device's problem, and the worker that owns
the GPU is the unit the router recycles.

Quantisation policy: ``quantization: 4bit | 8bit`` needs bitsandbytes, and bitsandbytes must
support the tier's device. bitsandbytes >= 0.45 supports the CPU as well as CUDA, so a quantised
tier also loads with ``device: cpu``. Where it cannot work (bitsandbytes missing or failing to
import, too old for the device, or ``device: cuda`` without CUDA) ``load`` raises
``BackendUnavailable`` naming the cause and the fix, before any weights are read.
"""

from __future__ import annotations

from typing import Any

from backends.errors import BackendUnavailable
from backends.models.hf import Checkpoint, locate, missing_weights_reason
from backends.options import ModelOptions

#: bitsandbytes releases before this one run on CUDA only.
BNB_MULTI_BACKEND = (0, 45)


def resolve(options: ModelOptions, suggested_model: str) -> Checkpoint:
    """The checkpoint to load, or ``BackendUnavailable`` saying how to fetch it."""
    found = locate(options)
    if found is None:
        raise BackendUnavailable(missing_weights_reason(options, suggested_model) or "weights not found")
    return found


def device_for(options: ModelOptions) -> str:
    """``cuda:{gpu}`` or ``cpu``; ``BackendUnavailable`` if the policy asks for a GPU this machine lacks."""
    if options.device == "cpu":
        return "cpu"
    import torch

    if not torch.cuda.is_available():
        raise BackendUnavailable(
            f"device: cuda, but CUDA is not available here (torch {torch.__version__}, "
            f"CUDA build {torch.version.cuda or 'none'}); use device: cpu or run this tier on a GPU machine"
        )
    count = torch.cuda.device_count()
    if options.gpu >= count:
        raise BackendUnavailable(f"gpu: {options.gpu}, but this machine has {count} CUDA device(s)")
    return f"cuda:{options.gpu}"


def torch_dtype(name: str) -> Any:
    """The torch dtype for a policy's ``dtype`` (``auto`` is passed through to transformers)."""
    if name == "auto":
        return "auto"
    import torch

    return getattr(torch, name)


def quantization_problem(
    quantization: str, device_type: str, bnb_version: tuple[int, ...] | None, bnb_devices: set[str]
) -> str | None:
    """Why bitsandbytes cannot quantise for ``device_type`` here, or None. Pure, for testing."""
    if quantization == "none":
        return None
    if bnb_version is None:
        return f"quantization: {quantization} needs bitsandbytes (pip install bitsandbytes), or set quantization: none"
    if device_type not in bnb_devices:
        shown = ".".join(map(str, bnb_version))
        return (
            f"quantization: {quantization} on device {device_type}: bitsandbytes {shown} supports "
            f"{', '.join(sorted(bnb_devices)) or 'no device'} here"
            + (" (0.45 or newer also runs on the CPU: pip install -U bitsandbytes)" if device_type == "cpu" else "")
            + "; set quantization: none or change device"
        )
    return None


def bitsandbytes_support() -> tuple[tuple[int, ...] | None, set[str], str | None]:
    """(version, devices it supports, import error) of the installed bitsandbytes."""
    try:
        import bitsandbytes as bnb
    except Exception as exc:  # bitsandbytes fails in several ways on unsupported platforms
        return None, set(), f"{type(exc).__name__}: {exc}"
    version = tuple(int(part) for part in bnb.__version__.split(".")[:2] if part.isdigit())
    devices = set(getattr(bnb, "supported_torch_devices", ()) or ())
    if not devices:
        devices = {"cuda", "cpu"} if version >= BNB_MULTI_BACKEND else {"cuda"}
    return version, devices, None


def quantization_config(options: ModelOptions, device: str, keep: tuple[str, ...] = ()) -> Any:
    """A ``BitsAndBytesConfig`` for the policy's quantisation, None for ``none``.

    ``keep`` names modules left unquantised (a vision tower: bitsandbytes' int8 matmul takes only 2-D
    and 3-D inputs, which Mllama's tiled vision encoder does not give it). ``lm_head`` is always kept.
    """
    if options.quantization == "none":
        return None
    version, devices, import_error = bitsandbytes_support()
    problem = quantization_problem(options.quantization, device.split(":")[0], version, devices)
    if problem:
        raise BackendUnavailable(problem + (f" [import failed: {import_error}]" if import_error else ""))
    from transformers import BitsAndBytesConfig

    skip = sorted({"lm_head", *keep})
    if options.quantization == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True, llm_int8_skip_modules=skip)
    compute = torch_dtype(options.dtype if options.dtype != "auto" else "bfloat16")
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=compute,
        llm_int8_skip_modules=skip,
    )


def pretrained_kwargs(options: ModelOptions, checkpoint: Checkpoint) -> dict[str, Any]:
    """Arguments every ``from_pretrained`` call of a tier shares (model, tokenizer, processor)."""
    kwargs: dict[str, Any] = {"local_files_only": checkpoint.offline, "trust_remote_code": options.trust_remote_code}
    if checkpoint.source == "hub":
        kwargs |= {"revision": options.revision, "cache_dir": options.cache_dir}
    return kwargs


def model_kwargs(
    options: ModelOptions, checkpoint: Checkpoint, device: str, keep: tuple[str, ...] = ()
) -> dict[str, Any]:
    """``from_pretrained`` arguments for the model: dtype, quantisation, the whole model on one device."""
    kwargs = pretrained_kwargs(options, checkpoint) | {"dtype": torch_dtype(options.dtype), "device_map": {"": device}}
    quantization = quantization_config(options, device, keep)
    if quantization is not None:
        kwargs["quantization_config"] = quantization
    return kwargs


def load_model(
    model_class: Any, options: ModelOptions, checkpoint: Checkpoint, device: str, keep: tuple[str, ...] = ()
) -> Any:
    """The model, in eval mode, on ``device``; ``keep``: modules never quantised."""
    model = model_class.from_pretrained(checkpoint.ref, **model_kwargs(options, checkpoint, device, keep))
    model.eval()
    return model


def transformers_version() -> str:
    import transformers

    return str(transformers.__version__)
