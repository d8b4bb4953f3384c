"""The Generate tab: prompt with its token count, seed row (⚄ ♻), Generate/Skip/Stop, progress
with a live preview (shown only while an image is made), and the results, each image once at
its own size (a small one enlarged with crisp pixels, `ui/static/results.js`), with clickable
per-image seeds.

Widgets and wiring only; what each event computes lives in `ui.generate.handlers`. A batch runs
image by image (`HostedEngine.stream_batch`), so Stop keeps the finished images and says
"stopped", and Skip finishes the image being made and drops the rest. Keyboard shortcuts
(Ctrl+Enter, Esc, Ctrl+↑/↓) live in `ui/static/shortcuts.js`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from engine.request import MAX_GUIDANCE, MAX_SEQUENCE_LENGTH
from ui.clip_tokenizer import clip_tokenizer
from ui.generate.handlers import (
    RESULT_FORMAT,
    GenerateOutputs,
    ResultCallback,
    RunRegistry,
    generate_images,
    linked_recipe,
    read_form,
    reuse_seed,
    seed_of_result,
    session_of,
)
from ui.generate.model_events import ModelFitInputs, ModelWidgets, wire_model_fit
from ui.generate.models_panel import ModelsPanel, build_models_panel
from ui.hosting.hosted_engine import HostedEngine
from ui.messages import error_line
from ui.model_fit import (
    FOLLOWED,
    NEGATIVE_OFF,
    ModelProfile,
    applied_state,
    guidance_label,
    model_profile,
    uses_negative,
)
from ui.model_fit import guidance_note as guidance_note_text

# Start sizes for the built-in models: the sketch model's native size, a small demo size.
START_SIZES = {"sketch": 128, "demo": 256}
PRIVATE: dict[str, Any] = {"api_visibility": "private"}
QUIET: dict[str, Any] = {"api_visibility": "private", "show_progress": "hidden"}
SHORTCUTS_HELP = """
| Keys | What they do |
| --- | --- |
| **Ctrl+Enter** (⌘+Enter) | Generate (on Compare: run the comparison) |
| **Esc** | Stop (keeps the finished images or cells) |
| **Ctrl+↑ / Ctrl+↓** | Weight the word, selection or (group) at the cursor ±0.1 |
| Click a result | Put its seed in the seed box |
| ⚄ / ♻ | Random seed (-1) / reuse the last seed |
"""


@dataclass(frozen=True)
class GenerateTab:
    """The Generate tab's components other tabs fill in (the Builder's "Send to Generate",
    the Gallery's "Recall into Generate")."""

    prompt: gr.Textbox
    negative: gr.Textbox
    seed: gr.Textbox
    steps: gr.Slider
    guidance: gr.Slider
    width: gr.Slider
    height: gr.Slider
    scheduler: gr.Dropdown
    model: gr.Textbox
    batch: gr.Slider
    clip_skip: gr.Slider
    t5_length: gr.Slider
    """SD3/FLUX: T5 tokens read (0: the model's own)."""
    shift: gr.Slider
    """SD3/FLUX: the flow schedule's shift (0: the model's own)."""
    true_cfg: gr.Slider
    """FLUX: real CFG with the negative prompt when above 1."""
    applied: gr.State
    """What the page last set for a model (`ui.model_fit.applied_state`): the settings still
    at those values follow the next model."""
    recipe: gr.State
    """{"recipe": dict, "prompt": text}: the Builder recipe and the prompt it gave (see
    `linked_recipe`), or None."""
    to_builder: gr.Button

    def form_inputs(self) -> dict[str, Any]:
        """The components under the names `GenerateForm.read` takes."""
        return {
            "prompt": self.prompt,
            "negative_prompt": self.negative,
            "seed": self.seed,
            "steps": self.steps,
            "guidance_scale": self.guidance,
            "width": self.width,
            "height": self.height,
            "num_images": self.batch,
            "scheduler": self.scheduler,
            "model": self.model,
            "clip_skip": self.clip_skip,
            "max_sequence_length": self.t5_length,
            "true_cfg_scale": self.true_cfg,
            "shift": self.shift,
        }


