"""The engine loading behind the page: `serve` answers its page first, while torch, diffusers
and the first model load in one background thread.

Nothing here imports torch: the engine is built by the `build` function given, in the thread.
Whoever needs the engine calls `wait()`; the page shows `status()` until it is ready.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import EngineError, ModelLoadError
from engine.loras import LoraFolder
from ui.messages import md_text

if TYPE_CHECKING:  # the engine's libraries load in the thread, not with this module
    from engine.generate import Engine

LOADING_LIBRARIES = "Loading torch and diffusers"
READY_LINE = "The engine is ready"


class EngineLoading:
    """An engine being built in a background thread, and the first model warmed up.

    `models_dir` and `loras_dir` are known before the engine exists (the page lists their
    contents at once). A failure to build the engine is kept and raised, as one sentence, by
    every `wait()`; a failure to warm the model only (a missing checkpoint) leaves the engine
    ready and shows again, the usual way, when that model is asked for.
    """

    def __init__(
        self,
        build: Callable[[], Engine],
        models_dir: Path,
        loras_dir: Path,
        warm_model: str | None = None,
    ) -> None:
        self.models_dir = Path(models_dir)
        self.lora_folder = LoraFolder(Path(loras_dir))
        self._build = build
        self._warm_model = warm_model
        self._done = threading.Event()
        self._engine: Engine | None = None
        self._error: str | None = None
        self._stage = LOADING_LIBRARIES
        self._thread: threading.Thread | None = None

    def start(self) -> EngineLoading:
        """Begin loading (once); return self."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._load, name="engine-loading", daemon=True)
            self._thread.start()
        return self

    def _load(self) -> None:
        started = time.perf_counter()
        try:
            engine = self._build()
        except Exception as exc:  # kept for every waiter; the server stays up
            self._error = _sentence(exc)
            self._done.set()
            return
        if self._warm_model:
            self._stage = f"Loading the model {self._warm_model}"
            try:
                engine.models.get(self._warm_model)
            except Exception as exc:  # the same error shows when the model is asked for
                print(f"The model {self._warm_model} did not load: {exc}", flush=True)
        self._engine = engine
        self._done.set()
        print(f"{READY_LINE} ({time.perf_counter() - started:.1f} s).", flush=True)

    @property
    def ready(self) -> bool:
        """True once the engine is built (and the first model tried), or failed."""
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> Engine:
        """The engine, once built; EngineError when it could not be (or `timeout` passed)."""
        self.start()
        if not self._done.wait(timeout):
            raise ModelLoadError("The model is still loading; try again in a moment.")
        if self._engine is None:
            raise ModelLoadError(f"The engine could not be loaded: {self._error}")
        return self._engine

    def status(self) -> str:
        """One Markdown line for the page: the loading stage, the failure, or "" when ready."""
        if not self._done.is_set():
            return f"⏳ **{md_text(self._stage)}…** Generate waits until it is ready."
        if self._engine is None:
            return f"⚠️ **The engine could not be loaded:** {md_text(self._error or '')}"
        return ""


def _sentence(exc: BaseException) -> str:
    """One sentence for the page: an EngineError's own, a missing library's name, else the
    error's kind (the details, which may name server paths, go to the server's log)."""
    if isinstance(exc, EngineError):
        return str(exc)
    if isinstance(exc, ImportError) and exc.name:
        return f"the library {exc.name} is missing."
    print(f"Loading the engine failed: {type(exc).__name__}: {exc}", flush=True)
    return f"{type(exc).__name__} (see the server's log)."
