"""The engine as this app runs it: through the GPU boundary once per batch, and in public mode
behind the model allow-list, the limits and each visitor's admission.

Every path that runs the pipeline comes through here: the Generate tab's batch
(`stream_batch`: image by image, Stop and Skip), the API and the CLI (`generate`), the batches
of a comparison or an ablation and Regenerate from record (`generate_rows`). Each runs as one
`ui.hosting.zerogpu.run_on_gpu` entry, or on Ray Serve replicas
(`ui.hosting.engine_runners`). The public checks happen on the server, before any
work, and fail with one sentence (`InvalidRequestError`) that names no server path.

The engine may still be loading (`ui.hosting.engine_loading`, as `serve` starts it): the page
is built from what is known without it, and a run waits for it.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from threading import Event
from typing import TYPE_CHECKING

from engine.errors import GenerationCancelled, InvalidRequestError
from engine.loras import LoraFolder
from engine.request import GenerationRequest, ImageSpec, validate_request
from engine.result import GenerationResult
from ui.hosting.admission import ANONYMOUS, ANONYMOUS_PREFIX, Admission, check_limits
from ui.hosting.batch import BatchEvent, RunControl, merge_results
from ui.hosting.engine_loading import EngineLoading
from ui.hosting.engine_runners import PipelineRunner, runner_for
from ui.hosting.mode import Hosting, Limits
from ui.hosting.zerogpu import PipelineCall

if TYPE_CHECKING:  # torch loads with the engine, not with the page
    from engine.generate import Engine, ProgressCallback
    from engine.loading import ModelManager

LOCAL = "local"
BUSY_WITH_SIGNED_OUT = (
    "This app is busy with signed-out visitors; sign in or try again in a minute."
)


class HostedEngine:
    """`Engine` as the app runs it (see the module docstring)."""

    def __init__(
        self,
        engine: Engine | EngineLoading,
        hosting: Hosting | None = None,
        visitor_of: Callable[[], str] = lambda: LOCAL,
        runner: PipelineRunner | None = None,
    ) -> None:
        """`engine` may still be loading; `visitor_of()` names whom a run counts against (a
        visitor's rate key); `runner` runs the pipeline calls (default: `ATELIER_ENGINE`, else
        this process's engine)."""
        self._source = engine
        self.hosting = hosting or Hosting()
        self._visitor_of = visitor_of
        self.runner = runner if runner is not None else runner_for(engine)
        limits = self.hosting.limits or Limits()
        self.admission = Admission(
            limits.runs_per_visitor, limits.requests_per_minute, limits.images_per_minute
        )
        # One more gate that every signed-out caller shares: addresses can be forged or
        # rotated, so together they get a bounded share of the machine.
        self.anonymous = Admission(limits.anonymous_runs, 10**9, limits.anonymous_images_per_minute)

    @property
    def engine(self) -> Engine:
        """The engine, waiting for it while it loads (EngineError if it could not)."""
        source = self._source
        return source.wait() if isinstance(source, EngineLoading) else source

    @property
    def ready(self) -> bool:
        """False while the engine is still loading."""
        return not isinstance(self._source, EngineLoading) or self._source.ready

    def wait_ready(self) -> None:
        """Return once the engine is loaded; EngineError if it could not be."""
        if isinstance(self._source, EngineLoading):
            self._source.wait()

    def loading_status(self) -> str:
        """A Markdown line while the engine loads or when it failed; "" once it is ready."""
        return self._source.status() if isinstance(self._source, EngineLoading) else ""

    @property
    def models(self) -> ModelManager:
        return self.engine.models

    @property
    def models_dir(self) -> Path:
        """The built models' folder, known before the engine is loaded."""
        source = self._source
        return source.models_dir if isinstance(source, EngineLoading) else source.models.models_dir

    @property
    def lora_folder(self) -> LoraFolder:
        """The LoRA folder, known before the engine is loaded."""
        return self._source.lora_folder

    def resolve_prompt(self, text: str, seed: int) -> str:
        """The engine's wildcard resolution (a comparison resolves each cell's prompts)."""
        return self.engine.resolve_prompt(text, seed)

    # --- the checks -------------------------------------------------------------------------

    def check(
        self, request: GenerationRequest, model: str, single_file_config: str | None = None
    ) -> None:
        """Every check that needs no work: the model is offered here, the request is bounded."""
        if not self.hosting.model_allowed(model):
            offered = ", ".join(self.hosting.allowed_models)
            raise InvalidRequestError(f"This app offers these models only: {offered}.")
        if self.hosting.limits is not None:
            check_limits(request, self.hosting.limits)
        if single_file_config is not None and self.hosting.public:
            raise InvalidRequestError("Model configuration folders cannot be chosen here.")

    def check_experiment_size(self, images: int) -> None:
        """Refuse a whole comparison over the limit before any of it is saved or run."""
        limits = self.hosting.limits
        if limits is not None and images > limits.max_experiment_images:
            raise InvalidRequestError(
                f"This comparison has {images} images; at most "
                f"{limits.max_experiment_images} are allowed here."
            )

    def check_admission(self, images: int) -> None:
        """In public mode, refuse now (counting nothing) what admission would refuse for
        `images` more images of this caller, so a comparison saves nothing it cannot run."""
        if not self.hosting.public:
            return
        visitor = self._visitor_of()
        self.admission.check(visitor, images, is_start=False)
        if visitor.startswith(ANONYMOUS_PREFIX):
            try:
                self.anonymous.check(ANONYMOUS, images)
            except InvalidRequestError as error:
                raise InvalidRequestError(BUSY_WITH_SIGNED_OUT) from error

    @contextmanager
    def _admitted(self, images: int, *, is_start: bool = True) -> Iterator[None]:
        """In public mode, hold the caller's run slot (and for a signed-out caller also a
        shared one); elsewhere nothing is counted."""
        if not self.hosting.public:
            yield
            return
        visitor = self._visitor_of()
        with ExitStack() as stack:
            stack.enter_context(self.admission.enter(visitor, images, is_start=is_start))
            if visitor.startswith(ANONYMOUS_PREFIX):
                try:
                    stack.enter_context(self.anonymous.enter(ANONYMOUS, images))
                except InvalidRequestError as error:
                    raise InvalidRequestError(BUSY_WITH_SIGNED_OUT) from error
            yield

    # --- running ----------------------------------------------------------------------------

    def stream_batch(
        self, request: GenerationRequest, model: str, control: RunControl | None = None
    ) -> Generator[BatchEvent, None, None]:
        """The Generate tab's batch, one GPU entry for all of it: image k with seed + k (the
        pixels a batched call gives it), each its own pipeline call, so Stop keeps the finished
        images and Skip drops the rest once the image being made is done.

        EngineError propagates. The last event has `done=True`.
        """
        validate_request(request)  # the whole batch's seeds in range before the first image
        request, model = request.with_seed(), (model or "").strip()
        self.check(request, model)
        control = control or RunControl()
        seeds = request.image_seeds()
        calls = [PipelineCall(replace(request, seed=seed, num_images=1), model) for seed in seeds]
        parts: list[GenerationResult] = []
        stopped = skipped = False
        with self._admitted(len(seeds)):
            events = self.runner.run(calls)
            try:
                for event in events:
                    if event.result is None:
                        if control.stop.is_set():
                            stopped = True
                            break
                        yield BatchEvent(event.call, len(seeds), progress=event.progress)
                        continue
                    parts.append(event.result)
                    yield BatchEvent(event.call, len(seeds), finished=merge_results(parts))
                    if len(parts) < len(seeds) and (control.stop.is_set() or control.skip.is_set()):
                        stopped = control.stop.is_set()
                        skipped = not stopped
                        break
            finally:
                events.close()  # stops the work at its next step
        whole = merge_results(parts) if parts else None
        yield BatchEvent(
            len(parts), len(seeds), finished=whole, done=True, stopped=stopped, skipped=skipped
        )

    def generate(
        self,
        request: GenerationRequest,
        model: str = "demo",
        on_progress: ProgressCallback | None = None,
        cancel: Event | None = None,
        single_file_config: str | None = None,
    ) -> GenerationResult:
        """`Engine.generate` (one batched pipeline call) after the checks, in one GPU entry."""
        model = (model or "").strip()
        self.check(request, model, single_file_config)
        call = PipelineCall(request, model, single_file_config=single_file_config)
        with self._admitted(request.num_images):
            return self._run(call, on_progress, cancel)

    def generate_rows(
        self,
        specs: Sequence[ImageSpec],
        settings: GenerationRequest,
        model: str = "demo",
        on_progress: ProgressCallback | None = None,
        cancel: Event | None = None,
        single_file_config: str | None = None,
    ) -> GenerationResult:
        """`Engine.generate_rows` (a comparison's batch, a regeneration) after the same checks,
        in one GPU entry; the rows count toward the visitor's images a minute, not as a start."""
        rows = tuple(specs)
        model = (model or "").strip()
        self.check(settings, model, single_file_config)
        limits = self.hosting.limits
        if limits is not None:
            if len(rows) > limits.max_rows_per_call:
                raise InvalidRequestError(
                    f"Compare at most {limits.max_rows_per_call} images per batch here."
                )
            for row in rows:
                check_limits(
                    replace(settings, prompt=row.prompt, negative_prompt=row.negative_prompt),
                    limits,
                )
        call = PipelineCall(settings, model, rows, single_file_config)
        with self._admitted(len(rows), is_start=False):
            return self._run(call, on_progress, cancel)

    def _run(
        self, call: PipelineCall, on_progress: ProgressCallback | None, cancel: Event | None
    ) -> GenerationResult:
        """One call through the GPU boundary: progress to the callback, `cancel` checked at
        every step (closing the GPU generator stops the work)."""
        events = self.runner.run([call], progress=on_progress is not None)
        try:
            for event in events:
                if event.result is not None:
                    return event.result
                if on_progress is not None and event.progress is not None:
                    on_progress(event.progress)
                if cancel is not None and cancel.is_set():
                    break
        finally:
            events.close()
        raise GenerationCancelled("Generation was cancelled.")
