"""The demo model: built from configs with seeded weights, saved, loaded like any real model."""

import hashlib
import json

import torch
from diffusers import StableDiffusionPipeline

from engine.demo_model import build_demo_pipeline, demo_model_dir, ensure_demo_model
from engine.tokenizer import load_clip_tokenizer


def state_digest(module: torch.nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().contiguous().numpy().tobytes())
    return digest.hexdigest()


def test_same_configs_and_seed_give_the_same_weights():
    first, second = build_demo_pipeline(), build_demo_pipeline()
    for part in ("unet", "vae", "text_encoder"):
        assert state_digest(getattr(first, part)) == state_digest(getattr(second, part))


def test_it_is_saved_once_and_loaded_with_from_pretrained(models_dir):
    folder = ensure_demo_model(models_dir)
    assert folder == demo_model_dir(models_dir)
    index = json.loads((folder / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionPipeline"
    mtime = (folder / "unet" / "diffusion_pytorch_model.safetensors").stat().st_mtime
    assert ensure_demo_model(models_dir) == folder  # second call builds nothing
    assert (folder / "unet" / "diffusion_pytorch_model.safetensors").stat().st_mtime == mtime

    loaded = StableDiffusionPipeline.from_pretrained(folder)
    built = build_demo_pipeline()
    assert state_digest(loaded.unet) == state_digest(built.unet)
    assert loaded.vae_scale_factor == 8  # four VAE blocks, like real SD
    assert len(loaded.tokenizer) == 49408


def test_the_tokenizer_is_the_real_clip_bpe():
    tokenizer = load_clip_tokenizer()
    ids = tokenizer("a photo of an astronaut riding a horse").input_ids
    # The ids real SD1.x's CLIP tokenizer gives for this sentence.
    assert ids == [49406, 320, 1125, 539, 550, 18376, 6765, 320, 4558, 49407]
