"""A refinement as one plain function: form -> rounds rendered through the hosted engine,
each round saved in the gallery as it finishes (`gallery.refine_runs`), so Stop keeps the
finished rounds. Used by the Compare tab's Refine mode, the `refine` command and the `refine`
API endpoint. Also the interrogator the app shares (one per process and cache folder).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass, replace
from pathlib import Path

from PIL import Image

from engine.interrogate import Interrogation, Interrogator
from engine.refine import RefineProgress, Refiner, RefineRound
from engine.refine_targets import ImageTarget, RefineTarget, TextTarget
from gallery.refine_runs import RefineRecorder
from gallery.views import OwnerGallery
from ui.hosting.hosted_engine import HostedEngine
from ui.recording import new_generation
from ui.refine.form import RefineForm
from ui.streaming import Emit, stream_work

CACHE_FOLDER = "clip-cache"


@functools.lru_cache(maxsize=4)
def shared_interrogator(data_dir: Path) -> Interrogator:
    """The interrogator for this data folder: the scores' CLIP, its vocabulary embeddings
    cached on disk under `data_dir/clip-cache`."""
    return Interrogator(cache_dir=Path(data_dir) / CACHE_FOLDER)


def interrogate(interrogator: Interrogator, picture: Image.Image) -> Interrogation:
    """The picture as a recipe with each facet's ranking (a lock: one reading at a time)."""
    with _reading_lock:
        return interrogator.interrogate(picture)


_reading_lock = threading.Lock()


@dataclass(frozen=True)
class RefineOutcome:
    """The run's rounds (`refiner`), the saved experiment per round, whether Stop ended it."""

    refiner: Refiner
    experiments: tuple[int, ...]
    cancelled: bool


@dataclass(frozen=True)
class RefineEvent:
    """What a streaming caller shows next: progress, a finished round, or the outcome."""

    progress: RefineProgress | None = None
    round: RefineRound | None = None
    experiment_id: int | None = None
    outcome: RefineOutcome | None = None


def target_of(form: RefineForm, interrogator: Interrogator) -> RefineTarget:
    """The form's target, scored by the interrogator's CLIP and guided by its vocabularies."""
    if form.target_kind == "image" and form.target_image is not None:
        return ImageTarget(form.target_image, interrogator.scorer, interrogator)
    return TextTarget(form.target_text, interrogator.scorer, interrogator)


def check(engine: HostedEngine, form: RefineForm) -> None:
    """Everything that needs no work: a public app's bounds on the run and on each round,
    the model and the settings (`FormError` or `InvalidRequestError`, one sentence)."""
    form.check_limits(engine.hosting.limits)
    engine.check_experiment_size(form.images_per_round)
    start = form.spec.start.subject or form.spec.start.free_text
    engine.check(replace(form.spec.settings, prompt=start), form.spec.model)


def run_refinement(
    engine: HostedEngine,
    store: OwnerGallery,
    form: RefineForm,
    interrogator: Interrogator,
    *,
    on_progress: Callable[[RefineProgress], None] | None = None,
    on_round: Callable[[RefineRound, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> RefineOutcome:
    """Run the form's refinement round by round; raises FormError, EngineError or
    GalleryError. Every round is one comparison (batched pipeline calls through the GPU
    boundary) and is saved in `store` (the caller's own gallery) when it finishes."""
    check(engine, form)
    target = target_of(form, interrogator)
    recorder = RefineRecorder(
        store,
        new_generation,
        name=form.name or f"Refine {form.spec.start.subject or 'a prompt'}"[:80],
        spec=form.spec.to_dict(),
        target=target.describe(),
        scorer=interrogator.scorer.name,
        meaningful=interrogator.scorer.meaningful,
    )
    refiner = Refiner(
        engine,  # type: ignore[arg-type] (a HostedEngine runs rows as the Engine does)
        form.spec,
        target,
        interrogator.facets,
        interrogator.library,
        on_progress=on_progress,
        cancel=cancel,
    )
    round_: RefineRound | None = refiner.start()
    cancelled = False
    while round_ is not None:
        if any(c.scores for c in round_.variants):
            experiment = recorder.record_round(round_)
            if on_round is not None:
                on_round(round_, experiment.id)
        cancelled = round_.cancelled
        if cancelled or refiner.finished:
            break
        round_ = refiner.step()
    return RefineOutcome(refiner, tuple(recorder.experiments), cancelled)


def stream_refinement(
    engine: HostedEngine, store: OwnerGallery, form: RefineForm, interrogator: Interrogator
) -> Generator[RefineEvent, None, None]:
    """`run_refinement` in a worker thread: progress, each finished round, then the outcome.
    Closing the iterator (the page's Stop) stops the run at its next step; the finished
    rounds stay saved."""

    def work(emit: Emit[RefineEvent], cancel: threading.Event) -> None:
        outcome = run_refinement(
            engine,
            store,
            form,
            interrogator,
            on_progress=lambda update: emit(RefineEvent(progress=update)),
            on_round=lambda round_, eid: emit(RefineEvent(round=round_, experiment_id=eid)),
            cancel=cancel,
        )
        emit(RefineEvent(outcome=outcome))

    yield from stream_work(work, name="refine")
