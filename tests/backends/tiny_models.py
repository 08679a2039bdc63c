"""Tiny random-weight models of each architecture docroute loads, built from real config classes.

Each builder trains a byte-level BPE tokenizer with the ``tokenizers`` library, adds the model
family's special tokens and a chat template, builds the real transformers model class from a tiny
config, and saves tokenizer/processor and weights to a directory that the production
``from_pretrained`` path then loads. Nothing is downloaded.

``teach`` fine-tunes a tiny model on one (prompt, answer) pair until greedy decoding reproduces the
answer, so that the full path (image -> processor -> generate -> decode -> post-process) can end
in a validated result; an untaught model answers garbage, which must end in ``invalid_output``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    GotOcr2ImageProcessor,
    InternVLConfig,
    InternVLForConditionalGeneration,
    InternVLProcessor,
    InternVLVideoProcessor,
    LlamaConfig,
    LlamaForCausalLM,
    MllamaConfig,
    MllamaForConditionalGeneration,
    MllamaProcessor,
    PreTrainedTokenizerFast,
)

try:  # the PIL image processor needs no torchvision; older releases only have the other one
    from transformers.models.mllama.image_processing_pil_mllama import MllamaImageProcessorPil as MllamaImages
except ImportError:  # pragma: no cover - depends on the installed transformers
    from transformers import MllamaImageProcessor as MllamaImages

from backends.models import prompts
from tests.backends.receipts import ANSWER, PARTIAL_ANSWER, receipt_image

LLAMA3_SPECIALS = [
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
    "<|finetune_right_pad_id|>",
    "<|python_tag|>",
]
# The Llama 3.x layout (header, blank line, content, <|eot_id|>); content may be a string or a list
# of {"type": "image"} / {"type": "text"} parts as in Llama 3.2 Vision's template.
LLAMA3_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "<|start_header_id|>{{ message['role'] }}<|end_header_id|>\n\n"
    "{% if message['content'] is string %}{{ message['content'] | trim }}{% else %}"
    "{% for part in message['content'] %}{% if part['type'] == 'image' %}<|image|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] | trim }}{% endif %}{% endfor %}{% endif %}<|eot_id|>"
    "{% endfor %}{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)
# Qwen2's ChatML layout with InternVL's image placeholder, as in InternVL3-*-hf.
CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for part in message['content'] %}{% if part['type'] == 'image' %}<IMG_CONTEXT>\n"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
CORPUS = [
    prompts.INSTRUCTIONS,
    prompts.SYSTEM_TEXT,
    ANSWER,
    PARTIAL_ANSWER,
    '{"merchant": null, "date": "2018-12-25", "total": "9.00", "currency": "MYR", "line_items": []}',
    "TINY MART 12 JALAN BESAR 31/01/2024 TOTAL RM 12.50 CASH 20.00 CHANGE 7.50 THANK YOU",
]
# Llama 3's rope scaling, as in the real configs (Llama-3.2-*: factor 32; Mllama: factor 8).
LLAMA3_ROPE = {
    "rope_type": "llama3",
    "rope_theta": 500000.0,
    "factor": 32.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    "original_max_position_embeddings": 8192,
}
TINY_TEXT = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1}


def train_tokenizer(specials: list[str], chat_template: str, **special_roles: Any) -> PreTrainedTokenizerFast:
    """A byte-level BPE trained on ``CORPUS``, with ``specials`` appended in order after the merges."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(CORPUS * 4, trainer)
    tokenizer.add_special_tokens(specials)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        chat_template=chat_template,
        model_input_names=["input_ids", "attention_mask"],
        **special_roles,
    )


# --- Mllama (Llama 3.2 Vision) ---------------------------------------------------------------


