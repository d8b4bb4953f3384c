"""A comparison or ablation as one plain function: plan -> saved experiment with every cell
recorded in the gallery and scored with CLIP. Used by the Compare tab, the `compare` command
and the `compare`/`ablate` API endpoints.

1. check the plan; 2. create the experiment (variants, seeds, axis, shared settings);
3. run the cells in batched pipeline calls (`engine.compare_run.run_plan`), recording each
finished batch at once (so Stop keeps what is done); 4. score every cell with CLIP.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from engine.compare_plan import DEFAULT_MAX_BATCH, CompareAxis, ComparePlan, CompareVariant
from engine.compare_run import CellImage, CellPosition, CompareProgress, run_plan
from engine.request import GenerationRequest
from gallery.errors import GalleryError
from gallery.experiment_export import SCORE_METRIC
from gallery.experiment_state import RUNNING
from gallery.records import ExperimentRecord, NewGeneration, ScoreRecord, VariantSpec
from gallery.views import OwnerGallery
from ui.forms import CompareForm
from ui.hosting.hosted_engine import HostedEngine
from ui.recording import new_generation
from ui.streaming import Emit, stream_work

if TYPE_CHECKING:  # CLIP (torch) loads with the first comparison, not with the page
    from engine.clip_score import ClipScorer

COMPARE_SOURCE = "compare"


@dataclass(frozen=True)
class ExperimentOutcome:
    """The saved experiment, whether Stop ended it early, and which CLIP scored it."""

    experiment: ExperimentRecord
    cancelled: bool
    scorer_name: str
    scores_meaningful: bool


def plan_settings(plan: ComparePlan) -> dict[str, Any]:
    """The shared settings as saved with the experiment."""
    s = plan.settings
    return {
        "model": plan.model,
        "steps": s.steps,
        "guidance_scale": float(s.guidance_scale),
        "width": s.width,
        "height": s.height,
        "scheduler": s.scheduler,
        "clip_skip": getattr(s, "clip_skip", 1),
    }


def run_experiment(
    engine: HostedEngine,
    store: OwnerGallery,
    form: CompareForm,
    *,
    on_progress: Callable[[CompareProgress], None] | None = None,
    cancel: threading.Event | None = None,
    scorer: ClipScorer | None = None,
) -> ExperimentOutcome:
    """Run the form's plan, save it as an experiment and return it; raises EngineError or
    GalleryError. Each batch of cells is one pipeline call through the GPU boundary.

    Everything belongs to the store's owner (pass `store.for_owner(owner)` for a visitor)."""
    # 1. Check the whole plan before anything is saved.
    plan = form.plan()
    plan.validate()
    engine.check_experiment_size(len(plan.cells()))  # a public app's limit
    engine.check_admission(len(plan.cells()))  # and the caller's images this minute
    # 2. The experiment and its variants.
    experiment = store.create_experiment(
        form.name.strip() or default_name(plan),
        [
            VariantSpec(v.label, _variant_recipe(v.prompt, v.negative_prompt, v.removed_term))
            for v in plan.variants
        ],
        kind=form.kind,
        settings=plan_settings(plan),
        seeds=list(plan.seeds),
        axis=plan.axis.to_dict() if plan.axis else {},
    )
    # 3. and 4.
    hooks = _Hooks(on_progress, cancel, scorer)
    return _make_cells(engine, store, plan, experiment, None, form.max_batch, hooks)


def run_missing_cells(
    engine: HostedEngine,
    store: OwnerGallery,
    experiment_id: int,
    *,
    max_batch: int = DEFAULT_MAX_BATCH,
    on_progress: Callable[[CompareProgress], None] | None = None,
    cancel: threading.Event | None = None,
    scorer: ClipScorer | None = None,
) -> ExperimentOutcome:
    """Make the cells an interrupted experiment lacks, with the seeds, prompts and settings it
    was saved with (so each is the image a whole run would have made there); GalleryError
    when it is running elsewhere or has none missing."""
    experiment = store.get_experiment(experiment_id)
    if experiment.state.status == RUNNING:
        raise GalleryError(f"Experiment #{experiment.id} is still running; wait for it to end.")
    missing = experiment.missing_positions()
    if not missing:
        raise GalleryError(f"Experiment #{experiment.id} has every cell; nothing is missing.")
    plan = saved_plan(experiment)
    plan.validate()
    engine.check_experiment_size(len(missing))
    has_axis = plan.axis is not None
    only = {(s, v, a if has_axis else None) for s, v, a in missing}
    hooks = _Hooks(on_progress, cancel, scorer)
    return _make_cells(engine, store, plan, experiment, only, max_batch, hooks)


def saved_plan(experiment: ExperimentRecord) -> ComparePlan:
    """The plan an experiment was saved from: its variants in order, seeds, settings, axis."""
    s = experiment.settings
    settings = GenerationRequest(
        prompt="",
        steps=int(s.get("steps", 20)),
        guidance_scale=float(s.get("guidance_scale", 7.0)),
        width=int(s.get("width", 512)),
        height=int(s.get("height", 512)),
        scheduler=str(s.get("scheduler", "Euler a")),
        clip_skip=int(s.get("clip_skip", 1)),
    )
    variants = tuple(
        CompareVariant(
            v.name,
            str(v.recipe.get("prompt", "")),
            str(v.recipe.get("negative_prompt", "")),
            v.recipe.get("removed_term"),
        )
        for v in sorted(experiment.variants, key=lambda v: v.position)
    )
    values = experiment.axis.get("values") or ()
    axis = CompareAxis(experiment.axis["name"], tuple(values)) if values else None
    return ComparePlan(variants, experiment.seeds, settings, str(s.get("model", "demo")), axis)


