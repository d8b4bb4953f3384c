"""The Stable Diffusion 1.x-style pipelines this project builds from configs, without the hub.

- `SD15`: the architecture of `stable-diffusion-v1-5/stable-diffusion-v1-5` (UNet, VAE, the
  CLIP ViT-L/14 text encoder, the PNDM scheduler). Every SD 1.x checkpoint shares it, so a
  folder of these configs lets diffusers load an A1111 `.safetensors` or `.ckpt` offline.
- `DEMO`: the same structure, narrow: the `demo` model (seeded random weights).
- `SKETCH`: the sketch model trained in `engine.sketch`, whose CLIP also has an image tower
  (`SKETCH_CLIP_VISION`).

What every SD 1.x pipeline shares (the scheduler's betas, CLIP's 49,408 tokens and their
special ids, the VAE's RGB-to-4-channel shape) is written once. One deliberate difference from
the hub's SD 1.5 copy: the text encoder's bos/eos/pad ids are the real tokenizer ids
(49406/49407/49407), not the legacy 0/2/1; SD only reads the hidden states, which they do not
touch. This module is plain data; building imports torch and diffusers when called.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SD_BETAS = {
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "num_train_timesteps": 1000,
    "steps_offset": 1,
}
CLIP_TOKENS = {
    "vocab_size": 49408,
    "max_position_embeddings": 77,
    "bos_token_id": 49406,
    "eos_token_id": 49407,
    "pad_token_id": 49407,
}
VAE_RGB = {"in_channels": 3, "out_channels": 3, "latent_channels": 4}
UNET_LATENTS = {"in_channels": 4, "out_channels": 4}


@dataclass(frozen=True)
class PipelineConfigs:
    """The configs of one `StableDiffusionPipeline`'s parts, as diffusers/transformers take
    them (`UNet2DConditionModel(**unet)`, `CLIPTextConfig(**text_encoder)`, ...)."""

    unet: dict[str, Any]
    vae: dict[str, Any]
    text_encoder: dict[str, Any]
    scheduler: dict[str, Any]
    scheduler_class: str  # a diffusers scheduler class name

    def make_scheduler(self):
        import diffusers

        return getattr(diffusers, self.scheduler_class)(**self.scheduler)

    def build(self, seed: int, dtype=None, device="cpu"):
        """A pipeline with seeded random weights (UNet from `seed`, VAE from `seed + 1`, text
        encoder from `seed + 2`): the same configs and seed give the same weights. On a GPU
        (`device="cuda"`) the weights are made there directly, far faster for SD 1.5."""
        import torch
        from diffusers import AutoencoderKL, UNet2DConditionModel
        from transformers import CLIPTextConfig, CLIPTextModel

        with torch.device(device):
            torch.manual_seed(seed)
            unet = UNet2DConditionModel(**self.unet)
            torch.manual_seed(seed + 1)
            vae = AutoencoderKL(**self.vae)
            torch.manual_seed(seed + 2)
            text_encoder = CLIPTextModel(CLIPTextConfig(**self.text_encoder))
        if dtype is not None and dtype != torch.float32:
            unet, vae, text_encoder = (m.to(dtype=dtype) for m in (unet, vae, text_encoder))
        return assemble_pipeline(unet, vae, text_encoder, self.make_scheduler())

    def write_folder(self, folder: Path) -> Path:
        """Write a weightless diffusers folder (configs and tokenizer); return it.

        It holds what `from_single_file(config=folder)` reads, as a hub snapshot of the configs
        would. An existing folder is left as it is; a new one is written beside it and renamed
        in, so an interrupted write leaves nothing half-written.
        """
        import torch
        from diffusers import AutoencoderKL, UNet2DConditionModel
        from transformers import CLIPTextConfig

        from engine.tokenizer import load_clip_tokenizer

        folder = Path(folder)
        if (folder / "model_index.json").is_file():
            return folder
        folder.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".config-") as tmp:
            staging = Path(tmp) / "config"
            with torch.device("meta"):  # configs only: no weights are made
                UNet2DConditionModel(**self.unet).save_config(staging / "unet")
                AutoencoderKL(**self.vae).save_config(staging / "vae")
            CLIPTextConfig(**self.text_encoder).save_pretrained(staging / "text_encoder")
            load_clip_tokenizer().save_pretrained(staging / "tokenizer")
            self.make_scheduler().save_config(staging / "scheduler")
            model_index = {
                "_class_name": "StableDiffusionPipeline",
                "feature_extractor": [None, None],
                "requires_safety_checker": False,
                "safety_checker": [None, None],
                "scheduler": ["diffusers", self.scheduler_class],
                "text_encoder": ["transformers", "CLIPTextModel"],
                "tokenizer": ["transformers", "CLIPTokenizer"],
                "unet": ["diffusers", "UNet2DConditionModel"],
                "vae": ["diffusers", "AutoencoderKL"],
            }
            (staging / "model_index.json").write_text(json.dumps(model_index, indent=2) + "\n")
            move_into_place(staging, folder)
        return folder


def assemble_pipeline(unet, vae, text_encoder, scheduler, tokenizer=None):
    """A `StableDiffusionPipeline` of these parts with the real CLIP tokenizer (unless one is
    given), and no safety checker."""
    from diffusers import StableDiffusionPipeline

    from engine.tokenizer import load_clip_tokenizer

    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=load_clip_tokenizer() if tokenizer is None else tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def move_into_place(staging: Path, target: Path) -> None:
    """Rename a fully written `staging` folder to `target`; where another writer got there
    first (a `target` with its `model_index.json`), theirs is kept and `staging` dropped."""
    try:
        staging.rename(target)
    except OSError:
        if not (target / "model_index.json").is_file():
            raise
        shutil.rmtree(staging, ignore_errors=True)


SD15 = PipelineConfigs(
    unet={
        "sample_size": 64,
        **UNET_LATENTS,
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
    },
    vae={
        "sample_size": 512,
        **VAE_RGB,
        "down_block_types": ["DownEncoderBlock2D"] * 4,
        "up_block_types": ["UpDecoderBlock2D"] * 4,
        "block_out_channels": [128, 256, 512, 512],
        "layers_per_block": 2,
        "act_fn": "silu",
        "norm_num_groups": 32,
        "scaling_factor": 0.18215,
    },
    text_encoder={
        **CLIP_TOKENS,
        "hidden_size": 768,
        "intermediate_size": 3072,
        "projection_dim": 768,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "hidden_act": "quick_gelu",
        "layer_norm_eps": 1e-5,
        "attention_dropout": 0.0,
        "dropout": 0.0,
        "initializer_range": 0.02,
        "initializer_factor": 1.0,
    },
    scheduler={**SD_BETAS, "set_alpha_to_one": False, "skip_prk_steps": True},
    scheduler_class="PNDMScheduler",
)

DEMO = PipelineConfigs(
    unet={
        "sample_size": 32,
        **UNET_LATENTS,
        "layers_per_block": 1,
        "block_out_channels": [32, 64],
        "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
        "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"],
        "cross_attention_dim": 32,
        "attention_head_dim": 4,
        "norm_num_groups": 8,
    },
    vae={
        **VAE_RGB,
        "block_out_channels": [8, 16, 16, 16],  # four blocks: a factor-8 VAE, as in real SD
        "down_block_types": ["DownEncoderBlock2D"] * 4,
        "up_block_types": ["UpDecoderBlock2D"] * 4,
        "layers_per_block": 1,
        "norm_num_groups": 8,
        "sample_size": 256,
    },
    text_encoder={
        **CLIP_TOKENS,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "projection_dim": 32,
    },
    scheduler=dict(SD_BETAS),
    scheduler_class="EulerAncestralDiscreteScheduler",
)

SKETCH_SIZE = 128  # the sketch model's native picture size
SKETCH_LATENT_FACTOR = 4  # three VAE blocks: 32 x 32 latents at 128 px
SKETCH_TEXT_WIDTH = 96
SKETCH = PipelineConfigs(
    unet={
        "sample_size": SKETCH_SIZE // SKETCH_LATENT_FACTOR,
        **UNET_LATENTS,
        "layers_per_block": 1,
        "block_out_channels": [32, 64, 128],
        "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
        "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
        "cross_attention_dim": SKETCH_TEXT_WIDTH,
        "attention_head_dim": 4,
        "norm_num_groups": 16,
    },
    vae={
        **VAE_RGB,
        "block_out_channels": [32, 64, 64],
        "down_block_types": ["DownEncoderBlock2D"] * 3,
        "up_block_types": ["UpDecoderBlock2D"] * 3,
        "layers_per_block": 1,
        "norm_num_groups": 8,
        "sample_size": SKETCH_SIZE,
    },
    text_encoder={
        **CLIP_TOKENS,
        "hidden_size": SKETCH_TEXT_WIDTH,
        "intermediate_size": SKETCH_TEXT_WIDTH * 4,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "projection_dim": 64,
    },
    scheduler={**SD_BETAS, "prediction_type": "epsilon"},
    scheduler_class="EulerAncestralDiscreteScheduler",
)
SKETCH_CLIP_VISION = {  # the image tower the sketch CLIP scores pictures with
    "hidden_size": 96,
    "intermediate_size": 384,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "image_size": 64,
    "patch_size": 8,
    "projection_dim": 64,
}
SKETCH_CLIP_PROJECTION_DIM = 64


def build_sketch_clip():
    """The sketch model's whole CLIP (text and image towers), with fresh random weights."""
    from transformers import CLIPConfig, CLIPModel

    config = CLIPConfig(
        text_config=SKETCH.text_encoder,
        vision_config=SKETCH_CLIP_VISION,
        projection_dim=SKETCH_CLIP_PROJECTION_DIM,
    )
    return CLIPModel(config)
