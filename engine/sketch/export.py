"""Assemble trained checkpoints into a diffusers folder with fp16 safetensors.

The folder is a plain `StableDiffusionPipeline` layout. One twist keeps it small: the
`text_encoder/` folder holds the whole `CLIPModel` (text and image towers). diffusers loads it
as `CLIPTextModel`, which takes the `text_model.*` weights and leaves the image tower aside,
while a CLIP scorer loads the same folder as `CLIPModel`; the 49,408-row token table, the
biggest tensor, is stored once.
"""

from __future__ import annotations

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
from transformers import CLIPImageProcessor, CLIPTextModel

from engine.sketch.configs import CLIP_VISION_CONFIG, SCHEDULER_CONFIG, UNET_CONFIG, VAE_CONFIG
from engine.sketch.train import PHASES, build_clip
from engine.tokenizer import load_clip_tokenizer


def clip_image_processor() -> CLIPImageProcessor:
    """Resize and normalise pictures the way the sketch CLIP saw them in training."""
    size = CLIP_VISION_CONFIG["image_size"]
    return CLIPImageProcessor(
        size={"shortest_edge": size},
        crop_size={"height": size, "width": size},
        do_center_crop=True,
        resample=3,
    )


def compact_json(path: Path) -> None:
    """Rewrite a JSON file without indentation (the tokenizer's shrinks from 3.6 to 1.7 MB)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")


def load_trained_parts(workdir: Path, raw_unet: bool = False):
    """(vae, clip, unet, UNet steps) from the stage checkpoints: the EMA weights (or the last
    ones with `raw_unet`) of the joint stage's last phase where it ran, else of the UNet
    stage."""

    def load(name: str) -> dict:
        return torch.load(workdir / name, map_location="cpu", weights_only=False)

    latents = load("latents.pt")
    vae = AutoencoderKL(**VAE_CONFIG, scaling_factor=latents["scaling_factor"])
    vae.load_state_dict(load("vae.pt")["model"])
    clip, unet = build_clip(), UNet2DConditionModel(**UNET_CONFIG)
    state = load("unet.pt")
    steps = int(state["step"])
    joints = [load(f"{name}.pt") for name in PHASES if (workdir / f"{name}.pt").is_file()]
    if joints:
        last = joints[-1]
        clip.load_state_dict(last["clip"] if raw_unet else last["ema"]["clip"])
        unet.load_state_dict(last["unet"] if raw_unet else last["ema"]["unet"])
        steps += sum(int(joint["step"]) for joint in joints)
    else:
        clip.load_state_dict(load("clip.pt")["model"])
        unet.load_state_dict(state["model" if raw_unet else "ema"])
    return vae.eval(), clip.eval(), unet.eval(), steps


def export_model(workdir: Path, out: Path, raw_unet: bool = False) -> Path:
    """Write the pipeline to `out` (replacing it atomically) and return `out`."""
    vae, clip, unet, _ = load_trained_parts(Path(workdir), raw_unet)
    text_encoder = CLIPTextModel(clip.config.text_config)
    text_encoder.load_state_dict(clip.text_model.state_dict())
    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=load_clip_tokenizer(),
        unet=unet,
        scheduler=EulerAncestralDiscreteScheduler(**SCHEDULER_CONFIG),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".export-") as tmp:
        staging = Path(tmp) / "model"
        pipe.to(torch.float16).save_pretrained(staging, safe_serialization=True)
        shutil.rmtree(staging / "text_encoder")
        clip.to(torch.float16).save_pretrained(staging / "text_encoder", safe_serialization=True)
        clip_image_processor().save_pretrained(staging / "text_encoder")
        compact_json(staging / "tokenizer" / "tokenizer.json")
        card = out / "README.md"
        if card.is_file():
            shutil.copy(card, staging / "README.md")
        old = Path(tmp) / "old"
        if out.exists():
            out.rename(old)
        staging.rename(out)
    return out
