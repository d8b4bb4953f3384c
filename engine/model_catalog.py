"""The models at hand: the built-in tiny models, diffusers pipelines in the local Hugging Face
cache and in the models folder (folders and single-file checkpoints), each with its kind (SD1,
SD2, SDXL, SD3, FLUX, other), a short list of suggested hub models, and the settings each starts
with (turbo and LCM models at 1-4 steps and CFG 0-1.5; FLUX schnell 4 steps and guidance 0,
dev 28 steps and guidance 3.5; SD3.5 Large 28 steps and CFG 4.5, its Turbo 4 steps and CFG 0)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUGGESTED_FILE = Path(__file__).resolve().parent.parent / "assets" / "models" / "suggested.json"
CHECKPOINT_SUFFIXES = (".safetensors", ".ckpt")


@dataclass(frozen=True)
class ModelEntry:
    """One model the Model box can take: `name` is what to type there."""

    name: str
    kind: str
    """SD1, SD2, SDXL, SD3, FLUX or other."""
    source: str
    """"cache" (Hugging Face cache), "folder" (models/), "checkpoint" (models/*.safetensors)
    or "hub" (suggested, not downloaded)."""
    note: str = ""


@dataclass(frozen=True)
class ModelDefaults:
    """The settings a model starts with. For FLUX `guidance_scale` is its distilled guidance;
    `max_sequence_length` is the T5 length of SD3 and FLUX models (None for the others)."""

    steps: int
    guidance_scale: float
    width: int
    height: int
    scheduler: str
    max_sequence_length: int | None = None
    true_cfg_scale: float = 1.0
    shift: float | None = None


def _config_class(folder: Path, component: str) -> str:
    """The class a component's config names (`_class_name`, or transformers' `architectures`)."""
    try:
        config = json.loads((folder / component / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    if not isinstance(config, dict):
        return ""
    architectures = config.get("architectures")
    if isinstance(architectures, list) and architectures:
        return str(architectures[0])
    return str(config.get("_class_name", ""))


def pipeline_kind(folder: Path) -> str:
    """SD1, SD2, SDXL, SD3, FLUX or other, from a diffusers folder's model_index.json and its
    components' configs (SD3: an SD3 transformer with a third, T5 text encoder; FLUX: a FLUX
    transformer with T5 as its second text encoder)."""
    try:
        index = json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "other"
    if not isinstance(index, dict):
        return "other"
    name = str(index.get("_class_name", ""))
    transformer = _config_class(folder, "transformer")
    if transformer == "SD3Transformer2DModel" and "text_encoder_3" in index:
        return "SD3"
    t5 = _config_class(folder, "text_encoder_2") in ("", "T5EncoderModel")
    if transformer == "FluxTransformer2DModel" and name == "FluxPipeline" and t5:
        return "FLUX"
    if "XL" in name:
        return "SDXL"
    if name.startswith("StableDiffusion") and "Pipeline" in name:
        try:
            unet = json.loads((folder / "unet" / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return "SD1"
        return "SD2" if unet.get("cross_attention_dim") == 1024 else "SD1"
    return "other"


def cached_models(cache_dir: Path | None = None) -> list[ModelEntry]:
    """Diffusers pipelines in the Hugging Face cache (newest snapshot of each repository)."""
    root = Path(cache_dir) if cache_dir else _hub_cache()
    entries = []
    for repo in sorted(root.glob("models--*")) if root.is_dir() else []:
        snapshots = sorted(
            (p for p in (repo / "snapshots").glob("*") if (p / "model_index.json").is_file()),
            key=lambda p: p.stat().st_mtime,
        )
        if snapshots:
            name = repo.name.removeprefix("models--").replace("--", "/")
            entries.append(ModelEntry(name, pipeline_kind(snapshots[-1]), "cache"))
    return entries


def folder_models(models_dir: Path) -> list[ModelEntry]:
    """Pipeline folders and single-file checkpoints in the models folder (not the demo's)."""
    entries = []
    root = Path(models_dir)
    for path in sorted(root.iterdir()) if root.is_dir() else []:
        if path.name.startswith(("demo-", ".")):
            continue
        if path.is_dir() and (path / "model_index.json").is_file():
            entries.append(ModelEntry(str(path), pipeline_kind(path), "folder"))
        elif path.is_file() and path.suffix.lower() in CHECKPOINT_SUFFIXES:
            entries.append(ModelEntry(str(path), checkpoint_kind(path), "checkpoint"))
    return entries


def checkpoint_kind(path: Path) -> str:
    """A single-file checkpoint's kind from its name and size (SDXL files are over 5 GB)."""
    lowered = path.name.lower()
    if "flux" in lowered:
        return "FLUX"
    if "sd3" in lowered or "stable-diffusion-3" in lowered or "sd_3" in lowered:
        return "SD3"
    if "xl" in lowered or path.stat().st_size > 5_000_000_000:
        return "SDXL"
    if "v2" in lowered or "sd2" in lowered or "turbo" in lowered:
        return "SD2"
    return "SD1"


def suggested_models() -> list[ModelEntry]:
    """A short list of hub models worth trying (downloaded on first use)."""
    data: list[dict[str, Any]] = json.loads(SUGGESTED_FILE.read_text(encoding="utf-8"))
    return [ModelEntry(item["id"], item["kind"], "hub", item.get("note", "")) for item in data]


def builtin_models() -> list[ModelEntry]:
    """The tiny models built on first use: random weights, for trying every control."""
    return [
        ModelEntry("demo", "SD1", "built in", "random weights: noise, for trying controls"),
        ModelEntry("demo-sd3", "SD3", "built in", "tiny random SD3: CLIP-L, CLIP-G and T5"),
        ModelEntry("demo-flux", "FLUX", "built in", "tiny random FLUX.1 dev: CLIP-L and T5"),
    ]


def flow_family(name: str, kind: str = "other") -> str | None:
    """FLUX or SD3 from the kind, else from a hub id or folder name; None for other models."""
    lowered = name.lower()
    if kind in ("FLUX", "SD3"):
        return kind
    builtin = {entry.name: entry.kind for entry in builtin_models()}
    if builtin.get(lowered) in ("FLUX", "SD3"):
        return builtin[lowered]
    base = lowered.replace("\\", "/").rsplit("/", 1)[-1]
    if "flux" in base:
        return "FLUX"
    if "stable-diffusion-3" in base or base.startswith(("sd3", "sd-3")) or "sd3." in base:
        return "SD3"
    return None


def flow_defaults(name: str, kind: str = "other") -> ModelDefaults | None:
    """SD3 and FLUX defaults, keyed by name: FLUX.1 schnell 4 steps, guidance 0, T5 256; dev 28
    steps, guidance 3.5, T5 512; SD3.5 Large Turbo 4 steps, CFG 0; SD3.5 Large (and Medium) 28
    steps, CFG 4.5; SD3 Medium 28 steps, CFG 7; all T5 256, 1024 px (the demos 256 px)."""
    lowered = name.lower()
    family = flow_family(name, kind)
    if family is None:
        return None
    size = 256 if lowered.startswith("demo") else 1024
    if family == "FLUX":
        if "schnell" in lowered:
            return ModelDefaults(4, 0.0, size, size, "Euler", max_sequence_length=256)
        return ModelDefaults(28, 3.5, size, size, "Euler", max_sequence_length=512)
    if "turbo" in lowered:
        return ModelDefaults(4, 0.0, size, size, "Euler", max_sequence_length=256)
    if "3.5" in lowered or "3-5" in lowered or lowered == "demo-sd3":
        return ModelDefaults(28, 4.5, size, size, "Euler", max_sequence_length=256)
    return ModelDefaults(28, 7.0, size, size, "Euler", max_sequence_length=256)


def model_defaults(name: str, kind: str = "other") -> ModelDefaults:
    """The settings `name` starts with: SD3 and FLUX as `flow_defaults`, turbo at 1 step and
    CFG 0, LCM at 4 steps and CFG 1 with the LCM scheduler, SDXL at 1024 px, the sketch model at
    its native 128 px (20 Euler a steps, CFG 7, as its card measures), the demo at 256 px,
    others 512 px / 25 / 7."""
    lowered = name.strip().lower()
    flow = flow_defaults(name, kind)
    if flow is not None:
        return flow
    size = 1024 if kind == "SDXL" and "turbo" not in lowered else 512
    if lowered == "demo":
        return ModelDefaults(20, 7.0, 256, 256, "Euler a")
    if lowered == "sketch":  # its native size
        return ModelDefaults(20, 7.0, 128, 128, "Euler a")
    if "turbo" in lowered or "lightning" in lowered:
        return ModelDefaults(1, 0.0, size, size, "Euler a")
    if "lcm" in lowered:
        return ModelDefaults(4, 1.0, size, size, "LCM")
    return ModelDefaults(25, 7.0, size, size, "DPM++ 2M Karras")


def _hub_cache() -> Path:
    from huggingface_hub import constants

    return Path(os.environ.get("HF_HUB_CACHE", constants.HF_HUB_CACHE))
