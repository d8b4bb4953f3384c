"""A refinement as one plain function: form -> rounds rendered through the hosted engine,
each round saved in the gallery as it finishes (`gallery.refine_runs`), so Stop keeps the
finished rounds. Used by the Compare tab's Refine mode, the `refine` command and the `refine`
API endpoint. Also the interrogator the app shares (one per process and cache folder).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from PIL import Image

from engine.errors import InvalidRequestError
from engine.interrogate import Interrogation, Interrogator
from engine.refine import RefineProgress, Refiner, RefineRound
from engine.refine_targets import ImageTarget, PicksTarget, RefineTarget, TextTarget
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
    if form.target_kind == "picks":
        return PicksTarget()
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


class RefineRun:
    """One run kept between the page's clicks: its refiner and its recorder. `advance` runs
    the next round (the start first) and saves it; the artist's picks of the last round
    overrule the score and are saved with it."""

    def __init__(
        self,
        engine: HostedEngine,
        store: OwnerGallery,
        form: RefineForm,
        interrogator: Interrogator,
    ) -> None:
        check(engine, form)
        self.form = form
        self.target = target_of(form, interrogator)
        self.recorder = RefineRecorder(
            store,
            new_generation,
            name=form.name or f"Refine {form.spec.start.subject or 'a prompt'}"[:80],
            spec=form.spec.to_dict(),
            target=self.target.describe(),
            scorer=interrogator.scorer.name,
            meaningful=interrogator.scorer.meaningful,
        )
        self.refiner = Refiner(
            engine,  # type: ignore[arg-type] (a HostedEngine runs rows as the Engine does)
            form.spec,
            self.target,
            interrogator.facets,
            interrogator.library,
        )
        self.saved: dict[int, int] = {}  # round index -> its experiment
        self.busy = threading.Lock()  # one `play` at a time (Refine and Next round)

    @property
    def last(self) -> RefineRound | None:
        return self.refiner.rounds[-1] if self.refiner.rounds else None

    @property
    def over(self) -> bool:
        """No round can follow, even with a pick: stopped, or every round done."""
        last = self.last
        return last is not None and (
            last.cancelled or len(self.refiner.rounds) > self.refiner.spec.rounds
        )

    def advance(
        self,
        picks: Sequence[str] = (),
        *,
        on_progress: Callable[[RefineProgress], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> tuple[RefineRound | None, int | None]:
        """The next round and its saved experiment (None, None once the run is finished);
        raises InvalidRequestError for a pick that is not in the last round."""
        self.refiner.on_progress, self.refiner.cancel = on_progress, cancel
        last = self.last
        round_ = self.refiner.step(picks)
        if last is not None and last.picks:
            self.recorder.record_pick(last)
        if round_ is None or not any(c.scores for c in round_.variants):
            return round_, None
        self.saved[round_.index] = self.recorder.record_round(round_).id
        return round_, self.saved[round_.index]

    def outcome(self) -> RefineOutcome:
        last = self.last
        return RefineOutcome(
            self.refiner, tuple(self.recorder.experiments), bool(last and last.cancelled)
        )


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
    run = RefineRun(engine, store, form, interrogator)
    play(run, on_progress=on_progress, on_round=on_round, cancel=cancel)
    return run.outcome()


def play(
    run: RefineRun,
    picks: Sequence[str] = (),
    *,
    pause: bool = False,
    on_progress: Callable[[RefineProgress], None] | None = None,
    on_round: Callable[[RefineRound, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> None:
    """Rounds of `run` until it finishes or is stopped; the first goes on from `picks`, the
    later ones from the form's replayed picks (if any). With `pause`, it stops after the first
    round that proposed variants (the artist's turn). InvalidRequestError while another
    `play` of the same run is going."""
    if not run.busy.acquire(blocking=False):
        raise InvalidRequestError("This refinement is still running a round; wait or press Stop.")
    try:
        _play_rounds(run, picks, pause, on_progress, on_round, cancel)
    finally:
        run.busy.release()


def _play_rounds(
    run: RefineRun,
    picks: Sequence[str],
    pause: bool,
    on_progress: Callable[[RefineProgress], None] | None,
    on_round: Callable[[RefineRound, int], None] | None,
    cancel: threading.Event | None,
) -> None:
    while True:
        round_, experiment_id = run.advance(picks, on_progress=on_progress, cancel=cancel)
        if round_ is None:
            return
        if experiment_id is not None and on_round is not None:
            on_round(round_, experiment_id)
        picks = run.form.picks_after(round_.index)
        if round_.cancelled or (run.refiner.finished and not picks) or (pause and round_.index):
            return


def stream_refinement(
    run: RefineRun, picks: Sequence[str] = (), *, pause: bool = False
) -> Generator[RefineEvent, None, None]:
    """`play` in a worker thread: progress, each finished round, then the outcome. Closing
    the iterator (the page's Stop) stops the run at its next step; the finished rounds stay
    saved."""

    def work(emit: Emit[RefineEvent], cancel: threading.Event) -> None:
        play(
            run,
            picks,
            pause=pause,
            on_progress=lambda update: emit(RefineEvent(progress=update)),
            on_round=lambda round_, eid: emit(RefineEvent(round=round_, experiment_id=eid)),
            cancel=cancel,
        )
        emit(RefineEvent(outcome=run.outcome()))

    yield from stream_work(work, name="refine")