@dataclass(frozen=True)
class _Hooks:
    """What a caller passes through to a run: progress, Stop, and the CLIP scorer."""

    on_progress: Callable[[CompareProgress], None] | None
    cancel: threading.Event | None
    scorer: ClipScorer | None


def _make_cells(
    engine: HostedEngine,
    store: OwnerGallery,
    plan: ComparePlan,
    experiment: ExperimentRecord,
    only: set[CellPosition] | None,
    max_batch: int,
    hooks: _Hooks,
) -> ExperimentOutcome:
    """Steps 3 and 4: make the plan's cells (or `only` those), each batch recorded at once,
    then score them. The experiment is marked running meanwhile (a heartbeat per batch), so
    a run that ends early, by Stop, an error or a kill, leaves it interrupted, not finished."""
    position = {variant.position: variant.id for variant in experiment.variants}
    recorded: list[tuple[CellImage, int]] = []

    # 3. Every finished batch goes into the gallery at once.
    def record(batch: list[CellImage]) -> None:
        items = [_new_generation(cell) for cell in batch]
        ids = store.record_generations(items)
        for cell, generation_id in zip(batch, ids, strict=True):
            store.add_to_variant(
                position[cell.cell.variant_index],
                generation_id,
                cell.cell.seed_index,
                cell.cell.axis_index,
            )
            recorded.append((cell, generation_id))
        store.mark_experiment_running(experiment.id)  # the heartbeat

    store.mark_experiment_running(experiment.id)
    try:
        run = run_plan(
            engine,
            plan,
            max_batch=max_batch,
            on_progress=hooks.on_progress,
            on_batch=record,
            cancel=hooks.cancel,
            only=only,
        )
    finally:
        with contextlib.suppress(GalleryError):  # the database may be the reason it ended
            store.mark_experiment_stopped(experiment.id)
    # 4. CLIP scores, kept with the images.
    scorer = hooks.scorer
    if scorer is None:
        from engine.clip_score import clip_scorer

        scorer = clip_scorer()
    if recorded:
        values = scorer.score(
            [cell.image for cell, _ in recorded],
            [cell.result.prompts[cell.index] for cell, _ in recorded],
        )
        store.save_scores(
            [
                ScoreRecord(generation_id, SCORE_METRIC, value, scorer.name, scorer.meaningful)
                for (_, generation_id), value in zip(recorded, values, strict=True)
            ]
        )
    return ExperimentOutcome(
        store.get_experiment(experiment.id), run.cancelled, scorer.name, scorer.meaningful
    )


def _variant_recipe(prompt: str, negative: str, removed_term: str | None) -> dict[str, Any]:
    recipe: dict[str, Any] = {"prompt": prompt, "negative_prompt": negative}
    if removed_term is not None:
        recipe["removed_term"] = removed_term
    return recipe


def default_name(plan: ComparePlan) -> str:
    """`A vs B vs C` from the variant labels, shortened."""
    text = " vs ".join(v.label for v in plan.variants)
    return text if len(text) <= 80 else text[:79] + "…"


def _new_generation(cell: CellImage) -> NewGeneration:
    item = new_generation(cell.result, cell.index)
    settings = dict(item.settings)
    settings.update(
        prompt=item.prompt,
        negative_prompt=item.negative_prompt,
        seed=item.seed,
        num_images=1,
        image_index=cell.index,
    )
    return dataclasses.replace(item, settings=settings, source=COMPARE_SOURCE)


@dataclass(frozen=True)
class RunEvent:
    """What a streaming caller shows next: progress, or the finished outcome."""

    progress: CompareProgress | None = None
    outcome: ExperimentOutcome | None = None


def stream_experiment(
    engine: HostedEngine,
    store: OwnerGallery,
    form: CompareForm,
    stop: threading.Event | None = None,
) -> Generator[RunEvent, None, None]:
    """`run_experiment` in a worker thread (`ui.streaming`): yield progress, then the outcome.

    Setting `stop` (the page's Stop) ends the run after the step in flight: the finished cells
    are saved and scored, and the outcome says it was stopped. Closing the iterator early
    stops it the same way. Errors are re-raised in the caller's thread.
    """
    yield from _stream(partial(run_experiment, engine, store, form), stop)


def stream_missing_cells(
    engine: HostedEngine,
    store: OwnerGallery,
    experiment_id: int,
    stop: threading.Event | None = None,
) -> Generator[RunEvent, None, None]:
    """`run_missing_cells` streamed like `stream_experiment` (Stop keeps what is done)."""
    yield from _stream(partial(run_missing_cells, engine, store, experiment_id), stop)


def _stream(
    run: Callable[..., ExperimentOutcome], stop: threading.Event | None
) -> Generator[RunEvent, None, None]:
    def work(emit: Emit[RunEvent], cancel: threading.Event) -> None:
        outcome = run(on_progress=lambda update: emit(RunEvent(progress=update)), cancel=cancel)
        emit(RunEvent(outcome=outcome))

    yield from stream_work(work, name="compare", cancel=stop)
