"""The models at hand: diffusers pipelines in the local Hugging Face cache and in the models
folder (folders and single-file checkpoints), each with its kind (SD1, SD2, SDXL, other), a
short list of suggested hub models, and the settings each kind starts with (turbo and LCM
models at 1-4 steps and CFG 0-1.5)."""

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
    """SD1, SD2, SDXL or other."""
    source: str
    """"cache" (Hugging Face cache), "folder" (models/), "checkpoint" (models/*.safetensors)
    or "hub" (suggested, not downloaded)."""
    note: str = ""


@dataclass(frozen=True)
class ModelDefaults:
    """The settings a model starts with."""

    steps: int
    guidance_scale: float
    width: int
    height: int
    scheduler: str


def pipeline_kind(folder: Path) -> str:
    """SD1, SD2, SDXL or other, from a diffusers folder's model_index.json and configs."""
    try:
        index = json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "other"
    name = str(index.get("_class_name", ""))
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
    if "xl" in lowered or path.stat().st_size > 5_000_000_000:
        return "SDXL"
    if "v2" in lowered or "sd2" in lowered or "turbo" in lowered:
        return "SD2"
    return "SD1"


def suggested_models() -> list[ModelEntry]:
    """A short list of hub models worth trying (downloaded on first use)."""
    data: list[dict[str, Any]] = json.loads(SUGGESTED_FILE.read_text(encoding="utf-8"))
    return [ModelEntry(item["id"], item["kind"], "hub", item.get("note", "")) for item in data]


def model_defaults(name: str, kind: str = "other") -> ModelDefaults:
    """The settings `name` starts with: turbo at 1 step and CFG 0, LCM at 4 steps and CFG 1
    with the LCM scheduler, SDXL at 1024 px, the sketch model at its native 128 px (20 Euler a
    steps, CFG 7, as its card measures), the demo at 256 px, others 512 px / 25 / 7."""
    lowered = name.strip().lower()
    size = 1024 if kind == "SDXL" and "turbo" not in lowered else 512
    if lowered == "demo":
        return ModelDefaults(20, 7.0, 256, 256, "Euler a")
    if lowered == "sketch":
        return ModelDefaults(20, 7.0, 128, 128, "Euler a")
    if "turbo" in lowered or "lightning" in lowered:
        return ModelDefaults(1, 0.0, size, size, "Euler a")
    if "lcm" in lowered:
        return ModelDefaults(4, 1.0, size, size, "LCM")
    return ModelDefaults(25, 7.0, size, size, "DPM++ 2M Karras")


def _hub_cache() -> Path:
    from huggingface_hub import constants

    return Path(os.environ.get("HF_HUB_CACHE", constants.HF_HUB_CACHE))
