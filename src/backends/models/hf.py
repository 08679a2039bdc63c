"""Where a model tier's weights are, and how to get them there: cheap, no torch.

``options.model`` is resolved in this order, never contacting the Hub unless a policy allows it:

1. a local directory (an existing path, or one written as ``/...``, ``./...``, ``~/...``) that
   holds ``config.json`` and weight files;
2. a Hugging Face model id found in the local cache: ``cache_dir`` from the policy, else
   ``$HF_HUB_CACHE``, else ``$HF_HOME/hub`` (default ``~/.cache/huggingface/hub``);
3. only with ``allow_download: true``: the Hub itself (``from_pretrained`` downloads into the cache).

``preflight`` uses only the filesystem, ``importlib.util.find_spec`` and huggingface_hub's cache
lookup, so ``docroute doctor`` and the router can call it without importing torch. When the
weights are missing, the reason says what to run on a connected machine and where to put the result.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from backends.options import ModelOptions

WEIGHT_GLOBS = ("*.safetensors", "*.safetensors.index.json", "pytorch_model*.bin", "pytorch_model.bin.index.json")

#: Meta's repositories also hold the original consolidated checkpoint, which transformers never reads.
_EXCLUDES = {"meta-llama/": ' --exclude "original/*"'}


@dataclass(frozen=True)
class Checkpoint:
    """What ``from_pretrained`` is given: a directory with the weights, or a Hub id to download."""

    ref: str
    source: Literal["local", "cache", "hub"]

    @property
    def offline(self) -> bool:
        return self.source != "hub"


def is_local_path(model: str) -> bool:
    """A directory path rather than a Hub id (``org/name``)."""
    return model.startswith(("/", "./", "../", "~")) or Path(model).expanduser().is_dir()


def cache_root(options: ModelOptions) -> str:
    """The Hugging Face hub cache this tier reads."""
    if options.cache_dir:
        return str(Path(options.cache_dir).expanduser())
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def locate(options: ModelOptions) -> Checkpoint | None:
    """Where the weights are on this machine (or the Hub, if allowed); None if nowhere."""
    if is_local_path(options.model):
        path = Path(options.model).expanduser()
        return Checkpoint(str(path), "local") if weights_problem(path) is None else None
    snapshot = cached_snapshot(options)
    if snapshot is not None and weights_problem(snapshot) is None:
        return Checkpoint(str(snapshot), "cache")
    if options.allow_download:
        return Checkpoint(options.model, "hub")
    return None


def cached_snapshot(options: ModelOptions) -> Path | None:
    """The cache folder of ``options.model`` at its revision, without contacting the Hub."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    try:
        found = snapshot_download(
            options.model, revision=options.revision, cache_dir=cache_root(options), local_files_only=True
        )
    except (LocalEntryNotFoundError, HFValidationError, OSError):
        return None
    return Path(found)


def weights_problem(directory: Path) -> str | None:
    """What a checkpoint directory lacks, or None if it looks complete."""
    if not directory.is_dir():
        return f"{directory} does not exist"
    if not (directory / "config.json").is_file():
        return f"{directory} has no config.json"
    if not any(next(directory.glob(pattern), None) for pattern in WEIGHT_GLOBS):
        return f"{directory} has no weight files (*.safetensors or pytorch_model*.bin)"
    return _missing_shards(directory)


def _missing_shards(directory: Path) -> str | None:
    """Shards a sharded checkpoint's index names that are not there (an interrupted copy)."""
    for index in directory.glob("*.index.json"):
        try:
            shards = set(json.loads(index.read_text(encoding="utf-8")).get("weight_map", {}).values())
        except (OSError, ValueError, AttributeError):
            return f"{index} cannot be read"
        missing = sorted(name for name in shards if not (directory / name).is_file())
        if missing:
            return (
                f"{directory} lacks {len(missing)} of the {len(shards)} weight shards its index lists "
                f"(first: {missing[0]})"
            )
    return None


