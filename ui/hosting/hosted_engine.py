"""The engine as a public app offers it: allowed models only, bounded requests, one run at a
time and a few runs a minute per visitor, and the pipeline on ZeroGPU when the Space has it.

`HostedEngine` wraps the real `Engine` and keeps its `generate` contract, so the Generate tab
and the API endpoint need no change; every check happens on the server, before any work, and
fails with one sentence (`InvalidRequestError`) that names no server path.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from typing import Any

from engine.errors import InvalidRequestError
from engine.generate import Engine
from engine.request import GenerationRequest, ImageSpec
from ui.hosting.mode import Hosting, Limits

RATE_WINDOW_S = 60.0
ANONYMOUS_PREFIX = "addr:"  # the rate key of a signed-out caller (see `Visitor.rate_key`)
ANONYMOUS = "anonymous"


class Admission:
    """Per-visitor bounds: at most `runs` at once, `per_minute` starts of a generation and
    `images_per_minute` images (generations and comparison batches) in any minute."""

    def __init__(
        self,
        runs: int,
        per_minute: int,
        images_per_minute: int = 10**9,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.runs, self.per_minute, self.images_per_minute = runs, per_minute, images_per_minute
        self._clock = clock
        self._running: collections.Counter[str] = collections.Counter()
        self._starts: dict[str, collections.deque[tuple[float, int, bool]]] = (
            collections.defaultdict(collections.deque)
        )
        self._lock = threading.Lock()

    @contextmanager
    def enter(self, visitor: str, images: int = 1, *, is_start: bool = True) -> Iterator[None]:
        """Hold one run slot of `visitor` for `images` images; `InvalidRequestError` when over
        a bound. A comparison's later batches pass `is_start=False` (they count as images)."""
        now = self._clock()
        with self._lock:
            starts = self._starts[visitor]
            while starts and now - starts[0][0] >= RATE_WINDOW_S:
                starts.popleft()
            if self._running[visitor] >= self.runs:
                raise InvalidRequestError(
                    "You already have a generation running; wait for it to finish."
                )
            started = sum(1 for _, _, start in starts if start)
            if is_start and started >= self.per_minute:
                raise InvalidRequestError(
                    f"You can start {self.per_minute} generations a minute here; "
                    f"try again in {self._wait(starts, now)} s."
                )
            if sum(n for _, n, _ in starts) + images > self.images_per_minute:
                raise InvalidRequestError(
                    f"You can make {self.images_per_minute} images a minute here; "
                    f"try again in {self._wait(starts, now)} s."
                )
            starts.append((now, images, is_start))
            self._running[visitor] += 1
        try:
            yield
        finally:
            with self._lock:
                self._running[visitor] -= 1
                if self._running[visitor] <= 0:
                    del self._running[visitor]

    @staticmethod
    def _wait(starts: collections.deque[tuple[float, int, bool]], now: float) -> int:
        return int(RATE_WINDOW_S - (now - starts[0][0])) + 1 if starts else 1


def check_limits(request: GenerationRequest, limits: Limits) -> None:
    """`InvalidRequestError` naming the first setting over this app's limit."""
    if max(request.width, request.height) > limits.max_side:
        raise InvalidRequestError(
            f"Images can be at most {limits.max_side}×{limits.max_side} px here."
        )
    if request.steps > limits.max_steps:
        raise InvalidRequestError(f"Use at most {limits.max_steps} steps here.")
    if request.num_images > limits.max_batch:
        raise InvalidRequestError(f"Make at most {limits.max_batch} images per run here.")
    longest = max(len(request.prompt or ""), len(request.negative_prompt or ""))
    if longest > limits.max_prompt_chars:
        raise InvalidRequestError(
            f"Prompts can be at most {limits.max_prompt_chars} characters long here."
        )


