"""The Models panel on Generate: the built-in models and those at hand (Hugging Face cache,
models folder) with their kind (SD1, SDXL, SD3, FLUX), suggested hub models, LoRA files; "Use"
puts a model in the Model box with the settings it starts with (`ui.generate.model_events`)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from engine.model_catalog import (
    ModelEntry,
    builtin_models,
    cached_models,
    folder_models,
    suggested_models,
)
from engine.sketch import sketch_model_available

QUIET: dict[str, Any] = {"api_visibility": "private", "show_progress": "hidden"}


def models_at_hand(models_dir: Path) -> list[ModelEntry]:
    """The sketch model (when shipped) and the other built-in models, then cached and folder
    models, then the suggested hub models."""
    found = []
    if sketch_model_available():
        found.append(ModelEntry("sketch", "SD1", "built in", "draws simple shapes, offline"))
    found += builtin_models() + cached_models() + folder_models(models_dir)
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


def use_model(name: str | None, entries: list[ModelEntry]) -> tuple[str, None]:
    """ "Use": (the model for the Model box, no settings applied yet), so all of the model's own
    settings follow it (`ui.model_fit.followed_values`); `gr.Error` without a listed model."""
    if not name:
        raise gr.Error("Choose a model first.", duration=None)
    if name not in {entry.name for entry in entries}:
        raise gr.Error("That model is no longer listed; press Rescan.", duration=None)
    return name, None


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
    models_dir: Path, lora_names: Any, allowed: tuple[str, ...] = ()
) -> ModelsPanel:
    """Add the panel (the tab wires "Use"). With `allowed` (a public app's allow-list) it lists
    those models only."""
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
            use = gr.Button("Use", scale=1, min_width=80, elem_id="model-use")
        notes = gr.Markdown(panel_markdown(entries, lora_names()), elem_id="model-notes")
        rescan = gr.Button("Rescan", size="sm", elem_id="model-rescan")

    def scan() -> tuple[Any, str]:
        fresh = models_offered(models_dir, allowed)
        choices = [(model_label(e), e.name) for e in fresh]
        return gr.Dropdown(choices=choices), panel_markdown(fresh, lora_names())

    rescan.click(scan, outputs=[choice, notes], **QUIET)
    return ModelsPanel(choice, use)
