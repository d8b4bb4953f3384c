"""Per-visitor bounds of a public app: how many runs at once, how many starts and images a
minute (`Admission`), and the size of one request (`check_limits`). Each refusal is one
sentence (`InvalidRequestError`) that names no server path."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from engine.errors import InvalidRequestError
from engine.request import GenerationRequest
from ui.hosting.mode import Limits

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
        a bound. A comparison's later batches pass `is_start=False` (they count as images).
        A count below 1 is refused: it would give images back to the minute's budget."""
        if isinstance(images, bool) or not isinstance(images, int) or images < 1:
            raise InvalidRequestError("The number of images must be a whole number of at least 1.")
        now = self._clock()
        with self._lock:
            starts = self._refusal(visitor, images, is_start, now)
            starts.append((now, images, is_start))
            self._running[visitor] += 1
        try:
            yield
        finally:
            with self._lock:
                self._running[visitor] -= 1
                if self._running[visitor] <= 0:
                    del self._running[visitor]

    def check(self, visitor: str, images: int, *, is_start: bool = True) -> None:
        """Raise what `enter` would raise now, counting nothing (a comparison asks this for
        all its images before it saves anything)."""
        if isinstance(images, bool) or not isinstance(images, int) or images < 1:
            raise InvalidRequestError("The number of images must be a whole number of at least 1.")
        with self._lock:
            self._refusal(visitor, images, is_start, self._clock())

    def _refusal(
        self, visitor: str, images: int, is_start: bool, now: float
    ) -> collections.deque[tuple[float, int, bool]]:
        """`InvalidRequestError` when `visitor` is over a bound; else their starts this
        minute (held under the lock)."""
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
        return starts

    @staticmethod
    def _wait(starts: collections.deque[tuple[float, int, bool]], now: float) -> int:
        return int(RATE_WINDOW_S - (now - starts[0][0])) + 1 if starts else 1


def check_limits(request: GenerationRequest, limits: Limits) -> None:
    """`InvalidRequestError` naming the first setting over this app's limit (or below 1:
    a negative count must never reach the per-minute ledger)."""
    for value, name in (
        (request.num_images, "number of images"),
        (request.steps, "number of steps"),
        (request.width, "width"),
        (request.height, "height"),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidRequestError(f"The {name} must be a whole number of at least 1.")
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
