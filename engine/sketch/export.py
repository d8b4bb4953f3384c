"""Assemble trained checkpoints into a diffusers folder with fp16 safetensors.

The folder is a plain `StableDiffusionPipeline` layout. One twist keeps it small: the
`text_encoder/` folder holds the whole `CLIPModel` (text and image towers). diffusers loads it
as `CLIPTextModel`, which takes the `text_model.*` weights and leaves the image tower aside,
while a CLIP scorer loads the same folder as `CLIPModel`; the 49,408-row token table, the
biggest tensor, is stored once. No file is over 9.5 MB, so the folder can be pushed to a
Hugging Face Space without Git LFS (the Hub's limit is 10 MiB): the CLIP is written in shards
(`model.safetensors.index.json`), and the tokenizer as `vocab.json` and `merges.txt`.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import torch
from transformers import CLIPImageProcessor, CLIPModel, CLIPTextModel

from engine.pipeline_configs import SKETCH, SKETCH_CLIP_VISION, assemble_pipeline
from engine.sketch.checkpoints import load_trained_parts
from engine.tokenizer import clip_vocab_and_merges, save_clip_tokenizer


def clip_image_processor(size: int = SKETCH_CLIP_VISION["image_size"]) -> CLIPImageProcessor:
    """Resize and normalise pictures the way a sketch CLIP saw them in training."""
    return CLIPImageProcessor(
        size={"shortest_edge": size},
        crop_size={"height": size, "width": size},
        do_center_crop=True,
        resample=3,
    )


# transformers' shard limit: the fp16 token table (49,408 x 96, 9.49 MB) is a shard of its own
# and the other weights share the next one
SHARD_SIZE = "9MB"


def save_clip(clip: CLIPModel, folder: Path) -> None:
    """The whole CLIP in fp16 safetensors shards, and its image processor's config."""
    clip.to(torch.float16).save_pretrained(folder, safe_serialization=True,
                                           max_shard_size=SHARD_SIZE)  # fmt: skip
    clip_image_processor().save_pretrained(folder)


def save_tokenizer(folder: Path) -> None:
    """The CLIP tokenizer as SD 1.x models ship it, `vocab.json` and `merges.txt` (1.4 MB) with
    its config, and no `tokenizer.json` (1.7 MB)."""
    save_clip_tokenizer(folder, *clip_vocab_and_merges())


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
        for part in ("text_encoder", "tokenizer"):
            shutil.rmtree(staging / part)
        save_clip(clip, staging / "text_encoder")
        save_tokenizer(staging / "tokenizer")
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
