"""The Generate tab's handlers as plain functions (tested without a browser): the Generate
button's stream, Stop and Skip per browser session, and the seed helpers.

A click reaches the engine in five calls: the tab's event → `generate_images` →
`HostedEngine.stream_batch` → `ui.hosting.zerogpu.run_on_gpu` (one GPU entry for the batch,
one worker thread) → `Engine.generate`, once per image.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import closing
from typing import Any, NamedTuple

import gradio as gr
from PIL import Image

from engine.errors import EngineError
from engine.result import GenerationResult
from gallery.errors import DiskFullError, GalleryError, GalleryUnavailableError
from ui.forms import FormError, GenerateForm
from ui.hosting.batch import BatchEvent, RunControl
from ui.hosting.hosted_engine import HostedEngine
from ui.messages import shown

log = logging.getLogger(__name__)

ResultCallback = Callable[..., Any]
"""Receives each finished result and the recipe it came from; may return gallery ids."""


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


def session_of(request: gr.Request | None) -> str:
    """The browser session a request comes from ("local" outside an event)."""
    return getattr(request, "session_hash", None) or "local"


def read_form(values: dict[str, Any]) -> GenerateForm:
    """The page's or the API's values as a form; `gr.Error` with one sentence on a bad one."""
    try:
        return GenerateForm.read(values)
    except FormError as exc:
        raise gr.Error(shown(exc), duration=None) from None


RESULT_FORMAT = "png"
"""The results' file format on the page: the image's own pixels (WebP would smear them)."""
MODEL_LOADING = "Waiting for the model to load (torch, diffusers, the weights)…"


class GenerateOutputs(NamedTuple):
    """What the Generate button's stream updates, in the order of the event's outputs."""

    preview: Any
    """The live preview: shown only while an image is being made."""
    results: Any
    """The finished images, each once, as they finish."""
    info: Any
    used: Any
    """The first seed of the run (the "Last seed" box)."""
    seeds: Any
    """The seed of each result, for a click on a result."""


def generate_images(
    engine: HostedEngine,
    form: GenerateForm,
    *,
    recipe: dict[str, Any] | None = None,
    request: gr.Request | None = None,
    progress: gr.Progress | None = None,
    on_result: ResultCallback | None = None,
    runs: RunRegistry | None = None,
) -> Iterator[GenerateOutputs]:
    """Yield the page's outputs as the batch runs: the live preview while an image is made,
    each finished image into the results (the previous run's stay dimmed until then), and at
    the end the results alone, the preview hidden.

    `recipe` is the Builder recipe the prompt came from (see `linked_recipe`), recorded with
    the images. gr.Error on bad input; a stopped run ends with what finished and says so.
    """
    settings = form.request.with_seed()
    runs = runs or RunRegistry()
    session = session_of(request)
    control = runs.start(session)
    live = LiveBatch((settings.width, settings.height))
    last: BatchEvent | None = None
    try:
        if not engine.ready:  # `serve` answered its page before torch and the model loaded
            yield GenerateOutputs(gr.skip(), gr.skip(), MODEL_LOADING, gr.skip(), gr.skip())
            engine.wait_ready()
        yield GenerateOutputs(
            gr.Image(value=None, visible=True),
            gr.Gallery(elem_classes=["stale-results"]),
            f"Starting… (seed {settings.seed})",
            gr.skip(),
            gr.skip(),
        )
        with closing(engine.stream_batch(settings, form.model, control)) as batch:
            for event in batch:  # closed early (Stop cancels the event): the run stops too
                if event.done:
                    last = event
                else:
                    yield live.update(event, progress)
    except EngineError as exc:
        raise gr.Error(shown(exc), duration=None) from None
    finally:
        runs.finish(session, control)
    yield final_outputs(last, recipe, on_result)


class LiveBatch:
    """The batch as it forms: the preview of the image being made, the finished ones."""

    def __init__(self, size: tuple[int, int]) -> None:
        self.size = size

    def update(self, event: BatchEvent, progress: gr.Progress | None) -> GenerateOutputs:
        """The outputs for one progress or finished-image event."""
        label = f"image {event.index + 1} of {event.total}"
        if event.finished is not None:
            return GenerateOutputs(
                gr.skip(),
                results_gallery(event.finished),
                f"Finished {label}",
                gr.skip(),
                list(event.finished.seeds),
            )
        update = event.progress
        assert update is not None
        if progress is not None:
            progress((update.step, update.total), desc=f"Denoising {label}", unit="steps")
        preview = upscale_preview(update.preview, self.size)
        info = f"Step {update.step} of {update.total} · {label}"
        shown_preview = gr.skip() if preview is None else preview
        return GenerateOutputs(shown_preview, gr.skip(), info, gr.skip(), gr.skip())


def results_gallery(result: GenerationResult) -> gr.Gallery:
    """The results gallery showing `result`'s images with their seeds, no longer dimmed."""
    return gr.Gallery(
        value=captions(result), elem_classes=[], selected_index=None, format=RESULT_FORMAT
    )


def final_outputs(
    last: BatchEvent | None,
    recipe: dict[str, Any] | None,
    on_result: ResultCallback | None,
) -> GenerateOutputs:
    """The outputs once the batch ended: the preview hidden, every kept image in the results,
    what happened, the seeds; the result is recorded (a failure is a warning, the images
    stay)."""
    hidden = gr.Image(value=None, visible=False)
    finished = last.finished if last is not None else None
    if last is None or finished is None:
        stopped = "**Stopped** before any image finished; nothing was kept."
        return GenerateOutputs(hidden, gr.Gallery(elem_classes=[]), stopped, gr.skip(), gr.skip())
    message = describe_result(finished)
    kept = f"kept {len(finished.images)} of {last.total} images"
    if last.stopped:
        message = f"**Stopped**: {kept}.\n\n{message}"
    elif last.skipped:
        message = f"**Skipped** the rest: {kept}.\n\n{message}"
    if on_result is not None:
        try:
            on_result(finished, recipe)
        except Exception as exc:  # the images are shown all the same
            log.warning("recording a generation failed", exc_info=True)
            gr.Warning(shown(recording_warning(exc)))
    return GenerateOutputs(
        hidden,
        results_gallery(finished),
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


def captions(result: GenerationResult) -> list[tuple[Any, str]]:
    """Each image with its seed, as the galleries show them."""
    return [(image, f"seed {s}") for image, s in zip(result.images, result.seeds, strict=True)]


def recording_warning(exc: Exception) -> str:
    """One sentence for a failed gallery recording: an outage's or a full disk's own sentence,
    else the gallery's first line; never a driver's text (host, port, link) or a server path."""
    if isinstance(exc, (GalleryUnavailableError, DiskFullError)):
        return str(exc)
    if isinstance(exc, GalleryError):
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    elif isinstance(exc, OSError):
        reason = exc.strerror or type(exc).__name__
    else:  # a database driver's error says where the server is: the log has it
        return "The images were not recorded in the gallery; download them from the results."
    return (
        f"The images were not recorded in the gallery ({reason}); download them from the results."
    )


def describe_result(result: GenerationResult) -> str:
    """A short Markdown summary: seeds, model, scheduler, time."""
    p = result.provenance
    seeds = ", ".join(str(s) for s in result.seeds)
    demo = " (demo model: random weights)" if p.get("is_demo") else ""
    skip = result.request.clip_skip
    clip_skip = f" · **Clip skip** {skip}" if skip > 1 else ""
    lines = [
        f"**Seeds** {seeds} · **Model** {p['model_id']}{demo} · **Scheduler** {p['scheduler']}",
        f"**Size** {result.request.width}x{result.request.height}"
        f" · **Steps** {result.request.steps}"
        f" · **CFG** {result.request.guidance_scale:g}{clip_skip}"
        f" · **Time** {p['timings']['total_s']:.2f}s on {p['device']} ({p['dtype']})",
    ]
    lines += [f"*Note:* {note}" for note in p.get("notes", [])]
    return "\n\n".join(lines)


def upscale_preview(preview: Image.Image | None, size: tuple[int, int]) -> Image.Image | None:
    """Latent previews are 1/8 size; show them at the output size, with square pixels."""
    if preview is None:
        return None
    return preview.resize(size, Image.Resampling.NEAREST)


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
