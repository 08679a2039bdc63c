"""Llama 3.2 Vision (Mllama), CUDA-safe.

Mllama's quirk: the ``<|image|>`` token id equals the lm_head size (128256 in the real model; the
input embedding has 8 spare rows for it), so any logits processor that indexes scores with prompt
ids reads outside the logits. On CUDA that is a device-side assert which poisons the worker for
good (transformers issue #34304). This backend therefore

- loads the model whole onto ``cuda:{gpu}`` (or the CPU), never with ``device_map="auto"``;
- replaces the generation parameters that crash on the installed transformers version by a
  vocabulary-safe repetition penalty (``backends.models.generation``), including ones the checkpoint's
  ``generation_config.json`` sets, and records the replacement in the answer's metadata;
- checks every input id against the embedding, and every id a remaining processor will index
  against the lm_head, before generating: a would-be assert becomes ``IndexOutOfVocabulary``;
- constrains generation to the answer schema (``constrained``) with a mask sized to the lm_head,
  which leaves the image token out.

All of it holds per batch: the same plan, check and processors serve every row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PIL import Image

from backends.kinds import spec_for
from backends.models import prompts
from backends.models.hf import Checkpoint
from backends.models.model_backend import VisionBackend
from backends.options import LlamaVisionOptions

#: Left unquantised: the policy's quantisation is for the language model, and bitsandbytes' int8
#: matmul rejects the tiled vision encoder's 4-D activations (seen on an H100, bitsandbytes 0.50.2).
VISION_MODULES = ("vision_model", "multi_modal_projector")


class LlamaVisionBackend(VisionBackend):
    kind = "llama_vision"
    suggested_model = "meta-llama/Llama-3.2-11B-Vision-Instruct"
    packages = ("torch", "transformers", "PIL")

    def __init__(self, options: LlamaVisionOptions):
        super().__init__(options)
        self.processor: Any = None
        self.plan: Any = None
        self.vocab: tuple[int, int] = (0, 0)

    def _load(self, checkpoint: Checkpoint, device: str) -> None:
        from transformers import AutoProcessor, MllamaForConditionalGeneration

        from backends.models import generation, loading

        self.processor = AutoProcessor.from_pretrained(
            checkpoint.ref, **loading.pretrained_kwargs(self.options, checkpoint)
        )
        self.model = loading.load_model(
            MllamaForConditionalGeneration, self.options, checkpoint, device, keep=VISION_MODULES
        )
        version = loading.transformers_version()
        self.plan = generation.plan_generation(
            self.options.generation,
            unsafe=spec_for(self.kind).unsafe_generation(version),
            transformers_version=version,
            checkpoint_defaults=self.model.generation_config,
        )
        self.vocab = generation.model_vocab_sizes(self.model)
        self.processor.tokenizer.padding_side = "left"  # every row's new tokens start at the same column
        if self.options.constrains:
            self.plan = generation.constrain(self.plan, self.processor.tokenizer, self.model, device)

    def _answer_pages(self, pages: Sequence[Image.Image]) -> list[tuple[str, dict[str, Any]]]:
        """One row per page: the processor pads each page's tiles to the batch's most (the
        aspect-ratio mask says which are real) and its cross-attention mask to the longest prompt."""
        from backends.models import generation

        prompt = self.processor.apply_chat_template(prompts.vision_messages(), add_generation_prompt=True)
        inputs = self.processor(
            images=[[page] for page in pages],
            text=[prompt] * len(pages),
            add_special_tokens=False,
            padding=True,
            return_tensors="pt",
        ).to(self.device)
        inputs["pixel_values"] = inputs["pixel_values"].to(self.model.dtype)
        answers = generation.generate_texts(self.model, inputs, self.plan, self.vocab, self.processor)
        return [(text, counts | self.plan.meta()) for text, counts in answers]

    def _release(self) -> None:
        self.processor = None
