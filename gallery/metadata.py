"""PNG metadata: written as A1111 `parameters` plus our JSON chunk, read back from any tool.

Our PNGs carry two text chunks:
- `parameters`: A1111 infotext (see `gallery.a1111`), so A1111, Forge, Civitai and friends
  read the prompt and settings;
- `prompt_atelier`: JSON `{"format": "prompt_atelier", "version": 1, "recipe": {...},
  "generation": {prompt, negative_prompt, seed, steps, guidance_scale, width, height,
  scheduler, model_id, model_revision, model_hash, settings}, "provenance": {...}}`.

`gallery.image_reader.read_metadata` reads PNG, JPEG and WebP from every tool it knows;
`metadata_from_chunks` here reads PNG text chunks alone (ours, A1111, InvokeAI, ComfyUI). The result
always has a `recipe` the builder can load (`prompts.recipe.Recipe.from_dict`): ours as saved,
or for other tools the whole prompt as `free_text` and the negative prompt as the one negative
term.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, PngImagePlugin

from gallery.a1111 import format_infotext, infotext_params, parse_infotext, settings_from_params
from gallery.bounds import load_json
from gallery.comfyui import parse_comfyui
from gallery.errors import MetadataError
from gallery.foreign import parse_invokeai
from gallery.image_container import PNG_SIGNATURE, read_image_texts
from gallery.records import NewGeneration, minimal_recipe

PARAMETERS_KEY = "parameters"
ATELIER_KEY = "prompt_atelier"
INVOKEAI_KEY = "invokeai_metadata"
COMFYUI_KEY = "prompt"
FORMAT_NAME = "prompt_atelier"
FORMAT_VERSION = 1
APP_NAME = "Prompt Atelier"
PNG_COMPRESS_LEVEL = 6

FLOW_KINDS = ("sd3", "flux")  # flow-matching models: Forge's "Simple" schedule is their own
SETTING_KEYS = (
    "seed",
    "steps",
    "guidance_scale",
    "width",
    "height",
    "scheduler",
    "model_id",
    "model_revision",
    "model_hash",
)


@dataclass(frozen=True)
class ImageMetadata:
    """Prompts, settings and recipe read from an image.

    `source` is "prompt_atelier", "a1111", "invokeai" or "comfyui". `settings` uses our names
    (see `SETTING_KEYS`) and holds only what the file told; `extra` keeps anything else the
    file said (unknown A1111 keys, InvokeAI fields) as read.
    """

    source: str
    prompt: str
    negative_prompt: str
    settings: dict[str, Any]
    recipe: dict[str, Any]
    provenance: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def generation_settings(generation: NewGeneration) -> dict[str, Any]:
    """The settings of a generation under our names (None where unknown)."""
    return {key: getattr(generation, key) for key in SETTING_KEYS}


def infotext_for(generation: NewGeneration) -> str:
    """The A1111 infotext describing a generation."""
    versions = generation.provenance.get("versions") or {}
    version = versions.get("prompt_atelier") if isinstance(versions, dict) else None
    known = isinstance(version, str) and version not in ("", "unknown")
    extra: dict[str, Any] = {}
    lora_hashes = _lora_hashes(generation.provenance.get("loras"))
    kind = generation.provenance.get("pipeline_kind")
    settings = generation.settings if isinstance(generation.settings, dict) else {}
    for key, name in (("shift", "Shift"), ("max_sequence_length", "Max sequence length")):
        if _number(settings.get(key)) is not None:
            extra[name] = settings[key]
    if lora_hashes:
        extra["Lora hashes"] = lora_hashes
    if known:
        extra["Version"] = f"{APP_NAME} {version}"
    guidance, distilled = generation.guidance_scale, None
    if kind == "flux":  # as Forge: CFG scale is the real CFG (1: off), the guidance distilled
        true_cfg = _number(settings.get("true_cfg_scale"))
        guidance, distilled = (true_cfg if true_cfg and true_cfg > 1 else 1), guidance
    params = infotext_params(
        steps=generation.steps,
        scheduler=generation.scheduler,
        guidance_scale=guidance,
        distilled_cfg_scale=distilled,
        own_schedule="Simple" if kind in FLOW_KINDS else "Automatic",
        seed=generation.seed,
        width=generation.width,
        height=generation.height,
        model_hash=generation.model_hash,
        model=generation.model_id,
        clip_skip=_clip_skip(generation.settings),
        extra=extra,
    )
    return format_infotext(generation.prompt, generation.negative_prompt, params)


def _lora_hashes(loras: Any) -> str | None:
    """A1111's "Lora hashes" value: `name: shorthash` for each LoRA, comma separated."""
    if not isinstance(loras, list):
        return None
    parts = [
        f"{lora['name']}: {lora['short_hash']}"
        for lora in loras
        if isinstance(lora, dict) and lora.get("name") and lora.get("short_hash")
    ]
    return ", ".join(parts) or None


