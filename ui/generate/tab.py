"""The Generate tab: prompt with its token count, seed row (🎲 ♻), Generate/Skip/Stop, progress
with a live preview and a strip of the batch, results with clickable per-image seeds.

A batch runs image by image (`stream_batch`), so Stop keeps the finished images and says
"stopped", and Skip finishes the image being made and drops the rest. Keyboard shortcuts
(Ctrl+Enter, Esc, Ctrl+↑/↓) live in `ui/static/shortcuts.js`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from engine.errors import EngineError
from engine.generate import Engine
from engine.result import GenerationResult
from engine.schedulers import scheduler_names
from prompts.token_budget import count_tokens
from prompts.weighting import PromptSyntaxError
from ui.generate.api import build_request
from ui.generate.batch import (
    RunControl,
    describe_result,
    recording_warning,
    stream_batch,
    upscale_preview,
)
from ui.generate.models_panel import build_models_panel
from ui.messages import shown

log = logging.getLogger(__name__)

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
| 🎲 / ♻ | Random seed (-1) / reuse the last seed |
"""


class RunRegistry:
    """The running batch of each browser session, so Stop and Skip reach it."""

    def __init__(self) -> None:
        self._runs: dict[str, RunControl] = {}
        self._lock = threading.Lock()

    def start(self, session: str) -> RunControl:
        control = RunControl()
        with self._lock:
            self._runs[session] = control
        return control

    def finish(self, session: str, control: RunControl) -> None:
        with self._lock:
            if self._runs.get(session) is control:
                del self._runs[session]

    def stop(self, session: str) -> bool:
        """Ask the session's run to stop; False when nothing runs."""
        with self._lock:
            control = self._runs.get(session)
        if control is None:
            return False
        control.stop.set()
        return True

    def skip(self, session: str) -> bool:
        """Ask the session's run to finish the image being made and drop the rest."""
        with self._lock:
            control = self._runs.get(session)
        if control is None:
            return False
        control.skip.set()
        return True