class HostedEngine:
    """`Engine` behind the public app's checks (see the module docstring); other attributes
    pass through to the wrapped engine."""

    def __init__(
        self,
        engine: Engine,
        hosting: Hosting,
        visitor_of: Callable[[], str],
        *,
        gpu_key: str | None = None,
    ) -> None:
        self.engine = engine
        self.hosting = hosting
        self._visitor_of = visitor_of
        self._gpu_key = gpu_key
        limits = hosting.limits or Limits()
        self.admission = Admission(
            limits.runs_per_visitor, limits.requests_per_minute, limits.images_per_minute
        )
        # One more gate that every signed-out caller shares: addresses can be forged or
        # rotated, so together they get a bounded share of the machine.
        self.anonymous = Admission(limits.anonymous_runs, 10**9, limits.anonymous_images_per_minute)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)

    @contextmanager
    def _admitted(self, images: int, *, is_start: bool = True) -> Iterator[None]:
        """Hold the caller's run slot, and for a signed-out caller also a shared one."""
        visitor = self._visitor_of()
        with ExitStack() as stack:
            stack.enter_context(self.admission.enter(visitor, images, is_start=is_start))
            if visitor.startswith(ANONYMOUS_PREFIX):
                try:
                    stack.enter_context(self.anonymous.enter(ANONYMOUS, images))
                except InvalidRequestError as error:
                    raise InvalidRequestError(
                        "This app is busy with signed-out visitors; sign in or try again in "
                        "a minute."
                    ) from error
            yield

    def check(self, request: GenerationRequest, model: str) -> None:
        """Every check that needs no work: the model is offered here, the request is bounded."""
        if not self.hosting.model_allowed(model):
            offered = ", ".join(self.hosting.allowed_models)
            raise InvalidRequestError(f"This app offers these models only: {offered}.")
        if self.hosting.limits is not None:
            check_limits(request, self.hosting.limits)

    def check_experiment_size(self, images: int) -> None:
        """Refuse a whole comparison over the limit before any of it is saved or run."""
        limits = self.hosting.limits
        if limits is not None and images > limits.max_experiment_images:
            raise InvalidRequestError(
                f"This comparison has {images} images; at most "
                f"{limits.max_experiment_images} are allowed here."
            )

    def generate(
        self,
        request: GenerationRequest,
        model: str = "demo",
        on_progress: Any = None,
        cancel: threading.Event | None = None,
        single_file_config: str | None = None,
    ) -> Any:
        """`Engine.generate` after the checks, holding one of the visitor's run slots."""
        model = (model or "").strip()
        self.check(request, model)
        if single_file_config is not None and self.hosting.public:
            raise InvalidRequestError("Model configuration folders cannot be chosen here.")
        with self._admitted(request.num_images):
            if self._gpu_key is not None:
                from ui.hosting.zerogpu import run_on_gpu

                return run_on_gpu(self._gpu_key, request, model, on_progress, cancel)
            return self.engine.generate(
                request, model=model, on_progress=on_progress, cancel=cancel
            )

    def generate_rows(
        self,
        specs: Sequence[ImageSpec],
        settings: GenerationRequest,
        model: str = "demo",
        on_progress: Any = None,
        cancel: threading.Event | None = None,
        single_file_config: str | None = None,
    ) -> Any:
        """`Engine.generate_rows` (a comparison's batch) after the same checks; the batch
        counts its images toward the visitor's images a minute, not as a new start."""
        specs = list(specs)
        model = (model or "").strip()
        self.check(settings, model)
        limits = self.hosting.limits
        if limits is not None:
            if len(specs) > limits.max_rows_per_call:
                raise InvalidRequestError(
                    f"Compare at most {limits.max_rows_per_call} images per batch here."
                )
            for spec in specs:
                check_limits(
                    replace(settings, prompt=spec.prompt, negative_prompt=spec.negative_prompt),
                    limits,
                )
        if single_file_config is not None and self.hosting.public:
            raise InvalidRequestError("Model configuration folders cannot be chosen here.")
        with self._admitted(len(specs), is_start=False):
            return self.engine.generate_rows(
                specs, settings, model=model, on_progress=on_progress, cancel=cancel
            )
