"""Tesseract OCR + a text-only Llama 3.2 Instruct (1B/3B): OCR text in a chat prompt, JSON out.

The OCR is the same code as the OCR + rules tier (``backends.ocr.ocr_document``): too little text
is ``InvalidOutput`` before the model is asked. The text, cut to ``max_ocr_chars``, goes between
fences in a chat-templated prompt that asks for JSON only; the answer goes through the shared
post-processing. A text prompt holds only ids inside the lm_head, so generation parameters pass
through unchanged (the id preflight check still runs).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from backends import hf, prompts
from backends.document import Document
from backends.hf import Checkpoint
from backends.kinds import spec_for
from backends.model_backend import ModelBackend
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

        from backends import generation, loading

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

    def _answer(self, document: Document) -> tuple[str, dict[str, Any]]:
        from backends import generation

        page = self._read(document)
        text = page.text[: self.options.max_ocr_chars]
        inputs = self.tokenizer.apply_chat_template(
            prompts.ocr_messages(text), add_generation_prompt=True, return_tensors="pt", return_dict=True
        ).to(self.device)
        answer, counts = generation.generate_text(self.model, inputs, self.plan, self.vocab, self.tokenizer)
        meta = {
            "ocr_chars": len(page.text),
            "ocr_chars_used": len(text),
            "ocr_confidence": round(float(page.mean_confidence), 1),
            **counts,
        }
        return answer, meta

    def _read(self, document: Document) -> Any:
        if self._ocr is None:
            from backends.ocr import ocr_document

            self._ocr = ocr_document
        return self._ocr(document, self.options.ocr)

    def _release(self) -> None:
        self.tokenizer = None
