"""Generate's settings following the model in the Model box: its defaults (until the artist
changes them), its scheduler menu, the guidance it uses, the negative prompt box (greyed on
FLUX unless true CFG is on), the SD3/FLUX row, and the token budget of each of its encoders.

The Models panel's "Use" puts a model in the box with all of its own settings. A recall from
the gallery sets the model with the record's settings and marks them as applied, so they stay.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from ui.generate.models_panel import ModelsPanel, models_at_hand, use_model
from ui.model_fit import (
    FOLLOWED,
    NEGATIVE_OFF,
    ModelProfile,
    applied_state,
    budget_markdown,
    followed_values,
    guidance_label,
    guidance_note,
    model_profile,
    uses_negative,
)

QUIET: dict[str, Any] = {"api_visibility": "private", "show_progress": "hidden"}
LIVE: dict[str, Any] = {**QUIET, "trigger_mode": "always_last", "concurrency_limit": None}


@dataclass(frozen=True)
class ModelFitInputs:
    """Where the tab reads models from: the models folder, the demo model's CLIP tokenizer."""

    models_dir: Path
    clip_tokenizer: Callable[[], Any]

    def profile(self, model: str | None) -> ModelProfile:
        return model_profile(model, self.models_dir, self.clip_tokenizer)


@dataclass(frozen=True)
class ModelWidgets:
    """The Generate widgets that follow the model."""

    model: gr.Textbox
    prompt: gr.Textbox
    negative: gr.Textbox
    followed: tuple[Any, ...]
    """The settings in `FOLLOWED` order (steps ... true CFG)."""
    applied: gr.State
    tokens: gr.Markdown
    guidance_note: gr.Markdown
    flow_row: gr.Row
    panel: ModelsPanel

    def setting(self, name: str) -> Any:
        return self.followed[FOLLOWED.index(name)]


def negative_box(kind: str, true_cfg: Any) -> Any:
    """The negative prompt box for a kind: greyed with its reason on FLUX without true CFG."""
    if uses_negative(kind, true_cfg):
        return gr.Textbox(interactive=True, info=None)
    return gr.Textbox(interactive=False, info=NEGATIVE_OFF)


def model_changed(
    profile: ModelProfile, prompt: str | None, applied: Any, values: tuple[Any, ...]
) -> list[Any]:
    """The updates of `model_outputs` for the model now in the box."""
    current = dict(zip(FOLLOWED, values, strict=True))
    applied = applied if isinstance(applied, dict) else None
    new = followed_values(profile, current, applied)
    kind = profile.kind
    return [
        new["steps"],
        gr.Slider(value=new["guidance"], label=guidance_label(kind)),
        new["width"],
        new["height"],
        gr.Dropdown(choices=profile.schedulers(), value=new["scheduler"]),
        new["t5_length"],
        new["shift"],
        gr.Slider(value=new["true_cfg"], visible=kind == "flux"),
        negative_box(kind, new["true_cfg"]),
        guidance_note(kind, new["true_cfg"]),
        gr.Row(visible=profile.is_flow),
        applied_state(profile.model, new),
        budget_markdown(prompt, profile, new["t5_length"]),
    ]


def wire_model_fit(w: ModelWidgets, inputs: ModelFitInputs) -> None:
    """Wire the model box, true CFG, the prompt, T5 length and the Models panel's "Use"."""
    outputs = [*w.followed, w.negative, w.guidance_note, w.flow_row, w.applied, w.tokens]

    def on_model(model: str | None, prompt: str | None, applied: Any, *values: Any) -> list[Any]:
        return model_changed(inputs.profile(model), prompt, applied, values)

    follow = {
        "fn": on_model,
        "inputs": [w.model, w.prompt, w.applied, *w.followed],
        "outputs": outputs,
    }
    w.model.change(**follow, **LIVE)

    def on_true_cfg(model: str | None, true_cfg: Any) -> tuple[Any, str]:
        kind = inputs.profile(model).kind
        return negative_box(kind, true_cfg), guidance_note(kind, true_cfg)

    true_cfg, t5_length = w.setting("true_cfg"), w.setting("t5_length")
    true_cfg.change(
        on_true_cfg, inputs=[w.model, true_cfg], outputs=[w.negative, w.guidance_note], **LIVE
    )

    def on_prompt(prompt: str | None, model: str | None, length: Any) -> str:
        return budget_markdown(prompt, inputs.profile(model), length)

    for source in (w.prompt, t5_length):
        source.change(on_prompt, inputs=[w.prompt, w.model, t5_length], outputs=w.tokens, **LIVE)

    def pick(name: str | None) -> tuple[str, None]:
        return use_model(name, models_at_hand(inputs.models_dir))

    w.panel.use.click(pick, w.panel.choice, [w.model, w.applied], **QUIET).then(**follow, **QUIET)


def connect_builder_budget(
    positive: gr.Textbox,
    encoders: gr.Markdown,
    model: gr.Textbox,
    t5_length: gr.Slider,
    inputs: ModelFitInputs,
) -> None:
    """The Builder's composed prompt counted by each encoder of the model on Generate (a
    one-encoder model's chunks are the Builder's own, so it shows nothing more)."""

    def show(prompt: str | None, model: str | None, t5_length: Any) -> str:
        profile = inputs.profile(model)
        if len(profile.encoders.encoders) < 2:
            return ""
        return budget_markdown(prompt, profile, t5_length)

    gr.on(
        triggers=[positive.change, model.change, t5_length.change],
        fn=show,
        inputs=[positive, model, t5_length],
        outputs=encoders,
        **LIVE,
    )