@dataclass(frozen=True)
class _Controls:
    """The widgets of the left column that only this tab uses."""

    tokens: gr.Markdown
    guidance_note: gr.Markdown
    flow_row: gr.Row
    models_panel: ModelsPanel
    generate: gr.Button
    skip: gr.Button
    stop: gr.Button
    dice: gr.Button
    recycle: gr.Button
    used: gr.Textbox


@dataclass(frozen=True)
class _Output:
    """The right column."""

    info: gr.Markdown
    preview: gr.Image
    images: gr.Gallery
    result_seeds: gr.State


def build_generate_tab(
    engine: HostedEngine,
    default_model: str,
    on_result: ResultCallback | None = None,
    tokenizer: Callable[[], Any] | None = None,
) -> GenerateTab:
    """Add the Generate tab's widgets and events to the current Blocks. `tokenizer` is the
    built-in demo model's CLIP tokenizer (default: the real one)."""
    if tokenizer is None:
        tokenizer = clip_tokenizer
    models_dir = Path(engine.models_dir)
    profile = model_profile(default_model, models_dir, tokenizer)
    with gr.Row(equal_height=False, elem_id="gen-layout"):
        with gr.Column(scale=3, elem_id="gen-left"):
            tab, controls = _left_column(engine, default_model, profile)
        with gr.Column(scale=4, elem_id="gen-output"):
            output = _output_column()
    _wire_helpers(tab, controls, output)
    widgets = ModelWidgets(
        tab.model,
        tab.prompt,
        tab.negative,
        tuple(getattr(tab, name) for name in FOLLOWED),
        tab.applied,
        controls.tokens,
        controls.guidance_note,
        controls.flow_row,
        controls.models_panel,
    )
    wire_model_fit(widgets, ModelFitInputs(models_dir, tokenizer))
    _wire_run(tab, controls, output, engine, on_result)
    return tab


def _left_column(
    engine: HostedEngine, default_model: str, profile: ModelProfile
) -> tuple[GenerateTab, _Controls]:
    negative_on = uses_negative(profile.kind, 1.0)
    with gr.Group(elem_id="gen-prompts"):
        prompt = gr.Textbox(
            label="Prompt",
            lines=3,
            placeholder="a lighthouse at dusk, (oil painting:1.2)",
            elem_id="prompt",
            elem_classes=["prompt"],
        )
        tokens = gr.Markdown("0 tokens", elem_id="prompt-tokens")
        negative = gr.Textbox(
            label="Negative prompt",
            lines=2,
            interactive=negative_on,
            info=None if negative_on else NEGATIVE_OFF,
            elem_id="negative",
            elem_classes=["prompt"],
        )
    with gr.Column(elem_id="gen-actions"):
        with gr.Row():
            generate = gr.Button("Generate", variant="primary", scale=3, elem_id="generate")
            skip = gr.Button("Skip", interactive=False, scale=1, elem_id="skip")
            stop = gr.Button("Stop", variant="stop", interactive=False, scale=1, elem_id="stop")
        gr.Markdown(
            "Ctrl+Enter generate · Esc stop · Ctrl+↑/↓ weight a word", elem_id="shortcut-line"
        )
    with gr.Accordion("Settings", open=True, elem_id="gen-settings"):
        model = gr.Textbox(
            label="Model (hub id, folder, checkpoint, sketch or demo)",
            value=default_model,
            elem_id="model",
        )
        with gr.Row(equal_height=True, elem_id="seed-row"):
            # Text, not a number box: a browser number cannot hold every 64-bit seed.
            seed = gr.Textbox(
                label="Seed (-1 = random)",
                value="-1",
                max_lines=1,
                scale=3,
                min_width=140,
                elem_id="seed",
            )
            dice = gr.Button("⚄", scale=0, min_width=44, elem_id="seed-random")
            recycle = gr.Button("♻", scale=0, min_width=44, elem_id="seed-reuse")
            used = gr.Textbox(
                label="Last seed", interactive=False, scale=2, min_width=120, elem_id="seed-used"
            )
        start = _start_values(default_model, profile)
        settings = _settings_widgets(start, profile)
        guidance_note = gr.Markdown(guidance_note_text(profile.kind), elem_id="guidance-note")
        flow_row, flow = _flow_widgets(start, profile)
        to_builder = gr.Button("← Open in Builder", size="sm", elem_id="gen-to-builder")
    panel = build_models_panel(
        Path(engine.models_dir), engine.lora_folder.names, engine.hosting.allowed_models
    )
    with gr.Accordion("Keyboard shortcuts", open=False, elem_id="gen-help"):
        gr.Markdown(SHORTCUTS_HELP)
    tab = GenerateTab(
        prompt=prompt,
        negative=negative,
        seed=seed,
        model=model,
        applied=gr.State(applied_state(profile.model, start)),
        recipe=gr.State(None),
        to_builder=to_builder,
        **settings,
        **flow,
    )
    controls = _Controls(
        tokens, guidance_note, flow_row, panel, generate, skip, stop, dice, recycle, used
    )
    return tab, controls


