"""The Stable Diffusion 1.5 architecture as diffusers configs, usable without the hub.

These are the configs of `stable-diffusion-v1-5/stable-diffusion-v1-5` (UNet, VAE, the CLIP
ViT-L/14 text encoder, the PNDM scheduler). Every SD 1.x checkpoint (A1111 `.safetensors` and
`.ckpt` files included) shares them, so a config folder written from them lets diffusers load such
a checkpoint offline, and `build_sd15_pipeline` makes a full-size pipeline with random weights for
benchmarks and layout tests.

One deliberate difference from the hub copy: the text encoder's bos/eos/pad ids are the real
tokenizer ids (49406/49407/49407) instead of the legacy 0/2/1. SD only reads the encoder's hidden
states, which these ids do not touch.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import torch
from diffusers import (
    AutoencoderKL,
    PNDMScheduler,
    StableDiffusionPipeline,
    UNet2DConditionModel,
)
from transformers import CLIPTextConfig, CLIPTextModel

from engine.tokenizer import load_clip_tokenizer

SD15_UNET_CONFIG = {
    "sample_size": 64,
    "in_channels": 4,
    "out_channels": 4,
    "center_input_sample": False,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "down_block_types": [
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "DownBlock2D",
    ],
    "up_block_types": [
        "UpBlock2D",
        "CrossAttnUpBlock2D",
        "CrossAttnUpBlock2D",
        "CrossAttnUpBlock2D",
    ],
    "block_out_channels": [320, 640, 1280, 1280],
    "layers_per_block": 2,
    "downsample_padding": 1,
    "mid_block_scale_factor": 1,
    "act_fn": "silu",
    "norm_num_groups": 32,
    "norm_eps": 1e-5,
    "cross_attention_dim": 768,
    "attention_head_dim": 8,
}
SD15_VAE_CONFIG = {
    "sample_size": 512,
    "in_channels": 3,
    "out_channels": 3,
    "latent_channels": 4,
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
    "block_out_channels": [128, 256, 512, 512],
    "layers_per_block": 2,
    "act_fn": "silu",
    "norm_num_groups": 32,
    "scaling_factor": 0.18215,
}
SD15_TEXT_ENCODER_CONFIG = {
    "vocab_size": 49408,
    "hidden_size": 768,
    "intermediate_size": 3072,
    "projection_dim": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "max_position_embeddings": 77,
    "hidden_act": "quick_gelu",
    "layer_norm_eps": 1e-5,
    "attention_dropout": 0.0,
    "dropout": 0.0,
    "initializer_range": 0.02,
    "initializer_factor": 1.0,
    "bos_token_id": 49406,
    "eos_token_id": 49407,
    "pad_token_id": 49407,
}
SD15_SCHEDULER_CONFIG = {
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
}


def write_sd15_config_folder(folder: Path) -> Path:
    """Write a weightless diffusers folder (configs and tokenizer) for SD 1.5; return it.

    It holds what `from_single_file(config=folder)` reads, as a hub snapshot of the configs
    would. An existing folder is left as it is; a new one is written beside it and renamed in.
    """
    folder = Path(folder)
    if (folder / "model_index.json").is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".sd15-config-") as tmp:
        staging = Path(tmp) / "config"
        with torch.device("meta"):  # configs only: no weights are made
            UNet2DConditionModel(**SD15_UNET_CONFIG).save_config(staging / "unet")
            AutoencoderKL(**SD15_VAE_CONFIG).save_config(staging / "vae")
        CLIPTextConfig(**SD15_TEXT_ENCODER_CONFIG).save_pretrained(staging / "text_encoder")
        load_clip_tokenizer().save_pretrained(staging / "tokenizer")
        PNDMScheduler(**SD15_SCHEDULER_CONFIG).save_config(staging / "scheduler")
        model_index = {
            "_class_name": "StableDiffusionPipeline",
            "feature_extractor": [None, None],
            "requires_safety_checker": False,
            "safety_checker": [None, None],
            "scheduler": ["diffusers", "PNDMScheduler"],
            "text_encoder": ["transformers", "CLIPTextModel"],
            "tokenizer": ["transformers", "CLIPTokenizer"],
            "unet": ["diffusers", "UNet2DConditionModel"],
            "vae": ["diffusers", "AutoencoderKL"],
        }
        (staging / "model_index.json").write_text(json.dumps(model_index, indent=2) + "\n")
        try:
            staging.rename(folder)
        except OSError:
            if not (folder / "model_index.json").is_file():  # lost a race to another writer
                raise
            shutil.rmtree(staging, ignore_errors=True)
    return folder


def build_sd15_pipeline(
    seed: int = 0,
    torch_dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> StableDiffusionPipeline:
    """A full-size SD 1.5 pipeline with seeded random weights (about 1.07 billion parameters).

    Its pictures are noise; it is for timing and layout checks. Building on a GPU
    (`device="cuda"`) makes the weights there directly, which is far faster than on a CPU.
    """
    with torch.device(device):
        torch.manual_seed(seed)
        unet = UNet2DConditionModel(**SD15_UNET_CONFIG)
        torch.manual_seed(seed + 1)
        vae = AutoencoderKL(**SD15_VAE_CONFIG)
        torch.manual_seed(seed + 2)
        text_encoder = CLIPTextModel(CLIPTextConfig(**SD15_TEXT_ENCODER_CONFIG))
    if torch_dtype != torch.float32:
        unet, vae, text_encoder = (m.to(dtype=torch_dtype) for m in (unet, vae, text_encoder))
    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=load_clip_tokenizer(),
        unet=unet,
        scheduler=PNDMScheduler(**SD15_SCHEDULER_CONFIG),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