def missing_weights_reason(options: ModelOptions, suggested_model: str) -> str | None:
    """Why the weights cannot be used here, with how to fetch them; None if they can."""
    if locate(options) is not None:
        return None
    if is_local_path(options.model):
        problem = weights_problem(Path(options.model).expanduser())
        return f"weights not found: {problem}. {fetch_hint(options, suggested_model)}"
    return (
        f"weights for {options.model} are not in the Hugging Face cache ({cache_root(options)}) and "
        f"allow_download is false. {fetch_hint(options, suggested_model)}"
    )


def download_command(model_id: str, revision: str | None = None, local_dir: str | None = None) -> str:
    """The ``hf download`` command line that fetches a checkpoint."""
    command = f"hf download {model_id}"
    if revision:
        command += f" --revision {revision}"
    command += next((extra for prefix, extra in _EXCLUDES.items() if model_id.startswith(prefix)), "")
    if local_dir:
        command += f" --local-dir {local_dir}"
    return command


def fetch_hint(options: ModelOptions, suggested_model: str) -> str:
    """How to put the weights where this tier looks, from a machine with internet access."""
    gated = " (gated: accept the licence on its Hub page and run `hf auth login` first)"
    if is_local_path(options.model):
        model_id = suggested_model
        fetch = download_command(model_id, options.revision, local_dir=options.model)
        return (
            f"On a machine with internet access run `{fetch}`{gated if _gated(model_id) else ''}, "
            f"then copy that directory to {options.model} here."
        )
    model_id = options.model
    folder = "models--" + model_id.replace("/", "--")
    name = model_id.rsplit("/", 1)[-1]
    return (
        f"On a machine with internet access run `{download_command(model_id, options.revision)}`"
        f"{gated if _gated(model_id) else ''} and copy its cache folder {folder} into {cache_root(options)} "
        f"here (or point HF_HOME / cache_dir at a copy); or run "
        f"`{download_command(model_id, options.revision, local_dir='/models/' + name)}`, copy the directory "
        f"here and set model: /models/{name}. Or set allow_download: true on a connected machine."
    )


def _gated(model_id: str) -> bool:
    return model_id.startswith("meta-llama/")


def weights_info(options: ModelOptions, suggested_model: str) -> dict[str, Any]:
    """Where the tier expects its weights, whether they are there, and how to fetch them."""
    found = locate(options)
    expected = (
        str(Path(options.model).expanduser())
        if is_local_path(options.model)
        else f"{options.model} in the Hugging Face cache {cache_root(options)}"
    )
    return {
        "model": options.model,
        "expected": expected,
        "found": None if found is None else found.ref,
        "source": None if found is None else found.source,
        "fetch": None if found is not None and found.offline else fetch_hint(options, suggested_model),
    }


def missing_packages(packages: tuple[str, ...]) -> list[str]:
    """The import names among ``packages`` that are not installed (checked without importing)."""
    return [name for name in packages if importlib.util.find_spec(name) is None]


def preflight(options: ModelOptions, *, packages: tuple[str, ...], suggested_model: str) -> str | None:
    """Why a model tier cannot run here, or None: packages first (cheapest), then the weights."""
    needed = packages + (("bitsandbytes",) if options.quantization != "none" else ())
    missing = missing_packages(needed)
    if missing:
        return f"missing Python packages: {', '.join(missing)} (pip install {' '.join(_pip_names(missing))})"
    return missing_weights_reason(options, suggested_model)


def tesseract_missing() -> str | None:
    """Why Tesseract cannot run here, or None."""
    if shutil.which("tesseract", path=os.environ.get("PATH")) is None:
        return "tesseract is not installed (apt-get install tesseract-ocr, or brew install tesseract)"
    return None


_PIP_NAMES = {"PIL": "pillow", "pytesseract": "pytesseract"}


def _pip_names(modules: list[str]) -> list[str]:
    return [_PIP_NAMES.get(name, name) for name in modules]
