r"""AUTOMATIC1111 "infotext": the `parameters` PNG text chunk, written and read as A1111 does.

    a red fox in the snow, (masterpiece:1.2)
    Negative prompt: blurry, lowres
    Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 42, Size: 512x512,
    Model hash: 6ce0161689, Model: v1-5-pruned-emaonly

(the last line is one line). The prompt and the negative prompt may span several lines; the
negative part is absent when empty. A value containing `,`, `:` or a newline is written as a
JSON string (`Model: "my, model"`). Parsing follows A1111's `parse_generation_parameters`: the
last line holds the parameters when at least three `key: value` pairs are found on it.

A1111 finds the pairs with the regular expression
`\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)`, which backtracks: a long line
without `key:` costs quadratic time (17 s for 64 KB). `find_params` returns exactly what that
expression's `findall` returns, in one pass.

FLUX images are written as Forge writes them: `CFG scale` is the real CFG (1: off; our true
CFG), `Distilled CFG Scale` the distilled guidance, and the schedule of a flow model's own
sigmas is `Simple`; `Shift` and `Max sequence length` follow when they were set.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

NEGATIVE_PREFIX = "Negative prompt:"
PARAMS_START = "Steps:"  # A1111 (and Forge, Fooocus, ours) write Steps first
_SIZE = re.compile(r"^\s*(\d+)\s*x\s*(\d+)\s*$")
# A1111's "Schedule type" labels that our scheduler names carry as a suffix.
SCHEDULE_TYPES = ("Karras", "Exponential", "SGM Uniform", "Beta")

# Keys turned into settings; any other key is kept as it was in `extra`.
KNOWN_KEYS = (
    "Steps",
    "Sampler",
    "Schedule type",
    "CFG scale",
    "Clip skip",
    "Seed",
    "Size",
    "Model hash",
    "Model",
    "Distilled CFG Scale",
    "Shift",
    "Max sequence length",
)


@dataclass(frozen=True)
class Infotext:
    """A parsed infotext: prompts and the parameters in their order (values unquoted)."""

    prompt: str
    negative_prompt: str
    params: dict[str, str] = field(default_factory=dict)


def quote(text: str) -> str:
    """Quote a value as A1111 does: JSON string only if it holds `,`, `:` or a newline."""
    if "," not in text and ":" not in text and "\n" not in text:
        return text
    return json.dumps(text, ensure_ascii=False)


def unquote(text: str) -> str:
    """Undo `quote`; a value that is not valid JSON is returned as it is."""
    if len(text) < 2 or not (text.startswith('"') and text.endswith('"')):
        return text
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text
    return value if isinstance(value, str) else text


def format_number(value: float | int) -> str:
    """`7` for 7.0, `7.5` for 7.5: the short form A1111 shows."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def format_infotext(prompt: str, negative_prompt: str, params: Mapping[str, Any]) -> str:
    """The infotext for prompts and ordered parameters (None values are left out)."""
    pairs = []
    for key, value in params.items():
        if value is None:
            continue
        text = format_number(value) if isinstance(value, (int, float)) else str(value)
        pairs.append(f"{key}: {quote(text)}")
    negative = f"\n{NEGATIVE_PREFIX} {negative_prompt}" if negative_prompt else ""
    return f"{prompt}{negative}\n{', '.join(pairs)}".strip()


def parse_infotext(text: str, *, complete: bool = True) -> Infotext:
    """Split an infotext into prompt, negative prompt and parameters.

    `complete=False` is for a text cut short (`gallery.bounds`): A1111 writes the parameters
    last, beginning with `Steps:`, so the last line is parameters only when it starts so and
    follows a prompt line, and its last pair (cut in the middle) is left out; any other last
    line is prompt (or negative prompt) text, however many `key: value` pairs it holds.
    """
    *lines, last_line = text.strip().replace("\r\n", "\n").split("\n")
    if complete:
        pairs = find_params(last_line)
        has_params = len(pairs) >= 3
    else:
        has_params = bool(lines) and last_line.startswith(PARAMS_START)
        pairs = find_params(last_line)[:-1] if has_params else []
    if not has_params:
        lines.append(last_line)
        pairs = []
    prompt_lines: list[str] = []
    negative_lines: list[str] = []
    in_negative = False
    for line in lines:
        stripped = line.strip()
        if not in_negative and stripped.startswith(NEGATIVE_PREFIX):
            in_negative = True
            stripped = stripped[len(NEGATIVE_PREFIX) :].strip()
        (negative_lines if in_negative else prompt_lines).append(stripped)
    params = {key: unquote(value.strip()) for key, value in pairs}
    return Infotext("\n".join(prompt_lines), "\n".join(negative_lines), params)


# A maximal run of key characters (its start: the character before is none) holding a word
# character with at least one more character after it, followed by a colon; A1111's key
# starts at that first word character. The rest of the run is taken by an atomic lookahead,
# so nothing backtracks and each run is matched once.
_KEY_RUN = re.compile(r"(?<![\w \-/])[ \-/]*(?P<key>\w(?=([\w \-/]+))\2):")
_SPACES = re.compile(r"\s*")
# A JSON-quoted value: its alternatives start differently, so a failed match costs one pass.
_QUOTED = re.compile(r'"(?:\\.|[^\\"])+"')


def find_params(line: str) -> list[tuple[str, str]]:
    """The `(key, raw value)` pairs of an infotext parameters line, as A1111 finds them.

    Linear in the line: every character is looked at a bounded number of times.
    """
    pairs: list[tuple[str, str]] = []
    position = 0
    while True:
        run = _KEY_RUN.search(line, position)
        if run is None:
            return pairs
        value, position = _value_at(line, run.end())
        pairs.append((run.group("key"), value))


