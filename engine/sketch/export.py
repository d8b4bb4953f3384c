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
from transformers import CLIPImageProcessor, CLIPTextModel

from engine.pipeline_configs import SKETCH, SKETCH_CLIP_VISION, assemble_pipeline
from engine.sketch.checkpoints import load_trained_parts


def clip_image_processor() -> CLIPImageProcessor:
    """Resize and normalise pictures the way the sketch CLIP saw them in training."""
    size = SKETCH_CLIP_VISION["image_size"]
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


def export_model(workdir: Path, out: Path, raw_unet: bool = False) -> Path:
    """Write the pipeline to `out` (replacing it atomically, keeping its model card), with the
    work folder's `args.json`, and return `out`."""
    vae, clip, unet, _ = load_trained_parts(Path(workdir), raw_unet)
    text_encoder = CLIPTextModel(clip.config.text_config)
    text_encoder.load_state_dict(clip.text_model.state_dict())
    pipe = assemble_pipeline(unet, vae, text_encoder, SKETCH.make_scheduler())
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".export-") as tmp:
        staging = Path(tmp) / "model"
        pipe.to(torch.float16).save_pretrained(staging, safe_serialization=True)
        shutil.rmtree(staging / "text_encoder")
        clip.to(torch.float16).save_pretrained(staging / "text_encoder", safe_serialization=True)
        clip_image_processor().save_pretrained(staging / "text_encoder")
        compact_json(staging / "tokenizer" / "tokenizer.json")
        card, recipe = out / "README.md", Path(workdir) / "args.json"
        if card.is_file():
            shutil.copy(card, staging / "README.md")
        if recipe.is_file():  # the runs that trained it, which `train all --args` replays
            shutil.copy(recipe, staging / "args.json")
        old = Path(tmp) / "old"
        if out.exists():
            out.rename(old)
        staging.rename(out)
    return out
