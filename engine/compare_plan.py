"""What a comparison runs: variants × seeds (× one optional setting axis), as grid cells, and
how cells are grouped into batched pipeline calls.

Cells that share model and every shared setting (size, steps, scheduler, CFG, clip skip, and
SD3/FLUX's T5 length, true CFG and shift) go into one call with one prompt row and one
generator per image; each group is cut into chunks of at most `max_batch` images. Parsing of
the seed list and the `--axis name=v1,v2` text lives here too.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

from engine.errors import InvalidRequestError
from engine.request import (
    MAX_IMAGES,
    MAX_SEED,
    GenerationRequest,
    validate_settings,
    validate_texts,
)
from engine.schedulers import SCHEDULERS
from prompts.weighting import PromptSyntaxError, has_weights

MAX_SEEDS = 16
MAX_CELLS = 128
MAX_AXIS_VALUES = 8
DEFAULT_MAX_BATCH = 8

AXIS_LABELS: dict[str, str] = {
    "cfg": "CFG scale",
    "steps": "Steps",
    "scheduler": "Scheduler",
    "size": "Size",
    "model": "Model",
    "clip_skip": "Clip skip",
    "shift": "Shift",
    "true_cfg": "True CFG",
    "max_sequence_length": "Max sequence length",
}


@dataclass(frozen=True)
class CompareVariant:
    """One column of the grid: its label and the prompts it sends."""

    label: str
    prompt: str
    negative_prompt: str = ""
    removed_term: str | None = None  # what an ablation variant leaves out


@dataclass(frozen=True)
class CompareAxis:
    """A second axis over one setting (`cfg`, `steps`, `scheduler`, `size`, `model`)."""

    name: str
    values: tuple[Any, ...]

    @property
    def label(self) -> str:
        return AXIS_LABELS.get(self.name, self.name)

    def value_text(self, index: int) -> str:
        value = self.values[index]
        return f"{value:g}" if isinstance(value, float) else str(value)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "values": list(self.values)}


@dataclass(frozen=True)
class Cell:
    """One image of the grid: row (seed), column (variant), axis column, and what makes it."""

    seed_index: int
    variant_index: int
    axis_index: int | None
    seed: int
    prompt: str
    negative_prompt: str
    settings: GenerationRequest
    model: str

    def batch_key(self) -> tuple[Any, ...]:
        """Cells with equal keys can share one pipeline call."""
        s = self.settings
        return (
            self.model,
            s.width,
            s.height,
            s.steps,
            s.scheduler,
            float(s.guidance_scale),
            getattr(s, "clip_skip", 1),
            s.max_sequence_length,
            float(s.true_cfg_scale),
            s.shift,
        )


@dataclass(frozen=True)
class ComparePlan:
    """Variants on shared seeds with shared settings (the prompt of `settings` is ignored)."""

    variants: tuple[CompareVariant, ...]
    seeds: tuple[int, ...]
    settings: GenerationRequest
    model: str = "demo"
    axis: CompareAxis | None = None

    def validate(self) -> None:
        """Raise InvalidRequestError with one sentence for the first problem."""
        if not self.variants:
            raise InvalidRequestError("Add at least one variant.")
        if not self.seeds:
            raise InvalidRequestError("Give at least one seed.")
        if len(self.seeds) > MAX_SEEDS:
            raise InvalidRequestError(f"A comparison takes at most {MAX_SEEDS} seeds.")
        for seed in self.seeds:
            if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
                raise InvalidRequestError(f"Seed must be a whole number from 0 to {MAX_SEED}.")
        count = len(self.variants) * len(self.seeds) * len(self.axis.values if self.axis else [0])
        if count > MAX_CELLS:
            raise InvalidRequestError(
                f"This comparison has {count} images; the limit is {MAX_CELLS}. "
                "Use fewer seeds, variants or axis values."
            )
        for cell_settings in {cell.settings for cell in self.cells()}:
            validate_settings(cell_settings)
        for variant in self.variants:  # before anything is saved, not at the first batch
            validate_texts(variant.prompt, variant.negative_prompt)
            for text in (variant.prompt, variant.negative_prompt):
                try:
                    has_weights(text)
                except PromptSyntaxError as exc:
                    raise InvalidRequestError(f"Prompt syntax: {exc}.") from exc

    def axis_settings(self, axis_index: int | None) -> tuple[GenerationRequest, str]:
        """The shared settings and model of one axis column."""
        if self.axis is None or axis_index is None:
            return self.settings, self.model
        return apply_axis(self.settings, self.model, self.axis.name, self.axis.values[axis_index])

    def cells(self) -> list[Cell]:
        """Every cell, row by row (seed), then axis column, then variant."""
        axis_indices: Sequence[int | None] = (
            range(len(self.axis.values)) if self.axis is not None else [None]
        )
        cells = []
        for seed_index, seed in enumerate(self.seeds):
            for axis_index in axis_indices:
                settings, model = self.axis_settings(axis_index)
                for variant_index, variant in enumerate(self.variants):
                    cells.append(
                        Cell(
                            seed_index,
                            variant_index,
                            axis_index,
                            seed,
                            variant.prompt,
                            variant.negative_prompt,
                            settings,
                            model,
                        )
                    )
        return cells


def apply_axis(
    settings: GenerationRequest, model: str, name: str, value: Any
) -> tuple[GenerationRequest, str]:
    """Shared settings and model with one axis value put in."""
    if name == "cfg":
        return replace(settings, guidance_scale=float(value)), model
    if name == "steps":
        return replace(settings, steps=int(value)), model
    if name == "scheduler":
        return replace(settings, scheduler=str(value)), model
    if name == "size":
        width, height = parse_size(str(value))
        return replace(settings, width=width, height=height), model
    if name == "model":
        return settings, str(value)
    if name == "clip_skip" and "clip_skip" in {f.name for f in fields(settings)}:
        return replace(settings, clip_skip=int(value)), model  # type: ignore[call-arg]
    if name == "shift":
        return replace(settings, shift=float(value)), model
    if name == "true_cfg":
        return replace(settings, true_cfg_scale=float(value)), model
    if name == "max_sequence_length":
        return replace(settings, max_sequence_length=int(value)), model
    raise InvalidRequestError(f"The engine has no setting {name!r} to vary.")


def available_axes() -> list[str]:
    """The axis names this engine can vary (clip skip only where requests carry it)."""
    names = [name for name in AXIS_LABELS if name != "clip_skip"]
    if "clip_skip" in {f.name for f in fields(GenerationRequest)}:
        names.append("clip_skip")
    return names


def batches(cells: Sequence[Cell], max_batch: int = DEFAULT_MAX_BATCH) -> list[list[Cell]]:
    """Cells grouped by `Cell.batch_key` (first-seen order), cut into chunks of `max_batch`."""
    if not 1 <= max_batch <= MAX_IMAGES:
        raise InvalidRequestError(f"The batch size must be from 1 to {MAX_IMAGES}.")
    groups: dict[tuple[Any, ...], list[Cell]] = {}
    for cell in cells:
        groups.setdefault(cell.batch_key(), []).append(cell)
    return [
        group[start : start + max_batch]
        for group in groups.values()
        for start in range(0, len(group), max_batch)
    ]


def parse_seeds(text: str, random_count: int = 0, rng: random.Random | None = None) -> list[int]:
    """Seeds from `"1, 2, 3"`; when the text is empty, `random_count` random seeds."""
    text = (text or "").strip()
    if not text:
        if not 1 <= random_count <= MAX_SEEDS:
            raise InvalidRequestError(f"List seeds, or ask for 1 to {MAX_SEEDS} random seeds.")
        source = rng or random.SystemRandom()
        return [source.randrange(MAX_SEED + 1) for _ in range(random_count)]
    seeds = []
    for part in re.split(r"[,\s]+", text):
        if not part:
            continue
        if not part.isdigit() or int(part) > MAX_SEED:
            raise InvalidRequestError(f"Seed {part!r} is not a whole number from 0 to {MAX_SEED}.")
        seeds.append(int(part))
    if len(seeds) > MAX_SEEDS:
        raise InvalidRequestError(f"A comparison takes at most {MAX_SEEDS} seeds.")
    return list(dict.fromkeys(seeds))


def parse_size(text: str) -> tuple[int, int]:
    """`"512x768"` -> (512, 768); a single number is square."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:[xX×]\s*(\d+))?\s*", text)
    if not match:
        raise InvalidRequestError(f"Size {text!r} is not WIDTHxHEIGHT, e.g. 512x768.")
    width = int(match.group(1))
    return width, int(match.group(2) or width)


