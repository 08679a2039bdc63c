"""What the three model tiers share, and nothing model-specific.

A model tier checks packages and weights cheaply (``preflight``, no torch), loads its checkpoint
in ``load`` (in a worker process), and answers documents by generating text that
``backends.fields.postprocess.parse_answer`` turns into validated fields or ``InvalidOutput``.
``extract_batch`` answers several documents with one ``generate`` call per round (left-padded
rows); ``extract`` is a batch of one, so both take the same path. Each subclass supplies ``_load``
and ``_answers`` (vision tiers: ``_answer_pages``, one page image per row); model quirks
(Mllama's image token, InternVL's tiles, the text model's OCR prompt) live there.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from backends.documents.document import Document
from backends.errors import InvalidOutput
from backends.fields.postprocess import parse_answer
from backends.fields.postprocess.pages import combine_meta, merge_pages, reading_order
from backends.models import hf
from backends.models.hf import Checkpoint
from backends.models.tokenconf import TOKENS, with_confidences
from backends.options import ModelOptions, VisionOptions
from backends.protocol import BaseBackend, Extraction
from backends.schema import CORE_FIELDS, ReceiptFields

if TYPE_CHECKING:
    from PIL import Image

#: One document's fields and metadata, or the error that document alone met.
Outcome = tuple[ReceiptFields, dict[str, Any]] | Exception
#: The key of a row's meta that holds the text its answer was read from (an OCR tier's): moved into
#: ``Extraction.text`` when the document asks for it, dropped otherwise, so never logged.
READ_TEXT = "read_text"


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
        from backends.models import loading

        if self.model is not None:
            return
        self.checkpoint = loading.resolve(self.options, self.suggested_for(self.options))
        self.device = loading.device_for(self.options)
        self._load(self.checkpoint, self.device)

    def extract(self, document: Document) -> Extraction:
        outcome = self.extract_batch([document])[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def extract_batch(self, documents: Sequence[Document]) -> list[Extraction | Exception]:
        """One answer or one error per document, generated together (left-padded batches).

        What fails for one document alone (its OCR, its answer not parsing) is that document's
        error; what fails the shared ``generate`` call (a device-side assert) is raised, for all.
        """
        self.load()
        started = time.perf_counter()
        outcomes = self._extract_batch_fields(documents)
        generated_s = round(time.perf_counter() - started, 3)
        common = {"model": self.options.model, "device": self.device, "generate_s": generated_s}
        if len(documents) > 1:
            common["batch_size"] = len(documents)
        return [
            outcome if isinstance(outcome, Exception) else _extraction(document, outcome, common)
            for document, outcome in zip(documents, outcomes, strict=True)
        ]

    def _extract_batch_fields(self, documents: Sequence[Document]) -> list[Outcome]:
        answers = self._answers(documents)
        return [answer if isinstance(answer, Exception) else _parsed(*answer) for answer in answers]

    def close(self) -> None:
        on_cuda = self.device.startswith("cuda")
        self.model = None
        self._release()
        if on_cuda:
            import torch

            torch.cuda.empty_cache()

    def _load(self, checkpoint: Checkpoint, device: str) -> None:
        raise NotImplementedError

    def _answers(self, documents: Sequence[Document]) -> list[tuple[str, dict[str, Any]] | Exception]:
        """The model's raw text for each document and metadata (counts, never text), in one batch;
        an exception for a document that could not be prompted."""
        raise NotImplementedError

    def _release(self) -> None:
        """Drop references to processors and tokenizers."""


class VisionBackend(ModelBackend):
    """A model tier that sees page images, one page per row of a batch.

    Each document is read as ``PageReading`` says; each round batches the next page of every
    document that still needs one.
    """

    options: VisionOptions

    def _extract_batch_fields(self, documents: Sequence[Document]) -> list[Outcome]:
        readings = [PageReading(document, self.options.pages_read) for document in documents]
        while wanted := [(r, i) for r in readings if (i := r.next_page()) is not None]:
            answers = self._answer_pages([reading.document.pages[index] for reading, index in wanted])
            for (reading, index), (text, meta) in zip(wanted, answers, strict=True):
                reading.take(index, text, meta)
        return [reading.outcome() for reading in readings]

    def _answer_pages(self, pages: Sequence[Image.Image]) -> list[tuple[str, dict[str, Any]]]:
        """The model's raw text for each page image and metadata (counts, never text), in one batch."""
        raise NotImplementedError


class PageReading:
    """One document's way through its pages: the first, the last, then the rest (at most
    ``limit``), until merchant, date and total are found; a page whose output is not an answer
    is passed over, and only when no page answered is the document ``InvalidOutput``."""

    def __init__(self, document: Document, limit: int):
        self.document = document
        self.order = reading_order(len(document.pages), limit)
        self.readings: dict[int, ReceiptFields] = {}
        self.metas: list[dict[str, Any]] = []
        self.invalid: list[str] = []
        self.read: list[int] = []
        self.merged: ReceiptFields | None = None

    def next_page(self) -> int | None:
        """The page to read next, or None when done."""
        done = self.merged is not None and self.merged.present() >= CORE_FIELDS
        return None if done or len(self.read) == len(self.order) else self.order[len(self.read)]

    def take(self, index: int, text: str, meta: dict[str, Any]) -> None:
        self.read.append(index)
        try:
            fields, parsed = parse_answer(text)
            self.readings[index] = with_confidences(fields, text, meta)
        except InvalidOutput as exc:
            self.invalid.append(f"page {index + 1}: {exc}" if len(self.document.pages) > 1 else str(exc))
            return
        self.metas.append({**meta, **parsed})
        self.merged = merge_pages(self.readings)

    def outcome(self) -> Outcome:
        if self.merged is None:
            return InvalidOutput("; ".join(self.invalid))
        return self.merged, {
            **combine_meta(self.metas),
            "pages_read": sorted(self.document.pages_read[i] for i in self.read),
        }


def _extraction(
    document: Document, outcome: tuple[ReceiptFields, dict[str, Any]], common: dict[str, Any]
) -> Extraction:
    fields, meta = outcome
    read = meta.pop(READ_TEXT, None)
    text = None if read is None else document.text_if_asked(read)
    return Extraction(fields, {**common, "pages": len(document.pages), **meta}, text)


def _parsed(text: str, meta: dict[str, Any]) -> Outcome:
    try:
        fields, parsed = parse_answer(text)
    except InvalidOutput as exc:
        meta.pop(TOKENS, None)
        return exc
    return with_confidences(fields, text, meta), {**meta, **parsed}
