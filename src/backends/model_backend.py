"""What the three model tiers share, and nothing model-specific.

A model tier checks packages and weights cheaply (``preflight``, no torch), loads its checkpoint
in ``load`` (in a worker process), and answers a document by generating text that
``backends.postprocess.parse_answer`` turns into validated fields or ``InvalidOutput``. Each
subclass supplies ``_load`` and ``_answer`` (vision tiers: ``_answer_page``, one page image per
generation); model quirks (Mllama's image token, InternVL's tiles, the text model's OCR prompt)
live there.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, ClassVar

from backends import hf
from backends.base import BaseBackend, Extraction
from backends.document import Document
from backends.errors import InvalidOutput
from backends.hf import Checkpoint
from backends.options import ModelOptions, VisionOptions
from backends.postprocess import parse_answer
from backends.postprocess.pages import combine_meta, merge_pages, reading_order
from backends.schema import CORE_FIELDS, ReceiptFields

if TYPE_CHECKING:
    from PIL import Image


class ModelBackend(BaseBackend):
    uses_gpu = True
    #: The Hub checkpoint the fetch instructions name when a policy gives a local directory.
    suggested_model: ClassVar[str] = ""
    #: Import names this backend needs (checked with find_spec, never imported by preflight).
    packages: ClassVar[tuple[str, ...]] = ("torch", "transformers")

    def __init__(self, options: ModelOptions):
        self.options = options
        self.checkpoint: Checkpoint | None = None
        self.device = "cpu"
        self.model: Any = None

    @classmethod
    def required_packages(cls, options: Any) -> tuple[str, ...]:
        return cls.packages

    @classmethod
    def suggested_for(cls, options: Any) -> str:
        return cls.suggested_model

    @classmethod
    def preflight(cls, options: Any) -> str | None:
        return hf.preflight(
            options, packages=cls.required_packages(options), suggested_model=cls.suggested_for(options)
        )

    @classmethod
    def weights(cls, options: Any) -> dict[str, Any]:
        """Where this tier expects its weights and how to fetch them (for ``docroute doctor``)."""
        return hf.weights_info(options, cls.suggested_for(options))

    def load(self) -> None:
        from backends import loading

        if self.model is not None:
            return
        self.checkpoint = loading.resolve(self.options, self.suggested_for(self.options))
        self.device = loading.device_for(self.options)
        self._load(self.checkpoint, self.device)

    def extract(self, document: Document) -> Extraction:
        self.load()
        started = time.perf_counter()
        fields, meta = self._extract_fields(document)
        generated_s = time.perf_counter() - started
        return Extraction(
            fields,
            {
                "model": self.options.model,
                "device": self.device,
                "generate_s": round(generated_s, 3),
                "pages": len(document.pages),
                **meta,
            },
        )

    def _extract_fields(self, document: Document) -> tuple[ReceiptFields, dict[str, Any]]:
        text, meta = self._answer(document)
        fields, parsed = parse_answer(text)
        return fields, {**meta, **parsed}

    def close(self) -> None:
        on_cuda = self.device.startswith("cuda")
        self.model = None
        self._release()
        if on_cuda:
            import torch

            torch.cuda.empty_cache()

    def _load(self, checkpoint: Checkpoint, device: str) -> None:
        raise NotImplementedError

    def _answer(self, document: Document) -> tuple[str, dict[str, Any]]:
        """The model's raw text for ``document`` and metadata (counts, never text)."""
        raise NotImplementedError

    def _release(self) -> None:
        """Drop references to processors and tokenizers."""


class VisionBackend(ModelBackend):
    """A model tier that sees page images, one page per generation.

    Pages are read first, last, then the rest (``backends.postprocess.pages``), at most the
    options' ``pages_read``, until merchant, date and total are found; a page whose output is not
    an answer is passed over, and only when no page answered is the document ``InvalidOutput``.
    """

    options: VisionOptions

    def _extract_fields(self, document: Document) -> tuple[ReceiptFields, dict[str, Any]]:
        readings: dict[int, ReceiptFields] = {}
        merged: ReceiptFields | None = None
        metas: list[dict[str, Any]] = []
        invalid: list[str] = []
        read: list[int] = []
        for index in reading_order(len(document.pages), self.options.pages_read):
            read.append(index)
            text, meta = self._answer_page(document.pages[index])
            try:
                readings[index], parsed = parse_answer(text)
            except InvalidOutput as exc:
                invalid.append(f"page {index + 1}: {exc}" if len(document.pages) > 1 else str(exc))
                continue
            metas.append({**meta, **parsed})
            merged = merge_pages(readings)
            if merged.present() >= CORE_FIELDS:
                break
        if merged is None:
            raise InvalidOutput("; ".join(invalid))
        return merged, {**combine_meta(metas), "pages_read": sorted(document.pages_read[i] for i in read)}

    def _answer_page(self, page: Image.Image) -> tuple[str, dict[str, Any]]:
        """The model's raw text for one page image and metadata (counts, never text)."""
        raise NotImplementedError
