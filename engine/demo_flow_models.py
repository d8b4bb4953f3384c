"""Built-in tiny SD3 and FLUX.1 pipelines with seeded random weights: `demo-sd3`, `demo-flux`.

They have the real structure of today's models, only narrow, as diffusers' own tests build
them: SD3 is an `SD3Transformer2DModel` (MMDiT) fed by CLIP-L and CLIP-G (both
`CLIPTextModelWithProjection`, the real 49,408-token BPE, CLIP-G padding with `!`) and T5; FLUX
is a `FluxTransformer2DModel` with guidance embedding (as FLUX.1 dev) fed by CLIP-L's pooled
vector and T5. Both sample with `FlowMatchEulerDiscreteScheduler` (SD3's static shift 3;
FLUX dev's resolution-dependent shift) and decode with a 16-channel `AutoencoderKL` carrying
each model's scaling and shift factors. The T5 tokenizer is `engine.t5_tokenizer`'s.

Like `demo`, each is built once into the models folder with `save_pretrained` and always loaded
back with `from_pretrained`, so the CLI, the page and the tests run the code path real models
take. Their pictures are noise: they prove the machinery.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from diffusers import (
    AutoencoderKL,
    DiffusionPipeline,
    FlowMatchEulerDiscreteScheduler,
    FluxPipeline,
    FluxTransformer2DModel,
    SD3Transformer2DModel,
    StableDiffusion3Pipeline,
)
from transformers import (
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTextModelWithProjection,
    T5Config,
    T5EncoderModel,
)

from engine.model_names import DEMO_FLUX_ID, DEMO_SD3_ID
from engine.t5_tokenizer import T5_VOCAB_PATH, load_t5_tokenizer
from engine.tokenizer import load_clip_tokenizer

FLOW_DEMO_SEED = 20250214
FLOW_DEMO_VERSION = 1  # bump when a config below changes: the cache folder name changes with it


def _clip_config(hidden: int, projection: int, pad_token_id: int) -> dict[str, Any]:
    return {
        "vocab_size": 49408,
        "hidden_size": hidden,
        "intermediate_size": hidden * 2,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "max_position_embeddings": 77,
        "projection_dim": projection,
        "hidden_act": "gelu",
        "bos_token_id": 49406,
        "eos_token_id": 49407,
        "pad_token_id": pad_token_id,
    }


def _t5_config(d_model: int) -> dict[str, Any]:
    """T5 v1.1's shape (gated GELU, no bias, relative attention), only narrow."""
    return {
        "vocab_size": 8100,  # 3 special tokens, 7,997 pieces, 100 sentinels
        "d_model": d_model,
        "d_kv": 16,
        "d_ff": d_model * 2,
        "num_layers": 2,
        "num_heads": 4,
        "relative_attention_num_buckets": 32,
        "feed_forward_proj": "gated-gelu",
        "dropout_rate": 0.0,
        "is_encoder_decoder": False,
        "use_cache": False,
        "pad_token_id": 0,
        "eos_token_id": 1,
    }


def _vae_config(scaling_factor: float, shift_factor: float) -> dict[str, Any]:
    """A 16-channel, 8x VAE as SD3's and FLUX's (no quant convs), only narrow."""
    return {
        "in_channels": 3,
        "out_channels": 3,
        "latent_channels": 16,
        "block_out_channels": [8, 16, 16, 16],
        "down_block_types": ["DownEncoderBlock2D"] * 4,
        "up_block_types": ["UpDecoderBlock2D"] * 4,
        "layers_per_block": 1,
        "norm_num_groups": 8,
        "sample_size": 256,
        "scaling_factor": scaling_factor,
        "shift_factor": shift_factor,
        "use_quant_conv": False,
        "use_post_quant_conv": False,
    }


SD3_CONFIGS: dict[str, dict[str, Any]] = {
    "transformer": {
        "sample_size": 32,
        "patch_size": 2,
        "in_channels": 16,
        "out_channels": 16,
        "num_layers": 2,
        "attention_head_dim": 8,
        "num_attention_heads": 4,
        "joint_attention_dim": 96,  # T5's width; CLIP-L + CLIP-G (32 + 48) are padded to it
        "caption_projection_dim": 32,
        "pooled_projection_dim": 80,  # CLIP-L's and CLIP-G's projections side by side
        "pos_embed_max_size": 64,
        "qk_norm": "rms_norm",  # as SD3.5
    },
    "text_encoder": _clip_config(32, 32, pad_token_id=49407),  # CLIP-L pads with end of text
    "text_encoder_2": _clip_config(48, 48, pad_token_id=0),  # CLIP-G pads with "!"
    "text_encoder_3": _t5_config(96),
    "vae": _vae_config(1.5305, 0.0609),
    "scheduler": {"num_train_timesteps": 1000, "shift": 3.0},
}
FLUX_CONFIGS: dict[str, dict[str, Any]] = {
    "transformer": {
        "patch_size": 1,
        "in_channels": 64,  # 16 latent channels packed 2x2
        "num_layers": 1,
        "num_single_layers": 2,
        "attention_head_dim": 16,
        "num_attention_heads": 2,
        "joint_attention_dim": 64,  # T5's width
        "pooled_projection_dim": 32,  # CLIP-L's width
        "guidance_embeds": True,  # FLUX.1 dev: distilled guidance
        "axes_dims_rope": [4, 6, 6],
    },
    "text_encoder": _clip_config(32, 32, pad_token_id=49407),
    "text_encoder_2": _t5_config(64),
    "vae": _vae_config(0.3611, 0.1159),
    "scheduler": {
        "num_train_timesteps": 1000,
        "shift": 3.0,
        "use_dynamic_shifting": True,
        "base_shift": 0.5,
        "max_shift": 1.15,
        "base_image_seq_len": 256,
        "max_image_seq_len": 4096,
    },
}


