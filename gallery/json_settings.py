"""JSON settings from a tool the file does not name: read, never labelled.

A flat JSON object with a prompt and at least one setting under the names scripts and small
tools use (`num_inference_steps`, `cfg_scale`, `"resolution": "1024 x 1024"`, `sampler`,
`model`) is read as such; the tool is given as unnamed, because a tool is named only from
what the file holds (`gallery.image_reader`). Returns `(prompt, negative_prompt, settings,
extra)` like `gallery.foreign`.
"""

from __future__ import annotations

from typing import Any

from gallery.foreign import ForeignResult, _float, _int, _strip_extension, k_sampler_name
from gallery.peer_formats import _K_SAMPLERS, _rest, _size_pair, _text

_PROMPT_KEYS = ("prompt", "positive_prompt", "positive")
_NEGATIVE_KEYS = ("negative_prompt", "negative", "negativeprompt", "uc")
_STEPS_KEYS = ("steps", "num_inference_steps")
_GUIDANCE_KEYS = ("guidance_scale", "cfg_scale", "cfg", "cfgscale", "scale")
_SAMPLER_KEYS = ("sampler", "sampler_name", "scheduler")
_MODEL_KEYS = ("model", "model_name", "checkpoint", "base_model")
_SETTING_KEYS = (
    *_STEPS_KEYS, *_GUIDANCE_KEYS, *_SAMPLER_KEYS, *_MODEL_KEYS,
    "seed", "width", "height", "resolution", "size",
)  # fmt: skip


def _first(data: dict[str, Any], keys: tuple[str, ...]) -> tuple[str | None, Any]:
    for key in keys:
        if key in data:
            return key, data[key]
    return None, None


def parse_json_settings(data: Any) -> ForeignResult | None:
    """A flat JSON object with a prompt and at least one known setting, from a tool the file
    does not name; None for anything else (an object without a prompt is no settings)."""
    if not isinstance(data, dict):
        return None
    prompt_key, prompt = _first(data, _PROMPT_KEYS)
    if not isinstance(prompt, str) or not any(key in data for key in _SETTING_KEYS):
        return None
    used = {key for key in (prompt_key,) if key}
    negative_key, negative = _first(data, _NEGATIVE_KEYS)
    used.update(k for k in (negative_key,) if k)
    settings: dict[str, Any] = {}
    for name, keys, read in (
        ("steps", _STEPS_KEYS, _int),
        ("guidance_scale", _GUIDANCE_KEYS, _float),
        ("seed", ("seed",), _int),
        ("width", ("width",), _int),
        ("height", ("height",), _int),
    ):
        key, value = _first(data, keys)
        if key is not None and read(value) is not None:
            settings[name] = read(value)
            used.add(key)
    key, value = _first(data, ("resolution", "size"))
    size = _size_pair(value)
    if size is not None and "width" not in settings and "height" not in settings:
        settings["width"], settings["height"] = size
        used.add(str(key))
    key, value = _first(data, _SAMPLER_KEYS)
    if isinstance(value, str) and value:
        settings["scheduler"] = _K_SAMPLERS.get(value) or k_sampler_name(value)
        used.add(str(key))
    key, value = _first(data, _MODEL_KEYS)
    if isinstance(value, str) and value not in ("", "None"):
        settings["model_id"] = _strip_extension(value)
        used.add(str(key))
    return prompt, _text(negative), settings, _rest(data, used)
