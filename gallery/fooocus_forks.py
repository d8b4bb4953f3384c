"""Readers for two Fooocus forks: FooocusPlus and RuinedFooocus.

- FooocusPlus (modules/private_logger.py `log`, modules/meta_parser.py
  `SIMPLEMetadataParser.to_string`): its "simple" scheme is one JSON object keyed by the log's
  labels (`Prompt`, `Negative Prompt`, `Fooocus V2 Expansion`, `Styles`, `Performance`,
  `Steps`, `Resolution` `"(1152, 896)"`, `Guidance Scale`, `Base Model`, `Base Model Hash`,
  `CLIP Skip`, `Sampler`, `Scheduler`, `Seed` (text), `Full Prompt`, `Metadata Scheme`
  `"Fooocus"`, `Backend Engine`, `Preset`, `Version`, ...), keys sorted. A PNG keeps it in a
  `Comment` text chunk; a JPEG or WebP in IFD0 UserComment, with Software
  `"FooocusPlus <version>, Preset: <name>"` and MakerNote `"simple"`.
- RuinedFooocus (modules/sdxl_pipeline.py): `parameters` is JSON with `Prompt`, `Negative`,
  `steps`, `cfg`, `width`, `height`, `seed`, `sampler_name`, `scheduler`,
  `base_model_name`, `base_model_hash`, `loras`, `clip_skip` and `"software":
  "RuinedFooocus"`.
Each reader returns `(prompt, negative_prompt, settings, extra)` like `gallery.foreign`.
"""

from __future__ import annotations

from typing import Any

from gallery.foreign import ForeignResult, _float, _int, _put, _strip_extension, k_sampler_name
from gallery.peer_formats import _rest, _text, parse_fooocus

FOOOCUS_SCHEMES = ("fooocus", "simple")
"""What Fooocus (`fooocus`) and FooocusPlus (`simple`) write as their JSON scheme's name."""


def fooocus_keys(data: dict[str, Any]) -> dict[str, Any]:
    """A Fooocus-family document with its labels as Fooocus's own keys (`Negative Prompt` ->
    `negative_prompt`, `CLIP Skip` -> `clip_skip`); a document already keyed so is unchanged."""
    return {str(key).strip().lower().replace(" ", "_"): value for key, value in data.items()}


def is_fooocus_labels(data: Any) -> bool:
    """Whether a JSON document is Fooocus-family metadata keyed by its log's labels (what
    FooocusPlus's "simple" scheme writes): a `Metadata Scheme` of Fooocus, or the labels only
    Fooocus's log has."""
    if not isinstance(data, dict) or not isinstance(data.get("Prompt"), str):
        return False
    scheme = data.get("Metadata Scheme")
    if isinstance(scheme, str) and scheme.lower() in FOOOCUS_SCHEMES:
        return True
    return "Fooocus V2 Expansion" in data and "Performance" in data


def parse_fooocus_labels(data: Any) -> ForeignResult | None:
    """FooocusPlus's "simple" scheme (see the module docstring) read as Fooocus's JSON."""
    if not is_fooocus_labels(data):
        return None
    return parse_fooocus(fooocus_keys(data))


# --- RuinedFooocus -----------------------------------------------------------------------------


def is_ruined_fooocus(data: Any) -> bool:
    """Whether a JSON document says it is RuinedFooocus's."""
    return isinstance(data, dict) and data.get("software") == "RuinedFooocus"


def parse_ruined_fooocus(data: Any) -> ForeignResult | None:
    """RuinedFooocus's `parameters` JSON; None if it is not that or has no prompt."""
    if not is_ruined_fooocus(data):
        return None
    prompt = data.get("Prompt", data.get("prompt"))
    if not isinstance(prompt, str):
        return None
    settings: dict[str, Any] = {}
    _put(settings, "seed", _int(data.get("seed")))
    _put(settings, "steps", _int(data.get("steps")))
    _put(settings, "guidance_scale", _float(data.get("cfg")))
    _put(settings, "width", _int(data.get("width")))
    _put(settings, "height", _int(data.get("height")))
    _put(settings, "scheduler", k_sampler_name(data.get("sampler_name"), data.get("scheduler")))
    model = data.get("base_model_name")
    if isinstance(model, str) and model not in ("", "None"):
        settings["model_id"] = _strip_extension(model)
    _put(settings, "model_hash", data.get("base_model_hash") or None)
    clip_skip = _int(data.get("clip_skip"))
    if clip_skip is not None and clip_skip > 1:  # 1 is CLIP's last layer: no skip, as A1111
        settings["clip_skip"] = clip_skip
    used = {
        "Prompt", "prompt", "Negative", "seed", "steps", "cfg", "width", "height",
        "sampler_name", "scheduler", "base_model_name", "base_model_hash", "clip_skip",
    }  # fmt: skip
    return prompt, _text(data.get("Negative")), settings, _rest(data, used)
