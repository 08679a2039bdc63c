"""InternVL3: the native "-hf" path end to end on a tiny model, the remote-code flavour checks,
and the dynamic tiling the original checkpoints need."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from backends import registry
from backends.errors import BackendUnavailable, InvalidOutput
from backends.models import internvl_tiles
from backends.models.internvl import InternVLBackend, flavour_mismatch
from router.failures.errors import ErrorClass, ErrorInfo
from router.failures.signatures import classify
from tests.backends.conftest import document, model_options
from tests.backends.receipts import ANSWER_FIELDS, receipt_image


def test_taught_model_answers_validated_fields(internvl_taught):
    backend = registry.create(model_options("internvl3", internvl_taught, max_tiles=4))
    extraction = backend.extract(document())
    assert extraction.fields.model_dump(
        exclude_none=True, exclude={"line_items", "date_raw", "total_raw", "confidence"}
    ) == (ANSWER_FIELDS)
    assert 1 < extraction.meta["tiles"] <= 4 + 1  # tiles plus the thumbnail
    assert "TINY" not in json.dumps(extraction.meta)


def test_untaught_model_garbage_is_invalid_output(internvl_random):
    backend = InternVLBackend(model_options("internvl3", internvl_random))
    with pytest.raises(InvalidOutput) as caught:
        backend.extract(document())
    assert classify(ErrorInfo.from_exception(caught.value)).error_class is ErrorClass.INVALID_OUTPUT


@pytest.mark.parametrize(("max_tiles", "expected"), [(1, 1), (2, 3), (6, 7)])
def test_max_tiles_bounds_the_tiles_the_processor_cuts(internvl_random, max_tiles, expected):
    backend = InternVLBackend(model_options("internvl3", internvl_random, max_tiles=max_tiles))
    backend.load()
    [(_, meta)] = backend._answer_pages([receipt_image((100, 600))])
    assert meta["tiles"] == expected


def test_generation_parameters_pass_through_image_ids_lie_inside_the_lm_head(internvl_random):
    options = model_options("internvl3", internvl_random, generation={"max_new_tokens": 5, "repetition_penalty": 1.2})
    backend = InternVLBackend(options)
    backend.load()
    assert backend.plan.replaced == [] and backend.plan.kwargs["repetition_penalty"] == 1.2
    assert backend.model.config.image_token_id < backend.vocab[1]


def _remote_code_checkpoint(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    config = {"model_type": "internvl_chat", "auto_map": {"AutoModel": "modeling_internvl_chat.InternVLChatModel"}}
    (directory / "config.json").write_text(json.dumps(config))
    (directory / "model.safetensors").write_bytes(b"")
    return directory


# A stand-in for an original checkpoint's own code (OpenGVLab/InternVL3-8B's modeling files cannot be
# downloaded here): it records how the backend calls chat() and answers with what it was given.
REMOTE_CONFIG = """
from transformers import PretrainedConfig

class StandInConfig(PretrainedConfig):
    model_type = "internvl_chat"

    def __init__(self, force_image_size=28, **kwargs):
        self.force_image_size = force_image_size
        super().__init__(**kwargs)
"""
REMOTE_MODEL = """
import json
import torch
from transformers import PreTrainedModel
from .configuration_stand_in import StandInConfig

class StandInChatModel(PreTrainedModel):
    config_class = StandInConfig
    _no_split_modules = []

    def __init__(self, config):
        super().__init__(config)
        self.scale = torch.nn.Parameter(torch.ones(1))
        self.post_init()

    def chat(self, tokenizer, pixel_values, question, generation_config, history=None, return_history=False):
        assert question.startswith("<image>\\n") and isinstance(generation_config, dict)
        return "Here you go: " + json.dumps({
            "merchant": f"TILES {pixel_values.shape[0]} SIDE {pixel_values.shape[-1]} {str(pixel_values.dtype)}",
            "date": "2024-01-31",
            "total": f"{generation_config['max_new_tokens']}.00",
        })
"""


@pytest.fixture(scope="module")
def remote_code_checkpoint(tmp_path_factory) -> Path:
    from tests.backends.tiny_models import CHATML_TEMPLATE, train_tokenizer

    directory = tmp_path_factory.mktemp("internvl-remote")
    (directory / "configuration_stand_in.py").write_text(REMOTE_CONFIG)
    (directory / "modeling_stand_in.py").write_text(REMOTE_MODEL)
    auto_map = {
        "AutoConfig": "configuration_stand_in.StandInConfig",
        "AutoModel": "modeling_stand_in.StandInChatModel",
    }
    config = {"model_type": "internvl_chat", "force_image_size": 28, "auto_map": auto_map}
    (directory / "config.json").write_text(json.dumps(config))
    import torch
    from safetensors.torch import save_file

    save_file({"scale": torch.ones(1)}, str(directory / "model.safetensors"))
    train_tokenizer(["<|im_end|>"], CHATML_TEMPLATE, eos_token="<|im_end|>").save_pretrained(directory)
    return directory


def test_remote_code_path_tiles_the_page_and_calls_chat(remote_code_checkpoint):
    """Loads the checkpoint's own code only with trust_remote_code, cuts 28-px tiles (the
    checkpoint's force_image_size) plus a thumbnail, and passes the generation parameters."""
    options = model_options(
        "internvl3", remote_code_checkpoint, trust_remote_code=True, max_tiles=4, generation={"max_new_tokens": 7}
    )
    assert InternVLBackend.preflight(options) is None
    extraction = InternVLBackend(options).extract(document(receipt_image((100, 600))))
    assert extraction.fields.merchant == "TILES 5 SIDE 28 torch.float32"  # 1x4 grid + thumbnail
    assert extraction.fields.total == "7.00" and extraction.meta["tiles"] == 5
    assert extraction.meta["prose_chars"] > 0


