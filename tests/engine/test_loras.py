"""LoRA files named with A1111's `<lora:name:weight>`: a LoRA built from a tiny PEFT config on
the demo UNet, saved as .safetensors, changes the picture only when the prompt names it."""

import numpy as np
import pytest
import torch

from engine.errors import InvalidRequestError
from engine.loras import short_hash
from engine.request import GenerationRequest

SMALL = {"width": 64, "height": 64, "steps": 2, "seed": 11}


def pixels(result) -> np.ndarray:
    return np.asarray(result.images[0], dtype=np.int16)


@pytest.fixture(scope="module")
def lora_engine(models_dir, tmp_path_factory):
    """An engine of its own (so adapters never touch the shared one) with loras/toy.safetensors:
    rank-4 LoRA layers on the UNet's attention projections, random (non-zero) weights."""
    from diffusers import StableDiffusionPipeline
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    from engine.demo_model import ensure_demo_model
    from engine.generate import Engine
    from engine.loading import ModelManager

    loras = tmp_path_factory.mktemp("loras")
    pipe = StableDiffusionPipeline.from_pretrained(ensure_demo_model(models_dir))
    torch.manual_seed(0)
    config = LoraConfig(
        r=4,
        lora_alpha=4,
        target_modules=["to_q", "to_k", "to_v", "to_out.0"],
        init_lora_weights=False,  # random B too, so the LoRA is not a no-op
    )
    pipe.unet.add_adapter(config)
    StableDiffusionPipeline.save_lora_weights(
        loras,
        unet_lora_layers=get_peft_model_state_dict(pipe.unet),
        weight_name="toy.safetensors",
    )
    return Engine(ModelManager(models_dir), loras_dir=loras), loras / "toy.safetensors"


def test_a_lora_changes_the_picture_only_when_named(lora_engine):
    engine, path = lora_engine
    plain = engine.generate(GenerationRequest("a red fox", **SMALL))
    named = engine.generate(GenerationRequest("a red fox <lora:toy:1>", **SMALL))
    again = engine.generate(GenerationRequest("a red fox", **SMALL))
    assert np.abs(pixels(plain) - pixels(named)).max() > 10
    assert np.array_equal(pixels(plain), pixels(again)), "the adapter is off once unnamed"
    assert named.prompts == ["a red fox <lora:toy:1>"]  # recorded as written, A1111's way
    assert named.provenance["loras"] == [
        {"name": "toy", "weight": 1.0, "short_hash": short_hash(path)}
    ]
    assert "loras" not in plain.provenance


def test_the_weight_scales_the_lora(lora_engine):
    engine, _ = lora_engine
    plain = pixels(engine.generate(GenerationRequest("a red fox", **SMALL)))
    zero = pixels(engine.generate(GenerationRequest("a red fox <lora:toy:0>", **SMALL)))
    half = pixels(engine.generate(GenerationRequest("a red fox <lora:toy:0.5>", **SMALL)))
    full = pixels(engine.generate(GenerationRequest("a red fox <lora:toy:1>", **SMALL)))
    assert np.abs(zero - plain).max() <= 1  # weight 0: the base model's picture
    assert 0 < np.abs(half - plain).mean() < np.abs(full - plain).mean()


def test_an_unknown_lora_or_a_bad_weight_is_one_sentence(lora_engine):
    engine, _ = lora_engine
    with pytest.raises(InvalidRequestError, match="Unknown LoRA 'nope'; available: toy"):
        engine.generate(GenerationRequest("a fox <lora:nope:1>", **SMALL))
    with pytest.raises(InvalidRequestError, match="must be a number"):
        engine.generate(GenerationRequest("a fox <lora:toy:lots>", **SMALL))


def test_a1111_short_hash_skips_the_safetensors_header(lora_engine):
    import hashlib

    _, path = lora_engine
    data = path.read_bytes()
    header = int.from_bytes(data[:8], "little")
    assert short_hash(path) == hashlib.sha256(data[8 + header :]).hexdigest()[:12]


def test_the_png_names_the_lora_the_a1111_way(lora_engine):
    from gallery.a1111 import parse_infotext
    from gallery.metadata import infotext_for
    from ui.recording import new_generation

    engine, path = lora_engine
    result = engine.generate(GenerationRequest("a red fox <lora:toy:0.7>", **SMALL))
    text = infotext_for(new_generation(result, 0))
    assert text.startswith("a red fox <lora:toy:0.7>\n")
    assert f'Lora hashes: "toy: {short_hash(path)}"' in text
    assert parse_infotext(text).params["Lora hashes"] == f"toy: {short_hash(path)}"
