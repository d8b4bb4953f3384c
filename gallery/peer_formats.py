"""Readers for Fooocus, NovelAI, SwarmUI, InvokeAI 2.x, Easy Diffusion and Draw Things.

Each takes what the file holds (already decoded, bounded JSON or text) and returns
`(prompt, negative_prompt, settings, extra)` like `gallery.foreign`, or None when the data is
not that tool's. Settings use our names: seed, steps, guidance_scale, width, height,
scheduler, model_id, model_hash, clip_skip.

- Fooocus (modules/meta_parser.py, FooocusMetadataParser): one-line JSON in `parameters`
  (EXIF UserComment for JPEG/WebP) with prompt, negative_prompt, styles, performance, steps,
  resolution `"(1152, 896)"`, guidance_scale, sampler, scheduler, base_model, base_model_hash,
  clip_skip (only when > 1), seed (a string), full_prompt/full_negative_prompt (lists, what the
  model was sent), version `"Fooocus v2.5.5"`, metadata_scheme; `fooocus_scheme` beside it.
- NovelAI: `Software` = "NovelAI", `Description` = the prompt, `Source` = model name and hash
  (`"NovelAI Diffusion V3 7BCCAA2C"`), `Comment` = JSON with prompt, uc (negative), steps,
  scale, seed, sampler, width, height, noise_schedule.
- SwarmUI: `{"sui_image_params": {prompt, negativeprompt, model, seed, steps, cfgscale, width,
  height, sampler, scheduler, clipstopatlayer, fluxguidancescale, sigmashift, swarm_version,
  ...}, "sui_extra_data": {...}}`.
- InvokeAI 2.x: `sd-metadata` JSON `{"model_weights", "model_hash", "app_version", "image":
  {"prompt": [{"prompt", "weight"}], "seed", "steps", "cfg_scale", "sampler", "width",
  "height", ...}}` and `Dream`: `"a prompt [negative words]" -s 50 -S 42 -W 512 -H 512 -C 7.5
  -A k_lms`; negative words are the `[...]` parts of the prompt.
- Easy Diffusion (ui/easydiffusion/utils/save_utils.py, "embed"): one PNG text chunk per key
  (prompt, negative_prompt, seed, use_stable_diffusion_model, clip_skip, sampler_name, width,
  height, num_inference_steps, guidance_scale, ...) or the same keys as JSON in UserComment.
- Draw Things: XMP whose `exif:UserComment` holds JSON with c (prompt), uc (negative), seed,
  steps, scale, sampler, model, size `"512x768"`.
"""

from __future__ import annotations

import html
import itertools
from typing import Any

from gallery.foreign import (
    ForeignResult,
    _float,
    _int,
    _put,
    _strip_extension,
    k_sampler_name,
)

# Sampler names of InvokeAI 2.x (`k_lms`), NovelAI (`k_euler_ancestral`) and Easy Diffusion
# (`euler_a`) as A1111 names them; others are kept as written.
_K_SAMPLERS = {
    "k_lms": "LMS",
    "k_euler": "Euler",
    "k_euler_a": "Euler a",
    "k_euler_ancestral": "Euler a",
    "k_heun": "Heun",
    "k_dpm_2": "DPM2",
    "k_dpm_2_a": "DPM2 a",
    "k_dpm_2_ancestral": "DPM2 a",
    "k_dpmpp_2s_ancestral": "DPM++ 2S a",
    "k_dpmpp_2m": "DPM++ 2M",
    "k_dpmpp_sde": "DPM++ SDE",
    "ddim": "DDIM",
    "ddim_v3": "DDIM",
    "plms": "PLMS",
    "lms": "LMS",
    "euler": "Euler",
    "euler_a": "Euler a",
    "euler_ancestral": "Euler a",
    "heun": "Heun",
    "dpm2": "DPM2",
    "dpm2_a": "DPM2 a",
    "dpmpp_2s_a": "DPM++ 2S a",
    "dpmpp_2m": "DPM++ 2M",
    "dpmpp_sde": "DPM++ SDE",
    "dpm_fast": "DPM fast",
    "dpm_adaptive": "DPM adaptive",
    "deis": "DEIS",
    "unipc": "UniPC",
    "lcm": "LCM",
}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _size_pair(text: Any) -> tuple[int, int] | None:
    """`(1152, 896)`, `1152x896` or `1152*896` as two numbers (never `eval`)."""
    if not isinstance(text, str):
        return None
    digits = "".join(c if c.isdigit() else " " for c in text).split()
    if len(digits) != 2 or any(len(d) > 6 for d in digits):
        return None
    return int(digits[0]), int(digits[1])