def test_remote_code_checkpoint_without_trust_is_never_executed(remote_code_checkpoint):
    options = model_options("internvl3", remote_code_checkpoint)
    with pytest.raises(BackendUnavailable, match="original InternVL checkpoint"):
        InternVLBackend(options).load()


def test_original_checkpoint_is_refused_without_trust_remote_code(tmp_path):
    path = _remote_code_checkpoint(tmp_path / "InternVL3-8B")
    options = model_options("internvl3", path)
    reason = InternVLBackend.preflight(options)
    assert reason is not None and "OpenGVLab/InternVL3-8B-hf" in reason and "trust_remote_code: true" in reason
    with pytest.raises(BackendUnavailable, match="original InternVL checkpoint"):
        InternVLBackend(options).load()


def test_trust_remote_code_on_a_native_checkpoint_is_refused(internvl_random):
    options = model_options("internvl3", internvl_random, trust_remote_code=True)
    assert "remove trust_remote_code" in (flavour_mismatch(internvl_random, True) or "")
    assert "remove trust_remote_code" in (InternVLBackend.preflight(options) or "")


def test_remote_code_needs_timm_and_einops_and_suggests_the_original_checkpoint(tmp_path):
    options = model_options("internvl3", tmp_path / "missing", trust_remote_code=True)
    assert set(InternVLBackend.required_packages(options)) >= {"timm", "einops"}
    assert "hf download OpenGVLab/InternVL3-8B " in (InternVLBackend.preflight(options) or "")


# --- dynamic tiling (original checkpoints) ---------------------------------------------------


def reference_tiles(image: Image.Image, max_num: int, image_size: int = 448) -> list[Image.Image]:
    """``dynamic_preprocess`` from the InternVL3 model card, as the oracle (use_thumbnail=True)."""
    orig_width, orig_height = image.size
    aspect_ratio = orig_width / orig_height
    target_ratios = sorted(
        {
            (i, j)
            for n in range(1, max_num + 1)
            for i in range(1, n + 1)
            for j in range(1, n + 1)
            if 1 <= i * j <= max_num
        },
        key=lambda x: x[0] * x[1],
    )
    best_ratio_diff, best_ratio, area = float("inf"), (1, 1), orig_width * orig_height
    for ratio in target_ratios:
        ratio_diff = abs(aspect_ratio - ratio[0] / ratio[1])
        if ratio_diff < best_ratio_diff:
            best_ratio_diff, best_ratio = ratio_diff, ratio
        elif ratio_diff == best_ratio_diff and area > 0.5 * image_size * image_size * ratio[0] * ratio[1]:
            best_ratio = ratio
    target_width, target_height = image_size * best_ratio[0], image_size * best_ratio[1]
    blocks = best_ratio[0] * best_ratio[1]
    resized = image.resize((target_width, target_height))
    columns = target_width // image_size
    tiles = [
        resized.crop(
            (
                (i % columns) * image_size,
                (i // columns) * image_size,
                (i % columns + 1) * image_size,
                (i // columns + 1) * image_size,
            )
        )
        for i in range(blocks)
    ]
    if len(tiles) != 1:
        tiles.append(image.resize((image_size, image_size)))
    return tiles


@settings(max_examples=40, deadline=None)
@given(width=st.integers(20, 3000), height=st.integers(20, 3000), max_tiles=st.integers(1, 12))
def test_grid_choice_matches_the_model_card(width, height, max_tiles):
    expected = reference_tiles(Image.new("RGB", (width, height)), max_tiles, image_size=28)
    tiles = internvl_tiles.split_tiles(Image.new("RGB", (width, height)), max_tiles, tile=28)
    assert len(tiles) == len(expected)


@pytest.mark.parametrize(
    ("size", "max_tiles"), [((600, 1800), 12), ((1000, 1000), 12), ((900, 450), 6), ((300, 300), 1)]
)
def test_tiles_equal_the_model_card_pixels(size, max_tiles):
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    ours = internvl_tiles.split_tiles(image, max_tiles)
    theirs = reference_tiles(image, max_tiles)
    assert [t.size for t in ours] == [(448, 448)] * len(theirs)
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(ours, theirs, strict=True))


def test_tiles_tensor_is_imagenet_normalised():
    tensor = internvl_tiles.tiles_tensor(Image.new("RGB", (900, 450), "white"), max_tiles=6)
    assert tuple(tensor.shape) == (3, 3, 448, 448)  # a 2x1 grid and the thumbnail
    expected = [(1 - m) / s for m, s in zip(internvl_tiles.IMAGENET_MEAN, internvl_tiles.IMAGENET_STD, strict=True)]
    assert np.allclose(tensor[:, :, 0, 0].numpy(), np.array([expected] * 3), atol=1e-5)
