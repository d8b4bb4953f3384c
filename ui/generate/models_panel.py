"""The Models panel on Generate: models at hand (Hugging Face cache, models folder), suggested
hub models, LoRA files; "Use" puts a model in the Model box with the settings it starts with."""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from engine.model_catalog import (
    ModelEntry,
    cached_models,
    folder_models,
    model_defaults,
    suggested_models,
)
from engine.sketch import sketch_model_available

QUIET: dict[str, Any] = {"api_visibility": "private", "show_progress": "hidden"}


def models_at_hand(models_dir: Path) -> list[ModelEntry]:
    """The sketch and demo models, then cached and folder models, then the suggested hub
    models."""
    found = []
    if sketch_model_available():
        found.append(ModelEntry("sketch", "SD1", "built in", "draws simple shapes, offline"))
    demo_note = "random weights: noise, for trying controls"
    found.append(ModelEntry("demo", "SD1", "built in", demo_note))
    found += cached_models() + folder_models(models_dir)
    known = {entry.name for entry in found}
    return found + [entry for entry in suggested_models() if entry.name not in known]


def models_offered(models_dir: Path, allowed: tuple[str, ...] = ()) -> list[ModelEntry]:
    """`models_at_hand`, or in a public app only the allow-list's models, so that no folder
    or checkpoint path of the server reaches a visitor."""
    found = models_at_hand(models_dir)
    if not allowed:
        return found
    known = {entry.name: entry for entry in found}
    return [known.get(name) or ModelEntry(name, "SD1", "offered here") for name in allowed]


def model_label(entry: ModelEntry) -> str:
    """A dropdown label: `name · kind · where`."""
    where = {"hub": "hub (downloads on first use)"}.get(entry.source, entry.source)
    return f"{entry.name} · {entry.kind} · {where}"


def use_model(name: str | None, entries: list[ModelEntry]) -> tuple[Any, ...]:
    """(model, steps, CFG, width, height, scheduler) for the chosen model."""
    if not name:
        raise gr.Error("Choose a model first.", duration=None)
    kind = next((entry.kind for entry in entries if entry.name == name), "other")
    defaults = model_defaults(name, kind)
    return (
        name,
        defaults.steps,
        defaults.guidance_scale,
        defaults.width,
        defaults.height,
        defaults.scheduler,
    )


def panel_markdown(entries: list[ModelEntry], loras: list[str]) -> str:
    """Suggested models with notes, and the LoRA files with their prompt syntax."""
    lines = ["| Suggested | Kind | Note |", "| --- | --- | --- |"]
    lines += [
        f"| `{html.escape(e.name)}` | {e.kind} | {html.escape(e.note)} |"
        for e in entries
        if e.source == "hub"
    ]
    lines.append("")
    if loras:
        tags = ", ".join(f"`<lora:{html.escape(name)}:1>`" for name in loras)
        lines.append(f"**LoRAs** (write one in the prompt, A1111's way): {tags}")
    else:
        lines.append(
            "**LoRAs:** put `.safetensors` files in the `loras/` folder of the data folder, "
            "then write `<lora:file-name:0.8>` in the prompt."
        )
    return "\n".join(lines)


@dataclass(frozen=True)
class ModelsPanel:
    choice: gr.Dropdown
    use: gr.Button


def build_models_panel(
    models_dir: Path,
    lora_names: Any,
    outputs: list[Any],
    applied: gr.State | None = None,
    allowed: tuple[str, ...] = (),
) -> ModelsPanel:
    """Add the panel; "Use" fills `outputs` (model, steps, CFG, width, height, scheduler) and
    `applied`, the defaults the settings follow (`ui.model_settings.follow_model`). With
    `allowed` (a public app's allow-list) it lists those models only."""
    entries = models_offered(models_dir, allowed)
    with gr.Accordion("Models and LoRAs", open=False, elem_id="gen-models"):
        with gr.Row(equal_height=True):
            choice = gr.Dropdown(
                [(model_label(e), e.name) for e in entries],
                value=None,
                label="Models at hand",
                scale=4,
                elem_id="model-choice",
            )
            use_button = gr.Button("Use", scale=1, min_width=80, elem_id="model-use")
        notes = gr.Markdown(panel_markdown(entries, lora_names()), elem_id="model-notes")
        rescan = gr.Button("Rescan", size="sm", elem_id="model-rescan")

    def use(name: str | None) -> tuple[Any, ...]:
        chosen = use_model(name, models_offered(models_dir, allowed))
        return (*chosen, list(chosen[1:])) if applied is not None else chosen

    use_button.click(use, choice, [*outputs, applied] if applied is not None else outputs, **QUIET)

    def scan() -> tuple[Any, str]:
        fresh = models_offered(models_dir, allowed)
        choices = [(model_label(e), e.name) for e in fresh]
        return gr.Dropdown(choices=choices), panel_markdown(fresh, lora_names())

    rescan.click(scan, outputs=[choice, notes], **QUIET)
    return ModelsPanel(choice, use_button)
