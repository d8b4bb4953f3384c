"""The `generate` endpoint for `gradio_client`: every parameter but the prompt has a default,
so a caller names only what it changes:

    client.predict(prompt="a fox", seed=5, steps=2, width=64, height=64, api_name="/generate")

It moves files (the client downloads the images), so it runs on hidden components, one per
`GenerateForm` field and named like it; the handler reads them as one form.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gradio as gr

from engine.errors import EngineError
from engine.result import GenerationResult
from ui.forms import DEFAULT_SCHEDULER
from ui.generate.handlers import (
    ResultCallback,
    captions,
    describe_result,
    read_form,
    recording_warning,
)
from ui.hosting.hosted_engine import HostedEngine
from ui.messages import shown


def generate(
    engine: HostedEngine,
    default_model: str,
    on_result: ResultCallback | None,
    values: Mapping[str, Any],
) -> tuple[list[Any], dict[str, Any]]:
    """Generate and record; return the images and {seeds, ids, not_recorded, prompts, model,
    info}: `not_recorded` is None, or why `ids` is empty (one sentence)."""
    form = read_form(dict(values))
    try:
        result = engine.generate(form.request, model=form.model or default_model)
    except EngineError as exc:
        raise gr.Error(shown(exc)) from None
    ids, not_recorded = _record(on_result, result)
    summary = {
        "seeds": list(result.seeds),
        "ids": ids,
        "not_recorded": not_recorded,
        "prompts": list(result.prompts),
        "model": result.provenance.get("model_id"),
        "info": describe_result(result),
    }
    return captions(result), summary


def _record(
    on_result: ResultCallback | None, result: GenerationResult
) -> tuple[list[int], str | None]:
    """The new generations' ids, and None; or no ids and the one sentence saying why."""
    if on_result is None:
        return [], "This server keeps no gallery."
    try:
        ids = on_result(result, None)
    except Exception as exc:  # the images are returned all the same
        reason = recording_warning(exc)
        gr.Warning(shown(reason))
        return [], reason
    return ([int(i) for i in ids] if isinstance(ids, (list, tuple)) else []), None


def register_generate_api(
    engine: HostedEngine, default_model: str, on_result: ResultCallback | None
) -> None:
    """Add the `generate` endpoint to the current Blocks, on hidden components."""
    with gr.Column(visible=False, elem_id="api-only"):
        inputs = {
            "prompt": gr.Textbox(label="prompt"),
            "negative_prompt": gr.Textbox(label="negative_prompt", value=""),
            # Text: a float cannot hold every 64-bit seed.
            "seed": gr.Textbox(label="seed", value="-1"),
            "steps": gr.Number(label="steps", value=20),
            "guidance_scale": gr.Number(label="guidance_scale", value=7.0),
            "width": gr.Number(label="width", value=512),
            "height": gr.Number(label="height", value=512),
            "num_images": gr.Number(label="num_images", value=1),
            "scheduler": gr.Textbox(label="scheduler", value=DEFAULT_SCHEDULER),
            "model": gr.Textbox(label="model", value=default_model),
            "clip_skip": gr.Number(label="clip_skip", value=1),
            # SD3 and FLUX: T5 tokens read and shift (0: the model's own), true CFG (1: off).
            "max_sequence_length": gr.Number(label="max_sequence_length", value=0),
            "true_cfg_scale": gr.Number(label="true_cfg_scale", value=1.0),
            "shift": gr.Number(label="shift", value=0),
        }
        outputs = [gr.Gallery(label="images", format="png"), gr.JSON(label="summary")]
        trigger = gr.Button("generate")

    def run_generate(**values: Any) -> tuple[list[Any], dict[str, Any]]:
        return generate(engine, default_model, on_result, values)

    trigger.click(
        fn=run_generate,
        inputs_kwargs=inputs,
        outputs=outputs,
        api_name="generate",
        api_description=(
            "Generate images; returns them and {seeds, ids, not_recorded, prompts, model, info}"
            " (not_recorded: null, or why ids is empty)."
        ),
        concurrency_id="generate",
        concurrency_limit=1,
        show_progress="hidden",
    )