def _start_values(default_model: str, profile: ModelProfile) -> dict[str, Any]:
    """The settings the page opens with: an SD3 or FLUX model's own, else 20 steps, CFG 7 and
    the built-in models' start sizes."""
    if profile.is_flow:
        return profile.start_values()
    size = START_SIZES.get(default_model, 512)
    scheduler = "Euler a" if "Euler a" in profile.schedulers() else profile.defaults.scheduler
    return {
        "steps": 20,
        "guidance": 7.0,
        "width": size,
        "height": size,
        "scheduler": scheduler,
        "t5_length": 0,
        "shift": 0,
        "true_cfg": 1.0,
    }


def _settings_widgets(start: dict[str, Any], profile: ModelProfile) -> dict[str, Any]:
    """Images, clip skip, steps, CFG, size and scheduler, by their `GenerateTab` names."""
    with gr.Row():
        batch = gr.Slider(1, 8, value=1, step=1, label="Images", elem_id="batch")
        clip_skip = gr.Slider(1, 12, value=1, step=1, label="Clip skip", elem_id="clip-skip")
    with gr.Row():
        steps = gr.Slider(1, 150, value=start["steps"], step=1, label="Steps", elem_id="steps")
        guidance = gr.Slider(
            0,
            30,
            value=start["guidance"],
            step=0.5,
            label=guidance_label(profile.kind),
            elem_id="guidance",
        )
    with gr.Row():
        width = gr.Slider(64, 2048, value=start["width"], step=8, label="Width", elem_id="width")
        height = gr.Slider(
            64, 2048, value=start["height"], step=8, label="Height", elem_id="height"
        )
    scheduler = gr.Dropdown(
        profile.schedulers(), value=start["scheduler"], label="Scheduler", elem_id="scheduler"
    )
    return {
        "batch": batch,
        "clip_skip": clip_skip,
        "steps": steps,
        "guidance": guidance,
        "width": width,
        "height": height,
        "scheduler": scheduler,
    }


def _flow_widgets(start: dict[str, Any], profile: ModelProfile) -> tuple[gr.Row, dict[str, Any]]:
    """SD3/FLUX's T5 length, shift and true CFG (shown for those models only)."""
    with gr.Row(visible=profile.is_flow, elem_id="flow-settings") as row:
        t5_length = gr.Slider(
            0,
            MAX_SEQUENCE_LENGTH,
            value=start["t5_length"],
            step=8,
            label="T5 length (tokens; 0 = the model's own)",
            elem_id="t5-length",
        )
        shift = gr.Slider(
            0,
            10,
            value=start["shift"],
            step=0.05,
            label="Shift (0 = the model's own)",
            elem_id="shift",
        )
        true_cfg = gr.Slider(
            1,
            MAX_GUIDANCE,
            value=start["true_cfg"],
            step=0.5,
            label="True CFG (1 = off; uses the negative prompt)",
            visible=profile.kind == "flux",
            elem_id="true-cfg",
        )
    return row, {"t5_length": t5_length, "shift": shift, "true_cfg": true_cfg}