def _rest(data: dict[str, Any], used: set[str]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key not in used}


# --- Fooocus -----------------------------------------------------------------------------------


def is_fooocus_json(data: Any) -> bool:
    """Whether a JSON document is Fooocus's own metadata scheme."""
    if not isinstance(data, dict):
        return False
    version = data.get("version")
    return data.get("metadata_scheme") == "fooocus" or (
        isinstance(version, str) and version.startswith("Fooocus")
    )


def parse_fooocus(data: Any) -> ForeignResult | None:
    """Fooocus's JSON scheme; the prompt is the one typed (styles and expansion in `extra`)."""
    if not isinstance(data, dict) or not isinstance(data.get("prompt"), str):
        return None
    settings: dict[str, Any] = {}
    _put(settings, "seed", _int(data.get("seed")))
    _put(settings, "steps", _int(data.get("steps")))
    _put(settings, "guidance_scale", _float(data.get("guidance_scale")))
    size = _size_pair(data.get("resolution"))
    if size:
        settings["width"], settings["height"] = size
    _put(settings, "scheduler", k_sampler_name(data.get("sampler"), data.get("scheduler")))
    model = data.get("base_model")
    if isinstance(model, str) and model not in ("", "None"):
        settings["model_id"] = _strip_extension(model)
    _put(settings, "model_hash", data.get("base_model_hash") or None)
    _put(settings, "clip_skip", _int(data.get("clip_skip")))
    used = {
        "prompt", "negative_prompt", "seed", "steps", "guidance_scale", "resolution",
        "sampler", "scheduler", "base_model", "base_model_hash", "clip_skip",
    }  # fmt: skip
    return data["prompt"], _text(data.get("negative_prompt")), settings, _rest(data, used)


# --- NovelAI -----------------------------------------------------------------------------------


def parse_novelai(chunks: dict[str, Any], comment: Any) -> ForeignResult | None:
    """NovelAI's chunks (`Software`, `Description`, `Source`) with the `Comment` JSON."""
    if chunks.get("Software") != "NovelAI" or not isinstance(comment, dict):
        return None
    prompt = comment.get("prompt")
    if not isinstance(prompt, str):
        prompt = _v4_caption(comment.get("v4_prompt")) or _text(chunks.get("Description"))
    negative = comment.get("uc")
    if not isinstance(negative, str):
        negative = _v4_caption(comment.get("v4_negative_prompt"))
    settings: dict[str, Any] = {}
    _put(settings, "seed", _int(comment.get("seed")))
    _put(settings, "steps", _int(comment.get("steps")))
    _put(settings, "guidance_scale", _float(comment.get("scale")))
    _put(settings, "width", _int(comment.get("width")))
    _put(settings, "height", _int(comment.get("height")))
    sampler = comment.get("sampler")
    if isinstance(sampler, str):
        base = _K_SAMPLERS.get(sampler, sampler)
        schedule = comment.get("noise_schedule")
        settings["scheduler"] = base + (" Karras" if schedule == "karras" else "")
    source = chunks.get("Source")
    if isinstance(source, str) and source.strip():
        name, _, tail = source.strip().rpartition(" ")
        if name and tail.isalnum() and tail.upper() == tail and len(tail) >= 6:
            settings["model_id"], settings["model_hash"] = name, tail
        else:
            settings["model_id"] = source.strip()
    used = {"prompt", "uc", "seed", "steps", "scale", "width", "height", "sampler"}
    extra = _rest(comment, used)
    characters = _v4_characters(comment.get("v4_prompt"))
    if characters:
        extra["characters"] = characters
    return prompt, _text(negative), settings, extra


def _v4_caption(v4: Any) -> str:
    """The base caption of a NovelAI V4 `v4_prompt` / `v4_negative_prompt` object."""
    caption = v4.get("caption") if isinstance(v4, dict) else None
    base = caption.get("base_caption") if isinstance(caption, dict) else None
    return base if isinstance(base, str) else ""


def _v4_characters(v4: Any) -> list[str]:
    """The character prompts of a NovelAI V4 `v4_prompt`, in order (their places dropped)."""
    caption = v4.get("caption") if isinstance(v4, dict) else None
    chars = caption.get("char_captions") if isinstance(caption, dict) else None
    if not isinstance(chars, list):
        return []
    texts = (c.get("char_caption") for c in chars if isinstance(c, dict))
    return [t for t in texts if isinstance(t, str) and t.strip()]


