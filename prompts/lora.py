"""A1111's LoRA syntax in prompts: `<lora:name>` or `<lora:name:weight>` (a second weight, as
in `<lora:name:0.8:0.5>`, is A1111's text-encoder/UNet split; we read the first for both).

`extract_loras` removes every tag from the text (what the text encoder sees) and returns the
LoRAs named, in order, one entry per name (the last weight written wins). Pure text: the
engine loads the files.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

LORA_TAG = re.compile(r"<lora:([^<>:]+)((?::[^<>:]*){0,2})>", re.IGNORECASE)
_SPACES = re.compile(r"[ \t]{2,}")
_LOOSE_COMMAS = re.compile(r"\s*,(\s*,)+\s*")


class LoraSyntaxError(ValueError):
    """A `<lora:...>` tag whose weight is not a number."""


@dataclass(frozen=True)
class LoraRef:
    """One LoRA named in a prompt, by file name without `.safetensors`."""

    name: str
    weight: float = 1.0


def extract_loras(text: str) -> tuple[str, tuple[LoraRef, ...]]:
    """(text without the tags, the LoRAs it names). `LoraSyntaxError` on a bad weight."""
    found: dict[str, float] = {}
    for match in LORA_TAG.finditer(text):
        name = match.group(1).strip()
        weights = [part for part in match.group(2).split(":")[1:] if part.strip()]
        weight = 1.0
        if weights:
            try:
                weight = float(weights[0])
            except ValueError:
                raise LoraSyntaxError(
                    f"The weight of <lora:{name}:…> must be a number, not {weights[0]!r}."
                ) from None
            if not math.isfinite(weight):
                raise LoraSyntaxError(f"The weight of <lora:{name}:…> must be a finite number.")
        found.pop(name, None)
        found[name] = weight
    if not found:
        return text, ()
    return _tidy(LORA_TAG.sub("", text)), tuple(LoraRef(n, w) for n, w in found.items())


def _tidy(text: str) -> str:
    """Spaces and commas left where tags were removed."""
    text = _LOOSE_COMMAS.sub(", ", text)
    text = _SPACES.sub(" ", text)
    return text.strip().strip(",").strip()