def _value_at(line: str, position: int) -> tuple[str, int]:
    """The raw value starting at `position` (after the colon) and where the next pair starts."""
    size = len(line)
    position = _SPACES.match(line, position).end()
    quoted = _QUOTED.match(line, position)
    if quoted is not None and (quoted.end() == size or line[quoted.end()] == ","):
        return quoted.group(), quoted.end() + 1
    comma = line.find(",", position)
    if comma < 0:
        return line[position:], size
    return line[position:comma], comma + 1


def scheduler_to_a1111(scheduler: str) -> tuple[str, str]:
    """Our scheduler name as A1111 (Sampler, Schedule type): `DPM++ 2M Karras` -> (`DPM++ 2M`,
    `Karras`)."""
    for schedule_type in SCHEDULE_TYPES:
        suffix = f" {schedule_type}"
        if scheduler.endswith(suffix):
            return scheduler[: -len(suffix)], schedule_type
    return scheduler, "Automatic"


def scheduler_from_a1111(sampler: str, schedule_type: str | None) -> str:
    """Our scheduler name from A1111's Sampler and Schedule type (old files have no type and
    may carry it in the sampler's name, as `DPM++ 2M Karras`)."""
    label = _schedule_label(schedule_type)
    if label is None or sampler.lower().endswith(f" {label.lower()}"):
        return sampler
    return f"{sampler} {label}"


def _schedule_label(schedule_type: str | None) -> str | None:
    """A1111's label for a known schedule type (any case); None for Automatic or unknown."""
    if not schedule_type:
        return None
    return next((t for t in SCHEDULE_TYPES if t.lower() == schedule_type.strip().lower()), None)


def infotext_params(
    *,
    steps: int | None,
    scheduler: str | None,
    guidance_scale: float | None,
    seed: int | None,
    width: int | None,
    height: int | None,
    model_hash: str | None,
    model: str | None,
    clip_skip: int | None = None,
    extra: Mapping[str, Any] | None = None,
    distilled_cfg_scale: float | None = None,
    own_schedule: str = "Automatic",
) -> dict[str, Any]:
    """The parameters of an infotext in A1111's order, from our settings.

    As A1111, "Clip skip" is written only when it is above 1 (1 is the default). For FLUX,
    `guidance_scale` is the real CFG and `distilled_cfg_scale` the distilled guidance, as Forge
    writes them; `own_schedule` names the model's own schedule (Forge's `Simple` for flow
    models).
    """
    sampler, schedule_type = scheduler_to_a1111(scheduler) if scheduler else (None, None)
    if schedule_type == "Automatic":
        schedule_type = own_schedule
    params: dict[str, Any] = {
        "Steps": steps,
        "Sampler": sampler,
        "Schedule type": schedule_type,
        "CFG scale": guidance_scale,
        "Distilled CFG Scale": distilled_cfg_scale,
        "Seed": seed,
        "Size": f"{width}x{height}" if width and height else None,
        "Model hash": model_hash,
        "Model": model,
        "Clip skip": clip_skip if clip_skip and clip_skip > 1 else None,
    }
    params.update(extra or {})
    return params


def settings_from_params(params: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """(settings, extra): our settings from known keys; unknown or unreadable keys in `extra`.

    Settings use our names: steps, scheduler, guidance_scale, seed, width, height, model_id,
    model_hash, clip_skip, shift, max_sequence_length. Forge's FLUX pair reads as ours: its
    `Distilled CFG Scale` is the guidance scale and its `CFG scale` the true CFG.
    """
    settings: dict[str, Any] = {}
    extra: dict[str, str] = {}
    for key, value in params.items():
        if key not in KNOWN_KEYS or not _read_known(key, value, settings):
            extra[key] = value
    if "distilled_cfg_scale" in settings:
        cfg = settings.pop("guidance_scale", None)
        settings["guidance_scale"] = settings.pop("distilled_cfg_scale")
        if cfg is not None:
            settings["true_cfg_scale"] = cfg
    sampler = params.get("Sampler")
    if sampler:
        schedule_type = params.get("Schedule type")
        settings["scheduler"] = scheduler_from_a1111(sampler, schedule_type)
        known = _schedule_label(schedule_type) is not None
        if schedule_type and schedule_type.strip().lower() != "automatic" and not known:
            extra["Schedule type"] = schedule_type
    return settings, extra


def _read_known(key: str, value: str, settings: dict[str, Any]) -> bool:
    """Store a known key's value in `settings`; False if the value cannot be read."""
    try:
        if key == "Steps":
            settings["steps"] = int(value)
        elif key == "CFG scale":
            scale = float(value)
            if not math.isfinite(scale):  # "1e309", "nan": kept as text, never as a number
                return False
            settings["guidance_scale"] = scale
        elif key == "Seed":
            settings["seed"] = int(value)
        elif key == "Size":
            match = _SIZE.match(value)
            if match is None:
                return False
            settings["width"], settings["height"] = int(match[1]), int(match[2])
        elif key == "Model hash":
            settings["model_hash"] = value
        elif key == "Model":
            settings["model_id"] = value
        elif key == "Clip skip":
            settings["clip_skip"] = int(value)
        elif key in ("Distilled CFG Scale", "Shift"):
            number = float(value)
            if not math.isfinite(number):
                return False
            settings["distilled_cfg_scale" if key.startswith("Distilled") else "shift"] = number
        elif key == "Max sequence length":
            settings["max_sequence_length"] = int(value)
    except ValueError:
        return False
    return True