# --- SwarmUI -----------------------------------------------------------------------------------


def parse_swarmui(data: Any) -> ForeignResult | None:
    """SwarmUI's `sui_image_params` document."""
    if not isinstance(data, dict) or not isinstance(data.get("sui_image_params"), dict):
        return None
    params = data["sui_image_params"]
    settings: dict[str, Any] = {}
    _put(settings, "seed", _int(params.get("seed")))
    _put(settings, "steps", _int(params.get("steps")))
    _put(settings, "guidance_scale", _float(params.get("cfgscale")))
    flux_guidance = _float(params.get("fluxguidancescale"))
    if flux_guidance is not None:  # FLUX: distilled guidance; a CFG above 1 is true CFG
        cfg = settings.pop("guidance_scale", None)
        settings["guidance_scale"] = flux_guidance
        if cfg is not None and cfg > 1:
            settings["true_cfg_scale"] = cfg
    _put(settings, "shift", _float(params.get("sigmashift")))
    _put(settings, "width", _int(params.get("width")))
    _put(settings, "height", _int(params.get("height")))
    sampler = params.get("sampler", params.get("comfyuisampler"))
    _put(settings, "scheduler", k_sampler_name(sampler, params.get("scheduler")))
    model = params.get("model")
    if isinstance(model, str) and model:
        settings["model_id"] = _strip_extension(model)
    stop = _int(params.get("clipstopatlayer"))
    if stop is not None and stop < 0:
        settings["clip_skip"] = -stop
    used = {
        "prompt", "negativeprompt", "seed", "steps", "cfgscale", "width", "height",
        "sampler", "comfyuisampler", "scheduler", "model", "clipstopatlayer",
        "fluxguidancescale", "sigmashift",
    }  # fmt: skip
    extra = _rest(params, used)
    if isinstance(data.get("sui_extra_data"), dict):
        extra["sui_extra_data"] = data["sui_extra_data"]
    return _text(params.get("prompt")), _text(params.get("negativeprompt")), settings, extra


# --- InvokeAI 2.x ------------------------------------------------------------------------------


def split_invokeai2_prompt(text: str) -> tuple[str, str]:
    """InvokeAI 2.x prompt text into (prompt, negative): `[...]` parts are negative words."""
    positive: list[str] = []
    negative: list[str] = []
    position = 0
    while position < len(text):
        start = text.find("[", position)
        end = text.find("]", start + 1) if start >= 0 else -1
        if start < 0 or end < 0:
            positive.append(text[position:])
            break
        positive.append(text[position:start])
        negative.append(text[start + 1 : end])
        position = end + 1
    kept = [part.strip(" ,") for part in positive]
    dropped = [part.strip(" ,") for part in negative]
    return ", ".join(p for p in kept if p), ", ".join(n for n in dropped if n)


def parse_invokeai_sd_metadata(data: Any) -> ForeignResult | None:
    """InvokeAI 2.x's `sd-metadata` JSON."""
    if not isinstance(data, dict) or not isinstance(data.get("image"), dict):
        return None
    image = data["image"]
    prompts = image.get("prompt")
    if isinstance(prompts, list):
        text = " ".join(_text(p.get("prompt")) for p in prompts if isinstance(p, dict))
    elif isinstance(prompts, str):
        text = prompts
    else:
        return None
    prompt, negative = split_invokeai2_prompt(text)
    settings: dict[str, Any] = {}
    _put(settings, "seed", _int(image.get("seed")))
    _put(settings, "steps", _int(image.get("steps")))
    _put(settings, "guidance_scale", _float(image.get("cfg_scale")))
    _put(settings, "width", _int(image.get("width")))
    _put(settings, "height", _int(image.get("height")))
    sampler = image.get("sampler")
    if isinstance(sampler, str):
        settings["scheduler"] = _K_SAMPLERS.get(sampler, sampler)
    _put(settings, "model_id", data.get("model_weights") or None)
    _put(settings, "model_hash", data.get("model_hash") or None)
    used = {"prompt", "seed", "steps", "cfg_scale", "width", "height", "sampler"}
    extra = _rest(image, used)
    extra.update(_rest(data, {"image", "model_weights", "model_hash"}))
    return prompt, negative, settings, extra


_DREAM_SWITCHES = {
    "s": ("steps", _int),
    "S": ("seed", _int),
    "W": ("width", _int),
    "H": ("height", _int),
    "C": ("guidance_scale", _float),
}


