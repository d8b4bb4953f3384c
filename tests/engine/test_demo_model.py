"""The demo model: built from configs with seeded weights, saved, loaded like any real model."""

import hashlib
import json

import numpy as np
import torch
from diffusers import StableDiffusionPipeline

from engine.demo_model import (
    build_demo_pipeline,
    demo_fingerprint,
    demo_model_dir,
    ensure_demo_model,
)
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


# Pinned from the demo model as built before its configs moved to `engine.pipeline_configs`:
# a config or seed change shows here (and must bump DEMO_VERSION, which renames the cache).
DEMO_FINGERPRINT = "a07c3781a48a"
DEMO_WEIGHTS = {
    "unet": "ed06023666a18558",
    "vae": "6d4f14fd4b6cd0fc",
    "text_encoder": "d0cbf066204f235e",
}
# "a red fox", seed 7, 3 steps, 64 x 64: the mean of each 16 x 16 block (R, G, B, 0-255).
DEMO_FOX_BLOCKS = [
    [[106.1, 129.0, 117.5], [106.2, 123.8, 108.2], [102.8, 113.0, 98.6], [135.6, 102.7, 121.4]],
    [[151.7, 123.9, 133.7], [138.2, 114.8, 135.2], [152.4, 119.1, 134.9], [157.9, 132.4, 127.0]],
    [[128.8, 126.0, 127.4], [125.0, 130.8, 97.7], [178.2, 139.7, 121.9], [124.3, 119.1, 123.1]],
    [[98.2, 126.9, 158.8], [99.8, 136.6, 155.5], [134.8, 134.1, 129.6], [116.2, 127.3, 130.9]],
]


def test_the_demo_model_keeps_its_weights_and_pixels(models_dir):
    assert demo_fingerprint() == DEMO_FINGERPRINT
    built = build_demo_pipeline()
    digests = {part: state_digest(getattr(built, part))[:16] for part in DEMO_WEIGHTS}
    assert digests == DEMO_WEIGHTS

    pipe = StableDiffusionPipeline.from_pretrained(ensure_demo_model(models_dir))
    generator = torch.Generator().manual_seed(7)
    image = pipe("a red fox", num_inference_steps=3, height=64, width=64, generator=generator,
                 output_type="np").images[0]  # fmt: skip
    blocks = (image * 255).round().reshape(4, 16, 4, 16, 3).mean(axis=(1, 3))
    assert np.abs(blocks - np.array(DEMO_FOX_BLOCKS)).max() < 1.0  # within a level (CPU maths)