def _seeded(offset: int, build: Callable[[], Any]) -> Any:
    torch.manual_seed(FLOW_DEMO_SEED + offset)
    return build()


def build_sd3_pipeline(
    configs: dict[str, dict[str, Any]] = SD3_CONFIGS,
) -> StableDiffusion3Pipeline:
    """The tiny SD3 pipeline in memory: the same configs and seed give the same weights."""
    return StableDiffusion3Pipeline(
        transformer=_seeded(0, lambda: SD3Transformer2DModel(**configs["transformer"])),
        scheduler=FlowMatchEulerDiscreteScheduler(**configs["scheduler"]),
        vae=_seeded(1, lambda: AutoencoderKL(**configs["vae"])),
        text_encoder=_seeded(
            2, lambda: CLIPTextModelWithProjection(CLIPTextConfig(**configs["text_encoder"]))
        ),
        tokenizer=load_clip_tokenizer(),
        text_encoder_2=_seeded(
            3, lambda: CLIPTextModelWithProjection(CLIPTextConfig(**configs["text_encoder_2"]))
        ),
        tokenizer_2=load_clip_tokenizer("!"),
        text_encoder_3=_seeded(4, lambda: T5EncoderModel(T5Config(**configs["text_encoder_3"]))),
        tokenizer_3=load_t5_tokenizer(),
    )


def build_flux_pipeline(configs: dict[str, dict[str, Any]] = FLUX_CONFIGS) -> FluxPipeline:
    """The tiny FLUX pipeline in memory: the same configs and seed give the same weights."""
    return FluxPipeline(
        transformer=_seeded(0, lambda: FluxTransformer2DModel(**configs["transformer"])),
        scheduler=FlowMatchEulerDiscreteScheduler(**configs["scheduler"]),
        vae=_seeded(1, lambda: AutoencoderKL(**configs["vae"])),
        text_encoder=_seeded(2, lambda: CLIPTextModel(CLIPTextConfig(**configs["text_encoder"]))),
        tokenizer=load_clip_tokenizer(),
        text_encoder_2=_seeded(3, lambda: T5EncoderModel(T5Config(**configs["text_encoder_2"]))),
        tokenizer_2=load_t5_tokenizer(),
    )


BUILDERS: dict[str, tuple[Callable[[], DiffusionPipeline], dict[str, dict[str, Any]]]] = {
    DEMO_SD3_ID: (build_sd3_pipeline, SD3_CONFIGS),
    DEMO_FLUX_ID: (build_flux_pipeline, FLUX_CONFIGS),
}


def flow_demo_fingerprint(name: str) -> str:
    """A short hash of the model's configs, seed and T5 vocabulary: its cache folder's name."""
    _, configs = BUILDERS[name]
    vocab = hashlib.sha256(T5_VOCAB_PATH.read_bytes()).hexdigest()
    blob = json.dumps([FLOW_DEMO_VERSION, FLOW_DEMO_SEED, configs, vocab], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def flow_demo_dir(models_dir: Path, name: str) -> Path:
    """Where the built-in model `name` lives (built or not) under a models folder."""
    return Path(models_dir) / f"{name}-{flow_demo_fingerprint(name)}"


def ensure_flow_demo(models_dir: Path, name: str) -> Path:
    """The model's folder, built and saved first if needed (into a temporary sibling renamed
    into place, so an interrupted build leaves nothing half-written)."""
    target = flow_demo_dir(models_dir, name)
    if (target / "model_index.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    build, _ = BUILDERS[name]
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".building-") as tmp:
        staging = Path(tmp) / "model"
        build().save_pretrained(staging, safe_serialization=True)
        try:
            staging.rename(target)
        except OSError:
            if not (target / "model_index.json").is_file():  # lost a race to another builder
                raise
            shutil.rmtree(staging, ignore_errors=True)
    return target
