"""The embedded demo model: a tiny Stable Diffusion pipeline with seeded random weights.

It has the real SD1.x structure (UNet with cross-attention, an 8x VAE of four blocks, a CLIP text
encoder with the real 49,408-token BPE tokenizer), only narrow. It is built once into a cache
folder with `save_pretrained` and always loaded back with `from_pretrained`, like any real model,
so tests and offline users run the very code path that real models take. Its pictures are noise:
it proves the machinery, not the art.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path

import torch
from diffusers import (
    AutoencoderKL,
    EulerAncestralDiscreteScheduler,
    StableDiffusionPipeline,
    UNet2DConditionModel,
)
from transformers import CLIPTextConfig, CLIPTextModel

from engine.model_names import DEMO_MODEL_ID as DEMO_MODEL_ID  # where it was always imported
from engine.tokenizer import load_clip_tokenizer

DEMO_SEED = 20240607
DEMO_VERSION = 1  # bump when a config below changes: the cache folder name changes with it

UNET_CONFIG = {
    "sample_size": 32,
    "in_channels": 4,
    "out_channels": 4,
    "layers_per_block": 1,
    "block_out_channels": [32, 64],
    "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"],
    "cross_attention_dim": 32,
    "attention_head_dim": 4,
    "norm_num_groups": 8,
}
VAE_CONFIG = {
    "in_channels": 3,
    "out_channels": 3,
    "latent_channels": 4,
    "block_out_channels": [8, 16, 16, 16],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
    "layers_per_block": 1,
    "norm_num_groups": 8,
    "sample_size": 256,
}
TEXT_ENCODER_CONFIG = {
    "vocab_size": 49408,
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "max_position_embeddings": 77,
    "projection_dim": 32,
    "bos_token_id": 49406,
    "eos_token_id": 49407,
    "pad_token_id": 49407,
}
SCHEDULER_CONFIG = {
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "num_train_timesteps": 1000,
    "steps_offset": 1,
}


def demo_fingerprint() -> str:
    """A short hash of every config and the seed: the name of the cache folder."""
    blob = json.dumps(
        [DEMO_VERSION, DEMO_SEED, UNET_CONFIG, VAE_CONFIG, TEXT_ENCODER_CONFIG, SCHEDULER_CONFIG],
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def build_demo_pipeline() -> StableDiffusionPipeline:
    """Build the demo pipeline in memory: same configs and seed give the same weights."""
    torch.manual_seed(DEMO_SEED)
    unet = UNet2DConditionModel(**UNET_CONFIG)
    torch.manual_seed(DEMO_SEED + 1)
    vae = AutoencoderKL(**VAE_CONFIG)
    torch.manual_seed(DEMO_SEED + 2)
    text_encoder = CLIPTextModel(CLIPTextConfig(**TEXT_ENCODER_CONFIG))
    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=load_clip_tokenizer(),
        unet=unet,
        scheduler=EulerAncestralDiscreteScheduler(**SCHEDULER_CONFIG),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def demo_model_dir(models_dir: Path) -> Path:
    """Where the demo model lives (built or not) under a models folder."""
    return Path(models_dir) / f"demo-sd-{demo_fingerprint()}"


def ensure_demo_model(models_dir: Path) -> Path:
    """Return the demo model folder, building and saving it first if needed.

    The pipeline is saved into a temporary sibling folder and renamed into place, so an
    interrupted build never leaves a half-written model behind.
    """
    target = demo_model_dir(models_dir)
    if (target / "model_index.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".building-") as tmp:
        staging = Path(tmp) / "model"
        build_demo_pipeline().save_pretrained(staging, safe_serialization=True)
        try:
            staging.rename(target)
        except OSError:
            if not (target / "model_index.json").is_file():  # lost a race to another builder
                raise
            shutil.rmtree(staging, ignore_errors=True)
    return target
