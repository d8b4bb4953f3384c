"""The GPU boundary: every pipeline call of the app runs inside `run_on_gpu`, once per batch.

On a ZeroGPU Space a GPU is attached only while a function decorated with `@spaces.GPU` runs,
in a worker process forked from the app, and each entry is one GPU allocation (with its wait).
`run_on_gpu` takes a whole batch (`PipelineCall`s run in order: a Generate batch image by
image, one comparison batch, one regeneration) and yields its progress (with previews) and
each call's result, which `spaces` streams back to the app process. Stop and Skip reach the
work by closing the generator: its worker thread's cancel flag is set, and the engine's step
callback stops the pipeline at the next step. The GPU time is asked for up front
(`gpu_seconds`, from steps × pixels × images).

Off Spaces `spaces.GPU` returns the function unchanged, so the same path runs in-process; the
`spaces` package imports neither torch nor CUDA and changes nothing at import.

The forked worker must find the engine without it being pickled, so the app registers it
(`register_engine`) under a key; that small registry is the only module state here. Calls and
events are plain dataclasses, so they pickle across the process boundary.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import spaces

from engine.request import GenerationRequest, ImageSpec
from engine.result import GenerationResult, ProgressUpdate
from ui.hosting.engine_loading import EngineLoading
from ui.streaming import Emit, stream_work

if TYPE_CHECKING:  # torch loads with the engine, not with the page
    from engine.generate import Engine

MIN_GPU_SECONDS = 15
MAX_GPU_SECONDS = 180
LOAD_SECONDS = 10  # moving weights onto the attached GPU, first step warm-up
SECONDS_PER_MEGAPIXEL_STEP = 0.12  # an SDXL-class UNet on a ZeroGPU slice, with margin

_engines: dict[str, Engine | EngineLoading] = {}


@dataclass(frozen=True)
class PipelineCall:
    """One pipeline call: `Engine.generate(request)` (seeds and wildcards from the request),
    or, with `rows`, `Engine.generate_rows(rows, request)` (each row its own final prompts and
    seed; the request gives the shared settings)."""

    request: GenerationRequest
    model: str
    rows: tuple[ImageSpec, ...] | None = None
    single_file_config: str | None = None

    @property
    def images(self) -> int:
        return len(self.rows) if self.rows is not None else self.request.num_images


@dataclass(frozen=True)
class GpuEvent:
    """Progress of call `call` of the batch (with a preview), or that call's result."""

    call: int
    progress: ProgressUpdate | None = None
    result: GenerationResult | None = None


def register_engine(engine: Engine | EngineLoading) -> str:
    """Make `engine` (or the engine it is loading) reachable from the GPU worker; return its
    key."""
    key = f"engine-{id(engine)}"
    _engines[key] = engine
    return key


def gpu_seconds(key: str, calls: Sequence[PipelineCall]) -> int:
    """GPU time to reserve: load time plus steps × megapixels × images at a safe rate."""
    work = sum(
        call.request.steps * call.request.width * call.request.height / 1_000_000 * call.images
        for call in calls
    )
    estimate = LOAD_SECONDS + work * SECONDS_PER_MEGAPIXEL_STEP
    return int(min(MAX_GPU_SECONDS, max(MIN_GPU_SECONDS, math.ceil(estimate))))


@spaces.GPU(duration=gpu_seconds)
def run_on_gpu(key: str, calls: Sequence[PipelineCall]) -> Generator[GpuEvent, None, None]:
    """Run `calls` in order on the registered engine (waiting while it loads); yield progress,
    then each result."""
    source = _engines[key]

    def work(emit: Emit[GpuEvent], cancel: threading.Event) -> None:
        engine = source.wait() if isinstance(source, EngineLoading) else source
        for index, call in enumerate(calls):

            def report(update: ProgressUpdate, index: int = index) -> None:
                emit(GpuEvent(index, progress=update))

            if call.rows is None:
                result = engine.generate(
                    call.request,
                    model=call.model,
                    on_progress=report,
                    cancel=cancel,
                    single_file_config=call.single_file_config,
                )
            else:
                result = engine.generate_rows(
                    call.rows,
                    call.request,
                    model=call.model,
                    on_progress=report,
                    cancel=cancel,
                    single_file_config=call.single_file_config,
                )
            emit(GpuEvent(index, result=result))

    yield from stream_work(work)