def build_mllama(
    directory: Path, *, teach_answer: bool = False, answer: str = ANSWER, image: Image.Image | None = None
) -> Path:
    """Tiny ``MllamaForConditionalGeneration``: the image token id equals the lm_head size, as in
    the real model (128256), and the input embedding has 8 more rows than the lm_head."""
    tokenizer = train_tokenizer(
        [*LLAMA3_SPECIALS, "<|image|>"],
        LLAMA3_TEMPLATE,
        bos_token="<|begin_of_text|>",
        eos_token="<|eot_id|>",
        pad_token="<|finetune_right_pad_id|>",
    )
    vocab = len(tokenizer) - 1  # everything but <|image|>, which comes last
    config = MllamaConfig(
        vision_config={
            "hidden_size": 32,
            "num_hidden_layers": 2,
            "num_global_layers": 1,
            "attention_heads": 2,
            "intermediate_size": 64,
            "image_size": 28,
            "patch_size": 14,
            "max_num_tiles": 4,
            "intermediate_layers_indices": [0, 1],
            "vision_output_dim": 32 * 3,
        },
        text_config={
            **TINY_TEXT,
            "vocab_size": vocab,
            "intermediate_size": 64,
            "cross_attention_layers": [1],
            "max_position_embeddings": 131072,
            "rope_parameters": {**LLAMA3_ROPE, "factor": 8.0},
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        image_token_index=vocab,
    )
    torch.manual_seed(0)
    model = MllamaForConditionalGeneration(config)
    image_processor = MllamaImages(size={"height": 28, "width": 28}, max_image_tiles=4)
    processor = MllamaProcessor(image_processor=image_processor, tokenizer=tokenizer, chat_template=LLAMA3_TEMPLATE)
    if teach_answer:
        teach(model, _mllama_batch(processor, image or receipt_image()), tokenizer, answer)
    return _save(directory, model, processor)


def _mllama_batch(processor: Any, image: Image.Image) -> Callable[[list[int]], dict[str, Any]]:
    prompt = processor.apply_chat_template(prompts.vision_messages(), add_generation_prompt=True)
    inputs = processor(images=image, text=prompt, add_special_tokens=False, return_tensors="pt")

    def batch(answer: list[int]) -> dict[str, Any]:
        extra = len(answer)
        cross = inputs["cross_attention_mask"]
        return {
            **inputs,
            "input_ids": _extend(inputs["input_ids"], answer),
            "attention_mask": _extend(inputs["attention_mask"], [1] * extra),
            "cross_attention_mask": torch.cat([cross, cross[:, -1:].expand(-1, extra, -1, -1)], dim=1),
        }

    return batch


# --- InternVL (native "-hf" checkpoints) -----------------------------------------------------


def build_internvl(
    directory: Path, *, teach_answer: bool = False, answer: str = ANSWER, image: Image.Image | None = None
) -> Path:
    """Tiny ``InternVLForConditionalGeneration`` (Qwen2 text model + InternViT), with the image
    special tokens of the "-hf" tokenizers and a tiling image processor (28-px tiles here)."""
    image_tokens = {
        "start_image_token": "<img>",
        "end_image_token": "</img>",
        "context_image_token": "<IMG_CONTEXT>",
        "video_token": "<video>",
    }
    tokenizer = train_tokenizer(
        ["<|endoftext|>", "<|im_start|>", "<|im_end|>", *image_tokens.values()],
        CHATML_TEMPLATE,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        extra_special_tokens=image_tokens,
    )
    config = InternVLConfig(
        vision_config={
            "hidden_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "intermediate_size": 64,
            "image_size": [28, 28],
            "patch_size": [14, 14],
        },
        text_config={
            **TINY_TEXT,
            "model_type": "qwen2",
            "vocab_size": len(tokenizer),
            "intermediate_size": 64,
            "max_position_embeddings": 4096,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        image_token_id=tokenizer.context_image_token_id,
        image_seq_length=1,
        downsample_ratio=0.5,
    )
    torch.manual_seed(0)
    model = InternVLForConditionalGeneration(config)
    imagenet = {"image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}
    processor = InternVLProcessor(
        image_processor=GotOcr2ImageProcessor(size={"height": 28, "width": 28}, crop_to_patches=True, **imagenet),
        video_processor=InternVLVideoProcessor(size={"height": 28, "width": 28}, **imagenet),
        tokenizer=tokenizer,
        image_seq_length=1,
        chat_template=CHATML_TEMPLATE,
    )
    if teach_answer:
        prompt = processor.apply_chat_template(prompts.vision_messages(), add_generation_prompt=True)
        inputs = processor(images=image or receipt_image(), text=prompt, return_tensors="pt", max_patches=4)
        teach(model, _text_batch(inputs), tokenizer, answer)
    return _save(directory, model, processor)


# --- Llama 3.2 text --------------------------------------------------------------------------


def build_llama_text(directory: Path, *, teach_on: str | None = None, answer: str = ANSWER) -> Path:
    """Tiny ``LlamaForCausalLM`` with Llama 3's rope scaling. ``teach_on``: OCR text whose
    production prompt it learns to answer with ``ANSWER``."""
    tokenizer = train_tokenizer(
        LLAMA3_SPECIALS,
        LLAMA3_TEMPLATE,
        bos_token="<|begin_of_text|>",
        eos_token="<|eot_id|>",
        pad_token="<|finetune_right_pad_id|>",
    )
    config = LlamaConfig(
        **TINY_TEXT | {"hidden_size": 64},  # bitsandbytes' CPU 4-bit kernels fail on 16-wide k/v projections
        vocab_size=len(tokenizer),
        intermediate_size=128,
        max_position_embeddings=131072,
        rope_parameters=LLAMA3_ROPE,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    if teach_on is not None:
        inputs = tokenizer.apply_chat_template(
            prompts.ocr_messages(teach_on), add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        teach(model, _text_batch(inputs), tokenizer, answer)
    return _save(directory, model, tokenizer)


# --- shared ------------------------------------------------------------------------------------


def teach(
    model: Any, batch: Callable[[list[int]], dict[str, Any]], tokenizer: Any, answer: str = ANSWER, steps: int = 400
) -> None:
    """Fine-tune ``model`` until greedy decoding after the prompt reproduces ``answer``.

    Teacher-forced argmax equal to the answer at every position is exactly what greedy decoding
    of the same prompt produces; training stops there, with a margin, or fails loudly.
    """
    ids = tokenizer(answer, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    inputs = batch(ids)
    labels = inputs["input_ids"].clone()
    labels[:, : labels.shape[1] - len(ids)] = -100
    target = torch.tensor(ids)
    # Only the language side learns: the random vision tower's gradients turn NaN now and then.
    trained = [p for name, p in model.named_parameters() if "vision" not in name]
    optimizer = torch.optim.Adam(trained, lr=1e-2)
    model.eval()  # no dropout in these configs either way
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        out = model(**inputs, labels=labels)
        losses.append(round(out.loss.item(), 3))
        predicted = out.logits[0, -len(ids) - 1 : -1].argmax(-1)
        if out.loss.item() < 0.01 and torch.equal(predicted, target):
            break
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        optimizer.step()
    else:
        raise RuntimeError(f"the tiny model did not learn the answer in {steps} steps: {losses[::20]}")


def _text_batch(inputs: Any) -> Callable[[list[int]], dict[str, Any]]:
    def batch(answer: list[int]) -> dict[str, Any]:
        return {
            **inputs,
            "input_ids": _extend(inputs["input_ids"], answer),
            "attention_mask": _extend(inputs["attention_mask"], [1] * len(answer)),
        }

    return batch


def _extend(ids: torch.Tensor, more: list[int]) -> torch.Tensor:
    return torch.cat([ids, torch.tensor([more], dtype=ids.dtype)], dim=1)


def _save(directory: Path, model: Any, processor: Any) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    return directory