def _output_column() -> _Output:
    info = gr.Markdown(elem_id="info")
    preview = gr.Image(
        label="Preview",
        type="pil",
        interactive=False,
        visible=False,
        height=320,
        elem_id="preview",
    )
    images = gr.Gallery(
        label="Results (click one to use its seed)",
        columns=4,
        height="auto",
        object_fit="contain",
        format=RESULT_FORMAT,
        allow_preview=False,  # no second, enlarged copy: each result is shown once
        elem_id="results",
    )
    return _Output(info, preview, images, gr.State([]))


def _wire_helpers(tab: GenerateTab, controls: _Controls, output: _Output) -> None:
    """The seed row (the token budget follows the model: `ui.generate.model_events`)."""
    controls.dice.click(lambda: "-1", outputs=tab.seed, **QUIET)
    controls.recycle.click(reuse_seed, inputs=controls.used, outputs=tab.seed, **QUIET)
    output.images.select(seed_of_result, inputs=output.result_seeds, outputs=tab.seed, **QUIET)


def _wire_run(
    tab: GenerateTab,
    controls: _Controls,
    output: _Output,
    engine: HostedEngine,
    on_result: ResultCallback | None,
) -> None:
    """Generate (the form whole, streamed), and Stop and Skip reaching the session's run."""
    runs = RunRegistry()
    running = [controls.stop, controls.skip]

    def buttons(on: bool) -> Callable[[], list[gr.Button]]:
        return lambda: [gr.Button(interactive=on), gr.Button(interactive=on)]

    def run(
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio injects it here)
        recipe_link: dict[str, Any] | None = None,
        **values: Any,
    ) -> Iterator[GenerateOutputs]:
        try:
            form = read_form(values)
            yield from generate_images(
                engine,
                form,
                recipe=linked_recipe(recipe_link, form.request.prompt),
                request=request,
                progress=progress,
                on_result=on_result,
                runs=runs,
            )
        except gr.Error as exc:  # kept on the page; the finished images stay, Stop goes grey
            gr.Warning(exc.message, duration=None, title="Nothing was generated")
            yield GenerateOutputs(
                gr.Image(value=None, visible=False),
                gr.Gallery(elem_classes=[]),
                error_line(exc.message),
                gr.skip(),
                gr.skip(),
            )

    started = controls.generate.click(buttons(True), outputs=running, queue=False, **QUIET)
    started.then(
        fn=run,
        inputs_kwargs={**tab.form_inputs(), "recipe_link": tab.recipe},
        outputs=[  # in the order of `GenerateOutputs`
            output.preview,
            output.images,
            output.info,
            controls.used,
            output.result_seeds,
        ],
        concurrency_id="generate",
        concurrency_limit=1,
        **PRIVATE,  # scripts use the named `generate` endpoint (ui/generate/api.py)
    ).then(buttons(False), outputs=running, **QUIET)

    def ask_stop(request: gr.Request) -> str:
        return "Stopping…" if runs.stop(session_of(request)) else gr.skip()

    def ask_skip(request: gr.Request) -> str:
        if runs.skip(session_of(request)):
            return "Skipping the rest of the batch after this image…"
        return gr.skip()

    # Their own concurrency groups, unlimited: they must run while Generate holds its slot.
    controls.stop.click(ask_stop, outputs=output.info, concurrency_limit=None, **QUIET)
    controls.skip.click(ask_skip, outputs=output.info, concurrency_limit=None, **QUIET)
