"""Settings that belong to a model (steps, CFG, width, height, scheduler) follow the model box
on every tab: they start at the model's defaults, and when the artist types another model,
each setting still at the old model's default takes the new one's; a setting the artist (or a
recall) changed stays as it is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from engine.model_catalog import (
    CHECKPOINT_SUFFIXES,
    ModelDefaults,
    checkpoint_kind,
    model_defaults,
    pipeline_kind,
    suggested_models,
)

QUIET: dict[str, Any] = {"api_visibility": "private", "show_progress": "hidden"}


def model_kind(name: str) -> str:
    """SD1, SD2, SDXL or other for what the model box holds, without scanning the hub cache:
    a suggested hub id's kind, a folder's or a checkpoint's own."""
    name = name.strip()
    suggested = {entry.name: entry.kind for entry in suggested_models()}
    if name in suggested:
        return suggested[name]
    path = Path(name)
    try:
        if path.is_dir():
            return pipeline_kind(path)
        if path.is_file() and path.suffix.lower() in CHECKPOINT_SUFFIXES:
            return checkpoint_kind(path)
    except OSError:
        pass
    return "other"


def settings_for(model: str) -> ModelDefaults:
    """The settings `model` starts with."""
    return model_defaults(model or "", model_kind(model or ""))


def followed(defaults: ModelDefaults) -> tuple[Any, ...]:
    """The settings the page's boxes follow: steps, CFG, width, height, scheduler."""
    d = defaults
    return (d.steps, d.guidance_scale, d.width, d.height, d.scheduler)


def follow(model: str, applied: Any, *current: Any) -> tuple[Any, ...]:
    """The settings after the model box changed to `model`: each one still at `applied` (the
    defaults last applied) takes the new model's default; then the new defaults, as the next
    `applied`."""
    new = followed(settings_for(model))
    old = tuple(applied) if applied else new
    kept = tuple(
        fresh if _same(value, before) else value
        for value, before, fresh in zip(current, old, new, strict=True)
    )
    return (*kept, list(new))


def _same(value: Any, default: Any) -> bool:
    if isinstance(default, (int, float)) and not isinstance(default, bool):
        try:
            return float(value) == float(default)
        except (TypeError, ValueError):
            return False
    return value == default


def follow_model(model: gr.Textbox, settings: list[Any], start_model: str) -> gr.State:
    """Wire `settings` (steps, CFG, width, height, scheduler) to follow what the artist types in
    `model` (following twice is following once); returns the state holding the defaults last
    applied (an event that puts a model's defaults in the settings, such as the Models panel's
    "Use", outputs it too)."""
    applied = gr.State(list(followed(settings_for(start_model))))
    # What the artist types, pastes or confirms; not `change`, which a recall also fires.
    gr.on(
        [model.input, model.blur, model.submit],
        follow,
        [model, applied, *settings],
        [*settings, applied],
        trigger_mode="always_last",
        **QUIET,
    )
    return applied