def parse_invokeai_dream(text: Any) -> ForeignResult | None:
    """InvokeAI 2.x's `Dream` command line: a quoted prompt, then `-x value` switches."""
    if not isinstance(text, str) or not text.startswith('"'):
        return None
    close = text.find('"', 1)
    while close >= 0 and close + 1 < len(text) and not text[close + 1 :].lstrip().startswith("-"):
        close = text.find('"', close + 1)
    if close < 0:
        return None
    prompt, negative = split_invokeai2_prompt(text[1:close])
    settings: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    words = text[close + 1 :].split()
    for flag, value in itertools.pairwise(words):
        if not flag.startswith("-") or value.startswith("-"):
            continue
        name = flag.lstrip("-")
        if name in _DREAM_SWITCHES:
            key, convert = _DREAM_SWITCHES[name]
            _put(settings, key, convert(value))
        elif name == "A":
            settings["scheduler"] = _K_SAMPLERS.get(value, value)
        else:
            extra[name] = value
    return prompt, negative, settings, extra


# --- Easy Diffusion ----------------------------------------------------------------------------

_EASY_MARKER = "use_stable_diffusion_model"  # its own name; `num_inference_steps` is diffusers'


def is_easy_diffusion(data: Any) -> bool:
    """Whether a key-value mapping is Easy Diffusion's embedded metadata."""
    return isinstance(data, dict) and _EASY_MARKER in data


def parse_easy_diffusion(data: dict[str, Any]) -> ForeignResult | None:
    """Easy Diffusion's keys (values may be text, as in its PNG chunks)."""
    if not is_easy_diffusion(data) or not isinstance(data.get("prompt"), str):
        return None
    settings: dict[str, Any] = {}
    _put(settings, "seed", _int(data.get("seed")))
    _put(settings, "steps", _int(data.get("num_inference_steps")))
    _put(settings, "guidance_scale", _float(data.get("guidance_scale")))
    _put(settings, "width", _int(data.get("width")))
    _put(settings, "height", _int(data.get("height")))
    sampler = data.get("sampler_name")
    if isinstance(sampler, str):
        settings["scheduler"] = _K_SAMPLERS.get(sampler, sampler)
    model = data.get("use_stable_diffusion_model")
    if isinstance(model, str) and model:
        settings["model_id"] = _strip_extension(model)
    _put(settings, "clip_skip", _int(data.get("clip_skip")))
    used = {
        "prompt", "negative_prompt", "seed", "num_inference_steps", "guidance_scale",
        "width", "height", "sampler_name", "use_stable_diffusion_model", "clip_skip",
    }  # fmt: skip
    negative = _text(data.get("negative_prompt"))
    return data["prompt"], negative, settings, _rest(data, used)


# --- Draw Things -------------------------------------------------------------------------------


def xmp_user_comment(xmp: str) -> str | None:
    """The text of `exif:UserComment` in an XMP packet (found by plain search, no XML parser:
    no entity expansion, linear)."""
    start = xmp.find("<exif:UserComment")
    if start < 0:
        return None
    end = xmp.find("</exif:UserComment>", start)
    if end < 0:
        return None
    inner = xmp[start:end]
    item = inner.find("<rdf:li")
    if item >= 0:
        open_end = inner.find(">", item)
        close = inner.find("</rdf:li>", open_end)
        if open_end < 0 or close < 0:
            return None
        return html.unescape(inner[open_end + 1 : close])
    open_end = inner.find(">")
    return html.unescape(inner[open_end + 1 :]) if open_end >= 0 else None


def parse_draw_things(data: Any) -> ForeignResult | None:
    """Draw Things' JSON (from XMP `exif:UserComment`)."""
    if not isinstance(data, dict) or not isinstance(data.get("c"), str):
        return None
    settings: dict[str, Any] = {}
    _put(settings, "seed", _int(data.get("seed")))
    _put(settings, "steps", _int(data.get("steps")))
    _put(settings, "guidance_scale", _float(data.get("scale")))
    size = _size_pair(data.get("size"))
    if size:
        settings["width"], settings["height"] = size
    _put(settings, "scheduler", data.get("sampler") or None)
    model = data.get("model")
    if isinstance(model, str) and model:
        settings["model_id"] = _strip_extension(model)
    used = {"c", "uc", "seed", "steps", "scale", "size", "sampler", "model"}
    return data["c"], _text(data.get("uc")), settings, _rest(data, used)
