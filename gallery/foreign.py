"""Best-effort readers for other tools' PNG metadata: InvokeAI (ComfyUI's graph is read by
`gallery.comfyui`), and the helpers every foreign reader shares.

Each returns `(prompt, negative_prompt, settings, extra)` with settings named as ours (steps,
scheduler, guidance_scale, seed, width, height, model_id, model_hash); what cannot be mapped is
left out of settings and, where useful, kept in `extra`.

- InvokeAI (3.x to 5.x) writes an `invokeai_metadata` JSON chunk: `positive_prompt`,
  `negative_prompt`, `seed`, `steps`, `cfg_scale`, `scheduler` (e.g. `dpmpp_2m_k`), `width`,
  `height` and `model` (an object with `name` and `hash`, or a plain name in old versions).
"""

from __future__ import annotations

import math
from typing import Any

ForeignResult = tuple[str, str, dict[str, Any], dict[str, Any]]

# InvokeAI 3-5's scheduler names (invokeai/backend/stable_diffusion/schedulers) as A1111's.
_INVOKE_SCHEDULERS = {
    "ddim": "DDIM",
    "ddpm": "DDPM",
    "deis": "DEIS",
    "lms": "LMS",
    "lms_k": "LMS Karras",
    "pndm": "PLMS",
    "heun": "Heun",
    "heun_k": "Heun Karras",
    "euler": "Euler",
    "euler_k": "Euler Karras",
    "euler_a": "Euler a",
    "kdpm_2": "DPM2",
    "kdpm_2_k": "DPM2 Karras",
    "kdpm_2_a": "DPM2 a",
    "kdpm_2_a_k": "DPM2 a Karras",
    "dpmpp_2s": "DPM++ 2S",
    "dpmpp_2s_k": "DPM++ 2S Karras",
    "dpmpp_sde": "DPM++ SDE",
    "dpmpp_sde_k": "DPM++ SDE Karras",
    "dpmpp_2m": "DPM++ 2M",
    "dpmpp_2m_k": "DPM++ 2M Karras",
    "dpmpp_2m_sde": "DPM++ 2M SDE",
    "dpmpp_2m_sde_k": "DPM++ 2M SDE Karras",
    "dpmpp_3m": "DPM++ 3M",
    "dpmpp_3m_k": "DPM++ 3M Karras",
    "unipc": "UniPC",
    "unipc_k": "UniPC Karras",
    "lcm": "LCM",
    "tcd": "TCD",
}
# ComfyUI's (k-diffusion) sampler names as A1111 names them (as Fooocus's flags.KSAMPLER and
# SAMPLER_EXTRA map them for its A1111 scheme), and its schedulers as A1111's Schedule type.
K_SAMPLERS = {
    "euler": "Euler",
    "euler_ancestral": "Euler a",
    "heun": "Heun",
    "dpm_2": "DPM2",
    "dpm_2_ancestral": "DPM2 a",
    "lms": "LMS",
    "dpm_fast": "DPM fast",
    "dpm_adaptive": "DPM adaptive",
    "dpmpp_2s_ancestral": "DPM++ 2S a",
    "dpmpp_sde": "DPM++ SDE",
    "dpmpp_sde_gpu": "DPM++ SDE",
    "dpmpp_2m": "DPM++ 2M",
    "dpmpp_2m_sde": "DPM++ 2M SDE",
    "dpmpp_2m_sde_gpu": "DPM++ 2M SDE",
    "dpmpp_3m_sde": "DPM++ 3M SDE",
    "dpmpp_3m_sde_gpu": "DPM++ 3M SDE",
    "lcm": "LCM",
    "ddim": "DDIM",
    "uni_pc": "UniPC",
    "deis": "DEIS",
}
K_SCHEDULES = {
    "normal": "",
    "simple": "",  # the model's own linear schedule (what flow models use by default)
    "karras": " Karras",
    "exponential": " Exponential",
    "sgm_uniform": " SGM Uniform",
    "beta": " Beta",
}


def k_sampler_name(sampler: Any, schedule: Any = None) -> str | None:
    """A ComfyUI-style sampler and scheduler as one A1111-style name (`dpmpp_2m` + `karras` ->
    `DPM++ 2M Karras`); names we do not know are kept as written."""
    if not isinstance(sampler, str) or not sampler:
        return None
    schedule = schedule if isinstance(schedule, str) and schedule else "normal"
    base = K_SAMPLERS.get(sampler)
    if base is None or schedule not in K_SCHEDULES:
        return sampler if schedule == "normal" else f"{sampler} {schedule}"
    return base + K_SCHEDULES[schedule]


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _float(value: Any) -> float | None:
    """A finite number from a JSON value or its text; None for anything else (1e309, NaN)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _put(settings: dict[str, Any], key: str, value: Any) -> None:
    if value is not None and value != "":
        settings[key] = value


def parse_invokeai(data: Any) -> ForeignResult | None:
    """Read an `invokeai_metadata` document; None if it has no prompt."""
    if not isinstance(data, dict):
        return None
    prompt = data.get("positive_prompt", data.get("prompt"))
    if isinstance(prompt, list):  # very old versions: [{"prompt": ..., "weight": ...}]
        prompt = " ".join(p.get("prompt", "") for p in prompt if isinstance(p, dict))
    if not isinstance(prompt, str):
        return None
    negative = data.get("negative_prompt") or ""
    settings: dict[str, Any] = {}
    _put(settings, "seed", _int(data.get("seed")))
    _put(settings, "steps", _int(data.get("steps")))
    _put(settings, "guidance_scale", _float(data.get("cfg_scale")))
    _put(settings, "width", _int(data.get("width")))
    _put(settings, "height", _int(data.get("height")))
    scheduler = data.get("scheduler")
    if isinstance(scheduler, str):
        settings["scheduler"] = _INVOKE_SCHEDULERS.get(scheduler, scheduler)
    model = data.get("model")
    if isinstance(model, dict):
        _put(settings, "model_id", model.get("name") or model.get("model_name"))
        _put(settings, "model_hash", model.get("hash"))
    elif isinstance(model, str):
        settings["model_id"] = model
    clip_skip = _int(data.get("clip_skip"))
    if clip_skip:  # InvokeAI counts layers skipped: 0 is none, 1 is A1111's "Clip skip: 2"
        settings["clip_skip"] = clip_skip + 1
    known = {
        "positive_prompt",
        "prompt",
        "negative_prompt",
        "seed",
        "steps",
        "cfg_scale",
        "width",
        "height",
        "scheduler",
        "model",
        "clip_skip",
    }
    extra = {key: value for key, value in data.items() if key not in known}
    return prompt, negative if isinstance(negative, str) else "", settings, extra


def _strip_extension(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    for extension in (".safetensors", ".ckpt", ".pt", ".bin", ".gguf"):
        if base.lower().endswith(extension):
            return base[: -len(extension)]
    return base
