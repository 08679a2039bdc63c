"""Tiny models, built once per test session into a temporary directory (see tiny_models.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from backends.documents.document import Document

OCR_TEXT = "TINY MART\n12 JALAN BESAR\n31/01/2024\nTOTAL RM 12.50\nCASH 20.00\nTHANK YOU"


def _build(tmp_path_factory: pytest.TempPathFactory, name: str, builder: str, **kwargs: Any) -> Path:
    from tests.backends import tiny_models

    return getattr(tiny_models, builder)(tmp_path_factory.mktemp(name), **kwargs)


@pytest.fixture(scope="session")
def mllama_random(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(tmp_path_factory, "mllama-random", "build_mllama")


@pytest.fixture(scope="session")
def mllama_taught(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(tmp_path_factory, "mllama-taught", "build_mllama", teach_answer=True)


@pytest.fixture(scope="session")
def internvl_random(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(tmp_path_factory, "internvl-random", "build_internvl")


@pytest.fixture(scope="session")
def internvl_taught(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(tmp_path_factory, "internvl-taught", "build_internvl", teach_answer=True)


@pytest.fixture(scope="session")
def llama_random(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(tmp_path_factory, "llama-random", "build_llama_text")


@pytest.fixture(scope="session")
def llama_taught(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(tmp_path_factory, "llama-taught", "build_llama_text", teach_on=OCR_TEXT)


def document(image: Image.Image | None = None) -> Document:
    """A one-page document as the router hands it to a backend."""
    from tests.backends.tiny_models import receipt_image

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