def parse_axis(text: str) -> CompareAxis | None:
    """`"cfg=5,7,9"` (or `steps=`, `scheduler=`, `size=512x512,768x512`, `model=`,
    `clip_skip=`, `shift=`, `true_cfg=`, `max_sequence_length=`) -> axis."""
    text = (text or "").strip()
    if not text:
        return None
    name, sep, raw = text.partition("=")
    name = name.strip().lower().replace(" ", "_").replace("-", "_")
    aliases = {
        "guidance": "cfg",
        "cfg_scale": "cfg",
        "sampler": "scheduler",
        "true_cfg_scale": "true_cfg",
        "t5_length": "max_sequence_length",
    }
    name = aliases.get(name, name)
    if not sep or name not in available_axes():
        raise InvalidRequestError(
            f"An axis is NAME=V1,V2 with NAME one of {', '.join(available_axes())}."
        )
    separator = ";" if name == "scheduler" and ";" in raw else ","
    items = [item.strip() for item in raw.split(separator) if item.strip()]
    return make_axis(name, items)


def make_axis(name: str, items: Sequence[Any]) -> CompareAxis | None:
    """An axis from raw values (text or numbers), each checked; None when there are none."""
    if not items:
        return None
    if len(items) > MAX_AXIS_VALUES:
        raise InvalidRequestError(f"An axis takes at most {MAX_AXIS_VALUES} values.")
    values: list[Any] = []
    for item in items:
        text = str(item).strip()
        try:
            if name in ("cfg", "shift", "true_cfg"):
                values.append(float(text))
            elif name in ("steps", "clip_skip", "max_sequence_length"):
                values.append(int(text))
            elif name == "size":
                width, height = parse_size(text)
                values.append(f"{width}x{height}")
            elif name == "scheduler":
                match = next((s for s in SCHEDULERS if s.casefold() == text.casefold()), None)
                if match is None:
                    raise InvalidRequestError(
                        f"Unknown scheduler {text!r}; choose from {', '.join(SCHEDULERS)}."
                    )
                values.append(match)
            else:
                values.append(text)
        except ValueError as exc:
            if isinstance(exc, InvalidRequestError):
                raise
            raise InvalidRequestError(f"Axis value {text!r} is not a number.") from None
    return CompareAxis(name, tuple(dict.fromkeys(values)))
