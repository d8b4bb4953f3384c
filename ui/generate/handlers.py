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
from typing import Any

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


MODEL_LOADING = "Waiting for the model to load (torch, diffusers, the weights)…"


def generate_images(
    engine: HostedEngine,
    form: GenerateForm,
    *,
    recipe: dict[str, Any] | None = None,
    request: gr.Request | None = None,
    progress: gr.Progress | None = None,
    on_result: ResultCallback | None = None,
    runs: RunRegistry | None = None,
) -> Iterator[tuple[Any, ...]]:
    """Yield (preview, strip, results, info, used seed, result seeds) as the batch runs.

    `recipe` is the Builder recipe the prompt came from (see `linked_recipe`), recorded with
    the images. gr.Error on bad input; a stopped run ends with what finished and says so.
    """
    settings = form.request.with_seed()
    runs = runs or RunRegistry()
    session = session_of(request)
    control = runs.start(session)
    shown_so_far = Strip((settings.width, settings.height))
    last: BatchEvent | None = None
    try:
        if not engine.ready:  # `serve` answered its page before torch and the model loaded
            yield (None, [], gr.skip(), MODEL_LOADING, gr.skip(), gr.skip())
            engine.wait_ready()
        yield (
            None,
            [],
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
                    yield shown_so_far.update(event, progress)
    except EngineError as exc:
        raise gr.Error(shown(exc), duration=None) from None
    finally:
        runs.finish(session, control)
    yield final_outputs(last, recipe, on_result)


class Strip:
    """The strip of the batch as it forms: the finished images, then the current preview."""

    def __init__(self, size: tuple[int, int]) -> None:
        self.size = size
        self.finished: list[tuple[Any, str]] = []

    def update(self, event: BatchEvent, progress: gr.Progress | None) -> tuple[Any, ...]:
        """The outputs for one progress or finished-image event."""
        label = f"image {event.index + 1} of {event.total}"
        if event.finished is not None:
            self.finished = captions(event.finished)
            image = event.finished.images[-1]
            return image, self.finished, gr.skip(), f"Finished {label}", gr.skip(), gr.skip()
        update = event.progress
        assert update is not None
        if progress is not None:
            progress((update.step, update.total), desc=f"Denoising {label}", unit="steps")
        preview = upscale_preview(update.preview, self.size)
        live = self.finished + ([(preview, f"{label} · step {update.step}")] if preview else [])
        info = f"Step {update.step} of {update.total} · {label}"
        return preview, live, gr.skip(), info, gr.skip(), gr.skip()


def final_outputs(
    last: BatchEvent | None,
    recipe: dict[str, Any] | None,
    on_result: ResultCallback | None,
) -> tuple[Any, ...]:
    """The outputs once the batch ended: every kept image, what happened, the seeds; the
    result is recorded (a failure is a warning, the images stay)."""
    finished = last.finished if last is not None else None
    if last is None or finished is None:
        return (
            gr.skip(),
            [],
            gr.Gallery(elem_classes=[]),
            "**Stopped** before any image finished; nothing was kept.",
            gr.skip(),
            gr.skip(),
        )
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
    shown_captions = captions(finished)
    return (
        finished.images[0],
        shown_captions,
        gr.Gallery(value=shown_captions, elem_classes=[], selected_index=None),
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
    """Latent previews are 1/8 size; show them at the output size."""
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
