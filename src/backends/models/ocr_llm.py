"""Tesseract OCR + a text-only Llama 3.2 Instruct (1B/3B): OCR text in a chat prompt, JSON out.

The OCR is the same code as the OCR + rules tier (``backends.ocr.engine.ocr_document``, or a PDF page's
text layer, ``backends.documents.textlayer``): too little text is ``InvalidOutput`` before the model is
asked. The text, cut to ``max_ocr_chars``, goes between fences in a chat-templated prompt that
asks for JSON only; the answer goes through the shared post-processing. A text prompt holds only
ids inside the lm_head, so generation parameters pass through unchanged (the id preflight check
still runs).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from backends.documents.document import Document
from backends.kinds import spec_for
from backends.models import hf, prompts
from backends.models.hf import Checkpoint
from backends.models.model_backend import READ_TEXT, ModelBackend
from backends.ocr.reader import read_document
from backends.options import OcrLlmOptions, OcrOptions

OcrFunction = Callable[[Document, OcrOptions], Any]


class OcrLlmBackend(ModelBackend):
    kind = "ocr_llm"
    suggested_model = "meta-llama/Llama-3.2-3B-Instruct"
    packages = ("torch", "transformers", "pytesseract", "PIL")

    def __init__(self, options: OcrLlmOptions, ocr: OcrFunction | None = None):
        super().__init__(options)
        self.options: OcrLlmOptions = options
        self._ocr = ocr
        self.tokenizer: Any = None
        self.plan: Any = None
        self.vocab: tuple[int, int] = (0, 0)

    @classmethod
    def preflight(cls, options: Any) -> str | None:
        return hf.tesseract_missing() or super().preflight(options)

    def _load(self, checkpoint: Checkpoint, device: str) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from backends.models import generation, loading

        self.tokenizer = AutoTokenizer.from_pretrained(
            checkpoint.ref, **loading.pretrained_kwargs(self.options, checkpoint)
        )
        self.model = loading.load_model(AutoModelForCausalLM, self.options, checkpoint, device)
        version = loading.transformers_version()
        self.plan = generation.plan_generation(
            self.options.generation,
            unsafe=spec_for(self.kind).unsafe_generation(version),  # none: text ids lie inside the lm_head
            transformers_version=version,
            checkpoint_defaults=self.model.generation_config,
        )
        self.vocab = generation.model_vocab_sizes(self.model)
        self.tokenizer.padding_side = "left"  # every row's new tokens start at the same column
        if self.options.constrains:
            self.plan = generation.constrain(self.plan, self.tokenizer, self.model, device)

    def _answers(self, documents: Sequence[Document]) -> list[tuple[str, dict[str, Any]] | Exception]:
        """OCR each document (a failure is that document's alone), then one batch for the rest."""
        from backends.models import generation

        pages: list[Any] = []
        for document in documents:
            try:
                pages.append(self._read(document))
            except Exception as exc:
                pages.append(exc)
        readable = [page for page in pages if not isinstance(page, Exception)]
        if not readable:
            return list(pages)
        texts = [page.text[: self.options.max_ocr_chars] for page, _ in readable]
        inputs = self.tokenizer.apply_chat_template(
            [prompts.ocr_messages(text) for text in texts],
            add_generation_prompt=True,
            padding=True,
            return_tensors="pt",
            return_dict=True,
        ).to(self.device)
        answers = iter(generation.generate_texts(self.model, inputs, self.plan, self.vocab, self.tokenizer))
        return [page if isinstance(page, Exception) else self._with_ocr_meta(*next(answers), page) for page in pages]

    def _with_ocr_meta(
        self, answer: str, counts: dict[str, Any], read: tuple[Any, list[str]]
    ) -> tuple[str, dict[str, Any]]:
        page, sources = read
        meta = {
            "ocr_chars": len(page.text),
            "ocr_chars_used": min(len(page.text), self.options.max_ocr_chars),
            "ocr_confidence": round(float(page.mean_confidence), 1),
            "page_sources": sources,
            READ_TEXT: page.text,
            **counts,
        }
        return answer, meta

    def _read(self, document: Document) -> tuple[Any, list[str]]:
        """The document's text (each page from its text layer or OCR) and how each page was read."""
        return read_document(document, self.options.ocr, self._ocr_function())

    def _ocr_function(self) -> OcrFunction:
        if self._ocr is None:
            from backends.ocr.engine import ocr_document

            self._ocr = ocr_document
        return self._ocr

    def _release(self) -> None:
        self.tokenizer = None
