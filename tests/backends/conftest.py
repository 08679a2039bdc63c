"""Tiny models, built once and kept on disk in pytest's cache, keyed by what builds them (see
tiny_models.py): a later run, or another xdist worker, loads the saved directory instead of training
again. The key covers the builder, its arguments, the builders' source and the library versions, so
any change to a model's recipe builds it anew."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from backends.documents.document import Document

OCR_TEXT = "TINY MART\n12 JALAN BESAR\n31/01/2024\nTOTAL RM 12.50\nCASH 20.00\nTHANK YOU"
_RECIPE_FILES = ("tiny_models.py", "receipts.py")
_LIBRARIES = ("torch", "transformers", "tokenizers")


def tiny_model(config: pytest.Config, builder: str, **kwargs: Any) -> Path:
    """The directory of the tiny model ``tiny_models.<builder>(directory, **kwargs)`` saves, from the
    cache when it holds one built by the same recipe."""
    key = _recipe_key(builder, kwargs)
    cache = getattr(config, "cache", None)  # None under -p no:cacheprovider
    root = cache.mkdir("tiny-models") if cache is not None else Path(os.environ.get("TMPDIR", "/tmp")) / "tiny-models"
    done = root / f"{builder}-{key}"
    if (done / ".complete").exists():
        return done
    from tests.backends import tiny_models

    building = root / f".{done.name}.{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    getattr(tiny_models, builder)(building, **kwargs)
    (building / ".complete").touch()
    try:
        building.rename(done)  # atomic: another worker's copy, if it got there first, wins
    except OSError:
        shutil.rmtree(building, ignore_errors=True)
    return done


def _recipe_key(builder: str, kwargs: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps([builder, _plain(kwargs)], sort_keys=True).encode())
    here = Path(__file__).parent
    for name in _RECIPE_FILES:
        digest.update((here / name).read_bytes())
    digest.update(" ".join(version(lib) for lib in _LIBRARIES).encode())
    return digest.hexdigest()[:16]


def _plain(value: Any) -> Any:
    """Arguments as JSON; an image by the hash of its pixels."""
    if isinstance(value, Image.Image):
        return f"image:{value.mode}:{value.size}:{hashlib.sha256(value.tobytes()).hexdigest()}"
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _build(request: pytest.FixtureRequest, builder: str, **kwargs: Any) -> Path:
    return tiny_model(request.config, builder, **kwargs)


@pytest.fixture(scope="session")
def mllama_random(request: pytest.FixtureRequest) -> Path:
    return _build(request, "build_mllama")


@pytest.fixture(scope="session")
def mllama_taught(request: pytest.FixtureRequest) -> Path:
    return _build(request, "build_mllama", teach_answer=True)


@pytest.fixture(scope="session")
def internvl_random(request: pytest.FixtureRequest) -> Path:
    return _build(request, "build_internvl")


@pytest.fixture(scope="session")
def internvl_taught(request: pytest.FixtureRequest) -> Path:
    return _build(request, "build_internvl", teach_answer=True)


@pytest.fixture(scope="session")
def llama_random(request: pytest.FixtureRequest) -> Path:
    return _build(request, "build_llama_text")


@pytest.fixture(scope="session")
def llama_taught(request: pytest.FixtureRequest) -> Path:
    return _build(request, "build_llama_text", teach_on=OCR_TEXT)


def document(image: Image.Image | None = None) -> Document:
    """A one-page document as the router hands it to a backend."""
    from tests.backends.receipts import receipt_image

    page = image or receipt_image()
    return Document(sha256="0" * 64, pages=(page,), media_type="image/png", source="test.png", size_bytes=1234)


def model_options(kind: str, path: Path, **overrides: Any) -> Any:
    """Validated options for a tiny model on the CPU in float32, as a policy would give them.

    Unconstrained unless ``constrained=True`` is given: most tests here exercise the free-text
    path (the post-processing, garbage answers) with short generations.
    """
    from pydantic import TypeAdapter

    from backends.kinds import BackendOptions

    data = {"kind": kind, "model": str(path), "device": "cpu", "dtype": "float32", **overrides}
    data.setdefault("generation", {"max_new_tokens": 40})
    if not data.get("trust_remote_code") and data["generation"].get("num_beams", 1) == 1:
        data.setdefault("constrained", False)
    return TypeAdapter(BackendOptions).validate_python(data)
