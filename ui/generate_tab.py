"""The Generate tab: prompt, settings, progress with live preview, results."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import gradio as gr

from engine.errors import EngineError
from engine.generate import Engine
from engine.request import GenerationRequest
from engine.result import GenerationResult
from engine.schedulers import scheduler_names
from ui.generation_handler import describe_result, stream_generation, upscale_preview


def generate_images(
    engine: Engine,
    model: str,
    prompt: str,
    negative: str,
    seed: float,
    steps: float,
    guidance: float,
    width: float,
    height: float,
    batch: float,
    scheduler: str,
    progress: gr.Progress | None = gr.Progress(),  # noqa: B008 (Gradio injects it here)
    on_result: Callable[[GenerationResult], Any] | None = None,
) -> Iterator[tuple[Any, Any, str]]:
    """Yield (preview, gallery images, info) as the generation runs; gr.Error on bad input."""
    request = GenerationRequest(
        prompt=prompt or "",
        negative_prompt=negative or "",
        seed=None if seed is None or int(seed) < 0 else int(seed),
        steps=int(steps),
        guidance_scale=float(guidance),
        width=int(width),
        height=int(height),
        num_images=int(batch),
        scheduler=scheduler,
    )
    try:
        record = None if on_result is None else (lambda result: on_result(result, None))
        for event in stream_generation(engine, request, model, on_result=record):
            if event.progress is not None:
                update = event.progress
                if progress is not None:
                    progress((update.step, update.total), desc="Denoising", unit="steps")
                preview = upscale_preview(update.preview, (request.width, request.height))
                yield preview, gr.skip(), f"Step {update.step} of {update.total}"
            elif event.result is not None:
                result = event.result
                captions = [
                    (image, f"seed {seed}")
                    for image, seed in zip(result.images, result.seeds, strict=True)
                ]
                yield result.images[0], captions, describe_result(result)
    except EngineError as exc:
        raise gr.Error(str(exc)) from None


@dataclass(frozen=True)
class GenerateTab:
    """The Generate tab's components other tabs fill in (the Builder's "Send to Generate",
    the Gallery's "Recall into Generate")."""

    prompt: gr.Textbox
    negative: gr.Textbox
    seed: gr.Number
    steps: gr.Slider
    guidance: gr.Slider
    width: gr.Slider
    height: gr.Slider
    scheduler: gr.Dropdown


def build_generate_tab(
    engine: Engine, default_model: str, on_result: Callable[[GenerationResult], Any] | None = None
) -> GenerateTab:
    """Add the Generate tab's widgets and events to the current Blocks."""
    with gr.Row():
        with gr.Column(scale=3):
            prompt = gr.Textbox(
                label="Prompt",
                lines=3,
                placeholder="a lighthouse at dusk, (oil painting:1.2)",
                elem_id="prompt",
            )
            negative = gr.Textbox(label="Negative prompt", lines=2, elem_id="negative")
            with gr.Row():
                generate = gr.Button("Generate", variant="primary", elem_id="generate")
                stop = gr.Button("Stop", variant="stop", elem_id="stop")
            with gr.Accordion("Settings", open=True):
                model = gr.Textbox(
                    label="Model (hub id, folder, checkpoint, or demo)",
                    value=default_model,
                    elem_id="model",
                )
                with gr.Row():
                    seed = gr.Number(
                        label="Seed (-1 = random)", value=-1, precision=0, elem_id="seed"
                    )
                    batch = gr.Slider(1, 8, value=1, step=1, label="Images")
                with gr.Row():
                    steps = gr.Slider(1, 150, value=20, step=1, label="Steps", elem_id="steps")
                    guidance = gr.Slider(
                        0, 30, value=7.0, step=0.5, label="CFG scale", elem_id="guidance"
                    )
                with gr.Row():
                    width = gr.Slider(
                        64,
                        2048,
                        value=256 if default_model == "demo" else 512,
                        step=8,
                        label="Width",
                        elem_id="width",
                    )
                    height = gr.Slider(
                        64,
                        2048,
                        value=256 if default_model == "demo" else 512,
                        step=8,
                        label="Height",
                        elem_id="height",
                    )
                scheduler = gr.Dropdown(
                    scheduler_names(), value="Euler a", label="Scheduler", elem_id="scheduler"
                )
        with gr.Column(scale=4):
            preview = gr.Image(label="Preview", type="pil", interactive=False, elem_id="preview")
            images = gr.Gallery(label="Results", columns=4, height="auto", elem_id="results")
            info = gr.Markdown(elem_id="info")

    run = gr.on(
        triggers=[generate.click, prompt.submit],
        fn=partial(generate_images, engine, on_result=on_result),
        inputs=[model, prompt, negative, seed, steps, guidance, width, height, batch, scheduler],
        outputs=[preview, images, info],
        api_visibility="private",  # scripts use the named `generate` endpoint (ui/api.py)
        concurrency_id="generate",
        concurrency_limit=1,
    )
    stop.click(fn=None, cancels=[run], api_visibility="private")
    return GenerateTab(prompt, negative, seed, steps, guidance, width, height, scheduler)