def _number(value: Any) -> float | None:
    """A setting that is a real number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def _clip_skip(settings: Any) -> int | None:
    value = settings.get("clip_skip") if isinstance(settings, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# Provenance keys that differ run to run; the database keeps them, the file does not, so the
# same settings and seed give byte-identical PNGs.
VOLATILE_PROVENANCE_KEYS = ("timings", "served")  # served: which engine replica, which batch


def atelier_document(generation: NewGeneration) -> dict[str, Any]:
    """Our JSON chunk for a generation: the full recipe, settings and reproducible provenance."""
    provenance = {
        k: v for k, v in generation.provenance.items() if k not in VOLATILE_PROVENANCE_KEYS
    }
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "recipe": generation.effective_recipe(),
        "generation": {
            "prompt": generation.prompt,
            "negative_prompt": generation.negative_prompt,
            **generation_settings(generation),
            "settings": generation.settings,
        },
        "provenance": provenance,
    }


def encode_png(image: Image.Image, text_chunks: dict[str, str]) -> bytes:
    """The image as PNG bytes with the given text chunks (UTF-8 iTXt where needed)."""
    info = PngImagePlugin.PngInfo()
    for key, value in text_chunks.items():
        if key == ATELIER_KEY:
            info.add_itxt(key, value, zip=True)
        else:
            info.add_text(key, value)
    if image.mode not in ("RGB", "RGBA", "L", "LA", "I;16", "P"):
        image = image.convert("RGB")
    out = io.BytesIO()
    image.save(out, format="PNG", pnginfo=info, compress_level=PNG_COMPRESS_LEVEL)
    return out.getvalue()


def embed_metadata(image: Image.Image, generation: NewGeneration) -> bytes:
    """PNG bytes of `image` carrying the A1111 infotext and our JSON for `generation`."""
    document = json.dumps(atelier_document(generation), ensure_ascii=False, allow_nan=False)
    return encode_png(image, {PARAMETERS_KEY: infotext_for(generation), ATELIER_KEY: document})


def read_text_chunks(source: bytes | str | os.PathLike[str]) -> dict[str, str]:
    """The text chunks (tEXt, zTXt, iTXt) of a PNG, each capped; `MetadataError` if it is
    not a PNG."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    if not data.startswith(PNG_SIGNATURE):
        raise MetadataError("The file is not a PNG image.")
    return read_image_texts(data).chunks


def metadata_from_png(data: bytes) -> ImageMetadata | None:
    """`metadata_from_chunks` of a PNG's bytes, knowing which texts were cut short;
    `MetadataError` if it is not a PNG."""
    if not data.startswith(PNG_SIGNATURE):
        raise MetadataError("The file is not a PNG image.")
    texts = read_image_texts(data)
    return metadata_from_chunks(texts.chunks, texts.cut)


def metadata_from_chunks(chunks: dict[str, str], cut: Collection[str] = ()) -> ImageMetadata | None:
    """Read the first known format among the text chunks (ours, A1111, InvokeAI, ComfyUI);
    `cut` names the chunks that were cut short (`ImageTexts.cut`)."""
    if ATELIER_KEY in chunks and ATELIER_KEY not in cut:
        found = from_atelier_chunk(chunks[ATELIER_KEY])
        if found is not None:
            return found
    if chunks.get(PARAMETERS_KEY, "").strip():
        return from_infotext(chunks[PARAMETERS_KEY], complete=PARAMETERS_KEY not in cut)
    for key, parser, source in (
        (INVOKEAI_KEY, parse_invokeai, "invokeai"),
        (COMFYUI_KEY, parse_comfyui, "comfyui"),
    ):
        if key not in chunks:
            continue
        parsed = parser(load_json(chunks[key]))
        if parsed is not None:
            prompt, negative, settings, extra = parsed
            return ImageMetadata(
                source, prompt, negative, settings, minimal_recipe(prompt, negative), {}, extra
            )
    return None


def from_infotext(text: str, *, complete: bool = True) -> ImageMetadata:
    """Metadata from A1111 infotext (unknown keys kept in `extra`); `complete=False` for a
    text cut short: prompts only, no parameters (see `gallery.a1111.parse_infotext`)."""
    parsed = parse_infotext(text, complete=complete)
    settings, extra = settings_from_params(parsed.params)
    return ImageMetadata(
        "a1111",
        parsed.prompt,
        parsed.negative_prompt,
        settings,
        minimal_recipe(parsed.prompt, parsed.negative_prompt),
        {},
        extra,
    )


def from_atelier_chunk(text: str) -> ImageMetadata | None:
    """Our JSON chunk as metadata; None if it is not ours or not readable."""
    document = load_json(text)
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        return None
    generation = document.get("generation")
    if not isinstance(generation, dict) or not isinstance(generation.get("prompt"), str):
        return None
    recipe = document.get("recipe")
    negative = generation.get("negative_prompt") or ""
    settings = {key: generation[key] for key in SETTING_KEYS if generation.get(key) is not None}
    extra_settings = generation.get("settings")
    provenance = document.get("provenance")
    return ImageMetadata(
        FORMAT_NAME,
        generation["prompt"],
        negative,
        settings,
        recipe if isinstance(recipe, dict) else minimal_recipe(generation["prompt"], negative),
        provenance if isinstance(provenance, dict) else {},
        {"settings": extra_settings} if isinstance(extra_settings, dict) else {},
    )