def _session(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or "local"


def generate_images(
    engine: Engine,
    model: str,
    prompt: str,
    negative: str,
    seed: str | float | None,
    steps: float,
    guidance: float,
    width: float,
    height: float,
    batch: float,
    scheduler: str,
    clip_skip: float = 1,
    recipe: dict[str, Any] | None = None,
    request: gr.Request | None = None,
    progress: gr.Progress | None = gr.Progress(),  # noqa: B008 (Gradio injects it here)
    on_result: Callable[..., Any] | None = None,
    runs: RunRegistry | None = None,
) -> Iterator[tuple[Any, ...]]:
    """Yield (preview, strip, results, info, used seed, result seeds) as the batch runs.

    `recipe` is the Generate tab's recipe link; the gallery gets the recipe only while the
    prompt is still the one it composed. gr.Error on bad input; a stopped run ends with what
    finished and says so.
    """
    settings = build_request(
        prompt, negative, seed, steps, guidance, width, height, batch, scheduler, clip_skip
    ).with_seed()
    size = (settings.width, settings.height)
    runs = runs or RunRegistry()
    session = _session(request)
    control = runs.start(session)
    strip: list[tuple[Any, str]] = []
    finished: GenerationResult | None = None
    last: Any = None
    try:
        yield (
            None,
            [],
            gr.Gallery(elem_classes=["stale-results"]),
            f"Starting… (seed {settings.seed})",
            gr.skip(),
            gr.skip(),
        )
        for event in stream_batch(engine, settings, model, control):
            label = f"image {event.index + 1} of {event.total}"
            if event.progress is not None:
                update = event.progress
                if progress is not None:
                    progress((update.step, update.total), desc=f"Denoising {label}", unit="steps")
                preview = upscale_preview(update.preview, size)
                live = strip + ([(preview, f"{label} · step {update.step}")] if preview else [])
                yield (
                    preview,
                    live,
                    gr.skip(),
                    f"Step {update.step} of {update.total} · {label}",
                    gr.skip(),
                    gr.skip(),
                )
            elif not event.done and event.finished is not None:
                finished = event.finished
                strip = _captions(finished)
                yield (
                    finished.images[-1],
                    strip,
                    gr.skip(),
                    f"Finished {label}",
                    gr.skip(),
                    (gr.skip()),
                )
            elif event.done:
                finished, last = event.finished, event
    except EngineError as exc:
        raise gr.Error(shown(exc)) from None
    finally:
        runs.finish(session, control)
    yield _final_outputs(finished, last, linked_recipe(recipe, prompt), on_result)


def _final_outputs(
    finished: GenerationResult | None,
    last: Any,
    recipe: dict[str, Any] | None,
    on_result: Callable[..., Any] | None,
) -> tuple[Any, ...]:
    if finished is None:
        return (
            gr.skip(),
            [],
            gr.Gallery(elem_classes=[]),
            "**Stopped** before any image finished; nothing was kept.",
            gr.skip(),
            gr.skip(),
        )
    message = describe_result(finished)
    if last.stopped:
        message = f"**Stopped**: kept {len(finished.images)} of {last.total} images.\n\n{message}"
    elif last.skipped:
        message = (
            f"**Skipped** the rest: kept {len(finished.images)} of {last.total} images."
            f"\n\n{message}"
        )
    if on_result is not None:
        try:
            on_result(finished, recipe)
        except Exception as exc:  # the images are shown all the same
            log.warning("recording a generation failed", exc_info=True)
            gr.Warning(shown(recording_warning(exc)))
    captions = _captions(finished)
    return (
        finished.images[0],
        captions,
        gr.Gallery(value=captions, elem_classes=[], selected_index=None),
        message,
        str(finished.seeds[0]),
        list(finished.seeds),
    )


def linked_recipe(link: dict[str, Any] | None, prompt: str | None) -> dict[str, Any] | None:
    """The recipe behind the prompt box: the link's recipe while the box still holds the prompt
    that recipe gave (a hand edit unlinks it), else None."""
    if not isinstance(link, dict) or not isinstance(link.get("recipe"), dict):
        return None
    return link["recipe"] if (prompt or "") == link.get("prompt") else None


def _captions(result: GenerationResult) -> list[tuple[Any, str]]:
    return [(image, f"seed {s}") for image, s in zip(result.images, result.seeds, strict=True)]


def prompt_token_count(prompt: str | None, tokenizer: Any) -> str:
    """ "N tokens · K chunks" for the prompt box (weighting syntax not counted)."""
    if not (prompt or "").strip():
        return "0 tokens"
    try:
        budget = count_tokens(prompt or "", tokenizer)
    except PromptSyntaxError as exc:
        return f"⚠ {exc}"
    chunks = len(budget.chunks)
    chunk_text = f" · {chunks} chunks of 75" if chunks > 1 else " of 75"
    return f"{budget.token_count} tokens{chunk_text}"


def seed_of_result(seeds: list[int] | None, event: gr.SelectData) -> Any:
    """The seed of the clicked result image (what the seed box gets)."""
    if not seeds or event.index is None or not 0 <= int(event.index) < len(seeds):
        return gr.skip()
    return str(seeds[int(event.index)])


def reuse_seed(used: str | None) -> Any:
    """♻: the last run's seed, or a warning when nothing ran yet."""
    if not (used or "").strip():
        gr.Warning("Nothing has run yet; there is no seed to reuse.")
        return gr.skip()
    return int(used)


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
    recipe: gr.State
    """{"recipe": dict, "prompt": text}: the Builder recipe and the prompt it gave (see
    `linked_recipe`), or None."""
    to_builder: gr.Button


def build_generate_tab(
    engine: Engine,
    default_model: str,
    on_result: Callable[..., Any] | None = None,
    tokenizer: Callable[[], Any] | None = None,
) -> GenerateTab:
    """Add the Generate tab's widgets and events to the current Blocks."""
    if tokenizer is None:
        from engine.tokenizer import load_clip_tokenizer

        tokenizer = load_clip_tokenizer
    start_size = START_SIZES.get(default_model, 512)
    with gr.Row(equal_height=False, elem_id="gen-layout"):
        with gr.Column(scale=3, elem_id="gen-left"):
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
                    label="Negative prompt", lines=2, elem_id="negative", elem_classes=["prompt"]
                )
            with gr.Column(elem_id="gen-actions"):
                with gr.Row():
                    generate = gr.Button("Generate", variant="primary", scale=3, elem_id="generate")
                    skip = gr.Button("Skip", interactive=False, scale=1, elem_id="skip")
                    stop = gr.Button(
                        "Stop", variant="stop", interactive=False, scale=1, elem_id="stop"
                    )
                gr.Markdown(
                    "Ctrl+Enter generate · Esc stop · Ctrl+↑/↓ weight a word",
                    elem_id="shortcut-line",
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
                    dice = gr.Button("🎲", scale=0, min_width=44, elem_id="seed-random")
                    recycle = gr.Button("♻", scale=0, min_width=44, elem_id="seed-reuse")
                    used = gr.Textbox(
                        label="Last seed",
                        interactive=False,
                        scale=2,
                        min_width=120,
                        elem_id="seed-used",
                    )
                with gr.Row():
                    batch = gr.Slider(1, 8, value=1, step=1, label="Images", elem_id="batch")
                    clip_skip = gr.Slider(
                        1, 12, value=1, step=1, label="Clip skip", elem_id="clip-skip"
                    )
                with gr.Row():
                    steps = gr.Slider(1, 150, value=20, step=1, label="Steps", elem_id="steps")
                    guidance = gr.Slider(
                        0, 30, value=7.0, step=0.5, label="CFG scale", elem_id="guidance"
                    )
                with gr.Row():
                    width = gr.Slider(
                        64,
                        2048,
                        value=start_size,
                        step=8,
                        label="Width",
                        elem_id="width",
                    )
                    height = gr.Slider(
                        64,
                        2048,
                        value=start_size,
                        step=8,
                        label="Height",
                        elem_id="height",
                    )
                scheduler = gr.Dropdown(
                    scheduler_names(), value="Euler a", label="Scheduler", elem_id="scheduler"
                )
                to_builder = gr.Button("← Open in Builder", size="sm", elem_id="gen-to-builder")
            build_models_panel(
                Path(engine.models.models_dir),
                engine.lora_folder.names,
                [model, steps, guidance, width, height, scheduler],
            )
            with gr.Accordion("Keyboard shortcuts", open=False, elem_id="gen-help"):
                gr.Markdown(SHORTCUTS_HELP)
        with gr.Column(scale=4, elem_id="gen-output"):
            info = gr.Markdown(elem_id="info")
            preview = gr.Image(
                label="Preview", type="pil", interactive=False, height=320, elem_id="preview"
            )
            strip = gr.Gallery(
                label="This batch",
                columns=8,
                height=110,
                object_fit="cover",
                fit_columns=False,
                allow_preview=False,
                elem_id="batch-strip",
            )
            images = gr.Gallery(
                label="Results (click one to use its seed)",
                columns=4,
                height="auto",
                object_fit="contain",
                elem_id="results",
            )
    recipe = gr.State(None)
    result_seeds = gr.State([])
    runs = RunRegistry()

    prompt.change(
        lambda text: prompt_token_count(text, tokenizer()),
        inputs=prompt,
        outputs=tokens,
        trigger_mode="always_last",
        concurrency_limit=None,
        **QUIET,
    )
    dice.click(lambda: "-1", outputs=seed, **QUIET)
    recycle.click(reuse_seed, inputs=used, outputs=seed, **QUIET)
    images.select(seed_of_result, inputs=result_seeds, outputs=seed, **QUIET)

    def buttons(running: bool) -> Callable[[], list[gr.Button]]:
        return lambda: [gr.Button(interactive=running), gr.Button(interactive=running)]

    started = generate.click(buttons(True), outputs=[stop, skip], queue=False, **QUIET)

    def run_generate(
        model: str,
        prompt: str,
        negative: str,
        seed: str | float | None,
        steps: float,
        guidance: float,
        width: float,
        height: float,
        batch: float,
        scheduler: str,
        clip_skip: float,
        recipe: dict[str, Any] | None,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio injects it here)
    ) -> Iterator[tuple[Any, ...]]:
        yield from generate_images(
            engine,
            model,
            prompt,
            negative,
            seed,
            steps,
            guidance,
            width,
            height,
            batch,
            scheduler,
            clip_skip,
            recipe,
            request,
            progress,
            on_result=on_result,
            runs=runs,
        )

    run = started.then(
        fn=run_generate,
        inputs=[
            model,
            prompt,
            negative,
            seed,
            steps,
            guidance,
            width,
            height,
            batch,
            scheduler,
            clip_skip,
            recipe,
        ],
        outputs=[preview, strip, images, info, used, result_seeds],
        concurrency_id="generate",
        concurrency_limit=1,
        **PRIVATE,  # scripts use the named `generate` endpoint (ui/api.py)
    )
    run.then(buttons(False), outputs=[stop, skip], **QUIET)

    def ask_stop(request: gr.Request) -> str:
        return "Stopping…" if runs.stop(_session(request)) else gr.skip()

    def ask_skip(request: gr.Request) -> str:
        if runs.skip(_session(request)):
            return "Skipping the rest of the batch after this image…"
        return gr.skip()

    # Their own concurrency groups, unlimited: they must run while Generate holds its slot.
    stop.click(ask_stop, outputs=info, concurrency_limit=None, **QUIET)
    skip.click(ask_skip, outputs=info, concurrency_limit=None, **QUIET)
    return GenerateTab(
        prompt,
        negative,
        seed,
        steps,
        guidance,
        width,
        height,
        scheduler,
        model,
        batch,
        clip_skip,
        recipe,
        to_builder,
    )
