"""InternVL3: the native transformers model by default, the original remote code only when trusted.

- Native (default): ``InternVLForConditionalGeneration`` with its ``AutoProcessor`` for the "-hf"
  checkpoints (OpenGVLab/InternVL3-8B-hf). The processor tiles the page (``max_patches`` =
  ``max_tiles``) and expands ``<IMG_CONTEXT>``; those ids lie inside the lm_head, so generation
  parameters pass through unchanged (the id preflight check still runs). Pages batch into one
  ``generate`` call, left-padded, and generation is constrained to the answer schema
  (``constrained``).
- Remote code (``trust_remote_code: true``, which the policy also requires to run in a worker
  process): the original checkpoints (OpenGVLab/InternVL3-8B) with their own ``chat()``. They need
  timm and einops, and the caller does the dynamic tiling (``backends.models.internvl_tiles``). Their
  ``chat()`` takes one image and no logits processor: pages run one by one, unconstrained.

A checkpoint of the other flavour than the policy asks for is refused with the fix in the message.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from backends.errors import BackendUnavailable
from backends.kinds import spec_for
from backends.models import prompts
from backends.models.hf import Checkpoint, locate
from backends.models.model_backend import VisionBackend
from backends.options import InternVLOptions

REMOTE_CODE_PACKAGES = ("timm", "einops", "torchvision")


#: Left unquantised: the policy's quantisation is for the language model only.
VISION_MODULES = ("vision_tower", "multi_modal_projector")


class InternVLBackend(VisionBackend):
    kind = "internvl3"
    suggested_model = "OpenGVLab/InternVL3-8B-hf"
    packages = ("torch", "transformers", "torchvision", "PIL")

    def __init__(self, options: InternVLOptions):
        super().__init__(options)
        self.options: InternVLOptions = options
        self.processor: Any = None
        self.tokenizer: Any = None
        self.plan: Any = None
        self.vocab: tuple[int, int] = (0, 0)

    @classmethod
    def required_packages(cls, options: Any) -> tuple[str, ...]:
        return cls.packages + (REMOTE_CODE_PACKAGES if options.trust_remote_code else ())

    @classmethod
    def suggested_for(cls, options: Any) -> str:
        return "OpenGVLab/InternVL3-8B" if options.trust_remote_code else cls.suggested_model

    @classmethod
    def preflight(cls, options: Any) -> str | None:
        reason = super().preflight(options)
        if reason is None:
            found = locate(options)
            reason = flavour_mismatch(Path(found.ref), options.trust_remote_code) if found and found.offline else None
        return reason

    def _load(self, checkpoint: Checkpoint, device: str) -> None:
        from backends.models import generation, loading

        if checkpoint.offline:
            mismatch = flavour_mismatch(Path(checkpoint.ref), self.options.trust_remote_code)
            if mismatch:
                raise BackendUnavailable(mismatch)
        if self.options.trust_remote_code:
            self._load_remote_code(checkpoint, device)
        else:
            self._load_native(checkpoint, device)
        version = loading.transformers_version()
        self.plan = generation.plan_generation(
            self.options.generation,
            unsafe=spec_for(self.kind).unsafe_generation(version),  # none: image ids lie inside the lm_head
            transformers_version=version,
            checkpoint_defaults=getattr(self.model, "generation_config", None),
        )
        if self.options.constrains:
            self.plan = generation.constrain(self.plan, self.processor.tokenizer, self.model, device)

    def _load_native(self, checkpoint: Checkpoint, device: str) -> None:
        from transformers import AutoProcessor, InternVLForConditionalGeneration

        from backends.models import generation, loading

        self.processor = AutoProcessor.from_pretrained(
            checkpoint.ref, **loading.pretrained_kwargs(self.options, checkpoint)
        )
        self.model = loading.load_model(
            InternVLForConditionalGeneration, self.options, checkpoint, device, keep=VISION_MODULES
        )
        self.vocab = generation.model_vocab_sizes(self.model)
        self.processor.tokenizer.padding_side = "left"  # every row's new tokens start at the same column

    def _load_remote_code(self, checkpoint: Checkpoint, device: str) -> None:
        from transformers import AutoModel, AutoTokenizer

        from backends.models import loading

        common = loading.pretrained_kwargs(self.options, checkpoint)
        self.tokenizer = AutoTokenizer.from_pretrained(checkpoint.ref, use_fast=False, **common)
        self.model = loading.load_model(AutoModel, self.options, checkpoint, device)

    def _answer_pages(self, pages: Sequence[Image.Image]) -> list[tuple[str, dict[str, Any]]]:
        if self.options.trust_remote_code:
            return [self._answer_remote_code(page) for page in pages]  # its chat() takes one image
        return self._answer_native(pages)

    def _answer_native(self, pages: Sequence[Image.Image]) -> list[tuple[str, dict[str, Any]]]:
        """One row per page. Pages may be cut into different numbers of tiles: the processor
        concatenates every page's tiles into ``pixel_values`` and expands each row's
        ``<IMG_CONTEXT>`` to its own page's tiles, and the model puts them back in row order."""
        from backends.models import generation

        prompt = self.processor.apply_chat_template(prompts.vision_messages(), add_generation_prompt=True)
        inputs = self.processor(
            images=list(pages),
            text=[prompt] * len(pages),
            max_patches=self.options.max_tiles,
            padding=True,
            return_tensors="pt",
        ).to(self.device)
        inputs["pixel_values"] = inputs["pixel_values"].to(self.model.dtype)
        tiles = self._tiles_per_page(inputs["input_ids"])
        answers = generation.generate_texts(self.model, inputs, self.plan, self.vocab, self.processor)
        return [(text, {"tiles": count, **counts}) for (text, counts), count in zip(answers, tiles, strict=True)]

    def _tiles_per_page(self, input_ids: Any) -> list[int]:
        """Each row's tile count, from its image tokens (``image_seq_length`` per tile)."""
        per_tile = int(self.processor.image_seq_length)
        image_id = int(self.model.config.image_token_id)
        return [int(n) // per_tile for n in (input_ids == image_id).sum(dim=1)]

    def _answer_remote_code(self, page: Image.Image) -> tuple[str, dict[str, Any]]:
        import torch

        from backends.models.internvl_tiles import tiles_tensor

        tile = remote_code_tile_size(self.model.config)
        pixel_values = tiles_tensor(page, self.options.max_tiles, tile).to(self.device, self.model.dtype)
        with torch.inference_mode():
            text = self.model.chat(self.tokenizer, pixel_values, prompts.REMOTE_CODE_QUESTION, dict(self.plan.kwargs))
        return str(text), {"tiles": int(pixel_values.shape[0])}

    def _release(self) -> None:
        self.processor = None
        self.tokenizer = None


def remote_code_tile_size(config: Any) -> int:
    """The tile side an original InternVL checkpoint was trained on (448 for InternVL3)."""
    size: Any = getattr(config, "force_image_size", None) or getattr(config.vision_config, "image_size", 448)
    return int(size[0] if isinstance(size, list | tuple) else size)


def flavour_mismatch(directory: Path, trust_remote_code: bool) -> str | None:
    """Why this checkpoint does not fit the policy's ``trust_remote_code`` choice, or None."""
    try:
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # the loader reports unreadable checkpoints itself
    remote = "auto_map" in config or config.get("model_type") == "internvl_chat"
    if remote and not trust_remote_code:
        return (
            f"{directory} is an original InternVL checkpoint that runs its own code: use the "
            "transformers-native '-hf' checkpoint (e.g. OpenGVLab/InternVL3-8B-hf), or set "
            "trust_remote_code: true for this tier if you trust that code"
        )
    if not remote and trust_remote_code:
        return (
            f"{directory} is a transformers-native InternVL checkpoint: remove trust_remote_code "
            "(it only applies to the original checkpoints such as OpenGVLab/InternVL3-8B)"
        )
    return None
