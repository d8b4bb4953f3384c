"""The embedded demo model: a tiny Stable Diffusion pipeline with seeded random weights.

It has the real SD1.x structure (UNet with cross-attention, an 8x VAE of four blocks, a CLIP text
encoder with the real 49,408-token BPE tokenizer), only narrow (`engine.pipeline_configs.DEMO`).
It is built once into a cache folder with `save_pretrained` and always loaded back with
`from_pretrained`, like any real model, so tests and offline users run the very code path that
real models take. Its pictures are noise: it proves the machinery, not the art.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

from engine.pipeline_configs import DEMO, move_into_place

DEMO_MODEL_ID = "demo"
DEMO_SEED = 20240607
DEMO_VERSION = 1  # bump when DEMO's configs change: the cache folder name changes with it


def demo_fingerprint() -> str:
    """A short hash of every config and the seed: the name of the cache folder."""
    blob = json.dumps(
        [DEMO_VERSION, DEMO_SEED, DEMO.unet, DEMO.vae, DEMO.text_encoder, DEMO.scheduler],
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def build_demo_pipeline():
    """Build the demo pipeline in memory: same configs and seed give the same weights."""
    return DEMO.build(DEMO_SEED)


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
        move_into_place(staging, target)
    return target
