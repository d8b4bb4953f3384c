"""The Generate button as a plain function: runs the engine in a worker thread and streams
progress, previews and the final images. Testable without a browser."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from PIL import Image

from engine.generate import Engine
from engine.request import GenerationRequest
from engine.result import GenerationResult, ProgressUpdate


@dataclass(frozen=True)
class GenerationEvent:
    """What the page shows next: a progress step (with preview) or the finished result."""

    progress: ProgressUpdate | None = None
    result: GenerationResult | None = None


def stream_generation(
    engine: Engine,
    request: GenerationRequest,
    model: str,
    cancel: threading.Event | None = None,
    on_result: Callable[[GenerationResult], Any] | None = None,
) -> Iterator[GenerationEvent]:
    """Yield progress events, then one result event. EngineError propagates to the caller.

    Closing the iterator early (the page's Stop button) sets `cancel`, so the worker stops at
    the next step instead of running on unseen.
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
            if on_result is not None:
                on_result(result)
            events.put(("result", result))
        except BaseException as exc:  # handed to the caller's thread, re-raised there
            events.put(("error", exc))

    worker = threading.Thread(target=work, name="generate", daemon=True)
    worker.start()
    try:
        while True:
            kind, payload = events.get()
            if kind == "progress":
                yield GenerationEvent(progress=payload)
            elif kind == "result":
                yield GenerationEvent(result=payload)
                return
            else:
                raise payload
    finally:
        cancel.set()
        worker.join(timeout=30)


def describe_result(result: GenerationResult) -> str:
    """A short Markdown summary: seeds, model, scheduler, time."""
    p = result.provenance
    seeds = ", ".join(str(s) for s in result.seeds)
    demo = " (demo model: random weights)" if p.get("is_demo") else ""
    lines = [
        f"**Seeds** {seeds} · **Model** {p['model_id']}{demo} · **Scheduler** {p['scheduler']}",
        f"**Size** {result.request.width}x{result.request.height}"
        f" · **Steps** {result.request.steps}"
        f" · **CFG** {result.request.guidance_scale:g} · **Time** {p['timings']['total_s']:.2f}s"
        f" on {p['device']} ({p['dtype']})",
    ]
    lines += [f"*Note:* {note}" for note in p.get("notes", [])]
    return "\n\n".join(lines)


def upscale_preview(preview: Image.Image | None, size: tuple[int, int]) -> Image.Image | None:
    """Latent previews are 1/8 size; show them at the output size."""
    if preview is None:
        return None
    return preview.resize(size, Image.Resampling.NEAREST)
