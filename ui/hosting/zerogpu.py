"""Running the pipeline on a ZeroGPU Space (and, unchanged, everywhere else).

On ZeroGPU a GPU is attached only while a function decorated with `@spaces.GPU` runs, in a
worker process forked from the app. `generate_on_gpu` is that function: a generator that runs
one generation and yields its progress events (with previews) and then its result, which the
`spaces` package streams back to the app process; closing it (the Stop button) stops the work.
Its GPU time is asked for up front by `gpu_seconds`, from steps × pixels × images.

Off Spaces `spaces.GPU` returns the function unchanged, so the same path runs in-process; the
`spaces` package imports neither torch nor CUDA and changes nothing at import.

The forked worker must find the engine without it being pickled, so the app registers it once
at start (`register_engine`) under a key; that small registry is the only module state here.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import spaces

from engine.errors import GenerationCancelled
from engine.generate import Engine
from engine.request import GenerationRequest
from ui.generate.batch import GenerationEvent, stream_generation

MIN_GPU_SECONDS = 15
MAX_GPU_SECONDS = 180
LOAD_SECONDS = 10  # moving weights onto the attached GPU, first step warm-up
SECONDS_PER_MEGAPIXEL_STEP = 0.12  # an SDXL-class UNet on a ZeroGPU slice, with margin

_engines: dict[str, Engine] = {}


def register_engine(engine: Engine, key: str = "default") -> str:
    """Make `engine` reachable from the GPU worker; return its key."""
    _engines[key] = engine
    return key


def gpu_seconds(key: str, request: GenerationRequest, model: str = "") -> int:
    """GPU time to reserve: load time plus steps × megapixels × images at a safe rate."""
    megapixels = request.width * request.height / 1_000_000
    work = request.steps * megapixels * max(1, request.num_images)
    estimate = LOAD_SECONDS + work * SECONDS_PER_MEGAPIXEL_STEP
    return int(min(MAX_GPU_SECONDS, max(MIN_GPU_SECONDS, math.ceil(estimate))))


@spaces.GPU(duration=gpu_seconds)
def generate_on_gpu(key: str, request: GenerationRequest, model: str) -> Iterator[GenerationEvent]:
    """Run one generation on the registered engine; yield progress events, then the result."""
    yield from stream_generation(_engines[key], request, model)


def run_on_gpu(
    key: str,
    request: GenerationRequest,
    model: str,
    on_progress: Any = None,
    cancel: Any = None,
) -> Any:
    """`Engine.generate`'s contract over `generate_on_gpu`: progress through the callback,
    `cancel` checked between steps (closing the GPU generator stops the worker)."""
    events = generate_on_gpu(key, request, model)
    try:
        for event in events:
            if event.progress is not None and on_progress is not None:
                on_progress(event.progress)
            if event.result is not None:
                return event.result
            if cancel is not None and cancel.is_set():
                break
    finally:
        events.close()
    raise GenerationCancelled("Generation was cancelled.")
