"""The Generate button as a plain function: runs the engine in a worker thread and streams
progress, previews and the final images. Testable without a browser."""

from __future__ import annotations

import contextvars
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from PIL import Image

from engine.errors import GenerationCancelled
from engine.generate import Engine
from engine.request import GenerationRequest, validate_request
from engine.result import GenerationResult, ProgressUpdate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GenerationEvent:
    """What the page shows next: a progress step (with preview), the finished result, or a
    warning after it (the images were shown but could not be recorded)."""

    progress: ProgressUpdate | None = None
    result: GenerationResult | None = None
    warning: str | None = None


def stream_generation(
    engine: Engine,
    request: GenerationRequest,
    model: str,
    cancel: threading.Event | None = None,
    on_result: Callable[[GenerationResult], Any] | None = None,
) -> Iterator[GenerationEvent]:
    """Yield progress events, then one result event, then a warning event if `on_result`
    (recording in the gallery) failed. EngineError propagates to the caller.

    The result is handed over before it is recorded, so a recording failure never loses the
    finished images. Closing the iterator early (the page's Stop button) sets `cancel`, so the
    worker stops at the next step instead of running on unseen.
    """
    cancel = cancel or threading.Event()
    events: queue.Queue[tuple[str, Any]] = queue.Queue()

    def work() -> None:
        try:
            result = engine.generate(
                request,
                model=model,
                on_progress=lambda u: events.put(("progress", u)),
                cancel=cancel,
            )
        except BaseException as exc:  # handed to the caller's thread, re-raised there
            events.put(("error", exc))
            return
        events.put(("result", result))
        if on_result is not None:
            try:
                on_result(result)
            except Exception as exc:  # the images are shown already; say why they are not kept
                log.warning("recording a generation failed", exc_info=True)
                events.put(("warning", recording_warning(exc)))
        events.put(("done", None))

    # The worker sees this event's context (Gradio's request: whose gallery records it).
    context = contextvars.copy_context()
    worker = threading.Thread(target=context.run, args=(work,), name="generate", daemon=True)
    worker.start()
    finished = False
    try:
        while True:
            kind, payload = events.get()
            if kind == "progress":
                yield GenerationEvent(progress=payload)
            elif kind == "result":
                finished = True
                yield GenerationEvent(result=payload)
            elif kind == "warning":
                yield GenerationEvent(warning=payload)
            elif kind == "done":
                return
            else:
                finished = True
                raise payload
    finally:
        if not finished:  # closed early: stop the worker (a shared `cancel` stays unset)
            cancel.set()
        worker.join(timeout=30)


@dataclass
class RunControl:
    """The Stop and Skip buttons of one running batch."""

    stop: threading.Event = field(default_factory=threading.Event)
    """Stop now: the image being made is dropped, the finished ones are kept."""
    skip: threading.Event = field(default_factory=threading.Event)
    """Finish the image being made, then drop the rest of the batch."""


@dataclass(frozen=True)
class BatchEvent:
    """What the page shows next while a batch runs image by image."""

    index: int
    """The image (0-based) this event is about."""
    total: int
    progress: ProgressUpdate | None = None
    finished: GenerationResult | None = None
    """All images finished so far, as one result (set when an image completes)."""
    done: bool = False
    """The last event: `finished` is the whole run (None if nothing finished)."""
    stopped: bool = False
    skipped: bool = False


def stream_batch(
    engine: Engine,
    request: GenerationRequest,
    model: str,
    control: RunControl | None = None,
) -> Iterator[BatchEvent]:
    """Generate the batch one image at a time (image k with seed + k, exactly what a batched
    call gives it), so Stop keeps finished images and Skip can drop the rest.

    EngineError other than a cancel propagates. The last event has `done=True`.
    """
    control = control or RunControl()
    validate_request(request)  # the whole batch's seeds in range before the first image
    request = request.with_seed()
    seeds = request.image_seeds()
    parts: list[GenerationResult] = []
    stopped = skipped = False
    for index, seed in enumerate(seeds):
        if control.stop.is_set():
            stopped = True
            break
        if control.skip.is_set():
            skipped = True
            break
        single = replace(request, seed=seed, num_images=1)
        try:
            for event in stream_generation(engine, single, model, cancel=control.stop):
                if event.progress is not None:
                    yield BatchEvent(index, len(seeds), progress=event.progress)
                elif event.result is not None:
                    parts.append(event.result)
                    yield BatchEvent(index, len(seeds), finished=merge_results(parts, request))
        except GenerationCancelled:
            stopped = True
            break
    skipped = skipped or (control.skip.is_set() and len(parts) < len(seeds) and not stopped)
    whole = merge_results(parts, request) if parts else None
    yield BatchEvent(
        len(parts), len(seeds), finished=whole, done=True, stopped=stopped, skipped=skipped
    )


def merge_results(parts: list[GenerationResult], request: GenerationRequest) -> GenerationResult:
    """Single-image results of one batch as one result (the request's seed is the first)."""
    first = parts[0]
    provenance = dict(first.provenance)
    timings = dict(provenance.get("timings", {}))
    timings["total_s"] = round(
        sum(float(p.provenance.get("timings", {}).get("total_s", 0.0)) for p in parts), 4
    )
    provenance["timings"] = timings
    notes: list[str] = []
    for part in parts:
        notes += [n for n in part.provenance.get("notes", []) if n not in notes]
    provenance["notes"] = notes
    return GenerationResult(
        images=[image for part in parts for image in part.images],
        seeds=[seed for part in parts for seed in part.seeds],
        prompts=[text for part in parts for text in part.prompts],
        negative_prompts=[text for part in parts for text in part.negative_prompts],
        request=replace(first.request, seed=parts[0].seeds[0], num_images=len(parts)),
        provenance=provenance,
    )


def recording_warning(exc: Exception) -> str:
    """One sentence for a failed gallery recording (no traceback, no server path)."""
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if isinstance(exc, OSError):
        first_line = exc.strerror or type(exc).__name__
    return (
        f"The images were not recorded in the gallery ({first_line}); "
        "download them from the results."
    )


def describe_result(result: GenerationResult) -> str:
    """A short Markdown summary: seeds, model, scheduler, time."""
    p = result.provenance
    seeds = ", ".join(str(s) for s in result.seeds)
    demo = " (demo model: random weights)" if p.get("is_demo") else ""
    skip = getattr(result.request, "clip_skip", 1)
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
